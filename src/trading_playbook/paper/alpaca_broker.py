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
    client_order_id,
)
from trading_playbook.core.simulate.fills import affordable_shares, cash_after_buy, cash_after_sell
from trading_playbook.core.simulate.settings import PortfolioSettings
from trading_playbook.paper.alpaca_book import AlpacaBook, current_stops
from trading_playbook.paper.alpaca_client import AlpacaTrading, BrokerError
from trading_playbook.paper.alpaca_orders import (
    TERMINAL,
    cls_cutoff,
    filled_avg,
    filled_qty,
    hours,
    in_opg_blackout,
    next_session,
    order_session,
    status,
    tick_down,
    tick_up,
)

__all__ = ["AlpacaBroker", "AlpacaPolicy", "Clock", "Guard"]

log = logging.getLogger(__name__)


class Clock(Protocol):
    """Time as the broker sees it (the daemon's clock; tests drive the fake market with it)."""

    def now(self) -> dt.datetime: ...

    def sleep(self, seconds: float, stop: threading.Event) -> None: ...


class Guard(Protocol):
    """Refuses entries (returns why) when the account is blocked, halted or over a live limit."""

    def refuse_entry(self, intent: OrderIntent, price: float | None) -> str | None: ...

    def counted(self, intent: OrderIntent, price: float | None) -> None: ...


@dataclass(frozen=True)
class AlpacaPolicy:
    """How the adapter behaves where Alpaca leaves a choice (``[broker]`` of the config)."""

    opg_fallback: str = "day"  # "day" or "skip"
    fill_wait: float = 60.0  # seconds an unresolved order is waited for at its phase
    close_wait: float = 300.0  # seconds after the close a cls order is waited for
    dry_run: bool = False  # read Alpaca, never write to it


class AlpacaBroker:
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
            if status(order) == "canceled":  # cancelled by this adapter already (a cls exit freed its shares)
                out.append(
                    self._end(
                        intent,
                        self._session or intent.session,
                        Phase.CLOSE,
                        "CANCELLED",
                        "cancelled by the engine",
                    )
                )
                continue
            self._cancel_order(order)
            after = self._current(coid) or order
            if filled_qty(after) > filled_qty(order):
                log.error(
                    "order %s filled %s share(s) while it was being cancelled; the account will not match "
                    "Alpaca until it is reconciled", coid, filled_qty(after) - filled_qty(order),
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

    # ------------------------------------------------------------------ NEXT_OPEN
    def _place_next_open(self, intent: OrderIntent) -> None:
        opens = hours(next_session(intent.session))[0]
        now = self.clock.now()
        coid = intent.client_order_id
        if now >= opens - dt.timedelta(minutes=2):
            self.book.set_handling(
                coid, "late", f"the open of {opens.date()} had passed when the order was made"
            )
            return
        refused = self._refused(intent)
        if refused:
            self.book.set_handling(coid, "blocked", refused)
            return
        if in_opg_blackout(now):
            self.book.set_handling(coid, "deferred", "opg orders are accepted again at 19:00 ET")
            self.sent.append(
                f"{intent.side} {intent.shares} {intent.symbol} at the open of {opens.date()} (opg): deferred to 19:00 ET"
            )
            return
        self._send_opg(intent)

    def flush_deferred(self) -> list[str]:
        """Send the deferred ``opg`` orders whose open is still ahead (when the window is open)."""
        now = self.clock.now()
        if in_opg_blackout(now):
            return []
        sent = []
        for handling in self.book.all_handling():
            if handling.handling != "deferred":
                continue
            intent = self.book.intents().get(handling.client_order_id)
            if intent is None:
                continue
            if now >= hours(next_session(intent.session))[0] - dt.timedelta(minutes=2):
                self.book.set_handling(
                    intent.client_order_id, "late", "the open passed before the order was sent"
                )
                continue
            try:
                self._send_opg(intent)
            except BrokerError as exc:
                self.book.set_handling(
                    intent.client_order_id, "deferred", f"sending failed at {now.isoformat()}: {exc}"
                )
                raise
            sent.append(intent.client_order_id)
        return sent

    def _send_opg(self, intent: OrderIntent) -> None:
        from alpaca.trading.enums import OrderSide, TimeInForce
        from alpaca.trading.requests import MarketOrderRequest

        request = MarketOrderRequest(
            symbol=intent.symbol, qty=intent.shares, side=OrderSide(intent.side),
            time_in_force=TimeInForce.OPG, client_order_id=intent.client_order_id,
        )  # fmt: skip
        if self._write(
            f"{intent.side} {intent.shares} {intent.symbol} at the open (opg) {intent.client_order_id}"
        ):
            self.trading.submit(request)
            if self.guard is not None and intent.side == "buy":
                self.guard.counted(intent, self.reference_price(intent))
        self.book.set_handling(intent.client_order_id, "placed" if not self.policy.dry_run else "dry_run")

    def _open_events(self, session: dt.date) -> list[BrokerEvent]:
        intents = self.book.intents()
        resolved = self.book.resolved()
        due = [
            i for i in intents.values()
            if i.timing is Timing.NEXT_OPEN and i.client_order_id not in resolved and next_session(i.session) == session
        ]  # fmt: skip
        events: list[BrokerEvent] = []
        for intent in sorted(due, key=lambda i: i.priority):
            event = self._open_result(intent, session)
            if event is not None:
                events.append(event)
        return events

    def _open_result(self, intent: OrderIntent, session: dt.date) -> BrokerEvent | None:
        coid = intent.client_order_id
        handling = self.book.handling(coid)
        if handling is not None and handling.handling == "adopted":  # reconcile --adopt: no order
            return self._adopted(intent, session, handling.note)
        order = self.trading.order(coid)
        if order is None:
            kind = handling.handling if handling else ""
            why = {
                "deferred": "deferred to 19:00 ET and not sent before the open: "
                + (
                    handling.note
                    if handling and handling.note.startswith("sending failed")
                    else "was the runner stopped?"
                ),
                "": "the order was never sent",
            }.get(kind, handling.note if handling else "")
            code = {"blocked": "BLOCKED", "dry_run": "DRY_RUN"}.get(kind, "LATE")
            return self._end(intent, session, Phase.OPEN, code, why)
        opened = hours(session)[0]
        order = self._resolve(
            order, max(opened, self.clock.now()) + dt.timedelta(seconds=self.policy.fill_wait)
        )
        if filled_qty(order) == 0 and status(order) != "expired":
            code = "REJECTED" if status(order) == "rejected" else "EXPIRED"
            return self._end(
                intent, session, Phase.OPEN, code, f"Alpaca ended the opg order: {status(order)}"
            )
        if filled_qty(order) == 0:
            fallback = self._fallback(intent, session, order)
            if fallback is None or filled_qty(fallback) == 0:
                note = "the opg order expired unfilled; " + (
                    "fallback: skip" if self.policy.opg_fallback == "skip"
                    else f"the day fallback ended {status(fallback) if fallback else 'unsent (market closed)'}"
                )  # fmt: skip
                self.book.set_handling(coid, "expired", note)
                return self._end(intent, session, Phase.OPEN, "EXPIRED", note)
            order = fallback
        return self._fill(intent, session, Phase.OPEN, order)

    def _adopted(self, intent: OrderIntent, session: dt.date, note: str) -> Fill:
        """The fill recording a position adopted from Alpaca, or a sale made outside the platform."""
        import json

        data = json.loads(note)
        shares, price = int(data["shares"]), float(data["price"])
        if intent.side == "buy":
            self._cash = cash_after_buy(self._cash, shares, price, 0.0)
        else:
            self._cash = cash_after_sell(self._cash, shares, price, 0.0)
        return Fill(
            client_order_id=intent.client_order_id, fill_id=f"{intent.client_order_id}/1", session=session,
            phase=Phase.OPEN, sleeve=intent.sleeve, symbol=intent.symbol, side=intent.side, shares=shares,
            price=price, commission=0.0, reason=intent.reason,
        )  # fmt: skip

    def _fallback(
        self, intent: OrderIntent, session: dt.date, expired: dict[str, Any]
    ) -> dict[str, Any] | None:
        """The ``day`` market order standing in for an ``opg`` order that expired unfilled."""
        if self.policy.opg_fallback != "day":
            return None
        alias = f"{intent.client_order_id}-day"
        order = self.trading.order(alias)
        if order is None:
            opened, closed = hours(session)
            now = self.clock.now()
            if not opened <= now < closed - dt.timedelta(minutes=15):
                log.warning(
                    "opg order %s expired and the market is not open for a day fallback",
                    intent.client_order_id,
                )
                return None
            from alpaca.trading.enums import OrderSide, TimeInForce
            from alpaca.trading.requests import MarketOrderRequest

            request = MarketOrderRequest(
                symbol=intent.symbol, qty=intent.shares, side=OrderSide(intent.side),
                time_in_force=TimeInForce.DAY, client_order_id=alias,
            )  # fmt: skip
            if not self._write(f"{intent.side} {intent.shares} {intent.symbol} now (day fallback) {alias}"):
                return None
            order = self.trading.submit(request)
            self.book.add_alias(
                intent.client_order_id, alias, f"opg {status(expired)}: day market order {alias}"
            )
            log.info(
                "opg order %s %s unfilled; sent the day fallback %s",
                intent.client_order_id,
                status(expired),
                alias,
            )
        return self._resolve(order, self.clock.now() + dt.timedelta(seconds=self.policy.fill_wait))

    # ------------------------------------------------------------------ STOP
    def _place_stop(self, intent: OrderIntent) -> None:
        from alpaca.trading.enums import OrderSide, TimeInForce
        from alpaca.trading.requests import ReplaceOrderRequest, StopOrderRequest

        assert intent.stop_price is not None
        level = tick_down(intent.stop_price) if intent.side == "sell" else tick_up(intent.stop_price)
        coid = intent.client_order_id
        mine = self._current(coid)  # placed already (the stream attaches the first stop at the fill)
        if mine is not None and status(mine) not in TERMINAL:
            if filled_qty(mine) == 0 and (
                int(float(mine["qty"])) != intent.shares or float(mine["stop_price"]) != level
            ):
                self._replace(coid, mine, intent.shares, level, f"{coid}-a{len(self._aliases(coid)) + 1}")
            return
        if mine is not None:
            return
        if intent.replaces:
            old = self._current(intent.replaces)
            if old is not None and status(old) not in TERMINAL and filled_qty(old) == 0:
                old_level = float(old["stop_price"])
                if intent.side == "sell" and level < old_level:
                    raise BrokerError(
                        f"refusing to lower the resting stop of {intent.symbol} from {old_level} to {level} "
                        f"({intent.client_order_id}); resting stops never move down"
                    )
                if self._write(
                    f"replace stop {intent.replaces} -> {coid}: {intent.shares} {intent.symbol} at {level}"
                ):
                    self.trading.replace(
                        str(old["id"]),
                        ReplaceOrderRequest(qty=intent.shares, stop_price=level, client_order_id=coid),
                    )
                self.book.set_handling(coid, "placed", f"replaces {intent.replaces}")
                return
            if old is not None and filled_qty(old) > 0:
                if status(old) not in TERMINAL:
                    self._cancel_order(old)
                self.book.add_alias(
                    coid, str(old["client_order_id"]), f"{intent.replaces} filled before it could be replaced"
                )
                log.warning(
                    "stop %s filled before its replacement %s; the fill is reported under %s",
                    intent.replaces,
                    coid,
                    coid,
                )
                return
        request = StopOrderRequest(
            symbol=intent.symbol, qty=intent.shares, side=OrderSide(intent.side), time_in_force=TimeInForce.GTC,
            stop_price=level, client_order_id=coid,
        )  # fmt: skip
        if self._write(f"stop {intent.side} {intent.shares} {intent.symbol} at {level} (gtc) {coid}"):
            self.trading.submit(request)
        self.book.set_handling(coid, "placed" if not self.policy.dry_run else "dry_run")

    def _replace(
        self, coid: str, order: dict[str, Any], shares: int, level: float, alias: str
    ) -> dict[str, Any] | None:
        from alpaca.trading.requests import ReplaceOrderRequest

        if not self._write(f"replace {coid}: {shares} shares at {level} as {alias}"):
            return None
        new = self.trading.replace(
            str(order["id"]), ReplaceOrderRequest(qty=shares, stop_price=level, client_order_id=alias)
        )
        self.book.add_alias(coid, alias, f"{coid} now {shares} shares at {level}")
        return new

    def _stop_events(self, session: dt.date) -> list[BrokerEvent]:
        intents = self.book.intents()
        resolved = self.book.resolved()
        events: list[BrokerEvent] = []
        for intent in sorted(current_stops(intents), key=lambda i: i.priority):
            if intent.client_order_id in resolved or intent.session > session:
                continue
            order = self._current(intent.client_order_id, filled_first=True)
            if order is None or filled_qty(order) == 0:
                continue
            day = order_session(order.get("filled_at") or order.get("updated_at"))
            if day is not None and day > session:
                continue  # filled in a later session: reported when that session is processed
            if status(order) not in TERMINAL:
                self._cancel_order(order)  # the unfilled rest could fill later, unseen by the engine
                order = self.trading.order(str(order["client_order_id"])) or order
            events.append(self._fill(intent, session, Phase.INTRADAY, order))
        return events

    # ------------------------------------------------------------------ CLOSE
    def _at_close(self, intents: list[OrderIntent]) -> dict[str, list[BrokerEvent]]:
        """Place every ``cls`` order first, wait for the close once, then answer each (priority order)."""
        from alpaca.trading.enums import OrderSide, TimeInForce
        from alpaca.trading.requests import MarketOrderRequest

        self._fresh = {}
        answers: dict[str, list[BrokerEvent]] = {}
        placed: list[tuple[OrderIntent, dict[str, Any]]] = []
        for intent in intents:
            session, coid = intent.session, intent.client_order_id
            order = self.trading.order(coid)
            if order is None:
                if self.clock.now() >= cls_cutoff(session):
                    answers[coid] = [self._end(intent, session, Phase.CLOSE, "LATE",
                                               f"the cls cut-off ({cls_cutoff(session).isoformat()}) had passed; nothing was sent")]  # fmt: skip
                    continue
                refused = self._refused(intent)
                if refused:
                    self.book.set_handling(coid, "blocked", refused)
                    answers[coid] = [self._end(intent, session, Phase.CLOSE, "BLOCKED", refused)]
                    continue
                freed = self._free_shares(intent) if intent.side == "sell" else []
                request = MarketOrderRequest(
                    symbol=intent.symbol, qty=intent.shares, side=OrderSide(intent.side),
                    time_in_force=TimeInForce.CLS, client_order_id=coid,
                )  # fmt: skip
                if not self._write(
                    f"{intent.side} {intent.shares} {intent.symbol} at the close (cls) {coid}"
                ):
                    self.book.set_handling(coid, "dry_run")
                    answers[coid] = [self._end(intent, session, Phase.CLOSE, "DRY_RUN", "dry run: not sent")]
                    continue
                order = self.trading.submit(request)
                self.book.set_handling(coid, "placed", f"freed stops: {', '.join(freed)}" if freed else "")
            placed.append((intent, order))
        for intent, order in placed:  # sells before buys (priority): the cash of the exits is there
            closed = hours(intent.session)[1]
            self._wait_until(closed)
            order = self._resolve(order, closed + dt.timedelta(seconds=self.policy.close_wait))
            if filled_qty(order) == 0:
                self._restore_stops(intent)
                event: BrokerEvent = self._end(
                    intent, intent.session, Phase.CLOSE, "EXPIRED", f"the cls order ended {status(order)}"
                )
            else:
                event = self._fill(intent, intent.session, Phase.CLOSE, order)
            answers[intent.client_order_id] = [event]
            self._fresh[intent.client_order_id] = answers[intent.client_order_id]
        return answers

    def _free_shares(self, intent: OrderIntent) -> list[str]:
        """Cancel the resting stops of the position an exit sells (their shares are held by them)."""
        freed = []
        for stop in current_stops(self.book.intents()):
            if (stop.sleeve, stop.symbol) != (intent.sleeve, intent.symbol):
                continue
            order = self._current(stop.client_order_id)
            if order is not None and status(order) not in TERMINAL:
                self._cancel_order(order)
                freed.append(stop.client_order_id)
        return freed

    def _restore_stops(self, intent: OrderIntent) -> None:
        handling = self.book.handling(intent.client_order_id)
        note = handling.note if handling else ""
        if not note.startswith("freed stops: "):
            return
        intents = self.book.intents()
        for coid in note.removeprefix("freed stops: ").split(", "):
            stop = intents.get(coid)
            if stop is None or stop.stop_price is None:
                continue
            from alpaca.trading.enums import OrderSide, TimeInForce
            from alpaca.trading.requests import StopOrderRequest

            alias = f"{coid}-r{len(self._aliases(coid)) + 1}"
            request = StopOrderRequest(
                symbol=stop.symbol, qty=stop.shares, side=OrderSide(stop.side), time_in_force=TimeInForce.GTC,
                stop_price=tick_down(stop.stop_price), client_order_id=alias,
            )  # fmt: skip
            if self._write(f"restore stop {coid} as {alias}"):
                self.trading.submit(request)
                self.book.add_alias(coid, alias, f"restored after {intent.client_order_id} did not fill")

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

    def _sell_excess(self, intent: OrderIntent, order: dict[str, Any], extra: int) -> None:
        """Sell shares an entry bought beyond what the account's cash pays (RULES 6)."""
        from alpaca.trading.enums import OrderSide, TimeInForce
        from alpaca.trading.requests import MarketOrderRequest

        keep = filled_qty(order) - extra
        day = order_session(order.get("filled_at")) or intent.session
        first_stop = client_order_id(self.account, day, intent.sleeve, intent.symbol, "stop-open")
        mine = self._current(first_stop)  # placed by the trade stream at the fill, holding every share
        if mine is not None and status(mine) not in TERMINAL:
            if keep > 0:
                alias = f"{first_stop}-a{len(self._aliases(first_stop)) + 1}"
                self._replace(first_stop, mine, keep, float(mine["stop_price"]), alias)
            else:
                self._cancel_order(mine)
        alias = f"{intent.client_order_id}-excess"
        request = MarketOrderRequest(
            symbol=intent.symbol,
            qty=extra,
            side=OrderSide.SELL,
            time_in_force=TimeInForce.DAY,
            client_order_id=alias,
        )
        if self._write(f"sell {extra} {intent.symbol} bought beyond the account's cash ({alias})"):
            self.trading.submit(request)
            self.book.add_alias(
                intent.client_order_id, alias, f"sold {extra} share(s) cash could not pay for"
            )
        log.warning(
            "entry %s: cash pays %d of %d share(s); sold the other %d",
            intent.client_order_id,
            keep,
            keep + extra,
            extra,
        )

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
