"""The fake's WebSocket endpoints, on one port.

``/stream``: the trading stream (JSON text in, JSON binary frames out, as Alpaca sends them). The
client authenticates (``{"action": "authenticate", "data": {"key_id", "secret_key"}}`` ->
``authorization`` ``authorized``/``unauthorized``), then listens (``{"action": "listen", ...}`` ->
``listening``) and receives every ``trade_updates`` event from then on. Events raised while no client
listens are lost, as with Alpaca: a client recovers them over REST.

``/v2/{feed}``: the market-data stream (msgpack both ways). ``connected`` on connect; ``auth`` ->
``authenticated`` or error 402; a second concurrent connection gets error 406 "connection limit
exceeded" (Alpaca allows one per account); ``subscribe``/``unsubscribe`` of ``bars``/``dailyBars`` (and
the other channels, which the fake never fills) -> ``subscription``. Bars go out as ``{"T": "b"|"d",
"S", "o", "h", "l", "c", "v", "t", "n", "vw"}`` with ``t`` a msgpack timestamp.

``drop(kind)`` cuts the matching sockets without a closing handshake (the client sees a network error
and reconnects); while ``kind`` is in ``paused``, new connections of that kind are closed at once (an
outage: the client keeps retrying).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import queue
import socket
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import msgpack
from websockets.exceptions import ConnectionClosed
from websockets.sync.server import Server, ServerConnection, serve

if TYPE_CHECKING:
    from .server import FakeAlpaca

_CHANNELS = (
    "trades",
    "quotes",
    "bars",
    "updatedBars",
    "dailyBars",
    "statuses",
    "lulds",
    "corrections",
    "cancelErrors",
)


@dataclass
class Subscriber:
    kind: str  # "trade" or "data"
    conn: ServerConnection
    outbox: queue.Queue[bytes] = field(default_factory=queue.Queue)
    authorized: bool = False
    ready: bool = False  # trade: listening; data: authenticated
    channels: dict[str, set[str]] = field(default_factory=lambda: {c: set() for c in _CHANNELS})
    cut: threading.Event = field(default_factory=threading.Event)
    sent: int = 0  # frames written to the socket after the handshake (trade: trade_updates frames)

    def wants(self, channel: str, symbol: str) -> bool:
        chosen = self.channels[channel]
        return symbol in chosen or "*" in chosen


class Streams:
    """The WebSocket server and its subscribers."""

    def __init__(self, fake: FakeAlpaca) -> None:
        self.fake = fake
        self.subscribers: list[Subscriber] = []
        self.connections = {"trade": 0, "data": 0}  # connections ever accepted, per kind
        self.paused: set[str] = set()  # kinds whose new connections are refused (an outage)
        self.lock = threading.Lock()
        # the server side's frame log would show the client's keys: that is Alpaca's log, not ours
        quiet = logging.getLogger("fakes.alpaca.websocket")
        quiet.setLevel(logging.INFO)
        self.server: Server = serve(self._handle, "127.0.0.1", 0, compression=None, logger=quiet)
        self.port = self.server.socket.getsockname()[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.drop("trade")
        self.drop("data")
        self.server.shutdown()

    # ------------------------------------------------------------------ publishing
    def publish_trade(self, data: dict[str, Any]) -> None:
        frame = json.dumps({"stream": "trade_updates", "data": data}).encode()
        with self.lock:
            for sub in self.subscribers:
                if sub.kind == "trade" and sub.ready:
                    sub.outbox.put(frame)

    def publish_bars(self, kind: str, rows: list[dict[str, Any]]) -> None:
        """``kind`` "b" (minute bars, channel bars) or "d" (daily bars, channel dailyBars)."""
        channel = "bars" if kind == "b" else "dailyBars"
        with self.lock:
            for sub in self.subscribers:
                if sub.kind != "data" or not sub.ready:
                    continue
                wanted = [dict(r, T=kind) for r in rows if sub.wants(channel, str(r["S"]))]
                if wanted:
                    sub.outbox.put(msgpack.packb(wanted))

    def drop(self, kind: str) -> int:
        """Cut every ``kind`` socket ("trade" or "data") without a close frame; how many were cut."""
        with self.lock:
            victims = [s for s in self.subscribers if s.kind == kind]
        for sub in victims:
            sub.cut.set()
        return len(victims)

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Wait until every queued frame has been written to its socket."""
        deadline = threading.Event()
        timer = threading.Timer(timeout, deadline.set)
        timer.start()
        try:
            while not deadline.is_set():
                with self.lock:
                    busy = any(s.outbox.unfinished_tasks for s in self.subscribers)
                if not busy:
                    return True
                deadline.wait(0.005)
            return False
        finally:
            timer.cancel()

    def trade_frames_sent(self) -> int:
        """``trade_updates`` frames written to the newest listening trade connection (0 if none)."""
        with self.lock:
            listening = [s for s in self.subscribers if s.kind == "trade" and s.ready]
            return listening[-1].sent if listening else 0

    def subscribed(self, channel: str) -> set[str]:
        """Symbols some data connection has subscribed to on ``channel``."""
        with self.lock:
            return set().union(*(s.channels[channel] for s in self.subscribers if s.kind == "data"))

    def count(self, kind: str, *, ready: bool = True) -> int:
        with self.lock:
            return sum(1 for s in self.subscribers if s.kind == kind and (s.ready or not ready))

    # ------------------------------------------------------------------ connections
    def _handle(self, conn: ServerConnection) -> None:
        path = conn.request.path if conn.request is not None else ""
        kind = "trade" if path == "/stream" else "data" if path.startswith("/v2/") else None
        if kind is None:
            conn.close(1008, "unknown path")
            return
        if kind in self.paused:
            conn.close(1013, "try again later")
            return
        sub = Subscriber(kind, conn)
        with self.lock:
            self.subscribers.append(sub)
            self.connections[kind] += 1
        try:
            if kind == "data":
                conn.send(msgpack.packb([{"T": "success", "msg": "connected"}]))
            self._loop(sub)
        except (ConnectionClosed, OSError):
            pass
        finally:
            with self.lock:
                self.subscribers.remove(sub)
            while not sub.outbox.empty():  # frames that never left are lost, as on a real network
                sub.outbox.get_nowait()
                sub.outbox.task_done()

    def _loop(self, sub: Subscriber) -> None:
        while True:
            if sub.cut.is_set():
                sub.conn.socket.shutdown(socket.SHUT_RDWR)
                sub.conn.socket.close()
                return
            try:
                while True:
                    frame = sub.outbox.get_nowait()
                    try:
                        sub.conn.send(frame)
                        sub.sent += 1
                    finally:
                        sub.outbox.task_done()
            except queue.Empty:
                pass
            try:
                message = sub.conn.recv(timeout=0.01)
            except TimeoutError:
                continue
            if not self._on_message(sub, message):
                sub.conn.close()
                return

    def _on_message(self, sub: Subscriber, message: str | bytes) -> bool:
        if sub.kind == "trade":
            return self._on_trade_message(sub, json.loads(message))
        return self._on_data_message(sub, msgpack.unpackb(message))

    def _on_trade_message(self, sub: Subscriber, msg: dict[str, Any]) -> bool:
        action, data = msg.get("action"), msg.get("data") or {}
        if action == "authenticate":
            ok = self.fake.authorized(data.get("key_id"), data.get("secret_key"))
            status = "authorized" if ok else "unauthorized"
            sub.conn.send(
                json.dumps(
                    {"stream": "authorization", "data": {"action": "authenticate", "status": status}}
                ).encode()
            )
            sub.authorized = ok
            return ok
        if action == "listen" and sub.authorized:
            streams = list(data.get("streams") or [])
            sub.conn.send(json.dumps({"stream": "listening", "data": {"streams": streams}}).encode())
            with self.lock:
                sub.ready = "trade_updates" in streams
            return True
        return False

    def _on_data_message(self, sub: Subscriber, msg: dict[str, Any]) -> bool:
        action = msg.get("action")
        if action == "auth":
            if not self.fake.authorized(msg.get("key"), msg.get("secret")):
                sub.conn.send(msgpack.packb([{"T": "error", "code": 402, "msg": "auth failed"}]))
                return False
            with self.lock:
                taken = any(s is not sub and s.kind == "data" and s.ready for s in self.subscribers)
                sub.ready = not taken
            if taken:
                sub.conn.send(
                    msgpack.packb([{"T": "error", "code": 406, "msg": "connection limit exceeded"}])
                )
                return False
            sub.conn.send(msgpack.packb([{"T": "success", "msg": "authenticated"}]))
            return True
        if not sub.ready:
            sub.conn.send(msgpack.packb([{"T": "error", "code": 401, "msg": "not authenticated"}]))
            return False
        if action in ("subscribe", "unsubscribe"):
            with self.lock:
                for channel in _CHANNELS:
                    symbols = set(msg.get(channel) or [])
                    if action == "subscribe":
                        sub.channels[channel] |= symbols
                    else:
                        sub.channels[channel] -= symbols
                answer = {"T": "subscription", **{c: sorted(sub.channels[c]) for c in _CHANNELS}}
            sub.conn.send(msgpack.packb([answer]))
            return True
        sub.conn.send(msgpack.packb([{"T": "error", "code": 400, "msg": "invalid syntax"}]))
        return True


def bar_message(
    symbol: str, t: dt.datetime, o: float, h: float, low: float, c: float, v: float
) -> dict[str, Any]:
    """One bar as the market-data stream encodes it (``T`` is added per channel)."""
    return {
        "S": symbol,
        "o": o,
        "h": h,
        "l": low,
        "c": c,
        "v": v,
        "t": msgpack.Timestamp.from_datetime(t),
        "n": 100,
        "vw": c,
    }
