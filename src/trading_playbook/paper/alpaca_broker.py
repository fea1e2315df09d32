"""``AlpacaBroker``: the broker port (:mod:`trading_playbook.core.broker`) over Alpaca's trading API.

How each intent becomes Alpaca orders (client order id = the intent's, so a retried submission is
recognised by Alpaca and never buys twice):

- ``NEXT_OPEN`` (entries and exits for the next open): a market order, time in force ``opg``. Alpaca
  refuses ``opg`` orders from 09:28 to 19:00 ET, so an intent made in that window is *deferred* and
  sent when the window opens (:meth:`AlpacaBroker.flush_deferred`, called by the runner at 19:00 and
  on every start); one whose open has already passed is *late* and never sent. At the OPEN phase an
  ``opg`` order that expired unfilled gets the configured fallback: ``day`` (a market order for the
  rest of the session, reported as the intent's fill) or ``skip`` (a ``Cancelled`` ``EXPIRED``).
- ``STOP``: a ``gtc`` stop order (level rounded down to the tick), replaced (PATCH) when the engine
  moves it (never down: a lower level is refused), cancelled with the position.
- ``CLOSE`` (exits at the close, and entries with ``entry_fill = "close"``): a ``cls`` market order,
  only before the ``cls`` cut-off (10 minutes before the close); the broker first cancels the
  position's resting stop (its shares would not be available), waits for the close and answers
  with the fill. A failed ``cls`` exit gets its stop back. After the cut-off the intent is answered
  ``Cancelled`` ``LATE`` without being sent (the engine keeps the position and decides again).
- ``PRICE`` (a ``check_exit`` price inside the bar) needs a limit order this adapter does not place:
  ``Cancelled`` ``UNSUPPORTED``.

Fills are reported once, in the phase they belong to, as one :class:`Fill` per order (partial fills
added up; the unfilled rest of a still-working order is cancelled first, so nothing can fill later
unseen). An entry is booked for what the engine's cash pays at the fill price (RULES 6, the same
:func:`~trading_playbook.core.simulate.fills.affordable_shares` as the simulated broker); shares
bought beyond that are sold at once with a ``day`` market order, so broker and journal hold the same.
Alpaca charges no commission: fills carry 0.

An order that is still unresolved when its phase is asked for is waited for (``fill_wait``), then
cancelled and read again, so a phase's answer is final. Events already in the journal for a phase
are returned again when it is asked again.

The ``NEXT_OPEN`` side is in :mod:`.alpaca_opening`, stops and orders at the close in
:mod:`.alpaca_stops` (mixins of :class:`AlpacaBroker`); this module holds the port and what they share.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from trading_playbook.core.broker import (
    BrokerEvent,
    Cancelled,
    Fill,
    OrderIntent,
    Phase,
    Timing,
)
from trading_playbook.core.simulate.fills import affordable_shares, cash_after_buy, cash_after_sell
from trading_playbook.core.simulate.settings import PortfolioSettings
from trading_playbook.paper.alpaca_book import AlpacaBook, current_stops
from trading_playbook.paper.alpaca_client import AlpacaTrading
from trading_playbook.paper.alpaca_opening import OpeningOrders
from trading_playbook.paper.alpaca_orders import (
    TERMINAL,
    filled_avg,
    filled_qty,
    hours,
    next_session,
    status,
)
from trading_playbook.paper.alpaca_stops import RestingAndClosingOrders

__all__ = ["AlpacaBroker", "AlpacaPolicy", "Clock", "Guard"]

log = logging.getLogger(__name__)


class Clock(Protocol):
    """Time as the broker sees it (the daemon's clock; tests drive the fake market with it)."""

    def now(self) -> dt.datetime: ...

    def sleep(self, seconds: float, stop: threading.Event) -> None: ...


class Guard(Protocol):
    """Refuses entries (returns why) when the account is blocked, halted or over a live limit."""

    def refuse_entry(self, intent: OrderIntent, price: float | None) -> str | None: ...


@dataclass(frozen=True)
class AlpacaPolicy:
    """How the adapter behaves where Alpaca leaves a choice (``[broker]`` of the config)."""

    opg_fallback: str = "day"  # "day" or "skip"
    fill_wait: float = 60.0  # seconds an unresolved order is waited for at its phase
    close_wait: float = 300.0  # seconds after the close a cls order is waited for
    dry_run: bool = False  # read Alpaca, never write to it


class AlpacaBroker(OpeningOrders, RestingAndClosingOrders):
    """The broker of one paper or live account on Alpaca (see the module docstring)."""

    def __init__(
        self,
        trading: AlpacaTrading,
        book: AlpacaBook,
        *,
        account: str,
        settings: PortfolioSettings,
        clock: Clock,
        policy: AlpacaPolicy | None = None,
        guard: Guard | None = None,
        reference_price: Callable[[OrderIntent], float | None] = lambda intent: None,
        stop: threading.Event | None = None,
        sent: list[str] | None = None,
    ) -> None:
        self.trading = trading
        self.book = book
        self.account = account
        self.settings = dataclasses.replace(
            settings, commission_per_share=0.0, commission_per_order=0.0, commission_min=0.0
        )
        self.clock = clock
        self.policy = policy or AlpacaPolicy()
        self.guard = guard
        self.reference_price = reference_price
        self.stop_event = stop or threading.Event()
        last = book.last_state()
        self._cash = float(last[1]["cash"]) if last is not None else settings.starting_capital
        self._session: dt.date | None = None
        self._fresh: dict[str, list[BrokerEvent]] = {}  # answers whose cash _fill has already counted
        self.sent: list[str] = [] if sent is None else sent  # every order action (printed by --dry-run)

    # ------------------------------------------------------------------ the port
    def submit(self, intents: Sequence[OrderIntent]) -> list[BrokerEvent]:
        answers: dict[str, list[BrokerEvent]] = {}
        closing: list[OrderIntent] = []
        for intent in sorted(intents, key=lambda i: i.priority):
            known = self.book.events_of(intent.client_order_id)
            if known:
                answers[intent.client_order_id] = known
            elif intent.timing is Timing.STOP:
                self._place_stop(intent)
            elif intent.timing is Timing.NEXT_OPEN:
                self._place_next_open(intent)
            elif intent.timing is Timing.CLOSE:
                closing.append(intent)
            else:
                answers[intent.client_order_id] = [
                    self._end(intent, intent.session, Phase.CLOSE, "UNSUPPORTED",
                              "an exit at a stated price needs a limit order; the Alpaca broker does not place them")
                ]  # fmt: skip
        answers.update(self._at_close(closing))
        events: list[BrokerEvent] = []
        for intent in sorted(intents, key=lambda i: i.priority):  # one fixed order: cash is added up in it
            found = answers.get(intent.client_order_id, [])
            if (
                intent.timing is not Timing.CLOSE
                or not found
                or found is not self._fresh.get(intent.client_order_id)
            ):
                self._book_cash(found)
            events.extend(found)
        return events

    def cancel(self, client_order_ids: Sequence[str]) -> list[BrokerEvent]:
        out: list[BrokerEvent] = []
        intents = self.book.intents()
        for coid in client_order_ids:
            earlier = [e for e in self.book.events_of(coid) if isinstance(e, Cancelled)]
            if earlier:
                out.extend(earlier)
                continue
            intent = intents.get(coid)
            order = self._current(coid)
            if (
                intent is None
                or order is None
                or status(order) in ("filled", "rejected", "expired", "replaced")
            ):
                continue
            # an order already "canceled" was cancelled by this adapter (a cls exit freed its shares)
            if status(order) != "canceled":
                self._cancel_order(order)
                after = self._current(coid) or order
                if filled_qty(after) > filled_qty(order):
                    log.error(
                        "order %s filled %s share(s) while it was being cancelled; the account will not "
                        "match Alpaca until it is reconciled", coid, filled_qty(after) - filled_qty(order),
                    )  # fmt: skip
            out.append(
                self._end(
                    intent,
                    self._session or intent.session,
                    Phase.CLOSE,
                    "CANCELLED",
                    "cancelled by the engine",
                )
            )
        return out

    def events(self, session: dt.date, phase: Phase) -> list[BrokerEvent]:
        self._session = session
        known = self.book.events_at(session, phase)
        if known:
            self._book_cash(known)
            return known
        if phase is Phase.OPEN:
            events = self._open_events(session)
        elif phase is Phase.INTRADAY:
            events = self._stop_events(session)
        else:
            events = []
        return events

    def open_orders(self) -> list[OrderIntent]:
        intents = self.book.intents()
        resolved = self.book.resolved()
        now = self.clock.now()
        out = []
        for intent in intents.values():
            if intent.client_order_id in resolved:
                continue
            if intent.timing is Timing.NEXT_OPEN and hours(next_session(intent.session))[0] > now:
                out.append(intent)
        for intent in current_stops(intents):
            if intent.client_order_id in resolved:
                continue
            order = self._current(intent.client_order_id)
            if order is not None and status(order) not in TERMINAL:
                out.append(intent)
        return out

    def positions(self) -> dict[str, int]:
        return {str(p["symbol"]): int(float(p["qty"])) for p in self.trading.positions()}

    def cash(self) -> float:
        return float(self.trading.account()["cash"])

    # ------------------------------------------------------------------ shared pieces
    def _fill(
        self, intent: OrderIntent, session: dt.date, phase: Phase, order: dict[str, Any]
    ) -> BrokerEvent:
        """One fill for the order's filled shares (an entry: what the engine's cash pays)."""
        shares, price = filled_qty(order), filled_avg(order)
        if intent.side == "buy":
            paid = affordable_shares(shares, price, self._cash, self.settings)
            if paid < shares:
                self._sell_excess(intent, order, shares - paid)
            if paid == 0:
                return self._end(intent, session, phase, "NO_CASH",
                                 f"cash {self._cash:.2f} pays no share at {price}; the {shares} bought were sold")  # fmt: skip
            shares = paid
            self._cash = cash_after_buy(self._cash, shares, price, 0.0)
        else:
            self._cash = cash_after_sell(self._cash, shares, price, 0.0)
        return Fill(
            client_order_id=intent.client_order_id, fill_id=f"{intent.client_order_id}/1", session=session,
            phase=phase, sleeve=intent.sleeve, symbol=intent.symbol, side=intent.side, shares=shares,
            price=price, commission=0.0, reason=intent.reason,
        )  # fmt: skip

    def _end(self, intent: OrderIntent, session: dt.date, phase: Phase, code: str, message: str) -> Cancelled:
        return Cancelled(intent.client_order_id, session, phase, intent.sleeve, intent.symbol, code, message)

    def _book_cash(self, events: Sequence[BrokerEvent]) -> None:
        for event in events:
            if isinstance(event, Fill):
                if event.side == "buy":
                    self._cash = cash_after_buy(self._cash, event.shares, event.price, event.commission)
                else:
                    self._cash = cash_after_sell(self._cash, event.shares, event.price, event.commission)

    def _refused(self, intent: OrderIntent) -> str | None:
        if self.guard is None or intent.side != "buy":
            return None
        return self.guard.refuse_entry(intent, self.reference_price(intent))

    def _aliases(self, coid: str) -> tuple[str, ...]:
        handling = self.book.handling(coid)
        return handling.aliases if handling else ()

    def _current(self, coid: str, *, filled_first: bool = False) -> dict[str, Any] | None:
        """The Alpaca order standing for ``coid`` now: its latest alias that exists, else its own."""
        candidates = [coid, *self._aliases(coid)]
        orders = [o for o in (self.trading.order(c) for c in candidates) if o is not None]
        if not orders:
            return None
        if filled_first:
            filled = [
                o for o in orders if filled_qty(o) > 0 and not str(o["client_order_id"]).endswith("-excess")
            ]
            if filled:
                return filled[-1]
        live = [o for o in orders if status(o) not in TERMINAL]
        return live[-1] if live else orders[-1]

    def _resolve(self, order: dict[str, Any], deadline: dt.datetime) -> dict[str, Any]:
        """Wait for the order to end; past ``deadline`` cancel it and read it again."""
        coid = str(order["client_order_id"])
        while status(order) not in TERMINAL:
            now = self.clock.now()
            if now >= deadline or self.stop_event.is_set():
                self._cancel_order(order)
                order = self.trading.order(coid) or order
                break
            self.clock.sleep(min(1.0, (deadline - now).total_seconds()), self.stop_event)
            order = self.trading.order(coid) or order
        return order

    def _wait_until(self, when: dt.datetime) -> None:
        while not self.stop_event.is_set():
            left = (when - self.clock.now()).total_seconds()
            if left <= 0:
                return
            self.clock.sleep(left, self.stop_event)

    def _cancel_order(self, order: dict[str, Any]) -> None:
        if self._write(f"cancel {order['client_order_id']}"):
            self.trading.cancel(str(order["id"]))

    def _write(self, what: str) -> bool:
        """Record an action; False in a dry run (nothing is sent)."""
        self.sent.append(what)
        if self.policy.dry_run:
            log.info("dry run, not sent: %s", what)
            return False
        return True
