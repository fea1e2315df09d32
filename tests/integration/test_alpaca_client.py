"""The adapter's Alpaca client against the fake: every HTTP fault on the order path ends with exactly
one order (or none and a clear error); a 422 duplicate id is the order already placed."""

from __future__ import annotations

import pytest
from alpaca.trading.enums import OrderSide, TimeInForce
from alpaca.trading.requests import MarketOrderRequest

from fakes.alpaca import KEY, SECRET, FakeAlpaca, HttpFault
from trading_playbook.data.alpaca_settings import load_credentials, resolve_endpoints
from trading_playbook.paper.alpaca_client import AlpacaTrading, BrokerError, OrderRejected

from .test_fake_alpaca_orders import toy_bars

ENV = {"ALPACA_API_KEY": KEY, "ALPACA_SECRET_KEY": SECRET}


@pytest.fixture
def fake():
    with FakeAlpaca(toy_bars(), now="2020-01-02 08:00") as running:
        yield running
    assert running.server_errors == []


def client(fake: FakeAlpaca, **kw: object) -> AlpacaTrading:
    endpoints = resolve_endpoints({"trading_url": fake.url}, environ={})
    options = {"backoff": 0.01, "timeout": (1.0, 0.3), "sleep": lambda s: None, **kw}
    return AlpacaTrading(load_credentials(ENV), endpoints, **options)  # type: ignore[arg-type]


def order(coid: str, qty: int = 10) -> MarketOrderRequest:
    return MarketOrderRequest(
        symbol="AAA", qty=qty, side=OrderSide.BUY, time_in_force=TimeInForce.OPG, client_order_id=coid
    )


def posts(fake: FakeAlpaca) -> int:
    return len(fake.order_requests("POST"))


@pytest.mark.parametrize(
    "fault",
    [
        HttpFault(
            429, method="POST", path="/v2/orders", retry_after=0
        ),  # refused: looked up, then sent again
        HttpFault(503, method="POST", path="/v2/orders", times=2),  # twice refused
        HttpFault(500, method="POST", path="/v2/orders", when="after"),  # taken, answer lost
        HttpFault("drop", method="POST", path="/v2/orders", when="after"),  # taken, connection lost
        HttpFault("hang", method="POST", path="/v2/orders", when="after", seconds=0.8),  # taken, timed out
    ],
    ids=["429", "503x2", "500-after", "drop-after", "timeout-after"],
)
def test_each_fault_ends_with_exactly_one_order(fake: FakeAlpaca, fault: HttpFault) -> None:
    fake.inject(fault)
    placed = client(fake).submit(order("tp-x-1"))
    assert placed["client_order_id"] == "tp-x-1" and placed["qty"] == "10"
    assert [o.client_order_id for o in fake.orders()] == ["tp-x-1"]
    assert fake.faults.http == []  # the fault did happen
    taken = fault.when == "after"
    assert posts(fake) == (1 if taken else 1 + (2 if fault.status == 503 else 1))
    lookups = [r for r in fake.requests if r.path == "/v2/orders:by_client_order_id"]
    assert lookups  # looked up before anything was sent again


def test_duplicate_client_order_id_is_the_order_already_placed(fake: FakeAlpaca) -> None:
    trading = client(fake)
    first = trading.submit(order("tp-x-1"))
    again = trading.submit(order("tp-x-1", qty=10))
    assert again["id"] == first["id"] and len(fake.orders()) == 1
    assert posts(fake) == 2  # the second POST got 422 "client_order_id must be unique"


def test_persistent_failure_places_nothing_and_says_so(fake: FakeAlpaca) -> None:
    fake.inject(HttpFault(503, method="POST", path="/v2/orders", times=100))
    with pytest.raises(BrokerError, match="could not be placed after 5 attempts") as failure:
        client(fake).submit(order("tp-x-1"))
    assert "it was not placed" in str(failure.value) and fake.orders() == []


def test_unanswerable_lookup_never_resends(fake: FakeAlpaca) -> None:
    fake.inject(HttpFault(500, method="POST", path="/v2/orders", when="after"))
    fake.inject(HttpFault(503, method="GET", path="/v2/orders:by_client_order_id", times=100))
    with pytest.raises(BrokerError, match="nothing was resent"):
        client(fake, max_retries=0).submit(order("tp-x-1"))
    assert posts(fake) == 1 and len(fake.orders()) == 1


def test_reads_are_retried_and_refusals_are_clear(fake: FakeAlpaca) -> None:
    fake.inject(HttpFault(503, method="GET", path="/v2/account", times=2))
    assert client(fake).account()["status"] == "ACTIVE"
    with pytest.raises(OrderRejected) as poor:
        client(fake).submit(order("tp-x-2", qty=100_000))
    assert poor.value.status == 403 and "insufficient buying power" in str(poor.value)
    assert client(fake).order("tp-unknown") is None


def test_errors_never_carry_the_keys(fake: FakeAlpaca) -> None:
    fake.inject(HttpFault(403, method="POST", message=f"denied {KEY}:{SECRET}"))
    with pytest.raises(OrderRejected) as failure:
        client(fake).submit(order("tp-x-3"))
    text = str(failure.value)
    assert "denied ***:***" in text and KEY not in text and SECRET not in text
