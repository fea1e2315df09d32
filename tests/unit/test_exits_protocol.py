"""Exits written in plain Python (the design's check_exit protocol) on the reference engine."""

from __future__ import annotations

import pytest
from _engine_bars import NO_COSTS, day, flat, make_panel, sleeve

from trading_playbook.core.errors import ConfigError, SimulationError
from trading_playbook.core.exits.protocol import (
    Bar,
    ExitStrategyProtocol,
    PositionView,
    ProtocolExitAdapter,
    as_exit_engine,
)
from trading_playbook.core.exits.rules import ExitRuleEngine
from trading_playbook.core.exits.spec import named_exit
from trading_playbook.core.simulate.reference import run_reference
from trading_playbook.core.simulate.settings import PortfolioSettings


class StopAt95:
    """Exit at 95 when the bar trades through it; otherwise after 2 sessions at the close."""

    hard_stop = 0.05

    def __init__(self) -> None:
        self.seen: list[tuple[PositionView, Bar, int]] = []

    def check_exit(self, position: PositionView, current_bar: Bar, bars_held: int):
        self.seen.append((position, current_bar, bars_held))
        if current_bar["low"] <= 95.0:
            return True, "MY_STOP", 95.0
        if bars_held >= 2:
            return True, "", None
        return False, "", None


BARS = {"AAA": [flat(100), (100, 104, 99, 103), (103, 103, 94, 96), flat(96)]}


def test_price_inside_the_bar_fills_there() -> None:
    user = StopAt95()
    trades, _ = run_reference(
        make_panel(BARS), [sleeve({0: [("AAA", 5, 1)]}, user)], NO_COSTS, start=0, end=3
    )
    (t,) = trades
    # t2 low 94 <= 95: exit at 95 (inside [94, 103]) with the user's reason
    assert (t.exit_reason, t.exit_price, t.exit_date) == ("MY_STOP", 95.0, day(2))
    assert t.initial_stop == pytest.approx(95.0)  # hard_stop attribute 0.05 -> r_multiple -1
    assert t.r_multiple == pytest.approx(-1.0)
    position, bar, held = user.seen[0]
    assert (position.symbol, position.entry_price, position.shares, held) == ("AAA", 100.0, 100, 0)
    assert (bar.date, bar.close, bar.prev_close) == (day(1), 103.0, 100.0)
    assert user.seen[1][0].peak_close == 103.0


def test_none_price_follows_exit_fill() -> None:
    bars = {"AAA": [flat(100)] * 3 + [(101, 102, 100, 101), flat(99)]}
    # no low <= 95: at t3 bars_held = 2 -> exit; reason empty -> CUSTOM; exit_fill next_open -> t4 open 99
    settings = PortfolioSettings(slippage_bps=0.0, exit_fill="next_open")
    trades, _ = run_reference(
        make_panel(bars), [sleeve({0: [("AAA", 5, 1)]}, StopAt95())], settings, start=0, end=4
    )
    assert (trades[0].exit_reason, trades[0].exit_date, trades[0].exit_price) == ("CUSTOM", day(4), 99.0)


def test_price_outside_the_bar_is_an_error() -> None:
    class Bad:
        def check_exit(self, position, current_bar, bars_held):
            return True, "X", 1.0

    with pytest.raises(SimulationError, match=r"outside the bar's range"):
        run_reference(make_panel(BARS), [sleeve({0: [("AAA", 5, 1)]}, Bad())], NO_COSTS, start=0, end=3)


def test_bad_return_shape_is_an_error() -> None:
    class Bad:
        def check_exit(self, position, current_bar, bars_held):
            return True

    with pytest.raises(SimulationError, match="must return"):
        run_reference(make_panel(BARS), [sleeve({0: [("AAA", 5, 1)]}, Bad())], NO_COSTS, start=0, end=3)


def test_as_exit_engine_dispatch() -> None:
    assert isinstance(as_exit_engine(named_exit("fixed")), ExitRuleEngine)
    assert isinstance(as_exit_engine(StopAt95()), ProtocolExitAdapter)
    assert isinstance(StopAt95(), ExitStrategyProtocol)
    with pytest.raises(ConfigError, match="check_exit"):
        as_exit_engine(object())


def test_bar_item_access() -> None:
    bar = Bar(day(0), 1.0, 2.0, 0.5, 1.5, 10.0, 1.0, 2.0)
    assert bar["high"] == 2.0
    with pytest.raises(KeyError):
        bar["nope"]
