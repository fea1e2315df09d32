"""Property tests of the reference engine: accounting invariants and no lookahead (hypothesis).

Random small panels (random walks with missing bars), random scripted setups, every built-in exit,
random costs and fill modes. Invariants checked on every run:

- cash is never negative;
- equity and cash of every session equal what the trades imply: cash rebuilt from the fills, plus
  the shares still held marked at their symbol's last close (so no position is ever dropped);
- the sum of trade pnl equals final equity minus starting capital, and nothing is open at the end;
- shares are conserved over partial exits; dates and sessions_held are consistent.

And lookahead: a run on data cut after session T, or with random bars after T, gives the same
trades for everything that exited before T, and the same equity rows before T.
"""

from __future__ import annotations

import datetime as dt
import math
import zlib
from dataclasses import dataclass, replace

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trading_playbook.core.exits.spec import NAMED_EXITS, named_exit
from trading_playbook.core.panel import Panel
from trading_playbook.core.simulate.reference import run_reference
from trading_playbook.core.simulate.settings import PortfolioSettings, SleeveSpec
from trading_playbook.core.sizing import PercentEquitySizer
from trading_playbook.core.types import Setup
from trading_playbook.testing import volatile_panel

SYMBOLS = ("AAA", "BBB", "CCC", "DDD")


@dataclass
class RandomScanner:
    """Signals (symbol, score, volume ratio) chosen from a seed, only on symbols with a bar."""

    seed: int
    rate: float

    def scan_for_setups(self, date: dt.date, panel: Panel) -> list[Setup]:
        t = panel.n_sessions - 1
        rng = np.random.default_rng(self.seed * 100_003 + t)
        out = []
        for j, symbol in enumerate(panel.symbols):
            if panel.available[t, j] and rng.uniform() < self.rate:
                close = float(panel.close[t, j])
                score = float(rng.integers(0, 4))
                out.append(Setup(symbol, date, close, close * 0.92, score, close, 10, 0.1, 1.0, 0.0, 0.0))
        return out


@dataclass(frozen=True)
class RandomShares:
    seed: int

    def size(self, setup: Setup, context) -> int:
        rng = np.random.default_rng(
            self.seed + zlib.crc32(setup.symbol.encode()) % 1000 + setup.session.toordinal()
        )
        return int(rng.integers(0, 400))


scenario = st.fixed_dictionaries(
    {
        "seed": st.integers(0, 10_000),
        "n_sessions": st.integers(6, 30),
        "n_symbols": st.integers(1, 4),
        "gap_rate": st.sampled_from([0.0, 0.1, 0.3]),
        "exit": st.sampled_from(sorted(NAMED_EXITS)),
        "entry_fill": st.sampled_from(["next_open", "close"]),
        "exit_fill": st.sampled_from(["close", "next_open"]),
        "slippage_bps": st.sampled_from([0.0, 5.0, 25.0]),
        "per_share": st.sampled_from([0.0, 0.01]),
        "capital": st.sampled_from([5_000.0, 100_000.0]),
        "max_positions": st.integers(1, 3),
        "sizer": st.sampled_from(["random", "percent_equity"]),
        "rate": st.sampled_from([0.2, 0.6]),
    }
)


def build(s: dict) -> tuple[Panel, SleeveSpec, PortfolioSettings]:
    rng = np.random.default_rng(s["seed"])
    panel = volatile_panel(rng, s["n_sessions"], s["n_symbols"], s["gap_rate"])
    sizer = RandomShares(s["seed"]) if s["sizer"] == "random" else PercentEquitySizer()
    spec = SleeveSpec(
        name="main",
        scanner=RandomScanner(s["seed"], s["rate"]),
        exit=named_exit(s["exit"]),
        sizer=sizer,
        max_positions=s["max_positions"],
    )
    config = PortfolioSettings(
        starting_capital=s["capital"],
        entry_fill=s["entry_fill"],
        exit_fill=s["exit_fill"],
        slippage_bps=s["slippage_bps"],
        commission_per_share=s["per_share"],
    )
    return panel, spec, config


def fills_of(trade):
    partial = [(p.date, p.shares, p.price) for p in trade.partial_exits]
    final_shares = trade.shares - sum(p.shares for p in trade.partial_exits)
    final_value = trade.exit_price * trade.shares - sum(q * p for _, q, p in partial)
    return [*partial, (trade.exit_date, final_shares, final_value / final_shares)]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario)
def test_accounting_invariants(s: dict) -> None:
    panel, spec, config = build(s)
    start = 1
    end = panel.n_sessions - 1
    trades, curve = run_reference(panel, [spec], config, start=start, end=end)
    capital = config.starting_capital
    assert np.all(curve.cash >= -1e-9)
    assert curve.positions[-1] == 0
    assert math.isclose(curve.equity[-1], curve.cash[-1], rel_tol=1e-12)
    assert math.isclose(sum(t.pnl for t in trades), curve.equity[-1] - capital, rel_tol=1e-9, abs_tol=1e-6)
    dates = [d.astype(object) for d in panel.sessions]
    for t in trades:
        assert t.entry_date <= t.exit_date
        assert t.sessions_held == dates.index(t.exit_date) - dates.index(t.entry_date)
        assert all(p.shares > 0 for p in t.partial_exits)
        assert sum(p.shares for p in t.partial_exits) < t.shares
        assert t.mfe >= t.mae and t.exit_reason
    # rebuild cash and holdings from the trades and compare with every equity row
    per_share = config.commission_per_share
    for i, session in enumerate(range(start, end + 1)):
        day = dates[session]
        cash = capital
        market = 0.0
        count = 0
        for t in trades:
            if t.entry_date > day:
                continue
            cash -= t.shares * t.entry_price + per_share * t.shares
            held = t.shares
            for when, q, price in fills_of(t):
                if when <= day:
                    cash += q * price - per_share * q
                    held -= q
            if held:
                j = panel.symbols.index(t.symbol)
                rows = np.flatnonzero(panel.available[: session + 1, j])
                market += held * panel.close[rows[-1], j]
                count += 1
        assert math.isclose(curve.cash[i], cash, rel_tol=1e-9, abs_tol=1e-6)
        assert math.isclose(curve.equity[i], cash + market, rel_tol=1e-9, abs_tol=1e-6)
        assert curve.positions[i] == count


def cut_sessions(panel: Panel) -> list[int]:
    """Sessions T where every symbol with a later bar has a bar at T (END_OF_DATA is then the same)."""
    out = []
    for t in range(2, panel.n_sessions - 1):
        later = panel.available[t + 1 :].any(axis=0)
        if np.all(panel.available[t] | ~later):
            out.append(t)
    return out


def assert_same_before(full, other, panel: Panel, cut: int) -> None:
    day = panel.sessions[cut].astype(object)
    trades_a, curve_a = full
    trades_b, curve_b = other
    assert [t for t in trades_a if t.exit_date < day] == [t for t in trades_b if t.exit_date < day]
    # entries before the cut (an entry at the cut's close is decided by a scan the cut run never makes)
    entered = [(t.symbol, t.entry_date, t.entry_price, t.shares) for t in trades_a if t.entry_date < day]
    assert entered == [
        (t.symbol, t.entry_date, t.entry_price, t.shares) for t in trades_b if t.entry_date < day
    ]
    n = int(np.searchsorted(curve_a.dates, panel.sessions[cut]))
    np.testing.assert_array_equal(curve_a.equity[:n], curve_b.equity[:n])
    np.testing.assert_array_equal(curve_a.cash[:n], curve_b.cash[:n])


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario, st.integers(0, 1_000))
def test_truncation_and_random_future_change_nothing_before_the_cut(s: dict, pick: int) -> None:
    panel, spec, config = build(s)
    cuts = cut_sessions(panel)
    if not cuts:
        return
    cut = cuts[pick % len(cuts)]
    end = panel.n_sessions - 1
    full = run_reference(panel, [spec], config, start=1, end=end)
    truncated = panel.truncate(cut)
    assert_same_before(full, run_reference(truncated, [spec], config, start=1, end=cut), panel, cut)
    # a random future after the cut: same availability, other prices
    rng = np.random.default_rng(s["seed"] + 7)
    future = volatile_panel(rng, panel.n_sessions, panel.n_symbols, 0.0, early_end=False)
    keep = np.arange(panel.n_sessions)[:, None] <= cut
    mask = np.where(panel.available, 1.0, np.nan)

    def mix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.where(keep, a, b * mask)

    other = replace(
        panel,
        open=mix(panel.open, future.open),
        high=mix(panel.high, future.high),
        low=mix(panel.low, future.low),
        close=mix(panel.close, future.close),
        raw_close=mix(panel.raw_close, future.raw_close),
    )
    assert_same_before(full, run_reference(other, [spec], config, start=1, end=end), panel, cut)
