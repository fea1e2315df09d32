"""The ``trade_updates`` subscriber of an Alpaca account: every order event into the journal, as it
happens, and the two reactions that cannot wait for the next step.

- **The first stop at the entry fill.** RULES lets a position's hard stop trigger on its entry
  session; the engine only learns of the fill at its next step, so when an entry fills the subscriber
  places the position's first stop at once (``gtc``, level ``fill * (1 - stop_fraction)`` rounded down
  to the tick, client order id = the engine's ``stop-open`` id, so the engine's own submission later
  finds it placed).
- **The fallback of an expired opg order** (``[broker] opg_fallback = "day"``): a ``day`` market order
  for the same shares, sent the moment the expiry is known.

On every (re)connection, and on start, the orders the journal still waits for are read over REST and
whatever changed while the stream was down is recorded and acted on in the same way (events are not
replayed by Alpaca). Both reactions use deterministic client order ids, so the subscriber, a step and
a restarted process can all try them: Alpaca accepts each once. One process owns the stream: the
runner that also owns the market-data stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from trading_playbook.core.broker import OrderIntent, Timing, client_order_id
from trading_playbook.core.errors import PlaybookError
from trading_playbook.data.alpaca_settings import AlpacaEndpoints, Credentials, RedactingFilter
from trading_playbook.data.calendar import session_hours
from trading_playbook.paper.alpaca_book import AlpacaBook, current_stops
from trading_playbook.paper.alpaca_client import AlpacaTrading
from trading_playbook.paper.alpaca_orders import (
    NY,
    TERMINAL,
    filled_avg,
    filled_qty,
    order_session,
    status,
    tick_down,
)

__all__ = ["TradeUpdates", "attach_first_stop", "react"]

log = logging.getLogger(__name__)
_WS_LOG = logging.getLogger("trading_playbook.paper.alpaca_stream.websocket")
_WS_LOG.setLevel(logging.INFO)  # frame-level DEBUG lines would show the authentication frame

_EVENT_OF_STATUS = {
    "filled": "fill",
    "partially_filled": "partial_fill",
    "expired": "expired",
    "canceled": "canceled",
    "rejected": "rejected",
    "replaced": "replaced",
    "new": "new",
    "accepted": "accepted",
}


def _order_request(**kwargs: Any) -> Any:
    from alpaca.trading.requests import MarketOrderRequest, StopOrderRequest

    return StopOrderRequest(**kwargs) if "stop_price" in kwargs else MarketOrderRequest(**kwargs)


def attach_first_stop(
    account: str, trading: AlpacaTrading, book: AlpacaBook, intent: OrderIntent, order: dict[str, Any]
) -> str | None:
    """Place the first stop of the position an entry order opened (once); its client order id."""
    from alpaca.trading.enums import OrderSide, TimeInForce

    shares = filled_qty(order)
    day = order_session(order.get("filled_at") or order.get("updated_at"))
    if intent.stop_fraction is None or shares == 0 or day is None:
        return None
    coid = client_order_id(account, day, intent.sleeve, intent.symbol, "stop-open")
    if trading.order(coid) is not None:
        return coid
    level = tick_down(filled_avg(order) * (1.0 - intent.stop_fraction))
    trading.submit(
        _order_request(
            symbol=intent.symbol, qty=shares, side=OrderSide.SELL, time_in_force=TimeInForce.GTC,
            stop_price=level, client_order_id=coid,
        )
    )  # fmt: skip
    book.set_handling(
        coid, "placed", f"attached at the fill of {order['client_order_id']} by the trade stream"
    )
    log.info("placed the first stop %s of %s at %s for %d share(s)", coid, intent.symbol, level, shares)
    return coid


def day_fallback(
    trading: AlpacaTrading, book: AlpacaBook, intent: OrderIntent, now: dt.datetime
) -> str | None:
    """Send the ``day`` fallback of an expired ``opg`` order while the market is open (once)."""
    from alpaca.trading.enums import OrderSide, TimeInForce

    alias = f"{intent.client_order_id}-day"
    if trading.order(alias) is not None:
        return alias
    today = session_hours(now.astimezone(NY).date())
    if today is None or not today[0] <= now < today[1] - dt.timedelta(minutes=15):
        return None  # the market is not open (long enough) for a day order
    trading.submit(
        _order_request(
            symbol=intent.symbol, qty=intent.shares, side=OrderSide(intent.side), time_in_force=TimeInForce.DAY,
            client_order_id=alias,
        )
    )  # fmt: skip
    book.add_alias(intent.client_order_id, alias, f"opg expired: day market order {alias}")
    log.info("opg order %s expired unfilled; sent the day fallback %s", intent.client_order_id, alias)
    return alias


def react(
    account: str,
    trading: AlpacaTrading,
    book: AlpacaBook,
    order: dict[str, Any],
    *,
    fallback: str,
    now: dt.datetime,
) -> None:
    """Act on an order that changed: first stop at an entry fill, day fallback of an expired opg."""
    coid = str(order.get("client_order_id", ""))
    intents = book.intents()
    owner = intents.get(coid) or _owner_of_alias(book, intents, coid)
    if owner is None or status(order) not in TERMINAL:
        return
    entry = owner.timing is Timing.NEXT_OPEN and owner.side == "buy" and owner.leg == "entry"
    if entry and filled_qty(order) > 0:
        attach_first_stop(account, trading, book, owner, order)
    elif (
        owner.timing is Timing.NEXT_OPEN
        and coid == owner.client_order_id
        and status(order) == "expired"
        and filled_qty(order) == 0
        and fallback == "day"
    ):
        day_fallback(trading, book, owner, now)


def _owner_of_alias(book: AlpacaBook, intents: dict[str, OrderIntent], alias: str) -> OrderIntent | None:
    if alias.endswith("-excess"):
        return None
    for handling in book.all_handling():
        if alias in handling.aliases:
            return intents.get(handling.client_order_id)
    return None


class TradeUpdates:
    """Subscribes to ``trade_updates`` in a background thread and works through them in order."""

    def __init__(
        self,
        account: str,
        book: AlpacaBook,
        trading: AlpacaTrading,
        credentials: Credentials,
        endpoints: AlpacaEndpoints,
        *,
        fallback: str = "day",
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
        reconnect_backoff: float = 1.0,
        reconnect_max_backoff: float = 30.0,
    ) -> None:
        self.account = account
        self.book = book
        self.trading = trading
        self.credentials = credentials
        self.endpoints = endpoints
        self.fallback = fallback
        self.clock = clock
        self.reconnect_backoff = reconnect_backoff
        self.reconnect_max_backoff = reconnect_max_backoff
        self.connections = 0
        self.received = 0  # trade updates received over every connection (diagnostics and tests)
        self.errors: list[str] = []
        self._work: queue.Queue[tuple[str, Any]] = queue.Queue()
        self._stream: Any = None
        self._threads: list[threading.Thread] = []
        self._connected = threading.Event()
        for name in ("alpaca.trading.stream", _WS_LOG.name):
            logging.getLogger(name).addFilter(RedactingFilter(credentials.secrets))

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> TradeUpdates:
        self._stream = self._make_stream()
        self._work.put(("recover", "start"))
        for target, name in ((self._run, "alpaca-trade-stream"), (self._worker, "alpaca-trade-updates")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        stream = self._stream
        if stream is not None and stream._loop is not None:

            async def shutdown() -> None:
                await stream.stop_ws()
                await stream.close()

            with contextlib.suppress(RuntimeError):
                asyncio.run_coroutine_threadsafe(shutdown(), stream._loop).result(timeout=5)
        self._work.put(("stop", None))
        for thread in self._threads:
            thread.join(timeout=15)
        self._threads = []

    def wait_connected(self, timeout: float = 30.0) -> None:
        if not self._connected.wait(timeout):
            raise PlaybookError(
                f"the Alpaca trade stream did not connect within {timeout:.0f} s ({self.endpoints.trading_stream})"
            )

    def wait_idle(self, timeout: float = 30.0) -> None:
        """Block until every update received so far has been recorded and acted on."""
        deadline = time.monotonic() + timeout
        while self._work.unfinished_tasks:
            if time.monotonic() > deadline:
                raise PlaybookError("the trade updates were not worked through in time")
            time.sleep(0.005)

    # ------------------------------------------------------------------ the stream
    def _make_stream(self) -> Any:
        from alpaca.trading.stream import TradingStream

        owner = self

        class _Stream(TradingStream):  # type: ignore[misc]
            async def _start_ws(self) -> None:
                await super()._start_ws()
                owner.connections += 1
                owner._work.put(("recover", "reconnected" if owner.connections > 1 else "connected"))
                owner._connected.set()

        stream = _Stream(
            self.credentials.key_id,
            self.credentials.secret,
            paper=self.endpoints.paper,
            raw_data=True,
            url_override=self.endpoints.trading_stream.url,
            websocket_params={"ping_interval": 10, "ping_timeout": 180, "max_queue": 1024, "logger": _WS_LOG},
        )
        stream._reconnect_min_backoff = self.reconnect_backoff
        stream._reconnect_max_backoff = self.reconnect_max_backoff
        stream.subscribe_trade_updates(self._on_update)
        return stream

    def _run(self) -> None:
        asyncio.run(self._stream._run_forever())

    async def _on_update(self, msg: dict[str, Any]) -> None:
        self.received += 1
        self._work.put(("update", msg))

    # ------------------------------------------------------------------ the work
    def _worker(self) -> None:
        while True:
            kind, item = self._work.get()
            try:
                if kind == "stop":
                    return
                if kind == "update":
                    self._update(item)
                else:
                    self.recover()
            except Exception as exc:  # keep the subscriber alive; the next step re-reads Alpaca anyway
                self.errors.append(f"{type(exc).__name__}: {exc}")
                log.error("trade update handling failed: %s", self.errors[-1])
            finally:
                self._work.task_done()

    def _update(self, msg: dict[str, Any]) -> None:
        data = msg.get("data") or {}
        order = data.get("order") or {}
        event = str(data.get("event"))
        self.book.record_update("stream", event, order, data)
        react(self.account, self.trading, self.book, order, fallback=self.fallback, now=self.clock())

    def recover(self) -> int:
        """Read every order the journal still waits for; record and act on what changed. Returns the count."""
        intents = self.book.intents()
        resolved = self.book.resolved()
        watched = [
            i for i in intents.values() if i.timing is Timing.NEXT_OPEN and i.client_order_id not in resolved
        ]
        watched += [i for i in current_stops(intents) if i.client_order_id not in resolved]
        changed = 0
        for intent in watched:
            handling = self.book.handling(intent.client_order_id)
            for coid in (intent.client_order_id, *(handling.aliases if handling else ())):
                order = self.trading.order(coid)
                if order is None:
                    continue
                seen = self.book.updates(coid)
                if (
                    seen
                    and seen[-1]["status"] == status(order)
                    and seen[-1]["filled_qty"] == str(order.get("filled_qty"))
                ):
                    continue
                changed += 1
                self.book.record_update("rest", _EVENT_OF_STATUS.get(status(order), status(order)), order, {})
                react(self.account, self.trading, self.book, order, fallback=self.fallback, now=self.clock())
        return changed
