"""The fake's HTTP API: Alpaca's trading REST paths and the market-data bars endpoint.

Every request is recorded (method, path, query, JSON body, time, whether its key headers were right:
never the keys themselves). Then, in order: wrong keys answer 401; a matching ``HttpFault`` with
``when="before"`` answers instead of the API; the API answers; a fault with ``when="after"`` replaces
the answer after the request took effect (the client cannot tell whether it did).
"""

from __future__ import annotations

import datetime as dt
import json
import socket
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlparse

from .clock import ET, iso, next_session_after, session_at, sessions_between, to_utc
from .faults import HttpFault
from .orders import ApiError, Order

if TYPE_CHECKING:
    from .server import FakeAlpaca


@dataclass
class Request:
    method: str
    path: str
    params: dict[str, str]
    body: Any
    at: float
    authorized: bool


class _Answer(Exception):
    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        self.status, self.body, self.headers = status, body, headers or {}


def make_handler(fake: FakeAlpaca) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body in separate writes must not wait for an ACK

        def log_message(self, format: str, *args: object) -> None:  # silence the default stderr log
            return

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def do_PATCH(self) -> None:
            self._serve("PATCH")

        def do_DELETE(self) -> None:
            self._serve("DELETE")

        def _serve(self, method: str) -> None:
            url = urlparse(self.path)
            path = unquote(url.path)
            params = {k: v[-1] for k, v in parse_qs(url.query).items()}
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else None
            authorized = fake.authorized(
                self.headers.get("APCA-API-KEY-ID"), self.headers.get("APCA-API-SECRET-KEY")
            )
            with fake.lock:
                fake.requests.append(Request(method, path, params, body, time.monotonic(), authorized))
                fault = fake.faults.take_http(method, path) if authorized else None
            if not authorized:
                return self._send(401, {"code": 40110000, "message": "request is not authorized"})
            if fault is not None and fault.when == "before":
                return self._fault(fault)
            try:
                with fake.lock:
                    status, answer = route(fake, method, path, params, body)
            except ApiError as exc:
                status, answer = exc.status, {"code": exc.code, "message": exc.message}
            except Exception as exc:  # a bug of the fake: answer 500 and keep it for the test to see
                fake.server_errors.append(f"{method} {path}: {type(exc).__name__}: {exc}")
                status, answer = 500, {"code": 50000000, "message": "fake server error"}
            if fault is not None:
                return self._fault(fault)
            if status == 204:
                return self._send_raw(204, b"")
            return self._send(status, answer)

        def _fault(self, fault: HttpFault) -> None:
            if fault.status == "drop":
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            if fault.status == "hang":
                time.sleep(fault.seconds)
                return self._send(504, {"code": 50400000, "message": "gateway timeout"})
            if fault.status == "malformed":
                return self._send_raw(200, b'{"bars": {"AAPL": [{"t": "2020-01-02T05:00:00Z", "o": ')
            headers = {} if fault.retry_after is None else {"Retry-After": str(fault.retry_after)}
            message = fault.message or (
                "rate limit exceeded" if fault.status == 429 else "internal server error"
            )
            return self._send(
                int(fault.status), {"code": int(fault.status) * 100000, "message": message}, headers
            )

        def _send(self, status: int, body: object, headers: dict[str, str] | None = None) -> None:
            self._send_raw(status, json.dumps(body).encode(), headers)

        def _send_raw(self, status: int, data: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            try:
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):  # the client gave up waiting (a "hang" fault)
                self.close_connection = True

    return Handler


def route(fake: FakeAlpaca, method: str, path: str, params: dict[str, str], body: Any) -> tuple[int, Any]:
    """Dispatch one authorized request; ``(status, JSON body)``. Called under ``fake.lock``."""
    broker = fake.broker
    broker.now = fake.clock.now()
    parts = path.strip("/").split("/")
    if parts[:1] != ["v2"]:
        raise ApiError(404, 40410000, "endpoint not found")
    parts = parts[1:]
    head = parts[0] if parts else ""
    if (method, parts) == ("GET", ["stocks", "bars"]):
        return 200, bars_page(fake, params)
    if (method, parts) == ("GET", ["account"]):
        return 200, broker.account_json()
    if (method, parts) == ("GET", ["clock"]):
        return 200, clock_json(broker.now)
    if (method, parts) == ("GET", ["calendar"]):
        return 200, calendar_json(params)
    if method == "GET" and head == "assets" and len(parts) == 2:
        return 200, asset_json(fake, parts[1])
    if head == "orders:by_client_order_id" and method == "GET":
        return 200, broker.find_by_client(params.get("client_order_id", "")).to_json()
    if head == "orders":
        return _orders(fake, method, parts[1:], params, body or {})
    if head == "positions":
        return _positions(fake, method, parts[1:], params)
    raise ApiError(404, 40410000, "endpoint not found")


def _orders(
    fake: FakeAlpaca, method: str, rest: list[str], params: dict[str, str], body: Any
) -> tuple[int, Any]:
    broker = fake.broker
    if not rest:
        if method == "POST":
            return 200, broker.submit(body).to_json()
        if method == "GET":
            return 200, [o.to_json() for o in list_orders(broker.visible_orders(), params)]
        if method == "DELETE":
            out = []
            for order in [o for o in broker.orders.values() if o.open]:
                try:
                    broker.cancel(order)
                    out.append({"id": order.id, "status": 200, "body": order.to_json()})
                except ApiError as exc:
                    out.append(
                        {
                            "id": order.id,
                            "status": exc.status,
                            "body": {"code": exc.code, "message": exc.message},
                        }
                    )
            return 207, out
    elif len(rest) == 1:
        order = broker.find(rest[0])
        if method == "GET":
            return 200, order.to_json()
        if method == "PATCH":
            return 200, broker.replace(order, body).to_json()
        if method == "DELETE":
            broker.cancel(order)
            return 204, None
    raise ApiError(405, 40510000, "method not allowed")


def _positions(fake: FakeAlpaca, method: str, rest: list[str], params: dict[str, str]) -> tuple[int, Any]:
    broker = fake.broker
    if not rest and method == "GET":
        return 200, [broker.position_json(p) for _, p in sorted(broker.positions.items())]
    if not rest and method == "DELETE":
        if params.get("cancel_orders") in ("true", "True"):
            for order in [o for o in broker.orders.values() if o.open]:
                broker.cancel(order)
        out = []
        for symbol in sorted(broker.positions):
            order = close_position(fake, symbol, {})
            out.append({"symbol": symbol, "status": 200, "body": order.to_json()})
        return 207, out
    if len(rest) == 1:
        symbol = rest[0].upper()
        if symbol not in broker.positions:
            raise ApiError(404, 40410000, "position does not exist")
        if method == "GET":
            return 200, broker.position_json(broker.positions[symbol])
        if method == "DELETE":
            return 200, close_position(fake, symbol, params).to_json()
    raise ApiError(405, 40510000, "method not allowed")


def close_position(fake: FakeAlpaca, symbol: str, params: dict[str, str]) -> Order:
    held = fake.broker.positions[symbol].qty
    qty = int(float(params["qty"])) if params.get("qty") else held
    if params.get("percentage"):
        qty = int(held * float(params["percentage"]) / 100)
    return fake.broker.submit(
        {"symbol": symbol, "qty": qty, "side": "sell", "type": "market", "time_in_force": "day"}
    )


def list_orders(orders: list[Order], params: dict[str, str]) -> list[Order]:
    """``GET /v2/orders``: status open/closed/all, after/until (submission, exclusive/inclusive), symbols,
    side, direction (default desc) and limit (default 50, at most 500)."""
    status = params.get("status", "open")
    out = [o for o in orders if status == "all" or (o.open if status == "open" else not o.open)]
    if params.get("after"):
        after = to_utc(params["after"])
        out = [o for o in out if o.submitted_at > after]
    if params.get("until"):
        until = to_utc(params["until"])
        out = [o for o in out if o.submitted_at <= until]
    if params.get("symbols"):
        wanted = set(params["symbols"].split(","))
        out = [o for o in out if o.symbol in wanted]
    if params.get("side"):
        out = [o for o in out if o.side == params["side"]]
    out.sort(key=lambda o: o.submitted_at, reverse=params.get("direction", "desc") == "desc")
    limit = min(int(params.get("limit") or 50), 500)
    return out[:limit]


def clock_json(now: dt.datetime) -> dict[str, Any]:
    current = session_at(now)
    upcoming = next_session_after(now)
    return {
        "timestamp": now.astimezone(ET).isoformat(),
        "is_open": current is not None,
        "next_open": upcoming.open.astimezone(ET).isoformat(),
        "next_close": (current or upcoming).close.astimezone(ET).isoformat(),
    }


def calendar_json(params: dict[str, str]) -> list[dict[str, str]]:
    start = params.get("start") or "1990-01-02"
    end = params.get("end") or "2029-12-31"
    return [
        {
            "date": str(s.day),
            "open": s.open.astimezone(ET).strftime("%H:%M"),
            "close": s.close.astimezone(ET).strftime("%H:%M"),
            "session_open": "0400",
            "session_close": "2000",
        }
        for s in sessions_between(start[:10], end[:10])
    ]


def asset_json(fake: FakeAlpaca, symbol: str) -> dict[str, Any]:
    symbol = symbol.upper()
    if symbol not in fake.market.symbols():
        raise ApiError(404, 40410000, "asset not found")
    from .orders import _asset_id

    return {
        "id": _asset_id(symbol),
        "class": "us_equity",
        "exchange": "NASDAQ",
        "symbol": symbol,
        "name": f"{symbol} Inc.",
        "status": "active",
        "tradable": True,
        "marginable": True,
        "shortable": False,
        "easy_to_borrow": False,
        "fractionable": True,
    }


def bars_page(fake: FakeAlpaca, params: dict[str, str]) -> dict[str, Any]:
    """``GET /v2/stocks/bars``: pages of ``page_size`` bars, symbol-major, ``next_page_token`` an offset."""
    symbols = params["symbols"].split(",")
    timeframe = params.get("timeframe", "1Day")
    now = fake.clock.now()
    start = params.get("start") or "1970-01-01T00:00:00Z"  # Alpaca: the start of today; the fake: everything
    end = params.get("end") or now.strftime("%Y-%m-%dT%H:%M:%SZ")
    if timeframe == "1Day":
        rows = fake.market.daily_rows(symbols, start, end, params.get("adjustment", "raw"), now)
    elif timeframe in ("1Min", "1T"):
        rows = fake.market.minute_rows(symbols, start, end, now)
    else:
        raise ApiError(422, 42210000, f"the fake serves timeframes 1Day and 1Min, not {timeframe}")
    offset = int(params.get("page_token") or 0)
    limit = min(int(params.get("limit") or fake.page_size), fake.page_size)
    page = rows[offset : offset + limit]
    out: dict[str, list[dict[str, object]]] = {}
    for symbol, bar in page:
        out.setdefault(symbol, []).append(bar)
    token = str(offset + limit) if offset + limit < len(rows) else None
    return {"bars": out, "next_page_token": token}


__all__ = ["Request", "iso", "make_handler", "route"]
