"""The ``NEXT_OPEN`` side of :class:`~trading_playbook.paper.alpaca_broker.AlpacaBroker`: ``opg``
orders sent in Alpaca's window (or deferred to it, or late), their fills at the OPEN phase, the
``day`` fallback of an expired one, and positions adopted by ``reconcile --adopt``."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from trading_playbook.core.broker import BrokerEvent, Fill, OrderIntent, Phase, Timing
from trading_playbook.core.simulate.fills import cash_after_buy, cash_after_sell
from trading_playbook.paper.alpaca_client import BrokerError
from trading_playbook.paper.alpaca_orders import filled_qty, hours, in_opg_blackout, next_session, status

__all__ = ["OpeningOrders"]

log = logging.getLogger(__name__)


class OpeningOrders:
    """Mixin of :class:`~trading_playbook.paper.alpaca_broker.AlpacaBroker` (its attributes and helpers)."""

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
