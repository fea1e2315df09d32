"""Properties of the metrics over random curves and trades: consistency, bounds, JSON safety, scale invariance."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from trading_playbook.core.metrics import compute_metrics
from trading_playbook.reports.samples import hand_worked_run, make_curve, make_trade

equity_values = st.lists(st.floats(min_value=1.0, max_value=1e7, allow_nan=False), min_size=1, max_size=80)
trade_returns = st.lists(st.floats(min_value=-0.5, max_value=2.0, allow_nan=False), min_size=0, max_size=40)


def _run(values: list[float], returns: list[float], start: float = 1000.0):
    dates = np.busday_offset(np.datetime64("2019-12-30", "D"), np.arange(len(values)), roll="forward")
    trades = [
        make_trade(
            f"S{i:02d}",
            str(dates[i % len(dates)]),
            str(dates[i % len(dates)]),
            10.0,
            10.0 * (1 + r),
            7,
            "TIME_STOP",
        )
        for i, r in enumerate(returns)
    ]
    return dataclasses.replace(
        hand_worked_run(), equity=make_curve(dates, values), trades=trades, starting_capital=start
    )


@settings(max_examples=60, deadline=None)
@given(equity_values, trade_returns)
def test_consistency_and_bounds(values: list[float], returns: list[float]) -> None:
    m = compute_metrics(_run(values, returns), n_bootstrap=50)
    json.dumps(m, allow_nan=False)
    assert math.isclose(m["total_return"], values[-1] / 1000.0 - 1.0, rel_tol=1e-9, abs_tol=1e-12)
    # monthly and yearly returns compound to the total
    for key in ("monthly_returns", "yearly_returns"):
        compounded = math.prod(1.0 + r for r in m[key].values()) - 1.0
        assert math.isclose(compounded, m["total_return"], rel_tol=1e-7, abs_tol=1e-9)
    assert -1.0 < m["max_drawdown"] <= 0.0
    assert m["trades"] == len(returns)
    if returns:
        assert 0.0 <= m["win_rate"] <= 1.0
        assert m["wins"] + m["losses"] <= m["trades"]
        assert sum(r["count"] for r in m["exit_reasons"].values()) == m["trades"]
        assert m["longest_win_streak"] <= m["wins"] and m["longest_loss_streak"] <= m["losses"]
        lo, hi = m["validation"]["ci"]["win_rate"] or (0.0, 1.0)
        assert 0.0 <= lo <= hi <= 1.0


@settings(max_examples=40, deadline=None)
@given(equity_values, st.floats(min_value=0.01, max_value=1000.0))
def test_return_metrics_do_not_depend_on_account_size(values: list[float], scale: float) -> None:
    base = compute_metrics(_run(values, []), n_bootstrap=20)
    scaled = compute_metrics(_run([v * scale for v in values], [], start=1000.0 * scale), n_bootstrap=20)
    for key in ("total_return", "cagr", "annual_volatility", "sharpe", "sortino", "max_drawdown"):
        a, b = base[key], scaled[key]
        assert (a is None) == (b is None) or min(abs(a or 0), abs(b or 0)) < 1e-6, key
        if a is not None and b is not None:
            assert math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-9), key
