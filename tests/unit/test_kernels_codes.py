"""The kernel's integer codes agree with ExitReason, and rule programs encode as documented."""

from __future__ import annotations

import math

import numpy as np
import pytest
from _engine_bars import flat, make_panel

from trading_playbook.core.errors import SimulationError
from trading_playbook.core.exits.spec import ExitSpec, HardStop, ScaleOut, TrailingStop, TrailTier, named_exit
from trading_playbook.core.simulate import _kernels as k
from trading_playbook.core.simulate.fast import compile_sleeves, run_fast
from trading_playbook.core.simulate.reference import run_reference
from trading_playbook.core.simulate.settings import PortfolioSettings, SleeveSpec
from trading_playbook.core.sizing import PercentEquitySizer
from trading_playbook.core.types import ExitReason, SetupTable


def test_reason_constants_are_exit_reason_values() -> None:
    for name in ("HARD_STOP", "BREAKEVEN_STOP", "TRAILING_STOP", "MA_BREAK", "LOWER_CLOSE", "LOWER_HIGH"):
        assert getattr(k, f"REASON_{name}") == ExitReason[name]
    for name in ("EMA_BREAK", "TIME_STOP", "STOP_LOSS", "TARGET", "END_OF_DATA", "END_OF_TEST"):
        assert getattr(k, f"REASON_{name}") == ExitReason[name]


def test_smart_exits_program() -> None:
    sleeve = SleeveSpec("main", None, named_exit("smart_exits"), PercentEquitySizer(), max_positions=4)
    compiled = compile_sleeves([sleeve], PortfolioSettings())
    kinds = compiled.rule_kind[0, : compiled.n_rules[0]].tolist()
    assert kinds == [k.RULE_HARD_STOP, k.RULE_TRAIL, k.RULE_MA_BREAK, k.RULE_LOWER_CLOSE, k.RULE_TIME_STOP]
    trail = compiled.rule_params[0, 1]
    assert (trail[k.P_A], trail[k.P_B], trail[k.P_C]) == (
        0.0,
        0.0,
        0.05,
    )  # close basis, new_peak, +5 % arming
    assert trail[k.P_TIERS - 1] == 3 and trail[k.P_TIERS : k.P_TIERS + 3].tolist() == [0.15, k.TIER_PCT, 0.95]
    assert math.isinf(trail[k.P_TIERS + 6]) and trail[k.P_TIERS + 7] == k.TIER_ATR
    assert compiled.needs.sma == {5: 0} and compiled.needs.atr == {10: 0} and compiled.needs.prev_close
    assert compiled.sizer_params[0, 0] == 0.25  # percent_equity defaults to 1 / max_positions


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
    tiers = tuple(TrailTier(float(i), "pct", 0.9) for i in range(k.MAX_TIERS + 1))
    spec = ExitSpec("many", (TrailingStop(tiers=tiers),))
    sleeve = SleeveSpec("main", None, spec, PercentEquitySizer())
    with pytest.raises(SimulationError, match="tiers"):
        compile_sleeves([sleeve], PortfolioSettings())
