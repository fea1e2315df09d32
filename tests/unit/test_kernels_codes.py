"""Rule programs encode as the primitives declare them, and reason names round-trip."""

from __future__ import annotations

import math

import numpy as np
import pytest
from _engine_bars import flat, make_panel

from trading_playbook.core.errors import SimulationError
from trading_playbook.core.exits.spec import (
    REASON_CODES,
    ExitSpec,
    HardStop,
    ScaleOut,
    TrailingStop,
    TrailTier,
    named_exit,
)
from trading_playbook.core.simulate import _records as rec
from trading_playbook.core.simulate.fast import compile_sleeves, run_fast
from trading_playbook.core.simulate.reference import run_reference
from trading_playbook.core.simulate.settings import PortfolioSettings, SleeveSpec
from trading_playbook.core.sizing import PercentEquitySizer
from trading_playbook.core.types import SetupTable
from trading_playbook.testing import TableScanner, setup_table

NO_SETUPS = TableScanner(setup_table([]))


def test_smart_exits_program() -> None:
    sleeve = SleeveSpec("main", NO_SETUPS, named_exit("smart_exits"), PercentEquitySizer(), max_positions=4)
    compiled = compile_sleeves([sleeve], PortfolioSettings())
    rules = compiled.rules
    kinds = rules.kind[0, : rules.n_rules[0]].tolist()
    assert kinds == [
        rec.RULE_HARD_STOP,
        rec.RULE_TRAIL,
        rec.RULE_MA_BREAK,
        rec.RULE_LOWER_CLOSE,
        rec.RULE_TIME_STOP,
    ]
    trail = rules.params[0, 1]
    # close basis, new_peak updates, +5 % arming, ATR10, three tiers
    assert (trail[rec.TRAIL_BASIS], trail[rec.TRAIL_UPDATE], trail[rec.TRAIL_ACTIVATION]) == (0.0, 0.0, 0.05)
    assert trail[rec.TRAIL_ATR_PERIOD] == 10 and trail[rec.P_REASON] == REASON_CODES["TRAILING_STOP"]
    tiers = rec.TRAIL_TIERS
    assert trail[tiers] == 3 and trail[tiers + 1 : tiers + 4].tolist() == [0.15, rec.TIER_PCT, 0.95]
    assert math.isinf(trail[tiers + 7]) and trail[tiers + 8] == rec.TIER_ATR
    assert rules.params[0, 2, rec.MA_PERIOD] == 5 and rules.params[0, 2, rec.MA_MAX_PROFIT] == 0.03
    assert math.isnan(rules.params[0, 2, rec.MA_MIN_PEAK_HIGH])
    assert compiled.longest_window == 10 and compiled.ema_rows == {}
    assert rules.sizer_params[0, 0] == 0.25  # percent_equity defaults to 1 / max_positions


def test_custom_scale_out_reason_names_round_trip() -> None:
    # a scale-out whose reason is not an ExitReason name: 1000 shares at 100, +5 % at t2 sells 500 as
    # "HALF_OFF"; END_OF_TEST sells the rest at t3. Both engines name the partial the same.
    spec = ExitSpec("half", (HardStop(0.1), ScaleOut(levels=(0.05,), fraction=0.5, reasons=("HALF_OFF",))))
    panel = make_panel({"A": [flat(100), flat(100), flat(105), flat(106)]})
    ref = np.array([100.0])
    z = np.zeros(1)
    table = SetupTable(
        np.zeros(1, np.int64), np.zeros(1, np.int64), ref, ref * 0.92, z, z, np.zeros(1, np.int64), z, z, z, z
    )

    class Scanner:
        def scan(self, p):  # type: ignore[no-untyped-def]
            return table

    sleeves = [SleeveSpec("main", Scanner(), spec, PercentEquitySizer(), max_positions=1)]
    settings = PortfolioSettings(slippage_bps=0.0)
    fast, _ = run_fast(panel, sleeves, settings, start=0, end=3)
    slow, _ = run_reference(panel, sleeves, settings, start=0, end=3)
    assert [t.to_dict() for t in fast] == [t.to_dict() for t in slow]
    (t,) = fast
    assert [(p.shares, p.reason) for p in t.partial_exits] == [(500, "HALF_OFF")]
    assert t.exit_reason == "END_OF_TEST"


def test_too_many_tiers_is_a_clear_error() -> None:
    tiers = tuple(TrailTier(float(i), "pct", 0.9) for i in range(rec.MAX_TIERS + 1))
    spec = ExitSpec("many", (TrailingStop(tiers=tiers),))
    sleeve = SleeveSpec("main", NO_SETUPS, spec, PercentEquitySizer())
    with pytest.raises(SimulationError, match="tiers"):
        compile_sleeves([sleeve], PortfolioSettings())
