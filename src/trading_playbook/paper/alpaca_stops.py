"""Resting stops and orders at the close of :class:`~trading_playbook.paper.alpaca_broker.AlpacaBroker`:
``gtc`` stops placed, replaced (never down) and reported at the INTRADAY phase; ``cls`` orders placed
together before the cut-off, the stops whose shares they need cancelled first and restored when they
do not fill; the sale of shares an entry bought beyond what cash pays."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from trading_playbook.core.broker import BrokerEvent, OrderIntent, Phase, client_order_id
from trading_playbook.paper.alpaca_book import current_stops
from trading_playbook.paper.alpaca_client import BrokerError
from trading_playbook.paper.alpaca_orders import (
    TERMINAL,
    cls_cutoff,
    filled_qty,
    hours,
    order_session,
    status,
    tick_down,
    tick_up,
)

__all__ = ["RestingAndClosingOrders"]

log = logging.getLogger(__name__)


class RestingAndClosingOrders:
    """Mixin of :class:`~trading_playbook.paper.alpaca_broker.AlpacaBroker` (its attributes and helpers)."""

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
