"""The broker port and the simulated broker on hand-made bars (RULES sections 4, 6 and 8).

Sessions t0, t1, ... are 2020-01-01 + t days (``day(t)``). Every fill price is worked out by hand.
"""

from __future__ import annotations

import json

import pytest
from _engine_bars import day, flat, make_panel

from trading_playbook.core.broker import (
    Broker,
    Cancelled,
    Fill,
    OrderIntent,
    Phase,
    Timing,
    client_order_id,
    event_from_dict,
)
from trading_playbook.core.errors import SimulationError
from trading_playbook.core.simulate.settings import PortfolioSettings
from trading_playbook.core.simulate.sim_broker import SimulatedBroker

BARS = {
    "AAA": [flat(100), (101, 103, 99, 102), (95, 96, 90, 91), flat(91)],
    "BBB": [flat(50), None, (52, 53, 51, 52), flat(52)],
}
S10 = PortfolioSettings(slippage_bps=10.0, starting_capital=10_000.0)


def intent(symbol, leg, side, shares, timing, *, t=0, priority=(0,), **kw) -> OrderIntent:  # type: ignore[no-untyped-def]
    return OrderIntent(
        client_order_id=client_order_id("acct", day(t), "main", symbol, leg),
        session=day(t),
        sleeve="main",
        symbol=symbol,
        leg=leg,
        side=side,
        shares=shares,
        timing=timing,
        reason=kw.pop("reason", "ENTRY" if side == "buy" else "MA_BREAK"),
        priority=priority,
        **kw,
    )


def broker(settings: PortfolioSettings = S10) -> SimulatedBroker:
    return SimulatedBroker(make_panel(BARS), settings)


def test_client_order_id_format_and_unsafe_characters() -> None:
    assert client_order_id("demo", day(3), "main", "BRK.B", "part2") == "tp-demo-2020-01-04-main-BRK.B-part2"
    # separators inside names become "_" so ids stay one token per part
    assert (
        client_order_id("my acct", "2020-01-02", "a-b", "X/Y", "stop") == "tp-my_acct-2020-01-02-a_b-X_Y-stop"
    )


def test_the_simulated_broker_implements_the_port() -> None:
    assert isinstance(broker(), Broker)


def test_open_sells_before_buys_and_buys_get_what_cash_allows() -> None:
    b = broker(PortfolioSettings(slippage_bps=10.0, starting_capital=10_000.0, commission_per_order=1.0))
    b.submit([intent("AAA", "entry", "buy", 50, Timing.NEXT_OPEN)])
    b.events(
        day(1), Phase.OPEN
    )  # t1: 50 AAA at 101 * 1.001 = 101.101, fee 1 -> cash 10000 - 5056.05 = 4943.95
    assert b.cash() == pytest.approx(10_000 - (50 * 101.101 + 1))
    # t1 evening: sell the 50 AAA at the next open, and buy 100 BBB (priority: sells first)
    sell = intent("AAA", "exit", "sell", 50, Timing.NEXT_OPEN, t=1, priority=(0, 0))
    buy = intent("BBB", "entry", "buy", 100, Timing.NEXT_OPEN, t=1, priority=(1, 0))
    b.submit([buy, sell])
    events = b.events(day(2), Phase.OPEN)
    assert [e.client_order_id for e in events] == [sell.client_order_id, buy.client_order_id]
    # sell 50 at 95 * 0.999 = 94.905 -> +4745.25 - 1; cash 4943.95 + 4744.25 = 9688.2
    # buy at 52 * 1.001 = 52.052: 100 cost 5205.2 + 1 -> fits
    s, bfill = events
    assert isinstance(s, Fill) and isinstance(bfill, Fill)
    assert (s.price, s.reference_price, s.phase) == (pytest.approx(94.905), 95.0, Phase.OPEN)
    assert (bfill.shares, bfill.price) == (100, pytest.approx(52.052))
    assert b.positions() == {"BBB": 100}


def test_an_entry_cash_cannot_pay_is_cut_to_what_cash_allows_or_cancelled() -> None:
    b = broker()
    b.submit([intent("AAA", "entry", "buy", 1000, Timing.NEXT_OPEN)])
    (fill,) = b.events(day(1), Phase.OPEN)
    # floor(10000 / 101.101) = 98 shares
    assert isinstance(fill, Fill) and fill.shares == 98
    b.submit([intent("BBB", "entry", "buy", 1000, Timing.NEXT_OPEN, t=1)])
    (ev,) = b.events(day(2), Phase.OPEN)
    # cash 10000 - 98 * 101.101 = 92.102 < 52.052 * 2: one share
    assert isinstance(ev, Fill) and ev.shares == 1
    b.submit([intent("BBB", "entry", "buy", 5, Timing.CLOSE, t=2)])
    (ev,) = b.submit([intent("BBB", "entry", "buy", 5, Timing.CLOSE, t=2)])  # resubmitted: same answer
    assert isinstance(ev, Cancelled) and ev.code == "NO_CASH"


def test_entry_without_a_bar_is_cancelled_and_an_exit_waits_for_the_next_bar() -> None:
    b = broker()
    b.submit([intent("BBB", "entry", "buy", 10, Timing.NEXT_OPEN)])
    (ev,) = b.events(day(1), Phase.OPEN)  # BBB has no bar at t1
    assert isinstance(ev, Cancelled) and ev.code == "NO_BAR"
    # a known id answers with its old events (the cancellation), so this close buy needs its own leg
    b.submit([intent("BBB", "entry-close", "buy", 10, Timing.CLOSE, t=0)])  # fills at 50 * 1.001
    b.submit([intent("BBB", "exit", "sell", 10, Timing.NEXT_OPEN, t=0)])
    assert b.events(day(1), Phase.OPEN) == [ev]  # asked again: the same answer, nothing new
    (sale,) = b.events(day(2), Phase.OPEN)
    assert isinstance(sale, Fill) and sale.price == pytest.approx(52 * 0.999)


def test_stops_fill_at_the_lower_of_open_and_level_and_only_with_a_bar() -> None:
    b = broker()
    b.submit([intent("AAA", "entry", "buy", 10, Timing.CLOSE)])
    b.submit([intent("BBB", "entry", "buy", 10, Timing.CLOSE)])
    b.submit(
        [
            intent("AAA", "stop", "sell", 10, Timing.STOP, stop_price=92.0, reason="HARD_STOP"),
            intent("BBB", "stop", "sell", 10, Timing.STOP, stop_price=60.0, reason="HARD_STOP"),
        ]
    )
    assert b.events(day(1), Phase.INTRADAY) == []  # AAA low 99 > 92; BBB has no bar (stop cannot trigger)
    events = b.events(day(2), Phase.INTRADAY)
    # AAA opens 95, low 90 <= 92: fill at min(95, 92) = 92 less 10 bps; BBB opens 52 below 60: at the open
    assert [(e.symbol, e.reference_price, e.reason) for e in events] == [
        ("AAA", 92.0, "HARD_STOP"),
        ("BBB", 52.0, "HARD_STOP"),
    ]
    assert events[0].price == pytest.approx(92 * 0.999)
    assert b.open_orders() == [] and b.positions() == {}


def test_replace_and_cancel_a_stop() -> None:
    b = broker()
    b.submit([intent("AAA", "entry", "buy", 10, Timing.CLOSE)])
    first = intent("AAA", "stop-open", "sell", 10, Timing.STOP, stop_price=80.0)
    b.submit([first])
    moved = intent(
        "AAA", "stop", "sell", 10, Timing.STOP, t=1, stop_price=91.0, replaces=first.client_order_id
    )
    (replaced,) = b.submit([moved])
    assert isinstance(replaced, Cancelled) and replaced.code == "REPLACED"
    assert b.submit([moved]) == [replaced]  # re-sent after a crash: the same answer, nothing new
    assert [o.client_order_id for o in b.open_orders()] == [moved.client_order_id]
    (cancelled,) = b.cancel([moved.client_order_id])
    assert cancelled.code == "CANCELLED" and b.open_orders() == []
    # asked again: the same answer (a re-run after a crash journals it); an unknown id: nothing
    assert b.cancel([moved.client_order_id, "tp-unknown"]) == [cancelled]


def test_a_resubmitted_intent_never_buys_twice() -> None:
    b = broker()
    buy = intent("AAA", "entry", "buy", 10, Timing.CLOSE)
    first = b.submit([buy])
    assert b.submit([buy]) == first and b.positions() == {"AAA": 10} and b.accepted == 1
    rest = intent("AAA", "entry", "buy", 5, Timing.NEXT_OPEN, t=1)
    b.submit([rest, rest])
    assert len(b.open_orders()) == 1 and b.accepted == 2


def test_selling_more_than_held_is_an_error() -> None:
    with pytest.raises(SimulationError, match="holds 0"):
        broker().submit([intent("AAA", "exit", "sell", 5, Timing.CLOSE)])


def test_asking_for_a_session_without_bars_is_an_error() -> None:
    with pytest.raises(SimulationError, match="no bars for session 2020-02-01"):
        broker().events(day(31), Phase.OPEN)


def test_state_round_trips_through_json_exactly() -> None:
    b = broker()
    b.submit([intent("AAA", "entry", "buy", 33, Timing.CLOSE)])
    b.submit([intent("AAA", "stop", "sell", 33, Timing.STOP, stop_price=92.123456789012345)])
    b.submit([intent("BBB", "entry", "buy", 7, Timing.NEXT_OPEN)])
    b.events(day(1), Phase.OPEN)
    text = json.dumps(b.to_dict())
    again = SimulatedBroker.from_dict(json.loads(text), make_panel(BARS), S10)
    assert again.to_dict() == b.to_dict()
    assert again.cash() == b.cash()  # exact float
    assert again.events(day(1), Phase.OPEN) == b.events(day(1), Phase.OPEN)
    assert again.events(day(2), Phase.INTRADAY) == b.events(day(2), Phase.INTRADAY)


def test_events_and_intents_round_trip() -> None:
    order = intent("AAA", "stop", "sell", 3, Timing.STOP, stop_price=1 / 3, replaces="x", priority=(0, 1, 2))
    assert OrderIntent.from_dict(json.loads(json.dumps(order.to_dict()))) == order
    fill = Fill(
        "id", "id/1", day(1), Phase.INTRADAY, "main", "AAA", "sell", 3, 0.1 + 0.2, 1e-9, "HARD_STOP", 0.3
    )
    cancel = Cancelled("id", day(1), Phase.OPEN, "main", "AAA", "NO_BAR", "no bar")
    for event in (fill, cancel):
        assert event_from_dict(json.loads(json.dumps(event.to_dict()))) == event
