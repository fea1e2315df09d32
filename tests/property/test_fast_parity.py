"""Property: the fast engine equals the reference engine on random tiny portfolios.

Random panels (gaps, late listings, early delistings, gap-downs), random ranked setups with ties,
every built-in exit plus small-window custom rule sets, every sizer, fills, slippage, commissions and
up to two sleeves, optionally in a random point-in-time universe (policy hold or exit, reused series
cut). Trades must be identical field by field and the equity curves equal (exact: the
fast engine mirrors the reference engine's arithmetic operation by operation).
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trading_playbook.core.exits.spec import (
    EmaBreak,
    ExitSpec,
    HardStop,
    LowerClose,
    LowerHigh,
    MaBreak,
    ScaleOut,
    TimeStop,
    TrailingStop,
    TrailTier,
    named_exit,
)
from trading_playbook.core.simulate.fast import run_fast
from trading_playbook.core.simulate.reference import run_reference
from trading_playbook.core.simulate.settings import PortfolioSettings, SleeveSpec
from trading_playbook.core.sizing import (
    AtrTargetSizer,
    FixedDollarSizer,
    PercentCashSizer,
    PercentEquitySizer,
    RiskSizer,
)
from trading_playbook.core.universe import apply_membership
from trading_playbook.testing import RandomSetups, random_membership, random_ohlc_panel

CUSTOM = ExitSpec(
    name="small_windows",
    rules=(
        HardStop(0.05),
        ScaleOut(levels=(0.03, 0.06), fraction=0.3),
        TrailingStop(tiers=(TrailTier(0.05, "pct", 0.97), TrailTier(-math.inf, "atr", 1.5)), atr_period=3),
        TrailingStop(
            tiers=(TrailTier(-math.inf, "atr", 2.0),), basis="resting", atr_period=2, after_partial=True
        ),
        MaBreak(period=3, max_profit=0.02),
        LowerHigh(min_peak_profit=0.02, after_partial=True),
        LowerClose(min_peak_profit=0.04),
        EmaBreak(period=4, after_partial=True),
        TimeStop(sessions=6),
    ),
    hard_stop=0.05,
)
EXITS = [
    named_exit(n) for n in ("smart_exits", "scaled_exits", "trend_following_75", "hybrid_trailing", "fixed")
]
EXITS.append(CUSTOM)
SIZERS = [
    PercentEquitySizer(),
    PercentCashSizer(0.4),
    RiskSizer(0.02),
    FixedDollarSizer(),
    AtrTargetSizer(risk_fraction=0.02, atr_multiple=1.0, atr_period=3),
]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**31 - 1),
    exit_index=st.integers(0, len(EXITS) - 1),
    sizer_index=st.integers(0, len(SIZERS) - 1),
    entry_fill=st.sampled_from(["next_open", "close"]),
    exit_fill=st.sampled_from(["close", "next_open"]),
    costs=st.sampled_from([(0.0, 0.0, 0.0, 0.0), (5.0, 0.01, 1.0, 2.5), (10.0, 0.0, 0.0, 4.0)]),
    max_positions=st.integers(1, 3),
    two_sleeves=st.booleans(),
    universe=st.sampled_from([None, "hold", "exit"]),
)
def test_fast_equals_reference(
    seed: int,
    exit_index: int,
    sizer_index: int,
    entry_fill: str,
    exit_fill: str,
    costs: tuple[float, float, float, float],
    max_positions: int,
    two_sleeves: bool,
    universe: str | None,
) -> None:
    rng = np.random.default_rng(seed)
    panel = random_ohlc_panel(rng, int(rng.integers(20, 45)), int(rng.integers(2, 5)))
    if universe is not None:  # a point-in-time universe: random stays, some series cut at short gaps
        gap = int(rng.integers(1, 12))
        panel, _ = apply_membership(panel, random_membership(rng, panel), policy=universe, gap_days=gap)
    start = int(rng.integers(0, 8))
    sleeves = [
        SleeveSpec(
            "a",
            RandomSetups(seed, 0.15),
            EXITS[exit_index],
            SIZERS[sizer_index],
            max_positions,
            0.6 if two_sleeves else 1.0,
        )
    ]
    if two_sleeves:
        other = EXITS[(exit_index + 1) % len(EXITS)]
        sleeves.append(
            SleeveSpec(
                "b", RandomSetups(seed + 1, 0.2), other, SIZERS[(sizer_index + 2) % len(SIZERS)], 2, 0.4
            )
        )
    slippage, per_share, per_order, minimum = costs
    portfolio = PortfolioSettings(
        starting_capital=20_000.0,
        entry_fill=entry_fill,  # type: ignore[arg-type]
        exit_fill=exit_fill,  # type: ignore[arg-type]
        slippage_bps=slippage,
        commission_per_share=per_share,
        commission_per_order=per_order,
        commission_min=minimum,
    )
    end = panel.n_sessions - 1
    fast_trades, fast_curve = run_fast(panel, sleeves, portfolio, start=start, end=end)
    ref_trades, ref_curve = run_reference(panel, sleeves, portfolio, start=start, end=end)
    assert [t.to_dict() for t in fast_trades] == [t.to_dict() for t in ref_trades]
    for name in ("dates", "equity", "cash", "positions", "exposure"):
        np.testing.assert_array_equal(getattr(fast_curve, name), getattr(ref_curve, name), err_msg=name)
    for key in ref_curve.sleeve_equity:
        np.testing.assert_array_equal(
            fast_curve.sleeve_equity[key], ref_curve.sleeve_equity[key], err_msg=key
        )
