"""A local HTTP server speaking the part of Alpaca's market-data REST API that alpaca-py uses.

``GET /v2/stocks/bars`` with ``symbols, timeframe, start, end, adjustment, feed, limit, page_token``;
answers ``{"bars": {symbol: [{t, o, h, l, c, v, n, vw}, ...]}, "next_page_token": ...}`` in pages of
``page_size`` bars (symbol-major, like Alpaca). Adjustment ``split`` divides raw prices by the product
of every later split coefficient of the symbol (as of "today": the whole dataset), ``all`` uses the
dataset's adjusted_close ratio. ``script`` holds failures to serve before normal answers: ``(429,
retry_after)``, ``(500, None)``, ``("malformed", None)``. Every request is recorded.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import numpy as np
import pandas as pd

KEY = "PKTESTKEY0123456789"
SECRET = "sEcReTsEcReTsEcReT0123456789abcdef"


@dataclass
class Request:
    path: str
    params: dict[str, str]
    at: float
    authorized: bool


@dataclass
class FakeAlpaca:
    """Dataset (long raw bar table with split/adjusted_close) and the request log."""

    bars: pd.DataFrame
    page_size: int = 1000
    script: list[tuple[object, object]] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    memo: dict[tuple[str, str, str, str], list[tuple[str, dict[str, object]]]] = field(default_factory=dict)

    def bar_requests(self) -> list[Request]:
        return [r for r in self.requests if r.path.endswith("/stocks/bars")]

    def answer(self, params: dict[str, str]) -> dict[str, object]:
        key = (params["symbols"], params["start"], params["end"], params.get("adjustment", "raw"))
        if key not in self.memo:
            self.memo[key] = self.rows(*key)
        rows = self.memo[key]
        offset = int(params.get("page_token") or 0)
        limit = min(int(params.get("limit") or self.page_size), self.page_size)
        page = rows[offset : offset + limit]
        out: dict[str, list[dict[str, object]]] = {}
        for symbol, bar in page:
            out.setdefault(symbol, []).append(bar)
        token = str(offset + limit) if offset + limit < len(rows) else None
        return {"bars": out, "next_page_token": token}

    def rows(
        self, symbols_text: str, start_text: str, end_text: str, adjustment: str
    ) -> list[tuple[str, dict[str, object]]]:
        """Every bar of the request, symbol-major, as Alpaca encodes them."""
        symbols = symbols_text.split(",")
        start = pd.Timestamp(start_text)
        end = pd.Timestamp(end_text)
        rows: list[tuple[str, dict[str, object]]] = []
        for symbol in sorted(symbols):
            frame = self.bars[self.bars["symbol"] == symbol].sort_values("date")
            if frame.empty:
                continue
            split = frame["split"].to_numpy(float)
            later = np.ones(len(frame))
            later[:-1] = np.cumprod(split[::-1])[::-1][1:]
            scale = np.ones(len(frame)) if adjustment == "raw" else 1 / later
            if adjustment == "all":
                scale = (frame["adjusted_close"] / frame["close"]).to_numpy(float)
            # daily bars are stamped at midnight New York time; start/end are instants, inclusive
            stamps = frame["date"].dt.tz_localize("America/New_York").dt.tz_convert("UTC")
            keep = (stamps >= start) & (stamps <= end)
            for (_, row), s in zip(frame[keep].iterrows(), scale[keep.to_numpy()], strict=True):
                stamp = pd.Timestamp(row["date"]).tz_localize("America/New_York").tz_convert("UTC")
                volume = row["volume"] if adjustment == "raw" else row["volume"] / s
                rows.append(
                    (
                        symbol,
                        {
                            "t": stamp.strftime("%Y-%m-%dT%H:%M:%SZ"),
                            "o": round(row["open"] * s, 4),
                            "h": round(row["high"] * s, 4),
                            "l": round(row["low"] * s, 4),
                            "c": round(row["close"] * s, 4),
                            "v": float(volume),
                            "n": 100,
                            "vw": round(row["close"] * s, 4),
                        },
                    )
                )
        return rows


def make_handler(fake: FakeAlpaca) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # silence the default stderr log
            return

        def do_GET(self) -> None:
            url = urlparse(self.path)
            params = {k: v[-1] for k, v in parse_qs(url.query).items()}
            authorized = (
                self.headers.get("APCA-API-KEY-ID") == KEY
                and self.headers.get("APCA-API-SECRET-KEY") == SECRET
            )
            with fake.lock:
                fake.requests.append(Request(url.path, params, time.monotonic(), authorized))
                scripted = fake.script.pop(0) if fake.script else None
            if not authorized:
                return self._send(401, {"code": 40110000, "message": "request is not authorized"})
            if url.path != "/v2/stocks/bars":
                return self._send(404, {"code": 40410000, "message": "endpoint not found"})
            if scripted is not None:
                kind, extra = scripted
                if kind == 429:
                    return self._send(
                        429, {"code": 42910000, "message": "rate limit exceeded"}, {"Retry-After": str(extra)}
                    )
                if kind == "malformed":
                    return self._send_raw(200, b'{"bars": {"AAPL": [{"t": "2020-01-02T05:00:00Z", "o": ')
                return self._send(int(kind), {"code": 50010000, "message": "internal server error"})  # type: ignore[call-overload]
            return self._send(200, fake.answer(params))

        def _send(self, status: int, body: object, headers: dict[str, str] | None = None) -> None:
            self._send_raw(status, json.dumps(body).encode(), headers)

        def _send_raw(self, status: int, data: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

    return Handler


class Server:
    """Context manager running a :class:`FakeAlpaca` on 127.0.0.1 in a thread."""

    def __init__(self, fake: FakeAlpaca) -> None:
        self.fake = fake
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(fake))
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> Server:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
