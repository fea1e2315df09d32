"""The metrics' trade side read as columns (``core._trade_columns``) equals the former per-trade code
bit for bit: every field of ``compute_metrics`` is the same (compared as JSON: every float by its
repr), on seeded random runs, on hypothesis-drawn trades with ties, NaN and infinite values, repeated
dates and symbols, and on the empty run. The former code is kept here, verbatim, as the reference."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trading_playbook.core import metrics as M
from trading_playbook.core._trade_columns import extreme_index
from trading_playbook.core.types import RunResult, Trade
from trading_playbook.reports.samples import random_run


# ------------------------------------------------------------------ the former code (reference)
def _exit_order_before(trades: Sequence[Trade]) -> np.ndarray:
    exits = np.array([t.exit_date.toordinal() for t in trades], dtype=np.int64)
    entries = np.array([t.entry_date.toordinal() for t in trades], dtype=np.int64)
    symbols = np.array([t.symbol for t in trades], dtype=str)
    return np.lexsort((symbols, entries, exits))


def _exit_reasons_before(trades: Sequence[Trade]) -> dict[str, dict[str, Any]]:
    groups: dict[str, list[Trade]] = {}
    for trade in trades:
        groups.setdefault(trade.exit_reason, []).append(trade)
    out: dict[str, dict[str, Any]] = {}
    for reason, group in groups.items():
        pnl = np.array([t.pnl for t in group], dtype=np.float64)
        out[reason] = {
            "count": len(group),
            "wins": int(np.sum(pnl > 0)),
            "win_rate": M._num(np.mean(pnl > 0)),
            "avg_return": M._mean(np.array([t.pnl_pct for t in group], dtype=np.float64)),
            "avg_r": M._mean(np.array([t.r_multiple for t in group], dtype=np.float64)),
            "total_pnl": M._num(np.sum(pnl)),
        }
    return out


def _trade_metrics_before(trades: Sequence[Trade], years: float, mean_equity: float | None) -> dict[str, Any]:
    n = len(trades)
    pnl = np.array([t.pnl for t in trades], dtype=np.float64)
    pct = np.array([t.pnl_pct for t in trades], dtype=np.float64)
    held = np.array([t.sessions_held for t in trades], dtype=np.float64)
    wins, losses = pnl > 0, pnl < 0
    gross_win, gross_loss = float(pnl[wins].sum()), float(-pnl[losses].sum())
    by_exit = pnl[_exit_order_before(trades)] if n else pnl
    notional = sum(t.shares * (t.entry_price + t.exit_price) for t in trades) / 2.0
    best = max(trades, key=lambda t: t.pnl_pct) if n else None
    worst = min(trades, key=lambda t: t.pnl_pct) if n else None
    _num, _mean = M._num, M._mean
    return {
        "trades": n,
        "trades_per_year": _num(n / years) if years > 0 else None,
        "turnover": _num(notional / mean_equity / years) if mean_equity and years > 0 else None,
        "wins": int(wins.sum()),
        "losses": int(losses.sum()),
        "win_rate": _num(np.mean(wins)) if n else None,
        "avg_win": _mean(pnl[wins]),
        "avg_loss": _mean(pnl[losses]),
        "avg_win_pct": _mean(pct[wins]),
        "avg_loss_pct": _mean(pct[losses]),
        "gross_profit": _num(gross_win),
        "gross_loss": _num(-gross_loss),
        "net_pnl": _num(pnl.sum()),
        "profit_factor": _num(gross_win / gross_loss) if gross_loss > 0 else None,
        "expectancy": _mean(pnl),
        "expectancy_pct": _mean(pct),
        "expectancy_r": _mean(np.array([t.r_multiple for t in trades], dtype=np.float64)),
        "avg_sessions_held": _mean(held),
        "median_sessions_held": _num(np.median(held)) if n else None,
        "best_trade": M._trade_brief(best) if best is not None else None,
        "worst_trade": M._trade_brief(worst) if worst is not None else None,
        "longest_win_streak": M._longest_streak(by_exit > 0),
        "longest_loss_streak": M._longest_streak(by_exit < 0),
        "exit_reasons": _exit_reasons_before(trades),
    }


def _metrics_before(result: RunResult, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """compute_metrics with the former trade side (the validation read the same two columns)."""
    with monkeypatch.context() as patch:
        patch.setattr(
            M,
            "_trade_metrics",
            lambda trades, years, mean, cols=None: _trade_metrics_before(trades, years, mean),
        )
        return M.compute_metrics(result, seed=3, n_bootstrap=200)


def _same(a: dict[str, Any], b: dict[str, Any]) -> None:
    assert json.dumps(a, default=str) == json.dumps(b, default=str)


# ------------------------------------------------------------------ the comparisons
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_seeded_runs_give_the_former_metrics(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    run = random_run(n_trades=400, seed=seed)
    _same(M.compute_metrics(run, seed=3, n_bootstrap=200), _metrics_before(run, monkeypatch))


def test_the_empty_run_and_one_trade(monkeypatch: pytest.MonkeyPatch) -> None:
    run = random_run(n_trades=1, seed=4)
    for result in (dataclasses.replace(run, trades=[]), run):
        _same(M.compute_metrics(result, seed=3, n_bootstrap=200), _metrics_before(result, monkeypatch))


_VALUES = st.one_of(
    st.sampled_from([0.0, -0.0, 1.5, -1.5, 2.0, float("nan"), float("inf"), -float("inf")]),
    st.floats(-1e6, 1e6, allow_nan=False),
)


@st.composite
def trades(draw: st.DrawFn) -> list[Trade]:
    n = draw(st.integers(1, 30))
    day = dt.date(2020, 1, 1)
    out = []
    for _ in range(n):
        entry = day + dt.timedelta(days=draw(st.integers(0, 5)))
        out.append(
            Trade(
                symbol=draw(st.sampled_from(["A", "AA", "B", "Z", "a", "É"])),
                entry_date=entry,
                exit_date=entry + dt.timedelta(days=draw(st.integers(0, 3))),
                entry_price=draw(st.floats(0.01, 1e4)),
                exit_price=draw(st.floats(0.01, 1e4)),
                shares=draw(st.integers(1, 10**6)),
                exit_reason=draw(st.sampled_from(["HARD_STOP", "TIME_STOP", "MA_BREAK"])),
                pnl=draw(_VALUES),
                pnl_pct=draw(_VALUES),
                r_multiple=draw(_VALUES),
                sessions_held=draw(st.integers(0, 40)),
                mfe=0.0,
                mae=0.0,
            )
        )
    return out


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the former code on inf - inf
@settings(max_examples=150, deadline=None)
@given(trades(), st.floats(0.1, 30.0), st.one_of(st.none(), st.floats(1.0, 1e7)))
def test_drawn_trades_give_the_former_trade_metrics(
    trades: list[Trade], years: float, mean: float | None
) -> None:
    got = M._trade_metrics(trades, years, mean)
    want = _trade_metrics_before(trades, years, mean)
    assert list(got) == list(want)
    _same(got, want)


@settings(max_examples=200, deadline=None)
@given(st.lists(_VALUES, min_size=1, max_size=12))
def test_extreme_index_is_max_and_min_by_key(values: list[float]) -> None:
    items = list(range(len(values)))
    array = np.array(values)
    assert extreme_index(array, largest=True) == max(items, key=lambda i: values[i])
    assert extreme_index(array, largest=False) == min(items, key=lambda i: values[i])
