"""The broker port: what the event-driven engine tells a broker, and what it hears back.

The engine (:mod:`trading_playbook.core.simulate.reference`) never fills an order itself. At each
decision it emits :class:`OrderIntent` values and hands them to a :class:`Broker`; the broker answers
with :class:`Fill` and :class:`Cancelled` events. The same engine therefore runs a backtest (with the
pure :class:`~trading_playbook.core.simulate.sim_broker.SimulatedBroker`, which fills as RULES
sections 4 and 6 say), a paper account (the simulated broker behind a journal) and a live account (a
broker adapter such as Alpaca's, outside the core).

Session phases
--------------
Each session ``t`` is processed in this order (RULES section 4); each phase is one conversation with
the broker:

1. **OPEN.** ``events(t, Phase.OPEN)`` reports the fills of the orders that were resting for the
   open: exits decided for the next open (``Timing.NEXT_OPEN``, sells) first, then entries
   (``Timing.NEXT_OPEN``, buys) in ranking order, each against the cash the earlier ones left. An
   entry whose symbol has no bar is :class:`Cancelled` (``NO_BAR``); one that cash allows 0 shares
   is :class:`Cancelled` (``NO_CASH``). An exit whose symbol has no bar keeps resting.
   The engine then places the resting stop of every position filled this morning
   (``Timing.STOP``, leg ``stop-open``).
2. **INTRADAY.** ``events(t, Phase.INTRADAY)`` reports the resting stops that triggered
   (``low_t <= stop_price``: a fill at ``min(open_t, stop_price)``).
3. **CLOSE.** Close rules decide exits. An exit at the close (``Timing.CLOSE``) or at a stated price
   inside the bar (``Timing.PRICE``, a ``check_exit`` price) is answered **synchronously** by
   :meth:`Broker.submit` (its fill is in the returned events); an exit for the next open
   (``Timing.NEXT_OPEN``) rests until the next OPEN phase.
4. **SCAN.** New entries: ``Timing.NEXT_OPEN`` intents rest until the next OPEN phase; with
   ``entry_fill = "close"`` each entry is submitted on its own and answered synchronously, because
   an entry that cash allows 0 shares takes no slot and the next-ranked setup is tried (RULES 8).
5. **EVENING.** The engine (re)places each open position's resting stop for the next session: a
   new :class:`OrderIntent` with ``replaces`` naming the stop it supersedes when the level (or the
   share count) changed, and :meth:`Broker.cancel` of the stop when the position closed or a full
   exit is queued for the next open.

A live broker that learns fills asynchronously (WebSocket and REST) reports them when the engine asks
for the phase they belong to; ``submit`` of a NEXT_OPEN or STOP intent returns no events.

Idempotency
-----------
Every intent carries a deterministic client order id,
``tp-{account}-{session}-{sleeve}-{symbol}-{leg}`` (:func:`client_order_id`), where ``session`` is the
ISO date of the session whose decision created it and ``leg`` says which order of that position it is
(:data:`LEGS`). Re-running a session after a crash recreates exactly the same intents, so a broker
must treat a ``client_order_id`` it already knows as the same order: :meth:`Broker.submit` of a known
id places nothing new and returns the events that order already produced (a retried submission can
never buy twice). ``events(t, phase)`` asked twice returns the same events; ``cancel`` of an order
that is already gone does nothing.

Priorities
----------
Orders that fill at the same moment (the open, the intraday stop check, one ``submit`` call) are
filled in ascending ``priority``; the engine sets it to its canonical order (sells before buys at
the open; sleeves in config order; positions in the order they were opened; entries in ranking
order), so that cash is added up in one fixed order. A live broker may ignore it.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal, Protocol, runtime_checkable

__all__ = [
    "LEGS",
    "Broker",
    "BrokerEvent",
    "Cancelled",
    "Fill",
    "OrderIntent",
    "Phase",
    "Side",
    "Timing",
    "client_order_id",
    "event_from_dict",
    "safe_id_part",
]


class Phase(StrEnum):
    """The part of a session a fill belongs to."""

    OPEN = "open"
    INTRADAY = "intraday"
    CLOSE = "close"


class Timing(StrEnum):
    """When an order is meant to fill (and how a live broker expresses it)."""

    NEXT_OPEN = "next_open"  # at the next session's open (Alpaca: market, time_in_force=opg)
    CLOSE = "close"  # at this session's close (Alpaca: market, time_in_force=cls)
    STOP = "stop"  # a resting stop until cancelled or replaced (Alpaca: stop, gtc)
    PRICE = "price"  # at a stated price inside this session's bar (a check_exit exit price)


Side = Literal["buy", "sell"]

LEGS: dict[str, str] = {
    "entry": "the entry of a new position (NEXT_OPEN or CLOSE)",
    "stop-open": "the resting stop of a position filled at this session's open",
    "stop": "a resting stop placed or replaced in this session's evening",
    "exit": "a full exit decided by a close rule (CLOSE, NEXT_OPEN or PRICE)",
    "part1": "partial sales decided at one close: part1, part2, ... (share counts)",
    "eod": "END_OF_DATA: the rest sold at the symbol's last bar",
    "eot": "END_OF_TEST: the rest sold at the last session of a backtest or replay",
    "eod-new": "END_OF_DATA of a position entered at the close of the symbol's last bar",
}

_UNSAFE = re.compile(r"[^A-Za-z0-9._]")


def safe_id_part(text: str) -> str:
    """``text`` with every character outside ``[A-Za-z0-9._]`` replaced by ``_`` (ids stay parseable)."""
    return _UNSAFE.sub("_", text)


def client_order_id(account: str, session: dt.date | str, sleeve: str, symbol: str, leg: str) -> str:
    """The deterministic client order id ``tp-{account}-{session}-{sleeve}-{symbol}-{leg}``.

    >>> client_order_id("demo", dt.date(2024, 5, 1), "main", "BRK.B", "entry")
    'tp-demo-2024-05-01-main-BRK.B-entry'
    """
    day = session.isoformat() if isinstance(session, dt.date) else session
    return f"tp-{safe_id_part(account)}-{day}-{safe_id_part(sleeve)}-{safe_id_part(symbol)}-{leg}"


def _date(value: Any) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


@dataclass(frozen=True, slots=True)
class OrderIntent:
    """An order the engine wants placed.

    Attributes
    ----------
    client_order_id
        Deterministic id (:func:`client_order_id`); the broker's idempotency key.
    session
        The session whose decision created the intent.
    sleeve, symbol, leg
        Which strategy, which stock, which order of the position (:data:`LEGS`).
    side, shares
        ``buy`` (entries) or ``sell`` (exits, partials and stops), whole shares (> 0). A partial is a
        sell of fewer shares than held. An entry's shares are what the sizer asked for: the broker
        fills what cash allows.
    timing
        :class:`Timing`. ``stop_price`` is set for STOP, ``price`` for PRICE.
    reason
        ``ENTRY`` or the exit reason the fill will carry (``HARD_STOP``, ``MA_BREAK``, ``SCALE_1`` ...).
    replaces
        For a STOP: the client order id of the resting stop it replaces (None for a first stop).
    stop_fraction
        For an entry: the fraction below the fill price where the position's first resting stop will
        be (``1 - stop / fill``), so a live broker can attach it the moment the entry fills.
    priority
        Fill order among simultaneous orders (see the module docstring).
    """

    client_order_id: str
    session: dt.date
    sleeve: str
    symbol: str
    leg: str
    side: Side
    shares: int
    timing: Timing
    reason: str = ""
    stop_price: float | None = None
    price: float | None = None
    replaces: str | None = None
    stop_fraction: float | None = None
    priority: tuple[int, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able form (floats exact through ``json``)."""
        return {
            "client_order_id": self.client_order_id,
            "session": self.session.isoformat(),
            "sleeve": self.sleeve,
            "symbol": self.symbol,
            "leg": self.leg,
            "side": self.side,
            "shares": self.shares,
            "timing": str(self.timing),
            "reason": self.reason,
            "stop_price": self.stop_price,
            "price": self.price,
            "replaces": self.replaces,
            "stop_fraction": self.stop_fraction,
            "priority": list(self.priority),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> OrderIntent:
        """Inverse of :meth:`to_dict`."""
        side = str(data["side"])
        if side not in ("buy", "sell"):
            raise ValueError(f"order side must be buy or sell, got {side!r}")
        return cls(
            client_order_id=str(data["client_order_id"]),
            session=_date(data["session"]),
            sleeve=str(data["sleeve"]),
            symbol=str(data["symbol"]),
            leg=str(data["leg"]),
            side="buy" if side == "buy" else "sell",
            shares=int(data["shares"]),
            timing=Timing(data["timing"]),
            reason=str(data.get("reason", "")),
            stop_price=_opt_float(data.get("stop_price")),
            price=_opt_float(data.get("price")),
            replaces=data.get("replaces"),
            stop_fraction=_opt_float(data.get("stop_fraction")),
            priority=tuple(int(p) for p in data.get("priority", ())),
        )


@dataclass(frozen=True, slots=True)
class Fill:
    """Shares of an order that traded.

    ``price`` is the fill price the account pays or receives per share (slippage included);
    ``commission`` the fee of this fill. ``reference_price`` is the bar price the fill was modelled
    on before slippage (the open, the close, ``min(open, stop)``), known to a simulated broker and
    None for a live one. ``fill_id`` is unique per fill (``{client_order_id}/{n}``).
    """

    client_order_id: str
    fill_id: str
    session: dt.date
    phase: Phase
    sleeve: str
    symbol: str
    side: Side
    shares: int
    price: float
    commission: float
    reason: str
    reference_price: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": "fill",
            "client_order_id": self.client_order_id,
            "fill_id": self.fill_id,
            "session": self.session.isoformat(),
            "phase": str(self.phase),
            "sleeve": self.sleeve,
            "symbol": self.symbol,
            "side": self.side,
            "shares": self.shares,
            "price": self.price,
            "commission": self.commission,
            "reason": self.reason,
            "reference_price": self.reference_price,
        }


@dataclass(frozen=True, slots=True)
class Cancelled:
    """An order that ended without (further) fills.

    ``code``: ``NO_BAR`` (no bar for the symbol at the fill), ``NO_CASH`` (cash allows 0 shares),
    ``CANCELLED`` (the engine cancelled it), ``REPLACED`` (a newer stop replaced it), ``REJECTED`` or
    ``EXPIRED`` (a live broker's answer); ``message`` explains it in words.
    """

    client_order_id: str
    session: dt.date
    phase: Phase
    sleeve: str
    symbol: str
    code: str
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": "cancelled",
            "client_order_id": self.client_order_id,
            "session": self.session.isoformat(),
            "phase": str(self.phase),
            "sleeve": self.sleeve,
            "symbol": self.symbol,
            "code": self.code,
            "message": self.message,
        }


BrokerEvent = Fill | Cancelled


def event_from_dict(data: Mapping[str, Any]) -> BrokerEvent:
    """A :class:`Fill` or :class:`Cancelled` from its ``to_dict`` form."""
    side = str(data.get("side", "sell"))
    if data.get("type") == "fill":
        return Fill(
            client_order_id=str(data["client_order_id"]),
            fill_id=str(data["fill_id"]),
            session=_date(data["session"]),
            phase=Phase(data["phase"]),
            sleeve=str(data["sleeve"]),
            symbol=str(data["symbol"]),
            side="buy" if side == "buy" else "sell",
            shares=int(data["shares"]),
            price=float(data["price"]),
            commission=float(data["commission"]),
            reason=str(data["reason"]),
            reference_price=_opt_float(data.get("reference_price")),
        )
    if data.get("type") == "cancelled":
        return Cancelled(
            client_order_id=str(data["client_order_id"]),
            session=_date(data["session"]),
            phase=Phase(data["phase"]),
            sleeve=str(data["sleeve"]),
            symbol=str(data["symbol"]),
            code=str(data["code"]),
            message=str(data.get("message", "")),
        )
    raise ValueError(f"unknown broker event type {data.get('type')!r}")


def _opt_float(value: Any) -> float | None:
    return None if value is None else float(value)


@runtime_checkable
class Broker(Protocol):
    """What the engine needs from a broker (see the module docstring for when each is called)."""

    def submit(self, intents: Sequence[OrderIntent]) -> list[BrokerEvent]:
        """Place ``intents`` (idempotent by client order id); the events that happened at once.

        CLOSE and PRICE intents must be answered here (a fill, or a :class:`Cancelled`); NEXT_OPEN and
        STOP intents rest and usually return nothing. A known client order id places nothing and
        returns that order's events again.
        """
        ...

    def cancel(self, client_order_ids: Sequence[str]) -> list[BrokerEvent]:
        """Cancel resting orders; unknown or finished ids are ignored."""
        ...

    def events(self, session: dt.date, phase: Phase) -> list[BrokerEvent]:
        """Fills and cancellations of resting orders in ``phase`` of ``session`` (same answer when asked again)."""
        ...

    def open_orders(self) -> list[OrderIntent]:
        """Orders still resting (entries and exits for the next open, stops)."""
        ...

    def positions(self) -> dict[str, int]:
        """Shares held per symbol (all sleeves together)."""
        ...

    def cash(self) -> float:
        """The account's cash."""
        ...
