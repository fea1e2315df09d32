"""The fake Alpaca's trading API, exercised through alpaca-py's TradingClient (real HTTP on 127.0.0.1).

Toy bars with round prices so every fill can be checked by hand.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
import requests
from alpaca.common.exceptions import APIError
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide, QueryOrderStatus, TimeInForce
from alpaca.trading.requests import (
    GetCalendarRequest,
    GetOrdersRequest,
    MarketOrderRequest,
    ReplaceOrderRequest,
    StopOrderRequest,
)

from fakes.alpaca import KEY, SECRET, FakeAlpaca, HttpFault, OrderFault, to_utc

# session: (open, high, low, close) for AAA; BBB trades at half those prices
DAYS = {
    "2020-01-02": (100.0, 104.0, 99.0, 103.0),
    "2020-01-03": (102.0, 103.0, 95.0, 96.0),
    "2020-01-06": (90.0, 97.0, 89.0, 95.0),
    "2020-01-07": (95.0, 101.0, 94.0, 100.0),
    "2020-01-08": (100.0, 102.0, 99.0, 101.0),
}


def toy_bars() -> pd.DataFrame:
    rows = []
    for day, (o, h, low, c) in DAYS.items():
        rows.append(
            {"symbol": "AAA", "date": day, "open": o, "high": h, "low": low, "close": c, "volume": 1e6}
        )
        rows.append(
            {
                "symbol": "BBB",
                "date": day,
                "open": o / 2,
                "high": h / 2,
                "low": low / 2,
                "close": c / 2,
                "volume": 2e6,
            }
        )
    return pd.DataFrame(rows)


@pytest.fixture
def fake():
    with FakeAlpaca(toy_bars(), now="2020-01-02 08:00") as running:
        yield running
    assert running.server_errors == []


@pytest.fixture
def client(fake: FakeAlpaca) -> TradingClient:
    trading = TradingClient(KEY, SECRET, paper=True, url_override=fake.url)
    trading._retry = 0  # let errors through at once (alpaca-py waits 3 s between its own retries)
    return trading


def buy(client: TradingClient, symbol: str, qty: int, tif: TimeInForce, coid: str):
    return client.submit_order(
        MarketOrderRequest(
            symbol=symbol, qty=qty, side=OrderSide.BUY, time_in_force=tif, client_order_id=coid
        )
    )


def stop(client: TradingClient, symbol: str, qty: int, price: float, coid: str):
    return client.submit_order(
        StopOrderRequest(
            symbol=symbol,
            qty=qty,
            side=OrderSide.SELL,
            time_in_force=TimeInForce.GTC,
            stop_price=price,
            client_order_id=coid,
        )
    )


def test_account_clock_and_calendar(fake: FakeAlpaca, client: TradingClient) -> None:
    account = client.get_account()
    assert float(account.cash) == 100_000 and float(account.equity) == 100_000
    clock = client.get_clock()
    assert not clock.is_open and clock.next_open == to_utc("2020-01-02 09:30")
    fake.advance_to("2020-01-03 12:00")
    clock = client.get_clock()
    assert clock.is_open and clock.next_close == to_utc("2020-01-03 16:00")
    fake.advance_to("2020-01-03 17:00")
    assert client.get_clock().next_open == to_utc("2020-01-06 09:30")  # over the weekend
    days = client.get_calendar(GetCalendarRequest(start=dt.date(2019, 11, 27), end=dt.date(2019, 12, 2)))
    assert [d.date.isoformat() for d in days] == ["2019-11-27", "2019-11-29", "2019-12-02"]  # Thanksgiving
    assert days[1].close.hour == 13  # early close


def test_opg_order_lifecycle_fills_at_the_open(fake: FakeAlpaca, client: TradingClient) -> None:
    order = buy(client, "AAA", 10, TimeInForce.OPG, "tp-a-1")
    assert order.status == "accepted" and order.client_order_id == "tp-a-1"
    fake.advance_to("2020-01-02 09:31")
    filled = client.get_order_by_client_id("tp-a-1")
    assert filled.status == "filled" and float(filled.filled_avg_price) == 100.0
    assert [e["event"] for e in fake.events()] == ["accepted", "new", "fill"]
    fill = fake.events("fill")[0]
    assert (fill["price"], fill["qty"], fill["position_qty"]) == ("100.0", "10", "10")
    assert float(client.get_account().cash) == 100_000 - 1_000
    position = client.get_open_position("AAA")
    assert position.qty == "10" and float(position.avg_entry_price) == 100.0


def test_submission_windows_and_uniqueness(fake: FakeAlpaca, client: TradingClient) -> None:
    fake.advance_to("2020-01-02 09:28")
    with pytest.raises(APIError) as opg:
        buy(client, "AAA", 1, TimeInForce.OPG, "late-opg")
    assert opg.value.status_code == 422 and "9:28" in opg.value.message
    fake.advance_to("2020-01-02 15:50")
    with pytest.raises(APIError) as cls:
        buy(client, "AAA", 1, TimeInForce.CLS, "late-cls")
    assert cls.value.status_code == 422
    fake.advance_to("2020-01-02 19:00")  # the evening window is open again
    buy(client, "AAA", 1, TimeInForce.OPG, "ok-opg")
    with pytest.raises(APIError) as dup:
        buy(client, "AAA", 1, TimeInForce.OPG, "ok-opg")
    assert dup.value.status_code == 422 and dup.value.message == "client_order_id must be unique"
    assert len(client.get_orders()) == 1


def test_resting_stop_triggers_at_min_of_open_and_stop(fake: FakeAlpaca, client: TradingClient) -> None:
    buy(client, "AAA", 10, TimeInForce.OPG, "entry")
    fake.advance_to("2020-01-02 09:35")
    stop(client, "AAA", 10, 97.0, "stop-1")  # 2020-01-02 low is 99: holds
    fake.advance_to("2020-01-02 17:00")
    assert client.get_order_by_client_id("stop-1").status == "new"
    fake.advance_to("2020-01-03 17:00")  # low 95 <= 97, open 102: fills at the stop
    done = client.get_order_by_client_id("stop-1")
    assert done.status == "filled" and float(done.filled_avg_price) == 97.0
    assert client.get_all_positions() == []


def test_stop_gapped_through_fills_at_the_open(fake: FakeAlpaca, client: TradingClient) -> None:
    buy(client, "AAA", 10, TimeInForce.OPG, "entry")
    fake.advance_to("2020-01-02 09:35")
    stop(client, "AAA", 10, 92.0, "stop-1")
    fake.advance_to("2020-01-06 09:31")  # 2020-01-03 low 95 holds; 2020-01-06 opens at 90 < 92
    done = client.get_order_by_client_id("stop-1")
    assert float(done.filled_avg_price) == 90.0 and done.filled_at == to_utc("2020-01-06 09:30")


def test_stop_replaced_upward_then_cancelled(fake: FakeAlpaca, client: TradingClient) -> None:
    buy(client, "AAA", 10, TimeInForce.OPG, "entry")
    fake.advance_to("2020-01-02 16:30")
    first = stop(client, "AAA", 10, 92.0, "stop-1")
    new = client.replace_order_by_id(first.id, ReplaceOrderRequest(stop_price=93.5, client_order_id="stop-2"))
    assert (
        new.client_order_id == "stop-2"
        and float(new.stop_price) == 93.5
        and str(new.replaces) == str(first.id)
    )
    old = client.get_order_by_client_id("stop-1")
    assert old.status == "replaced" and str(old.replaced_by) == str(new.id)
    # shares held by the resting stop are not available to another sell
    with pytest.raises(APIError) as held:
        client.submit_order(
            MarketOrderRequest(symbol="AAA", qty=10, side=OrderSide.SELL, time_in_force=TimeInForce.DAY)
        )
    assert held.value.status_code == 403 and "available: 0" in held.value.message
    client.cancel_order_by_id(new.id)
    assert client.get_order_by_client_id("stop-2").status == "canceled"
    with pytest.raises(APIError) as again:
        client.cancel_order_by_id(new.id)
    assert again.value.status_code == 422


def test_cls_fills_at_the_close_and_day_orders_expire(fake: FakeAlpaca, client: TradingClient) -> None:
    buy(client, "AAA", 10, TimeInForce.OPG, "entry")
    fake.advance_to("2020-01-02 12:00")
    client.submit_order(
        MarketOrderRequest(
            symbol="AAA", qty=4, side=OrderSide.SELL, time_in_force=TimeInForce.CLS, client_order_id="x"
        )
    )
    fake.advance_to("2020-01-02 16:00")
    assert float(client.get_order_by_client_id("x").filled_avg_price) == 103.0
    assert client.get_open_position("AAA").qty == "6"
    # a day stop below the day's low expires at the close; a market day order sent at night fills at the open
    stop_day = client.submit_order(
        StopOrderRequest(
            symbol="AAA", qty=6, side=OrderSide.SELL, time_in_force=TimeInForce.DAY, stop_price=50.0
        )
    )
    buy(client, "BBB", 10, TimeInForce.DAY, "night")
    fake.advance_to("2020-01-03 16:00")
    assert client.get_order_by_id(stop_day.id).status == "expired"
    assert float(client.get_order_by_client_id("night").filled_avg_price) == 51.0


def test_intraday_market_order_fills_at_once(fake: FakeAlpaca, client: TradingClient) -> None:
    fake.advance_to("2020-01-02 10:00")
    assert (
        float(buy(client, "AAA", 1, TimeInForce.DAY, "early").filled_avg_price) == 100.0
    )  # before the reveal
    fake.advance_to("2020-01-02 15:45")
    assert float(buy(client, "AAA", 1, TimeInForce.DAY, "late").filled_avg_price) == 103.0  # after it


def test_buying_power_is_checked(fake: FakeAlpaca, client: TradingClient) -> None:
    with pytest.raises(APIError) as poor:
        buy(
            client, "AAA", 2_001, TimeInForce.OPG, "too-big"
        )  # 2001 x 100 > 2 x 100k (margin, at the open price)
    assert poor.value.status_code == 403 and poor.value.message == "insufficient buying power"
    with pytest.raises(APIError) as unknown:
        buy(client, "ZZZ", 1, TimeInForce.OPG, "nope")
    assert unknown.value.status_code == 422


def test_orders_query_filters(fake: FakeAlpaca, client: TradingClient) -> None:
    buy(client, "AAA", 1, TimeInForce.OPG, "a1")
    fake.advance_to("2020-01-02 08:10")
    buy(client, "BBB", 1, TimeInForce.OPG, "b1")
    fake.advance_to("2020-01-02 09:40")
    buy(client, "BBB", 1, TimeInForce.GTC, "b2")
    closed = client.get_orders(GetOrdersRequest(status=QueryOrderStatus.CLOSED, direction="asc"))
    assert [o.client_order_id for o in closed] == ["a1", "b1", "b2"]
    after = client.get_orders(
        GetOrdersRequest(status=QueryOrderStatus.ALL, after=to_utc("2020-01-02 08:05"), symbols=["BBB"])
    )
    assert [o.client_order_id for o in after] == ["b2", "b1"]  # newest first by default


def test_manual_trade_and_history_window(fake: FakeAlpaca, client: TradingClient) -> None:
    fake.advance_to("2020-01-02 11:00")
    fake.manual_trade("BBB", "buy", 7)
    assert client.get_open_position("BBB").qty == "7"
    fake.broker.seed_position("AAA", 5, 80.0)
    fake.broker.history_start = to_utc("2020-01-02 12:00")  # the API no longer lists older orders
    assert client.get_orders(GetOrdersRequest(status=QueryOrderStatus.ALL)) == []
    assert {p.symbol: p.qty for p in client.get_all_positions()} == {"AAA": "5", "BBB": "7"}


# ---------------------------------------------------------------------- order faults


def test_partial_fill_of_an_opg_order_expires_the_rest(fake: FakeAlpaca, client: TradingClient) -> None:
    fake.inject(OrderFault("partial", symbol="AAA", fraction=0.3))
    buy(client, "AAA", 10, TimeInForce.OPG, "p")
    fake.advance_to("2020-01-02 09:31")
    order = client.get_order_by_client_id("p")
    assert (order.status, order.filled_qty) == ("expired", "3")
    assert [e["event"] for e in fake.events()][-2:] == ["partial_fill", "expired"]


def test_expired_opg_order(fake: FakeAlpaca, client: TradingClient) -> None:
    fake.inject(OrderFault("expire", symbol="AAA"))
    buy(client, "AAA", 10, TimeInForce.OPG, "e")
    fake.advance_to("2020-01-02 09:31")
    assert client.get_order_by_client_id("e").status == "expired"
    assert client.get_all_positions() == []


def test_delayed_fill_is_reported_later(fake: FakeAlpaca, client: TradingClient) -> None:
    fake.inject(OrderFault("delay", symbol="AAA", until=to_utc("2020-01-02 09:45")))
    buy(client, "AAA", 10, TimeInForce.OPG, "d")
    fake.advance_to("2020-01-02 09:40")
    assert client.get_order_by_client_id("d").status == "new"
    with pytest.raises(APIError):  # the fill is on its way: too late to cancel
        client.cancel_order_by_id(client.get_order_by_client_id("d").id)
    fake.advance_to("2020-01-02 09:50")
    order = client.get_order_by_client_id("d")
    assert order.status == "filled" and float(order.filled_avg_price) == 100.0
    assert order.filled_at == to_utc("2020-01-02 09:45")


def test_rejected_and_worse_fills(fake: FakeAlpaca, client: TradingClient) -> None:
    fake.inject(OrderFault("reject", symbol="BBB"))
    fake.inject(OrderFault("worse", symbol="AAA", bps=10))
    buy(client, "BBB", 10, TimeInForce.OPG, "r")
    buy(client, "AAA", 10, TimeInForce.OPG, "w")
    fake.advance_to("2020-01-02 09:31")
    assert client.get_order_by_client_id("r").status == "rejected"
    assert float(client.get_order_by_client_id("w").filled_avg_price) == pytest.approx(100.1, abs=1e-12)


# ---------------------------------------------------------------------- HTTP faults


def test_429_and_5xx_answers(fake: FakeAlpaca, client: TradingClient) -> None:
    fake.inject(HttpFault(429, path="/v2/account", retry_after=1))
    with pytest.raises(APIError) as limited:
        client.get_account()
    assert limited.value.status_code == 429
    assert limited.value.response.headers["Retry-After"] == "1"
    fake.inject(HttpFault(503, method="POST", path="/v2/orders"))
    with pytest.raises(APIError) as unavailable:
        buy(client, "AAA", 1, TimeInForce.OPG, "never")
    assert unavailable.value.status_code == 503
    assert client.get_orders() == []  # "before": the order was not taken


def test_error_after_the_order_was_taken(fake: FakeAlpaca, client: TradingClient) -> None:
    fake.inject(HttpFault(500, method="POST", path="/v2/orders", when="after"))
    with pytest.raises(APIError):
        buy(client, "AAA", 1, TimeInForce.OPG, "ghost")
    assert client.get_order_by_client_id("ghost").status == "accepted"  # it exists all the same
    with pytest.raises(APIError) as dup:
        buy(client, "AAA", 1, TimeInForce.OPG, "ghost")  # a blind resend is refused
    assert dup.value.status_code == 422


def test_dropped_connection(fake: FakeAlpaca, client: TradingClient) -> None:
    fake.inject(HttpFault("drop", method="POST", path="/v2/orders", when="after"))
    with pytest.raises(requests.exceptions.ConnectionError):
        buy(client, "AAA", 1, TimeInForce.OPG, "lost-answer")
    assert client.get_order_by_client_id("lost-answer").qty == "1"


def test_hanging_answer_and_wrong_keys(fake: FakeAlpaca) -> None:
    fake.inject(HttpFault("hang", path="/v2/clock", seconds=1.0))
    with pytest.raises(requests.exceptions.Timeout):
        requests.get(
            f"{fake.url}/v2/clock",
            headers={"APCA-API-KEY-ID": KEY, "APCA-API-SECRET-KEY": SECRET},
            timeout=0.2,
        )
    wrong = TradingClient("PKWRONG", "wrong-secret", paper=True, url_override=fake.url)
    with pytest.raises(APIError) as denied:
        wrong.get_account()
    assert denied.value.status_code == 401
    assert [r.authorized for r in fake.requests] == [True, False]
