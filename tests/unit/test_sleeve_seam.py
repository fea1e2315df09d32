"""The typed sleeve seam (issue 13): a SleeveSpec resolves its components once, both engines read the
resolution, and the Workspace memoises setups only under a stable key (never an object's id)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest
from _engine_bars import ScriptedScanner

from trading_playbook.core.errors import ConfigError
from trading_playbook.core.exits.spec import ExitSpec, MaBreak, named_exit
from trading_playbook.core.panel import Panel
from trading_playbook.core.scanners import DailyBreakoutScanner
from trading_playbook.core.simulate.settings import SleeveSpec
from trading_playbook.core.sizing import AtrTargetSizer, PercentEquitySizer
from trading_playbook.core.types import SetupTable
from trading_playbook.engine import Workspace
from trading_playbook.testing import flat, make_panel, setup_table


class CheckExit:
    """An exit written in plain Python (the check_exit protocol)."""

    def check_exit(self, position, current_bar, bars_held):  # type: ignore[no-untyped-def]
        return (False, "", None)


class Unnamed:
    """A vectorised scanner that does not name its parameters: one setup of ``symbol`` at session 0."""

    def __init__(self, symbol: int) -> None:
        self.symbol = symbol

    def scan(self, panel: Panel) -> SetupTable:
        return setup_table([(0, self.symbol, float(panel.close[0, self.symbol]), 1.0, 1.0)])


@dataclass(frozen=True)
class Named:
    symbol: int

    def scan(self, panel: Panel) -> SetupTable:
        return setup_table([(0, self.symbol, float(panel.close[0, self.symbol]), 1.0, 1.0)])

    def params(self) -> dict[str, int]:
        return {"symbol": self.symbol}


def test_resolution_is_recorded_once() -> None:
    breakout = SleeveSpec(
        "a", DailyBreakoutScanner("moderate"), named_exit("smart_exits"), PercentEquitySizer()
    )
    assert breakout.vectorised and breakout.prepared
    assert breakout.exit_spec == named_exit("smart_exits")
    assert breakout.indicators == {"sma": {5}, "ema": frozenset(), "atr": {10}}
    assert (
        breakout.cache_key
        == SleeveSpec(
            "b", DailyBreakoutScanner("moderate"), named_exit("fixed"), PercentEquitySizer()
        ).cache_key
    )
    assert (
        breakout.cache_key
        != SleeveSpec(
            "c", DailyBreakoutScanner("relaxed"), named_exit("fixed"), PercentEquitySizer()
        ).cache_key
    )

    python_exit = SleeveSpec("d", ScriptedScanner({}), CheckExit(), AtrTargetSizer(atr_period=7))
    assert not python_exit.vectorised and not python_exit.prepared
    assert python_exit.exit_spec is None and python_exit.indicators["atr"] == {7}
    assert python_exit.cache_key is None  # a per-date dataclass scanner without params()
    spec = ExitSpec("ma", (MaBreak(period=3),))
    assert SleeveSpec("e", Named(0), spec, PercentEquitySizer()).indicators["sma"] == {3}


@pytest.mark.parametrize(
    ("scanner", "exit_strategy", "sizer", "message"),
    [
        (object(), named_exit("fixed"), PercentEquitySizer(), "neither scan"),
        (Named(0), object(), PercentEquitySizer(), "check_exit"),
        (Named(0), named_exit("fixed"), object(), "size"),
    ],
)
def test_a_component_that_fits_no_protocol_is_a_config_error(scanner, exit_strategy, sizer, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError, match=f"sleeve 'x'.*{message}"):
        SleeveSpec("x", scanner, exit_strategy, sizer)


def test_setups_are_memoised_under_a_stable_key_never_an_id() -> None:
    panel = make_panel({"A": [flat(10.0)] * 3, "B": [flat(20.0)] * 3})
    ws = Workspace(panel=panel)
    exit_spec = named_exit("fixed")
    # a scanner without params() is scanned every time: changing it (or a new object at a reused
    # address, as in a sweep) can never hand back another scanner's setups (the id(scanner) bug)
    unnamed = Unnamed(0)
    first = ws.setups_for(SleeveSpec("main", unnamed, exit_spec, PercentEquitySizer()))
    unnamed.symbol = 1
    second = ws.setups_for(SleeveSpec("main", unnamed, exit_spec, PercentEquitySizer()))
    assert (first.symbol_idx.tolist(), second.symbol_idx.tolist()) == ([0], [1])
    assert ws.setups == {}
    # named parameters: equal parameters share one memo entry, other parameters get their own
    for symbol in (0, 0, 1):
        table = ws.setups_for(SleeveSpec("main", Named(symbol), exit_spec, PercentEquitySizer()))
        assert table.symbol_idx.tolist() == [symbol]
    assert len(ws.setups) == 2
    assert math.isclose(
        float(ws.setups_for(SleeveSpec("m", Named(1), exit_spec, PercentEquitySizer())).reference_price[0]),
        20.0,
    )
    assert np.array_equal(
        ws.setups_for(SleeveSpec("m", Named(0), exit_spec, PercentEquitySizer())).session_idx, [0]
    )
