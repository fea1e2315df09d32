"""Every exit primitive is declared once and has its three parts: an encoder (from the declaration),
a kernel branch and a reference implementation (issue 13).

``EXAMPLES`` holds, for every primitive, a small rule set in which it fires on seeded random panels.
A primitive added to ``spec.EXIT_RULE_TYPES`` without an example here fails
:func:`test_every_primitive_has_an_example`; each example must encode from the declaration, have a
reference function, and make both engines give identical trades in which the primitive's reason occurs
(a primitive without a kernel branch never fires in the fast engine, so parity fails).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from trading_playbook.core.exits import rules, spec
from trading_playbook.core.exits.spec import (
    BreakevenStop,
    EmaBreak,
    ExitSpec,
    HardStop,
    LowerClose,
    LowerHigh,
    MaBreak,
    ScaleOut,
    StopLossClose,
    TargetClose,
    TimeStop,
    TrailingStop,
    TrailTier,
)
from trading_playbook.core.simulate import _records as rec
from trading_playbook.core.simulate.fast import encode_rule, run_fast
from trading_playbook.core.simulate.reference import run_reference
from trading_playbook.core.simulate.settings import PortfolioSettings, SleeveSpec
from trading_playbook.core.sizing import PercentEquitySizer
from trading_playbook.core.types import ExitReason
from trading_playbook.testing import RandomSetups, random_ohlc_panel

INF = -math.inf
EXAMPLES: dict[str, tuple[spec.ExitRule, ...]] = {
    "hard_stop": (HardStop(0.05),),
    "breakeven_stop": (ScaleOut(levels=(0.03,), fraction=0.5), BreakevenStop()),
    "trailing_stop": (TrailingStop(tiers=(TrailTier(INF, "pct", 0.97),)),),
    "ma_break": (MaBreak(period=3),),
    "lower_close": (LowerClose(0.02),),
    "lower_high": (LowerHigh(0.02),),
    "ema_break": (EmaBreak(period=4),),
    "time_stop": (TimeStop(5),),
    "stop_loss": (StopLossClose(0.05),),
    "target": (TargetClose(0.05),),
    "scale_out": (ScaleOut(levels=(0.03, 0.06), fraction=0.3),),
}
RESTING_TRAIL = (TrailingStop(tiers=(TrailTier(INF, "atr", 1.0),), basis="resting", atr_period=3),)


def test_every_primitive_has_an_example() -> None:
    assert set(EXAMPLES) == set(spec.EXIT_RULE_TYPES)


def test_codes_and_reasons_are_unique_and_derived() -> None:
    codes = [cls.CODE for cls in spec.EXIT_RULE_TYPES.values()]
    assert len(set(codes)) == len(codes)
    assert len(set(spec.REASON_CODES.values())) == len(spec.REASON_CODES)
    for reason in ExitReason:  # the engine's own reasons keep their codes
        assert spec.REASON_CODES[reason.name] == int(reason)
    assert (rec.RULE_MA_BREAK, rec.RULE_SCALE_OUT) == (MaBreak.CODE, ScaleOut.CODE)
    assert spec.slot_columns(MaBreak)["period"] == rec.MA_PERIOD
    assert rec.REASON_END_OF_TEST == ExitReason.END_OF_TEST


@pytest.mark.parametrize("kind", sorted(spec.EXIT_RULE_TYPES))
def test_primitive_encodes_from_its_declaration_and_has_a_reference(kind: str) -> None:
    cls = spec.EXIT_RULE_TYPES[kind]
    rule = next(r for r in EXAMPLES[kind] if type(r) is cls)
    row = np.zeros(rec.N_PARAMS)
    assert encode_rule(rule, row, {}, {}) == cls.CODE
    assert row[rec.P_REASON] == spec.REASON_CODES[cls.REASONS[0]]
    for slot, column in spec.slot_columns(cls).items():
        value = getattr(rule, slot)
        if isinstance(value, float | int) and not isinstance(value, bool) and slot != "period":
            assert row[column] == value, slot
    assert cls in rules.RESTING_LEVELS or cls in rules.CLOSE_CHECKS or cls in rules.PARTIALS


def reasons_of(rule_set: tuple[spec.ExitRule, ...]) -> set[str]:
    """Every exit reason of both engines on three seeded random panels (after checking parity)."""
    found: set[str] = set()
    exit_spec = ExitSpec("example", rule_set, hard_stop=0.05)
    for seed in range(3):
        panel = random_ohlc_panel(np.random.default_rng(seed), 120, 6)
        sleeves = [
            SleeveSpec("main", RandomSetups(seed, 0.08), exit_spec, PercentEquitySizer(), max_positions=3)
        ]
        settings = PortfolioSettings()
        end = panel.n_sessions - 1
        fast, fast_curve = run_fast(panel, sleeves, settings, start=0, end=end)
        ref, ref_curve = run_reference(panel, sleeves, settings, start=0, end=end)
        assert [t.to_dict() for t in fast] == [t.to_dict() for t in ref]
        np.testing.assert_array_equal(fast_curve.equity, ref_curve.equity)
        found |= {t.exit_reason for t in fast} | {p.reason for t in fast for p in t.partial_exits}
    return found


@pytest.mark.parametrize("kind", sorted(spec.EXIT_RULE_TYPES))
def test_primitive_fires_identically_in_both_engines(kind: str) -> None:
    cls = spec.EXIT_RULE_TYPES[kind]
    assert cls.REASONS[0] in reasons_of(EXAMPLES[kind])


def test_resting_trail_fires_identically_in_both_engines() -> None:
    assert "TRAILING_STOP" in reasons_of(RESTING_TRAIL)
