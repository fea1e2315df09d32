"""The fake Alpaca's WebSockets and market-data REST, exercised through alpaca-py's own stream clients."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pandas as pd
import pytest
from alpaca.data.enums import DataFeed
from alpaca.data.historical import StockHistoricalDataClient
from alpaca.data.live import StockDataStream
from alpaca.data.requests import StockBarsRequest
from alpaca.data.timeframe import TimeFrame
from alpaca.trading.client import TradingClient
from alpaca.trading.enums import OrderSide, TimeInForce
from alpaca.trading.requests import MarketOrderRequest
from alpaca.trading.stream import TradingStream

from fakes.alpaca import KEY, SECRET, Bar, FakeAlpaca, synth_minutes, to_utc

from .test_fake_alpaca_orders import toy_bars


def wait_until(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.01)


@contextmanager
def running(stream: Any, fake: FakeAlpaca, kind: str) -> Iterator[None]:
    stream._reconnect_min_backoff = 0.05  # reconnect fast in tests (alpaca-py waits 1 s at first)
    thread = threading.Thread(target=stream.run, daemon=True)
    thread.start()
    try:
        yield
    finally:
        wait_until(lambda: stream._loop is not None)
        stream.stop()
        fake.drop_streams(kind)  # wakes the client's 5 s receive wait
        thread.join(10)
        assert not thread.is_alive()


@pytest.fixture
def fake():
    with FakeAlpaca(toy_bars(), now="2020-01-02 08:00") as running_fake:
        yield running_fake
    assert running_fake.server_errors == []


def opg_buy(client: TradingClient, coid: str) -> None:
    client.submit_order(
        MarketOrderRequest(
            symbol="AAA", qty=5, side=OrderSide.BUY, time_in_force=TimeInForce.OPG, client_order_id=coid
        )
    )


def test_trade_updates_and_a_lost_connection(fake: FakeAlpaca) -> None:
    client = TradingClient(KEY, SECRET, paper=True, url_override=fake.url)
    updates: list[Any] = []

    async def on_update(update: Any) -> None:
        updates.append(update)

    stream = TradingStream(KEY, SECRET, paper=True, url_override=fake.trading_stream_url)
    stream.subscribe_trade_updates(on_update)
    with running(stream, fake, "trade"):
        wait_until(lambda: fake.streams.count("trade") == 1)
        opg_buy(client, "first")
        fake.advance_to("2020-01-02 09:31")
        wait_until(lambda: len(updates) == 3)
        assert [(u.event, u.order.client_order_id) for u in updates] == [
            ("accepted", "first"),
            ("new", "first"),
            ("fill", "first"),
        ]
        assert (updates[2].price, updates[2].qty, updates[2].position_qty) == (100.0, 5.0, 5.0)
        fake.advance_to("2020-01-02 19:30")
        # an outage: the socket drops and reconnections fail for a while; events meanwhile are lost
        fake.streams.paused.add("trade")
        fake.drop_streams("trade")
        wait_until(lambda: fake.streams.count("trade", ready=False) == 0)
        opg_buy(client, "while-down")
        fake.streams.paused.discard("trade")
        wait_until(lambda: fake.streams.count("trade") == 1)
        opg_buy(client, "after")
        fake.advance_to("2020-01-03 09:31")
        wait_until(lambda: len(updates) == 3 + 5)
    seen = [(u.event, u.order.client_order_id) for u in updates[3:]]
    assert ("accepted", "while-down") not in seen  # lost with the connection: recover it over REST
    assert ("fill", "while-down") in seen and ("fill", "after") in seen
    assert fake.streams.connections["trade"] >= 2


def test_wrong_keys_are_refused_on_the_trade_stream(fake: FakeAlpaca) -> None:
    stream = TradingStream("PKWRONG", "nope", paper=True, url_override=fake.trading_stream_url)

    async def on_update(update: Any) -> None:  # pragma: no cover - never called
        raise AssertionError(update)

    stream.subscribe_trade_updates(on_update)
    with running(stream, fake, "trade"):
        wait_until(lambda: fake.streams.connections["trade"] >= 2)  # refused, retried, refused
        assert fake.streams.count("trade") == 0


def test_market_data_stream_minute_and_daily_bars(fake: FakeAlpaca) -> None:
    fake.market.add_minutes(synth_minutes("AAA", "2020-01-02", Bar(100.0, 104.0, 99.0, 103.0, 1e6)))
    minutes: list[dict[str, Any]] = []
    daily: list[dict[str, Any]] = []

    async def on_minute(bar: dict[str, Any]) -> None:
        minutes.append(bar)

    async def on_daily(bar: dict[str, Any]) -> None:
        daily.append(bar)

    stream = StockDataStream(KEY, SECRET, raw_data=True, url_override=f"{fake.data_stream_url}/v2/iex")
    stream.subscribe_bars(on_minute, "AAA")
    stream.subscribe_daily_bars(on_daily, "AAA", "BBB")
    with running(stream, fake, "data"):
        wait_until(lambda: fake.streams.subscribed("dailyBars") == {"AAA", "BBB"})
        fake.advance_to("2020-01-02 12:00")
        wait_until(lambda: len(minutes) == 2)
        assert daily == []
        fake.advance_to("2020-01-02 16:00")
        wait_until(lambda: len(minutes) == 3 and len(daily) == 4)  # the reveal and the close, two symbols
        # a second connection is refused: Alpaca allows one market-data stream per account
        other = StockDataStream(KEY, SECRET, raw_data=True, url_override=f"{fake.data_stream_url}/v2/iex")
        other.subscribe_bars(on_minute, "AAA")
        with running(other, fake, "data"):
            wait_until(lambda: fake.streams.connections["data"] >= 2)
        assert len(minutes) == 3
    frame = pd.DataFrame(minutes)
    assert frame["t"].map(lambda t: t.to_datetime()).tolist()[0] == to_utc("2020-01-02 09:30")
    assert (frame["o"].iloc[0], frame["h"].max(), frame["l"].min(), frame["c"].iloc[-1]) == (
        100.0,
        104.0,
        99.0,
        103.0,
    )
    assert frame["v"].sum() == 1e6
    assert {(d["S"], d["c"]) for d in daily} == {("AAA", 103.0), ("BBB", 51.5)}


def test_rest_bars_follow_the_clock(fake: FakeAlpaca) -> None:
    fake.market.add_minutes(synth_minutes("AAA", "2020-01-03", Bar(102.0, 103.0, 95.0, 96.0, 9e5)))
    data = StockHistoricalDataClient(KEY, SECRET, raw_data=True, url_override=fake.url)

    def daily() -> list[str]:
        request = StockBarsRequest(
            symbol_or_symbols=["AAA"], timeframe=TimeFrame.Day, start=to_utc("2020-01-01"), feed=DataFeed.IEX
        )
        return [b["t"] for b in data.get_stock_bars(request).get("AAA", [])]

    fake.advance_to("2020-01-03 15:59")
    assert daily() == ["2020-01-02T05:00:00Z"]  # today's bar is not final before the close
    fake.advance_to("2020-01-03 16:00")
    assert daily() == ["2020-01-02T05:00:00Z", "2020-01-03T05:00:00Z"]
    minute = StockBarsRequest(
        symbol_or_symbols=["AAA"],
        timeframe=TimeFrame.Minute,
        start=to_utc("2020-01-03 09:30"),
        feed=DataFeed.IEX,
    )
    bars = data.get_stock_bars(minute)["AAA"]
    assert [b["c"] for b in bars] == [103.0, 95.0, 96.0]  # a down day: open, high, low, close
