"""The order intents the event-driven engine sends, on hand-made bars.

Sessions t0, t1, ... are 2020-01-01 + t days; no slippage, no commission, 100 shares per setup,
entries at the next open unless a test says otherwise. The account is called ``acct``.
"""

from __future__ import annotations

import dataclasses

import pytest
from _engine_bars import NO_COSTS, FixedShares, day, flat, make_panel, sleeve

from trading_playbook.core.broker import Cancelled, Fill, OrderIntent
from trading_playbook.core.errors import SimulationError
from trading_playbook.core.exits.spec import named_exit
from trading_playbook.core.simulate.market import build_market
from trading_playbook.core.simulate.reference import EventEngine, SessionLog, run_reference
from trading_playbook.core.simulate.settings import PortfolioSettings
from trading_playbook.core.simulate.sim_broker import SimulatedBroker
from trading_playbook.core.simulate.state import new_state


def engine(bars, sleeves, settings=NO_COSTS, *, end=None, decisions=True) -> EventEngine:  # type: ignore[no-untyped-def]
    panel = make_panel(bars)
    market = build_market(panel, sleeves, known_data_end=end is not None)
    state = new_state("acct", settings.starting_capital, [s.name for s in sleeves])
    return EventEngine(
        market, settings, SimulatedBroker(panel, settings), state, end=end, decisions=decisions
    )


def run(eng: EventEngine, sessions: range) -> list[SessionLog]:
    return [eng.run_session(t) for t in sessions]


def coid(t: int, symbol: str, leg: str, sleeve_name: str = "main") -> str:
    return f"tp-acct-{day(t).isoformat()}-{sleeve_name}-{symbol}-{leg}"


def brief(intent: OrderIntent) -> tuple:
    return (intent.leg, intent.side, intent.shares, str(intent.timing), intent.reason, intent.stop_price)


def test_entry_stop_and_close_exit_of_one_position() -> None:
    # t0 setup -> entry for the t1 open (100 @ 100); its hard stop 92 is placed right after the fill.
    # smart_exits rests only the hard stop, so no evening replaces it. t5 close 97 < SMA5 99.4 with a
    # profit under 3 % -> MA_BREAK at the close: the stop is cancelled.
    bars = {"AAA": [flat(100)] * 5 + [(100, 100, 96, 97), flat(97)]}
    eng = engine(bars, [sleeve({0: [("AAA", 5, 1)]}, named_exit("smart_exits"))])
    logs = run(eng, range(7))
    assert [brief(i) for i in logs[0].intents] == [("entry", "buy", 100, "next_open", "ENTRY", None)]
    (entry,) = logs[0].intents
    assert entry.client_order_id == coid(0, "AAA", "entry")
    assert entry.stop_fraction == pytest.approx(0.08)
    assert [brief(i) for i in logs[1].intents] == [("stop-open", "sell", 100, "stop", "HARD_STOP", 92.0)]
    assert logs[2].intents == logs[3].intents == logs[4].intents == []
    assert [brief(i) for i in logs[5].intents] == [("exit", "sell", 100, "close", "MA_BREAK", None)]
    assert logs[5].cancels == [coid(1, "AAA", "stop-open")]
    assert [type(e).__name__ for e in logs[5].events] == ["Fill", "Cancelled"]
    (trade,) = logs[5].trades
    assert trade[1].exit_reason == "MA_BREAK" and trade[1].exit_price == 97.0
    assert eng.broker.open_orders() == [] and eng.broker.positions() == {}


def test_a_resting_trail_is_replaced_when_it_moves_up() -> None:
    # hybrid_trailing: t1 entry 100 (stop-open 92). t1 high 120, close 118: the trail 0.95 * 120 = 114
    # rests from t2 -> the evening of t1 replaces the 92 stop by 114 (TRAILING_STOP). t2 low 113 -> out.
    bars = {"AAA": [flat(100), (100, 120, 100, 118), (117, 117, 113, 115), flat(115)]}
    eng = engine(bars, [sleeve({0: [("AAA", 5, 1)]}, named_exit("hybrid_trailing"))])
    logs = run(eng, range(4))
    opening, evening = logs[1].intents
    assert brief(opening) == ("stop-open", "sell", 100, "stop", "HARD_STOP", 92.0)
    assert brief(evening) == ("stop", "sell", 100, "stop", "TRAILING_STOP", pytest.approx(114.0))
    assert evening.replaces == opening.client_order_id
    assert [e.code for e in logs[1].events if isinstance(e, Cancelled)] == ["REPLACED"]
    (fill,) = [e for e in logs[2].events if isinstance(e, Fill)]
    assert (fill.client_order_id, fill.price, fill.reason) == (
        evening.client_order_id,
        pytest.approx(114.0),
        "TRAILING_STOP",
    )


def test_a_partial_for_the_next_open_shrinks_the_stop() -> None:
    # scaled_exits, exit_fill next_open: t2 close 108 -> SCALE_1 (25 shares) for the t3 open; the evening
    # of t2 replaces the 100-share stop by a 75-share one at the same level 92; the t3 open sells the 25.
    # t4 low 89 <= 92: the stop sells the remaining 75 at min(open 91, 92) = 91.
    settings = dataclasses.replace(NO_COSTS, exit_fill="next_open")
    bars = {"AAA": [flat(100), flat(100), flat(108), flat(108), (91, 92, 89, 90), flat(90)]}
    eng = engine(bars, [sleeve({0: [("AAA", 5, 1)]}, named_exit("scaled_exits"))], settings)
    logs = run(eng, range(6))
    part, stop = logs[2].intents
    assert brief(part) == ("part1", "sell", 25, "next_open", "SCALE_1", None)
    assert brief(stop) == ("stop", "sell", 75, "stop", "HARD_STOP", 92.0)
    assert [(e.shares, e.price) for e in logs[3].events if isinstance(e, Fill)] == [(25, 108.0)]
    assert [(e.shares, e.price, e.reason) for e in logs[4].events if isinstance(e, Fill)] == [
        (75, 91.0, "HARD_STOP")
    ]


def test_time_stop_for_the_next_open_cancels_the_stop() -> None:
    # smart_exits with time_stop 2, exit_fill next_open: t3 (2 sessions held) decides TIME_STOP for t4's
    # open; the evening of t3 cancels the hard stop (nothing left to protect), t4 sells at the open.
    settings = dataclasses.replace(NO_COSTS, exit_fill="next_open")
    spec = named_exit("smart_exits", time_stop=2)
    bars = {"AAA": [flat(100)] * 4 + [(101, 101, 50, 60), flat(60)]}
    eng = engine(bars, [sleeve({0: [("AAA", 5, 1)]}, spec)], settings)
    logs = run(eng, range(6))
    assert [brief(i) for i in logs[3].intents] == [("exit", "sell", 100, "next_open", "TIME_STOP", None)]
    assert logs[3].cancels == [coid(1, "AAA", "stop-open")]
    (fill,) = [e for e in logs[4].events if isinstance(e, Fill)]
    assert (fill.price, fill.reason) == (101.0, "TIME_STOP")  # the 50 low never met a stop


def test_decision_log_says_why_each_setup_was_taken_or_skipped() -> None:
    # 3 slots. t0, ranked: AAA, BBB queued; DDD sized 0 shares (takes no slot); CCC queued; EEE no slot.
    # t1: AAA again is held; BBB has no free slot (3 positions open).
    symbols = ("AAA", "BBB", "CCC", "DDD", "EEE")
    bars = {s: [flat(10)] * 3 for s in symbols}
    script = {
        0: [("AAA", 5, 1), ("BBB", 4, 1), ("DDD", 3, 1), ("CCC", 2, 1), ("EEE", 1, 1)],
        1: [("AAA", 5, 1), ("EEE", 4, 1)],
    }
    eng = engine(bars, [sleeve(script, named_exit("fixed"), FixedShares({"DDD": 0}), max_positions=3)])
    logs = run(eng, range(2))
    assert [(d["symbol"], d["rank"], d["outcome"], d["shares"]) for d in logs[0].decisions] == [
        ("AAA", 1, "queued", 100),
        ("BBB", 2, "queued", 100),
        ("DDD", 3, "sized_zero", 0),
        ("CCC", 4, "queued", 100),
        ("EEE", 5, "no_slot", 0),
    ]
    assert [(d["symbol"], d["outcome"]) for d in logs[1].decisions] == [("AAA", "held"), ("EEE", "no_slot")]


def test_close_entry_that_cash_cannot_pay_is_logged_and_frees_the_slot() -> None:
    # entry at the close, 1000 capital: AAA at 10 x 100 = 1000 takes all the cash; BBB (next rank) then
    # gets 0 shares at its close (no_cash) and CCC is tried: also no cash.
    settings = PortfolioSettings(slippage_bps=0.0, entry_fill="close", starting_capital=1_000.0)
    bars = {s: [flat(10)] * 2 for s in ("AAA", "BBB", "CCC")}
    eng = engine(
        bars, [sleeve({0: [("AAA", 5, 1), ("BBB", 4, 1), ("CCC", 3, 1)]}, named_exit("fixed"))], settings
    )
    (log,) = run(eng, range(1))
    assert [(d["symbol"], d["outcome"]) for d in log.decisions] == [
        ("AAA", "entered"),
        ("BBB", "no_cash"),
        ("CCC", "no_cash"),
    ]
    assert [e.code for e in log.events if isinstance(e, Cancelled)] == ["NO_CASH", "NO_CASH"]


def test_sessions_only_run_forward() -> None:
    eng = engine({"AAA": [flat(10)] * 3}, [sleeve({}, named_exit("fixed"))])
    eng.run_session(1)
    with pytest.raises(SimulationError, match="already processed"):
        eng.run_session(1)


def test_two_sleeves_same_symbol_get_their_own_orders() -> None:
    bars = {"AAA": [flat(100)] * 4}
    sleeves = [
        sleeve({0: [("AAA", 5, 1)]}, named_exit("smart_exits"), name="one", weight=0.5),
        sleeve({0: [("AAA", 5, 1)]}, named_exit("smart_exits"), name="two", weight=0.5),
    ]
    eng = engine(bars, sleeves)
    logs = run(eng, range(2))
    assert [i.client_order_id for i in logs[0].intents] == [
        coid(0, "AAA", "entry", "one"),
        coid(0, "AAA", "entry", "two"),
    ]
    assert eng.broker.positions() == {"AAA": 200}
    assert [p.sleeve for p in eng.state.open_positions()] == [0, 1]


def test_engine_state_equals_broker_book_on_real_runs() -> None:
    # the engine books fills with the broker's numbers: cash is the same float after every session
    bars = {
        "AAA": [flat(100), (100, 120, 99, 118), (117, 117, 80, 90), flat(95), flat(96)],
        "BBB": [flat(20)] * 5,
    }
    settings = PortfolioSettings(slippage_bps=7.0, commission_per_share=0.01, commission_min=1.0)
    eng = engine(bars, [sleeve({0: [("AAA", 5, 1), ("BBB", 4, 1)]}, named_exit("hybrid_trailing"))], settings)
    for t in range(5):
        eng.run_session(t)
        assert eng.state.cash == eng.broker.cash()
        held: dict[str, int] = {}
        for pos in eng.state.open_positions():
            held[pos.symbol] = held.get(pos.symbol, 0) + pos.held
        assert held == eng.broker.positions()
    trades, _ = run_reference(
        make_panel(bars),
        [sleeve({0: [("AAA", 5, 1), ("BBB", 4, 1)]}, named_exit("hybrid_trailing"))],
        settings,
        start=0,
        end=4,
    )
    assert trades  # the same configuration as a backtest trades (END_OF_TEST closes BBB)
