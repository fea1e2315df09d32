"""The fake Alpaca: one object holding the clock, the market, the account and the servers.

Use it as a context manager; it serves on 127.0.0.1 (ephemeral ports) until the block ends::

    with FakeAlpaca(bars, now="2020-01-02 08:00") as fake:
        client = TradingClient(KEY, SECRET, paper=True, url_override=fake.trading_url)
        ...
        fake.advance_to("2020-01-02 16:00")   # opens, reveals and closes the session in order

``advance_to`` walks every scheduled moment between the old and the new time in order (delayed
fills coming due, the open, minute bars ending, the reveal, the close) and lets the account and the
streams act at each, so a test controls exactly what the client can have seen.
"""

from __future__ import annotations

import datetime as dt
import threading
from http.server import ThreadingHTTPServer
from typing import Any

import pandas as pd

from .clock import Clock, sessions_between, to_utc
from .faults import Faults, HttpFault, OrderFault
from .market import Market
from .orders import Broker, Order
from .rest import Request, make_handler
from .streams import Streams, bar_message

KEY = "PKTESTKEY0123456789"
SECRET = "sEcReTsEcReTsEcReT0123456789abcdef"


class FakeAlpaca:
    """Alpaca's trading and market-data APIs (REST and WebSocket) over fed bars and a driven clock."""

    def __init__(
        self,
        bars: pd.DataFrame | None = None,
        *,
        now: object | None = None,
        cash: float = 100_000.0,
        page_size: int = 1000,
        slippage_bps: float = 0.0,
        multiplier: float = 2.0,
        reveal_before: dt.timedelta = dt.timedelta(minutes=20),
        key: str = KEY,
        secret: str = SECRET,
    ) -> None:
        self.clock = Clock(now)
        self.market = Market(bars)
        self.faults = Faults()
        self.lock = threading.RLock()
        self.requests: list[Request] = []
        self.server_errors: list[str] = []  # exceptions inside the fake (a test should find none)
        self.page_size = page_size
        self._keys = (key, secret)
        self.broker = Broker(
            self.market,
            self.faults,
            cash=cash,
            slippage_bps=slippage_bps,
            multiplier=multiplier,
            reveal_before=reveal_before,
        )
        self.broker.now = self.clock.now()
        self._http: ThreadingHTTPServer | None = None
        self.streams: Streams | None = None

    # ------------------------------------------------------------------ serving
    def start(self) -> FakeAlpaca:
        sessions_between("2020-01-02", "2020-01-03")  # load the calendar now, not inside a request
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(self))
        self._http.daemon_threads = True
        threading.Thread(target=self._http.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        self.streams = Streams(self)
        self.streams.start()
        self.broker.publish = self.streams.publish_trade
        return self

    def stop(self) -> None:
        if self.streams is not None:
            self.streams.stop()
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()

    def __enter__(self) -> FakeAlpaca:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """Base URL of the REST APIs (trading and market data share it)."""
        assert self._http is not None, "start the fake first"
        return f"http://127.0.0.1:{self._http.server_address[1]}"

    trading_url = data_url = url

    @property
    def trading_stream_url(self) -> str:
        assert self.streams is not None, "start the fake first"
        return f"ws://127.0.0.1:{self.streams.port}/stream"

    @property
    def data_stream_url(self) -> str:
        """Base URL of the market-data stream (the feed's path ``/v2/iex`` is appended by clients)."""
        assert self.streams is not None, "start the fake first"
        return f"ws://127.0.0.1:{self.streams.port}"

    def authorized(self, key: object, secret: object) -> bool:
        return (key, secret) == self._keys

    # ------------------------------------------------------------------ inspection
    def bar_requests(self) -> list[Request]:
        return [r for r in self.requests if r.path.endswith("/stocks/bars")]

    def order_requests(self, method: str = "POST") -> list[Request]:
        return [r for r in self.requests if r.method == method and r.path == "/v2/orders"]

    def orders(self) -> list[Order]:
        with self.lock:
            return sorted(self.broker.orders.values(), key=lambda o: o.submitted_at)

    def order(self, client_order_id: str) -> Order:
        with self.lock:
            return self.broker.orders[self.broker.by_client[client_order_id]]

    def positions(self) -> dict[str, int]:
        with self.lock:
            return {s: p.qty for s, p in sorted(self.broker.positions.items())}

    def events(self, name: str | None = None) -> list[dict[str, Any]]:
        with self.lock:
            return [e for e in self.broker.events if name is None or e["event"] == name]

    # ------------------------------------------------------------------ driving
    def inject(self, fault: HttpFault | OrderFault) -> None:
        with self.lock:
            self.faults.add(fault)

    def drop_streams(self, kind: str) -> int:
        """Cut the "trade" or "data" sockets; events published until the client is back are lost."""
        assert self.streams is not None
        return self.streams.drop(kind)

    def wait_delivered(self, timeout: float = 5.0) -> bool:
        """Wait until every stream frame published so far has been written to its socket."""
        return self.streams.wait_idle(timeout) if self.streams is not None else True

    def trade_frames_sent(self) -> int:
        """``trade_updates`` frames written to the newest listening trade connection."""
        return self.streams.trade_frames_sent() if self.streams is not None else 0

    def manual_trade(self, symbol: str, side: str, qty: int, price: float | None = None) -> Order:
        with self.lock:
            self.broker.now = self.clock.now()
            return self.broker.manual_trade(symbol, side, qty, price)

    def advance(self, delta: dt.timedelta) -> None:
        self.advance_to(self.clock.now() + delta)

    def advance_to(self, when: object) -> None:
        """Move the clock to ``when``, acting at every scheduled moment on the way, in order."""
        if not self.clock.frozen:
            raise RuntimeError("the fake follows the wall clock; pass now=... to drive it")
        end = to_utc(when)
        with self.lock:
            start = self.clock.now()
            if end < start:
                raise ValueError(f"the clock cannot go back from {start} to {end}")
            for moment in self._moments(start, end):
                self._act(moment, start)
                start = moment
            self.clock.set(end)
            self.broker.now = end
            self.broker.release(end)

    def _moments(self, start: dt.datetime, end: dt.datetime) -> list[dt.datetime]:
        reveal = self.broker.reveal_before
        moments: set[dt.datetime] = set()
        for s in sessions_between(start.date() - dt.timedelta(days=1), end.date() + dt.timedelta(days=1)):
            moments.update(t for t in (s.open, s.close - reveal, s.close) if start < t <= end)
        if len(self.market.minutes):
            ends = self.market.minutes_between(start, end)["t"] + pd.Timedelta(minutes=1)
            moments.update(t.to_pydatetime() for t in ends)
        moments.update(t for t in self.broker.release_times() if start < t <= end)
        return sorted(moments)

    def _act(self, moment: dt.datetime, previous: dt.datetime) -> None:
        self.clock.set(moment)
        self.broker.now = moment
        self.broker.release(moment)
        for s in sessions_between(moment.date() - dt.timedelta(days=1), moment.date() + dt.timedelta(days=1)):
            if s.open == moment:
                self.broker.on_open(s)
            if s.close - self.broker.reveal_before == moment:
                self.broker.on_reveal(s)
                self._publish_daily(s.day)
            if s.close == moment:
                self.broker.on_close(s)
                self._publish_daily(s.day)
        if self.streams is not None and len(self.market.minutes):
            part = self.market.minutes_between(previous, moment)
            rows = [
                bar_message(
                    str(r.symbol), r.t.to_pydatetime(), r.open, r.high, r.low, r.close, float(r.volume)
                )
                for r in part.itertuples(index=False)
            ]
            if rows:
                self.streams.publish_bars("b", rows)

    def _publish_daily(self, day: dt.date) -> None:
        if self.streams is None:
            return
        stamp = pd.Timestamp(day).tz_localize("America/New_York").tz_convert("UTC").to_pydatetime()
        rows = []
        for symbol in sorted(self.market.symbols()):
            bar = self.market.bar(symbol, day)
            if bar is not None:
                rows.append(bar_message(symbol, stamp, bar.open, bar.high, bar.low, bar.close, bar.volume))
        if rows:
            self.streams.publish_bars("d", rows)
