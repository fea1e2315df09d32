"""Faults a test can inject into the fake Alpaca.

HTTP faults answer a matching request with an error instead of (``when="before"``) or after
(``when="after"``: the request took effect, then the answer is lost) serving it. Kinds: a status code
(429 with ``retry_after``, 500, 502, 503, 504, 422, ...), ``"drop"`` (the connection is closed without
an answer), ``"hang"`` (the answer comes after ``seconds``) and ``"malformed"`` (a truncated JSON body).

Order faults change what the market does with a matching order: ``partial`` (only ``fraction`` of the
shares fill; the rest of an ``opg``/``cls``/``day`` order expires, a triggered stop fills the rest at
the next open), ``delay`` (the fill is reported only when the clock reaches ``until``), ``expire``
(an ``opg``/``cls`` order expires unfilled), ``reject`` (the order is rejected when routed) and
``worse`` (the fill price is ``bps`` basis points worse).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Literal

from .clock import to_utc


@dataclass
class HttpFault:
    status: int | Literal["drop", "hang", "malformed"]
    method: str | None = None  # None: any method
    path: str | None = None  # prefix of the path; None: any path
    times: int = 1
    when: Literal["before", "after"] = "before"
    retry_after: float | None = None
    seconds: float = 0.0  # "hang": how long the answer is held back
    message: str | None = None  # the error body's message (e.g. a proxy echoing the request headers)

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method == method) and (
            self.path is None or path.startswith(self.path)
        )


@dataclass
class OrderFault:
    kind: Literal["partial", "delay", "expire", "reject", "worse"]
    symbol: str | None = None
    side: str | None = None
    time_in_force: str | None = None
    client_order_id: str | None = None
    fraction: float = 0.5
    until: dt.datetime | None = None
    bps: float = 0.0
    times: int = 1

    def __post_init__(self) -> None:
        if self.until is not None:
            self.until = to_utc(self.until)

    def matches(self, order: object) -> bool:
        return all(
            want is None or getattr(order, attr) == want
            for attr, want in (
                ("symbol", self.symbol),
                ("side", self.side),
                ("time_in_force", self.time_in_force),
                ("client_order_id", self.client_order_id),
            )
        )


@dataclass
class Faults:
    """The pending faults; each is used ``times`` times, then forgotten."""

    http: list[HttpFault] = field(default_factory=list)
    orders: list[OrderFault] = field(default_factory=list)
    fired: list[str] = field(default_factory=list)

    def add(self, fault: HttpFault | OrderFault) -> None:
        (self.http if isinstance(fault, HttpFault) else self.orders).append(fault)  # type: ignore[arg-type]

    def take_http(self, method: str, path: str) -> HttpFault | None:
        for fault in self.http:
            if fault.matches(method, path):
                return self._use(self.http, fault, f"http {fault.status} {method} {path}")
        return None

    def take_order(self, kind: str, order: object) -> OrderFault | None:
        for fault in self.orders:
            if fault.kind == kind and fault.matches(order):
                return self._use(self.orders, fault, f"order {kind} {getattr(order, 'client_order_id', '')}")
        return None

    def _use(self, pool: list, fault, label: str):  # type: ignore[no-untyped-def]
        fault.times -= 1
        if fault.times <= 0:
            pool.remove(fault)
        self.fired.append(label)
        return fault
