"""Orders, fills, positions and cash of the fake Alpaca account.

Order lifecycle (Alpaca's statuses): ``accepted`` when received outside regular hours, ``new`` once
routed (at once during regular hours, else at the next open), ``partially_filled``, then ``filled``,
``canceled``, ``expired``, ``replaced`` or ``rejected``. Every change is a ``trade_updates`` event.

Fills against the fed bars (raw prices), in the order of the session:

- **open** (the session's open): pending ``opg`` orders fill at the open (unfilled: expired); pending
  market ``day``/``gtc`` orders fill at the open; a stop the open gaps through fills at the open.
- **reveal** (``reveal_before`` before the close, 20 minutes by default): the session's range is
  complete. Resting stops that were routed before it trigger when ``low <= stop`` (sells) and fill at
  ``min(open, stop)``, as RULES section 4 says; limits likewise. A stop placed after the reveal is
  first checked at the next open.
- **close**: ``cls`` orders fill at the close (no bar: expired); open ``day`` orders expire.

A market order sent during regular hours fills at once at the latest minute bar's close when minute
bars were fed, else at the open before the reveal and at the close after it. ``slippage_bps`` makes
every fill that many basis points worse (buys higher, sells lower). Checks at submission mirror
Alpaca: a unique ``client_order_id`` (422), the ``opg`` (09:28-19:00 ET) and ``cls`` (10 minutes before
the close to 19:00 ET) windows (422), buying power for buys (``multiplier`` 2: a margin account) and available shares for sells (403;
shares held by open sell orders, e.g. a resting stop, are not available) and whole-cent prices
(four decimals under $1; 422 otherwise).
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .clock import ET, Session, iso, next_session_after, session, session_at
from .faults import Faults
from .market import Market

OPEN_STATUSES = {
    "accepted",
    "new",
    "partially_filled",
    "pending_new",
    "pending_cancel",
    "pending_replace",
    "held",
}
ORDER_TYPES = {"market", "limit", "stop", "stop_limit"}
TIME_IN_FORCE = {"day", "gtc", "opg", "cls", "ioc", "fok"}


class ApiError(Exception):
    """An error answer: HTTP status plus Alpaca's ``{"code", "message"}`` body."""

    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def _num(value: float) -> str:
    return repr(float(value))


@dataclass
class Order:
    id: str
    client_order_id: str
    symbol: str
    side: str
    type: str
    time_in_force: str
    qty: int
    submitted_at: dt.datetime
    stop_price: float | None = None
    limit_price: float | None = None
    status: str = "accepted"
    updated_at: dt.datetime | None = None
    filled_qty: int = 0
    filled_value: float = 0.0
    filled_at: dt.datetime | None = None
    expired_at: dt.datetime | None = None
    canceled_at: dt.datetime | None = None
    failed_at: dt.datetime | None = None
    replaced_at: dt.datetime | None = None
    replaced_by: str | None = None
    replaces: str | None = None
    fill_prices: list[float] = field(default_factory=list)
    triggered: bool = False  # a stop that fired and works as a market order for its remainder
    in_flight: bool = False  # a delayed fill is on its way

    @property
    def open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def remaining(self) -> int:
        return self.qty - self.filled_qty

    @property
    def avg_price(self) -> float:
        """The share-weighted mean fill price (exactly the fill price when there is one)."""
        if self.fill_prices and all(p == self.fill_prices[0] for p in self.fill_prices):
            return self.fill_prices[0]
        return self.filled_value / self.filled_qty

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "client_order_id": self.client_order_id,
            "created_at": iso(self.submitted_at),
            "updated_at": iso(self.updated_at or self.submitted_at),
            "submitted_at": iso(self.submitted_at),
            "filled_at": iso(self.filled_at),
            "expired_at": iso(self.expired_at),
            "canceled_at": iso(self.canceled_at),
            "failed_at": iso(self.failed_at),
            "replaced_at": iso(self.replaced_at),
            "replaced_by": self.replaced_by,
            "replaces": self.replaces,
            "asset_id": _asset_id(self.symbol),
            "symbol": self.symbol,
            "asset_class": "us_equity",
            "notional": None,
            "qty": str(self.qty),
            "filled_qty": str(self.filled_qty),
            "filled_avg_price": _num(self.avg_price) if self.filled_qty else None,
            "order_class": "simple",
            "order_type": self.type,
            "type": self.type,
            "side": self.side,
            "time_in_force": self.time_in_force,
            "limit_price": None if self.limit_price is None else _num(self.limit_price),
            "stop_price": None if self.stop_price is None else _num(self.stop_price),
            "status": self.status,
            "extended_hours": False,
            "legs": None,
            "trail_percent": None,
            "trail_price": None,
            "hwm": None,
        }


@dataclass
class Position:
    symbol: str
    qty: int = 0
    cost: float = 0.0  # cost basis of the shares held

    @property
    def avg_entry(self) -> float:
        return self.cost / self.qty if self.qty else 0.0


@dataclass
class Execution:
    """A fill computed now and reported later (a delayed fill)."""

    order: Order
    qty: int
    price: float
    release: dt.datetime


def _asset_id(symbol: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"fake-alpaca/{symbol}"))


@dataclass
class Broker:
    """The account: orders, positions and cash, driven by session events."""

    market: Market
    faults: Faults
    cash: float = 100_000.0
    slippage_bps: float = 0.0
    multiplier: float = 2.0
    reveal_before: dt.timedelta = dt.timedelta(minutes=20)
    publish: Callable[[dict[str, Any]], None] = lambda event: None
    orders: dict[str, Order] = field(default_factory=dict)
    by_client: dict[str, str] = field(default_factory=dict)
    positions: dict[str, Position] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    in_flight: list[Execution] = field(default_factory=list)
    history_start: dt.datetime | None = None  # closed orders submitted before it are no longer listed
    now: dt.datetime = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    account_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    starting_cash: float = 0.0
    last_equity: float | None = None  # equity at the last close (None: the starting cash)

    def __post_init__(self) -> None:
        self.starting_cash = self.cash

    # ------------------------------------------------------------------ submission
    def submit(self, body: dict[str, Any]) -> Order:
        order = self._parse(body)
        self._check_window(order)
        self._check_funds(order)
        self.orders[order.id] = order
        self.by_client[order.client_order_id] = order.id
        self._event("accepted", order)
        if session_at(self.now) is not None:
            self._route(order)
            if order.status == "new" and order.type == "market" and order.time_in_force in ("day", "gtc"):
                self._fill(order, order.remaining, self.intraday_price(order.symbol))
        return order

    def _parse(self, body: dict[str, Any]) -> Order:
        symbol = str(body.get("symbol") or "").upper()
        if symbol not in self.market.symbols():
            raise ApiError(422, 40010001, f'could not find asset "{symbol}"')
        if body.get("notional") is not None:
            raise ApiError(422, 40010001, "the fake Alpaca supports whole-share qty orders only")
        try:
            qty_float = float(body.get("qty"))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise ApiError(422, 40010001, "qty is required") from None
        if qty_float <= 0 or qty_float != math.floor(qty_float):
            raise ApiError(422, 40010001, f"qty must be a positive whole number, got {body.get('qty')}")
        side, kind, tif = body.get("side"), body.get("type"), body.get("time_in_force")
        if side not in ("buy", "sell"):
            raise ApiError(422, 40010001, f"invalid side {side!r}")
        if kind not in ORDER_TYPES:
            raise ApiError(422, 40010001, f"invalid order type {kind!r}")
        if tif not in TIME_IN_FORCE:
            raise ApiError(422, 40010001, f"invalid time_in_force {tif!r}")
        if tif in ("opg", "cls") and kind not in ("market", "limit"):
            raise ApiError(422, 40010001, f"{tif} orders must be market or limit orders")
        stop, limit = body.get("stop_price"), body.get("limit_price")
        if kind in ("stop", "stop_limit") and stop is None:
            raise ApiError(422, 40010001, "stop_price is required for stop orders")
        if kind in ("limit", "stop_limit") and limit is None:
            raise ApiError(422, 40010001, "limit_price is required for limit orders")
        for price in (stop, limit):
            _check_tick(price)
        client_id = str(body.get("client_order_id") or uuid.uuid4())
        if len(client_id) > 128:
            raise ApiError(422, 40010001, "client_order_id must be no more than 128 characters")
        if client_id in self.by_client:
            raise ApiError(422, 40010001, "client_order_id must be unique")
        return Order(
            id=str(uuid.uuid4()),
            client_order_id=client_id,
            symbol=symbol,
            side=str(side),
            type=str(kind),
            time_in_force=str(tif),
            qty=int(qty_float),
            submitted_at=self.now,
            stop_price=None if stop is None else float(stop),
            limit_price=None if limit is None else float(limit),
        )

    def _check_window(self, order: Order) -> None:
        today = session(self.now.astimezone(ET).date())
        if today is None:
            return
        evening = dt.datetime.combine(today.day, dt.time(19, 0), ET)
        if order.time_in_force == "opg":
            start = dt.datetime.combine(today.day, dt.time(9, 28), ET)
            if start <= self.now < evening:
                raise ApiError(
                    422,
                    42210000,
                    "opg orders cannot be submitted between 9:28am and 7:00pm ET on a trading day",
                )
        if order.time_in_force == "cls":
            start = today.close - dt.timedelta(minutes=10)
            if start <= self.now < evening:
                raise ApiError(
                    422,
                    42210000,
                    "cls orders cannot be submitted from 10 minutes before the close to 7:00pm ET",
                )

    def _check_funds(self, order: Order) -> None:
        if order.side == "sell":
            available = self.available_qty(order.symbol)
            if order.qty > available:
                raise ApiError(
                    403,
                    40310000,
                    f"insufficient qty available for order (requested: {order.qty}, available: {available})",
                )
            return
        price = order.limit_price or order.stop_price or self.reference_price(order.symbol)
        if order.qty * price > self.buying_power() + 1e-9:
            raise ApiError(403, 40310000, "insufficient buying power")

    # ------------------------------------------------------------------ queries
    def available_qty(self, symbol: str) -> int:
        held = sum(
            o.remaining for o in self.orders.values() if o.open and o.side == "sell" and o.symbol == symbol
        )
        pos = self.positions.get(symbol)
        return (pos.qty if pos else 0) - held

    def buying_power(self) -> float:
        """Reg T style: ``multiplier x equity - long market value - open buy orders`` (a cash account
        with multiplier 1: cash less open buys; Alpaca's default margin account: 2)."""
        reserved = sum(
            o.remaining * (o.limit_price or o.stop_price or self.reference_price(o.symbol))
            for o in self.orders.values()
            if o.open and o.side == "buy"
        )
        long_value = sum(p.qty * self.reference_price(p.symbol) for p in self.positions.values())
        equity = self.cash + long_value
        return self.multiplier * equity - long_value - reserved

    def reference_price(self, symbol: str) -> float:
        """The price Alpaca would check buying power with: the current price, else the last close."""
        if session_at(self.now) is not None:
            return self.intraday_price(symbol)
        price = self.market.last_close(symbol, self.now)
        if price is None:  # no close yet: the pre-market quote is the coming open
            bar = self.market.bar(symbol, next_session_after(self.now).day)
            price = bar.open if bar is not None else 0.0
        return price

    def intraday_price(self, symbol: str) -> float:
        """Where the market trades now (see the module docstring)."""
        s = session_at(self.now)
        if s is None:
            raise ApiError(422, 42210000, "the market is closed")
        minute = self.market.latest_minute_close(symbol, s, self.now)
        if minute is not None:
            return minute
        bar = self.market.bar(symbol, s.day)
        if bar is None:
            raise ApiError(422, 42210000, f"no trading in {symbol} today")
        return bar.open if self.now < s.close - self.reveal_before else bar.close

    def visible_orders(self) -> list[Order]:
        """What ``GET /v2/orders`` lists: open orders always, closed ones inside the history window."""
        start = self.history_start
        return [o for o in self.orders.values() if o.open or start is None or o.submitted_at >= start]

    def find_by_client(self, client_id: str) -> Order:
        order = self.orders.get(self.by_client.get(client_id, ""))
        if order is None:
            raise ApiError(404, 40410000, "order not found")
        return order

    def find(self, order_id: str) -> Order:
        order = self.orders.get(order_id)
        if order is None:
            raise ApiError(404, 40410000, "order not found")
        return order

    def last_price(self, symbol: str) -> float:
        s = session_at(self.now)
        if s is not None and self.market.bar(symbol, s.day) is not None:
            return self.intraday_price(symbol)
        price = self.market.last_close(symbol, self.now)
        if price is not None:
            return price
        pos = self.positions.get(symbol)
        return pos.avg_entry if pos is not None else 0.0

    # ------------------------------------------------------------------ changes by the client
    def cancel(self, order: Order) -> None:
        if not order.open:
            raise ApiError(422, 42210000, f'order is already in "{order.status}" state')
        if order.in_flight:
            raise ApiError(422, 42210000, "order is not cancelable: a fill is being reported")
        self._close(order, "canceled")

    def replace(self, order: Order, body: dict[str, Any]) -> Order:
        if not order.open or order.in_flight or order.triggered:
            raise ApiError(422, 42210000, f"order is not open (status {order.status})")
        _check_tick(body.get("stop_price"))
        _check_tick(body.get("limit_price"))
        qty = int(float(body["qty"])) if body.get("qty") is not None else order.remaining
        client_id = str(body.get("client_order_id") or uuid.uuid4())
        if client_id in self.by_client:
            raise ApiError(422, 40010001, "client_order_id must be unique")
        new = Order(
            id=str(uuid.uuid4()),
            client_order_id=client_id,
            symbol=order.symbol,
            side=order.side,
            type=order.type,
            time_in_force=str(body.get("time_in_force") or order.time_in_force),
            qty=qty,
            submitted_at=self.now,
            stop_price=float(body["stop_price"]) if body.get("stop_price") is not None else order.stop_price,
            limit_price=float(body["limit_price"])
            if body.get("limit_price") is not None
            else order.limit_price,
            replaces=order.id,
        )
        if new.side == "sell" and qty > self.available_qty(order.symbol) + order.remaining:
            raise ApiError(403, 40310000, "insufficient qty available for order")
        order.status, order.replaced_at, order.replaced_by, order.updated_at = (
            "replaced",
            self.now,
            new.id,
            self.now,
        )
        self._event("replaced", order)
        self.orders[new.id] = new
        self.by_client[new.client_order_id] = new.id
        self._event("accepted", new)
        if session_at(self.now) is not None:
            self._route(new)
        return new

    # ------------------------------------------------------------------ test hooks
    def manual_trade(self, symbol: str, side: str, qty: int, price: float | None = None) -> Order:
        """A trade made by hand (web UI): a filled market order with a random client_order_id."""
        order = Order(str(uuid.uuid4()), str(uuid.uuid4()), symbol, side, "market", "day", qty, self.now)
        self.orders[order.id] = order
        self.by_client[order.client_order_id] = order.id
        order.status = "new"
        self._event("new", order)
        self._execute(order, qty, price if price is not None else self.last_price(symbol))
        return order

    def seed_position(self, symbol: str, qty: int, avg_price: float) -> None:
        """A position bought before the order history the API still lists (cash pays for it)."""
        pos = self.positions.setdefault(symbol, Position(symbol))
        pos.qty += qty
        pos.cost += qty * avg_price
        self.cash -= qty * avg_price

    # ------------------------------------------------------------------ session events
    def on_open(self, s: Session) -> None:
        for order in self._pending(s.open):
            if order.status == "accepted":
                self._route(order)
        for order in self._pending(s.open):
            bar = self.market.bar(order.symbol, s.day)
            if order.time_in_force == "opg":
                if bar is None or self.faults.take_order("expire", order):
                    self._close(order, "expired")
                else:
                    self._fill(order, order.remaining, bar.open)
                    if order.open and not order.in_flight:
                        self._close(order, "expired")
            elif bar is None or order.time_in_force == "cls":
                continue
            elif order.type == "market" or order.triggered:
                self._fill(order, order.remaining, bar.open)
            elif order.type == "stop" and _gapped(order, bar.open):
                self._trigger(order, bar.open)
            elif order.type == "limit" and _marketable(order, bar.open):
                self._fill(order, order.remaining, bar.open)

    def on_reveal(self, s: Session) -> None:
        at = s.close - self.reveal_before
        for order in self._pending(at):
            bar = self.market.bar(order.symbol, s.day)
            if bar is None or order.time_in_force in ("opg", "cls") or order.triggered:
                continue
            if order.type == "stop" and order.stop_price is not None:
                hit = bar.low <= order.stop_price if order.side == "sell" else bar.high >= order.stop_price
                if hit:
                    level = min if order.side == "sell" else max
                    self._trigger(order, level(bar.open, order.stop_price))
            elif order.type == "limit" and order.limit_price is not None:
                hit = bar.low <= order.limit_price if order.side == "buy" else bar.high >= order.limit_price
                if hit:
                    level = min if order.side == "buy" else max
                    self._fill(order, order.remaining, level(bar.open, order.limit_price))

    def on_close(self, s: Session) -> None:
        for order in self._pending(s.close):
            if order.time_in_force != "cls":
                continue
            bar = self.market.bar(order.symbol, s.day)
            if bar is None or self.faults.take_order("expire", order):
                self._close(order, "expired")
                continue
            self._fill(order, order.remaining, bar.close)
            if order.open and not order.in_flight:
                self._close(order, "expired")
        for order in self._pending(s.close):
            if order.time_in_force == "day" and not order.in_flight:
                self._close(order, "expired")
        self.last_equity = self.cash + sum(p.qty * self.last_price(p.symbol) for p in self.positions.values())

    def release(self, until: dt.datetime) -> None:
        """Report delayed fills whose time has come."""
        for ex in sorted((e for e in self.in_flight if e.release <= until), key=lambda e: e.release):
            self.in_flight.remove(ex)
            ex.order.in_flight = False
            saved, self.now = self.now, ex.release
            self._execute(ex.order, ex.qty, ex.price)
            if ex.order.open and ex.order.time_in_force in ("opg", "cls", "day"):
                self._close(ex.order, "expired")
            self.now = saved

    def release_times(self) -> list[dt.datetime]:
        return [e.release for e in self.in_flight]

    # ------------------------------------------------------------------ internals
    def _pending(self, before: dt.datetime) -> list[Order]:
        return sorted(
            (o for o in self.orders.values() if o.open and not o.in_flight and o.submitted_at < before),
            key=lambda o: o.submitted_at,
        )

    def _route(self, order: Order) -> None:
        if self.faults.take_order("reject", order):
            order.failed_at = self.now
            self._close(order, "rejected")
            return
        order.status, order.updated_at = "new", self.now
        self._event("new", order)

    def _trigger(self, order: Order, price: float) -> None:
        order.triggered = True
        self._fill(order, order.remaining, price)

    def _fill(self, order: Order, qty: int, price: float) -> None:
        """Fill ``qty`` shares at ``price`` (before slippage), applying the order's faults."""
        worse = self.slippage_bps
        fault = self.faults.take_order("worse", order)
        if fault is not None:
            worse += fault.bps
        sign = 1.0 if order.side == "buy" else -1.0
        price = price * (1.0 + sign * worse / 10_000.0)
        partial = self.faults.take_order("partial", order)
        if partial is not None:
            qty = math.floor(qty * partial.fraction)
        if qty <= 0:
            return
        delay = self.faults.take_order("delay", order)
        if delay is not None and delay.until is not None and delay.until > self.now:
            order.in_flight = True
            self.in_flight.append(Execution(order, qty, price, delay.until))
            return
        self._execute(order, qty, price)

    def _execute(self, order: Order, qty: int, price: float) -> None:
        pos = self.positions.setdefault(order.symbol, Position(order.symbol))
        if order.side == "buy":
            pos.qty += qty
            pos.cost += qty * price
            self.cash -= qty * price
        else:
            pos.cost -= pos.avg_entry * qty
            pos.qty -= qty
            self.cash += qty * price
        if pos.qty == 0:
            del self.positions[order.symbol]
        order.filled_qty += qty
        order.filled_value += qty * price
        order.fill_prices.append(price)
        order.updated_at = self.now
        done = order.filled_qty >= order.qty
        order.status = "filled" if done else "partially_filled"
        if done:
            order.filled_at = self.now
        self._event(
            "fill" if done else "partial_fill",
            order,
            execution_id=str(uuid.uuid4()),
            price=_num(price),
            qty=str(qty),
            position_qty=str(pos.qty if order.symbol in self.positions else 0),
        )

    def _close(self, order: Order, status: str) -> None:
        order.status, order.updated_at = status, self.now
        if status == "expired":
            order.expired_at = self.now
        elif status == "canceled":
            order.canceled_at = self.now
        self._event(status, order)

    def _event(self, name: str, order: Order, **extra: str) -> None:
        data: dict[str, Any] = {"event": name, "timestamp": iso(self.now), "order": order.to_json(), **extra}
        self.events.append(data)
        self.publish(data)

    # ------------------------------------------------------------------ encodings
    def account_json(self) -> dict[str, Any]:
        long_value = sum(p.qty * self.last_price(p.symbol) for p in self.positions.values())
        equity = self.cash + long_value
        return {
            "id": self.account_id,
            "account_number": "PA0FAKE0001",
            "status": "ACTIVE",
            "crypto_status": "INACTIVE",
            "currency": "USD",
            "buying_power": _num(self.buying_power()),
            "regt_buying_power": _num(self.buying_power()),
            "non_marginable_buying_power": _num(self.buying_power()),
            "cash": _num(self.cash),
            "accrued_fees": "0",
            "pending_transfer_in": "0",
            "portfolio_value": _num(equity),
            "pattern_day_trader": False,
            "trading_blocked": False,
            "transfers_blocked": False,
            "account_blocked": False,
            "created_at": "2020-01-01T00:00:00Z",
            "trade_suspended_by_user": False,
            "multiplier": repr(self.multiplier),
            "shorting_enabled": False,
            "equity": _num(equity),
            "last_equity": _num(self.starting_cash if self.last_equity is None else self.last_equity),
            "long_market_value": _num(long_value),
            "short_market_value": "0",
            "initial_margin": _num(long_value),
            "maintenance_margin": _num(long_value * 0.3),
            "last_maintenance_margin": "0",
            "sma": "0",
            "daytrade_count": 0,
        }

    def position_json(self, pos: Position) -> dict[str, Any]:
        price = self.last_price(pos.symbol)
        value = pos.qty * price
        last = self.market.last_close(pos.symbol, self.now) or price
        return {
            "asset_id": _asset_id(pos.symbol),
            "symbol": pos.symbol,
            "exchange": "NASDAQ",
            "asset_class": "us_equity",
            "asset_marginable": True,
            "avg_entry_price": _num(pos.avg_entry),
            "qty": str(pos.qty),
            "qty_available": str(self.available_qty(pos.symbol)),
            "side": "long",
            "market_value": _num(value),
            "cost_basis": _num(pos.cost),
            "unrealized_pl": _num(value - pos.cost),
            "unrealized_plpc": _num((value - pos.cost) / pos.cost if pos.cost else 0.0),
            "unrealized_intraday_pl": _num(pos.qty * (price - last)),
            "unrealized_intraday_plpc": _num(price / last - 1.0 if last else 0.0),
            "current_price": _num(price),
            "lastday_price": _num(last),
            "change_today": _num(price / last - 1.0 if last else 0.0),
        }


def _gapped(order: Order, open_price: float) -> bool:
    assert order.stop_price is not None
    return open_price <= order.stop_price if order.side == "sell" else open_price >= order.stop_price


def _marketable(order: Order, price: float) -> bool:
    assert order.limit_price is not None
    return price <= order.limit_price if order.side == "buy" else price >= order.limit_price


def _check_tick(price: object) -> None:
    """Alpaca refuses sub-penny prices: two decimals at or above $1, four below."""
    if price is None:
        return
    value = float(price)  # type: ignore[arg-type]
    decimals = 2 if value >= 1.0 else 4
    if abs(round(value, decimals) - value) > 1e-9:
        raise ApiError(422, 42210000, "sub-penny increment does not fulfill minimum pricing criteria")
