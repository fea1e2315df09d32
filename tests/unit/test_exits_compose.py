"""Exits from config data: named sets with overrides and rules composed from primitives."""

from __future__ import annotations

import math
import tomllib

import pytest

from trading_playbook.core.errors import ConfigError
from trading_playbook.core.exits.compose import exit_spec_from_config
from trading_playbook.core.exits.rules import ExitOrder, ExitRuleEngine
from trading_playbook.core.exits.spec import HardStop, MaBreak, TimeStop, TrailingStop, TrailTier, named_exit


def test_named_set_with_overrides() -> None:
    spec = exit_spec_from_config("smart_exits", None, {"time_stop": 25, "hard_stop": 0.07})
    assert spec == named_exit("smart_exits", time_stop=25, hard_stop=0.07)
    assert spec.rules[-1] == TimeStop(sessions=25)
    assert spec.rules[0] == HardStop(pct=0.07)


def test_named_set_unknown_name_and_parameter_suggest_closest() -> None:
    with pytest.raises(ConfigError, match="did you mean 'scaled_exits'"):
        exit_spec_from_config("scaled_exit", None, {})
    with pytest.raises(ConfigError, match="unknown parameter 'time_stops'; did you mean 'time_stop'"):
        exit_spec_from_config("smart_exits", None, {"time_stops": 3})


TOML = """
[exit]
name = "my_exit"
rules = [
  { kind = "hard_stop", pct = 0.07 },
  { kind = "trailing_stop", tiers = [[0.15, "pct", 0.95], [-inf, "atr", 2.0]], activation = 0.05 },
  { kind = "ma_break", period = 10 },
  { kind = "time_stop", sessions = 30 },
]
"""


def test_compose_from_toml() -> None:
    table = tomllib.loads(TOML)["exit"]
    spec = exit_spec_from_config(table["name"], table["rules"], {})
    assert spec.name == "my_exit"
    assert spec.hard_stop == 0.07  # taken from the hard_stop rule
    assert spec.rules == (
        HardStop(0.07),
        TrailingStop(tiers=(TrailTier(0.15, "pct", 0.95), TrailTier(-math.inf, "atr", 2.0)), activation=0.05),
        MaBreak(period=10),
        TimeStop(30),
    )
    # and it runs: resting stop at 100 * 0.93, time stop after 30 sessions
    engine = ExitRuleEngine(spec)
    state = engine.open_position(100.0, 10, 0)
    assert engine.resting_stop(state, 0) == (pytest.approx(93.0), "HARD_STOP")
    from _engine_bars import bar

    assert engine.on_close(state, bar(30, 100, 100, 100, 100)) == [ExitOrder(10, "TIME_STOP")]


def test_tier_as_table_and_scale_out_levels() -> None:
    spec = exit_spec_from_config(
        None,
        [
            {"kind": "trailing_stop", "tiers": [{"min_profit": "-inf", "mode": "pct", "value": 0.9}]},
            {"kind": "scale_out", "levels": [0.1, 0.2], "fraction": 0.5},
        ],
        {"hard_stop": 0.1, "description": "mine"},
    )
    assert spec.name == "custom" and spec.hard_stop == 0.1 and spec.description == "mine"
    assert spec.rules[0].tiers == (TrailTier(-math.inf, "pct", 0.9),)
    assert spec.rules[1].levels == (0.1, 0.2)


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"kind": "trailing_stp", "tiers": []}, "did you mean 'trailing_stop'"),
        ({"kind": "time_stop", "sesions": 3}, "unknown key 'sesions'; did you mean 'sessions'"),
        ({"kind": "trailing_stop", "tiers": [[0.1, "percent", 0.9]]}, "tier mode"),
        ({"kind": "trailing_stop", "tiers": [[0.1, "pct", 0.9]], "basis": "open"}, "basis must be one of"),
        ({"kind": "ma_break", "period": 0}, "whole number"),
        ({"sessions": 3}, "needs kind"),
        (
            {"kind": "trailing_stop", "tiers": [{"min_profit": 0, "mod": "pct", "value": 1}]},
            "did you mean 'mode'",
        ),
    ],
)
def test_compose_errors_name_the_key(rule: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        exit_spec_from_config(None, [rule], {})


def test_compose_unknown_top_level_key() -> None:
    with pytest.raises(ConfigError, match="did you mean 'hard_stop'"):
        exit_spec_from_config("x", [{"kind": "time_stop"}], {"hardstop": 0.1})


def test_needs_a_name_or_rules() -> None:
    with pytest.raises(ConfigError, match="needs a name"):
        exit_spec_from_config(None, None, {})
