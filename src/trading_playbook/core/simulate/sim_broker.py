"""The simulated broker: fills exactly as RULES sections 4, 6 and 8 say, from the bars it is given.

It implements :class:`~trading_playbook.core.broker.Broker` over a :class:`Panel`: the backtest
(reference engine), replays and offline paper accounts all trade against it. Like a real broker it
keeps its own book (cash, shares per symbol, resting orders) and remembers every client order id it
has seen, so the idempotency rules of the port hold (a resubmitted intent places nothing; a phase asked
twice gives the same answer). Its whole state is a plain value (:meth:`SimulatedBroker.to_dict`) that
a paper account stores after every call.

Fills (``s = slippage_bps / 10_000``, prices adjusted as the panel's):

- OPEN: resting NEXT_OPEN orders in priority order (sells first): a sell fills ``open_t * (1 - s)``
  when the symbol has a bar, else keeps resting; a buy fills ``open_t * (1 + s)`` for what cash allows
  (:func:`~trading_playbook.core.simulate.fills.affordable_shares`), else it is cancelled (``NO_BAR``
  without a bar, ``NO_CASH`` for 0 shares).
- INTRADAY: a resting stop of a symbol with a bar and ``low_t <= stop`` sells its shares at
  ``min(open_t, stop) * (1 - s)``.
- CLOSE / PRICE (at submission): ``close_t`` or the stated price, with slippage; a CLOSE buy gets what
  cash allows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from trading_playbook.core.broker import (
    BrokerEvent,
    Cancelled,
    Fill,
    OrderIntent,
    Phase,
    Timing,
    event_from_dict,
)
from trading_playbook.core.errors import SimulationError
from trading_playbook.core.panel import Panel
from trading_playbook.core.simulate.fills import (
    affordable_shares,
    buy_price,
    cash_after_buy,
    cash_after_sell,
    commission_for,
    sell_price,
)
from trading_playbook.core.simulate.settings import PortfolioSettings
from trading_playbook.core.simulate.splits import changed_scales, price_factor, split_shares

__all__ = ["SimulatedBroker"]

STATE_VERSION = 1
_EPOCH = dt.date(1970, 1, 1)


class SimulatedBroker:
    """A broker that fills intents against the bars of ``panel`` (see the module docstring).

    Parameters
    ----------
    panel
        The bars; sessions are looked up by date.
    settings
        Slippage and commissions (``starting_capital`` is the initial cash).
    cash
        Initial cash (default ``settings.starting_capital``).
    """

    def __init__(self, panel: Panel, settings: PortfolioSettings, *, cash: float | None = None) -> None:
        self.settings = settings
        self.slip = settings.slippage
        self._cash = settings.starting_capital if cash is None else float(cash)
        self._held: dict[str, int] = {}
        self._resting: dict[str, OrderIntent] = {}  # insertion order; filled in priority order
        self._done: dict[str, tuple[dt.date, list[BrokerEvent]]] = {}
        self._phases: dict[tuple[dt.date, Phase], list[BrokerEvent]] = {}
        self.accepted = 0  # orders placed (a resubmitted id is not counted again)
        self._today: dt.date | None = None  # the session last asked about (dates cancellations)
        self.attach(panel)

    def attach(self, panel: Panel) -> None:
        """Use ``panel``'s bars from now on (a paper account loads a longer panel every step)."""
        self.panel = panel
        days = panel.sessions.astype("datetime64[D]").astype(np.int64).tolist()
        self._row: dict[dt.date, int] = {_EPOCH + dt.timedelta(days=d): i for i, d in enumerate(days)}

    # ------------------------------------------------------------------ the port
    def cash(self) -> float:
        return self._cash

    def positions(self) -> dict[str, int]:
        return {s: q for s, q in self._held.items() if q}

    def open_orders(self) -> list[OrderIntent]:
        return list(self._resting.values())

    def submit(self, intents: Sequence[OrderIntent]) -> list[BrokerEvent]:
        out: list[BrokerEvent] = []
        for intent in sorted(intents, key=_priority):
            coid = intent.client_order_id
            if coid in self._done:
                out.extend(self._done[coid][1])
                continue
            if coid in self._resting:  # placed before: the replacement it made, if any, again
                replaced = self._done.get(intent.replaces or "")
                if replaced is not None:
                    out.extend(e for e in replaced[1] if isinstance(e, Cancelled))
                continue
            self.accepted += 1
            if intent.shares <= 0:
                raise SimulationError(f"order {coid}: shares must be > 0, got {intent.shares}")
            if intent.timing in (Timing.NEXT_OPEN, Timing.STOP):
                if intent.replaces is not None:
                    out.extend(
                        self._end(
                            intent.replaces, "REPLACED", f"replaced by {coid}", intent.session, Phase.CLOSE
                        )
                    )
                self._resting[coid] = intent
                continue
            events = self._fill_now(intent)
            self._done[coid] = (intent.session, events)
            out.extend(events)
        return out

    def cancel(self, client_order_ids: Sequence[str]) -> list[BrokerEvent]:
        out: list[BrokerEvent] = []
        for coid in client_order_ids:
            if coid in self._resting:
                out.extend(self._end(coid, "CANCELLED", "cancelled by the engine", self._today, Phase.CLOSE))
            elif coid in self._done:  # cancelled before: the same answer again
                out.extend(e for e in self._done[coid][1] if isinstance(e, Cancelled))
        return out

    def events(self, session: dt.date, phase: Phase) -> list[BrokerEvent]:
        key = (session, phase)
        if key in self._phases:
            self._today = session
            return list(self._phases[key])
        t = self._session_row(session)
        if phase is Phase.OPEN:
            self._forget_before(session)  # before moving on: it keeps the previous session's answers
        self._today = session
        if phase is Phase.OPEN:
            events = self._match_open(t, session)
        elif phase is Phase.INTRADAY:
            events = self._match_stops(t, session)
        else:
            events = []  # close orders are filled when submitted
        self._phases[key] = events
        return list(events)

    # ------------------------------------------------------------------ matching
    def _match_open(self, t: int, session: dt.date) -> list[BrokerEvent]:
        p = self.panel
        out: list[BrokerEvent] = []
        for intent in sorted(
            (i for i in self._resting.values() if i.timing is Timing.NEXT_OPEN), key=_priority
        ):
            col = p.symbol_index(intent.symbol)
            if not p.available[t, col]:
                if intent.side == "buy":
                    out.extend(self._end(intent.client_order_id, "NO_BAR", "no bar at the open", session))
                continue  # an exit waits for the symbol's next bar
            raw = float(p.open[t, col])
            out.extend(self._execute(intent, session, Phase.OPEN, raw))
        return out

    def _match_stops(self, t: int, session: dt.date) -> list[BrokerEvent]:
        p = self.panel
        out: list[BrokerEvent] = []
        for intent in sorted((i for i in self._resting.values() if i.timing is Timing.STOP), key=_priority):
            col = p.symbol_index(intent.symbol)
            if not p.available[t, col]:
                continue
            level = intent.stop_price
            if level is None:
                raise SimulationError(f"stop order {intent.client_order_id} has no stop_price")
            if float(p.low[t, col]) <= level:
                raw = min(float(p.open[t, col]), level)
                out.extend(self._execute(intent, session, Phase.INTRADAY, raw))
        return out

    def _fill_now(self, intent: OrderIntent) -> list[BrokerEvent]:
        t = self._session_row(intent.session)
        col = self.panel.symbol_index(intent.symbol)
        if not self.panel.available[t, col]:
            return [self._cancelled(intent, intent.session, Phase.CLOSE, "NO_BAR", "no bar at the close")]
        if intent.timing is Timing.PRICE:
            if intent.price is None:
                raise SimulationError(f"order {intent.client_order_id} at a price has no price")
            raw = intent.price
        else:
            raw = float(self.panel.close[t, col])
        return self._execute(intent, intent.session, Phase.CLOSE, raw, resting=False)

    def _execute(
        self, intent: OrderIntent, session: dt.date, phase: Phase, raw: float, *, resting: bool = True
    ) -> list[BrokerEvent]:
        """Fill ``intent`` at ``raw`` (before slippage); a buy gets what cash allows."""
        coid = intent.client_order_id
        if intent.side == "buy":
            price = buy_price(raw, self.slip)
            shares = affordable_shares(intent.shares, price, self._cash, self.settings)
            if shares <= 0:
                return self._end(coid, "NO_CASH", "cash allows 0 shares", session, phase, intent=intent)
            fee = commission_for(shares, self.settings)
            self._cash = cash_after_buy(self._cash, shares, price, fee)
            self._held[intent.symbol] = self._held.get(intent.symbol, 0) + shares
        else:
            shares = intent.shares
            held = self._held.get(intent.symbol, 0)
            if shares > held:
                raise SimulationError(
                    f"order {coid} sells {shares} {intent.symbol} but the account holds {held}"
                )
            price = sell_price(raw, self.slip)
            fee = commission_for(shares, self.settings)
            self._cash = cash_after_sell(self._cash, shares, price, fee)
            self._held[intent.symbol] = held - shares
        fill = Fill(
            client_order_id=coid,
            fill_id=f"{coid}/1",
            session=session,
            phase=phase,
            sleeve=intent.sleeve,
            symbol=intent.symbol,
            side=intent.side,
            shares=shares,
            price=price,
            commission=fee,
            reason=intent.reason,
            reference_price=raw,
        )
        if resting:
            self._resting.pop(coid, None)
            self._done[coid] = (intent.session, [fill])
        return [fill]

    def _end(
        self,
        coid: str,
        code: str,
        message: str,
        session: dt.date | None = None,
        phase: Phase = Phase.OPEN,
        *,
        intent: OrderIntent | None = None,
    ) -> list[BrokerEvent]:
        """End a resting order (or a just-submitted ``intent``) with a :class:`Cancelled`."""
        order = self._resting.pop(coid, None) or intent
        if order is None:
            return []
        event = self._cancelled(order, session or order.session, phase, code, message)
        if intent is None or coid not in self._done:
            self._done[coid] = (event.session, [event])
        return [event]

    @staticmethod
    def _cancelled(intent: OrderIntent, session: dt.date, phase: Phase, code: str, message: str) -> Cancelled:
        return Cancelled(intent.client_order_id, session, phase, intent.sleeve, intent.symbol, code, message)

    def _session_row(self, session: dt.date) -> int:
        row = self._row.get(session)
        if row is None:
            raise SimulationError(
                f"the simulated broker has no bars for session {session}; load data covering it"
            )
        return row

    def _forget_before(self, session: dt.date) -> None:
        """Drop the memory of orders and phases of sessions before the previous one.

        A re-run after a crash repeats only the session being processed, so older answers are never
        asked for again; keeping the previous session too is a margin.
        """
        cutoff = self._today if self._today is not None and self._today < session else session
        self._done = {k: v for k, v in self._done.items() if v[0] >= cutoff}
        self._phases = {k: v for k, v in self._phases.items() if k[0] >= cutoff}

    # ------------------------------------------------------------------ state
    def to_dict(self) -> dict[str, Any]:
        """The broker's whole state as plain JSON-able data (floats exact through ``json``)."""
        return {
            "version": STATE_VERSION,
            "cash": self._cash,
            "held": dict(self._held),
            "resting": [i.to_dict() for i in self._resting.values()],
            "done": {
                coid: {"session": d.isoformat(), "events": [e.to_dict() for e in ev]}
                for coid, (d, ev) in self._done.items()
            },
            "phases": [
                {"session": d.isoformat(), "phase": str(ph), "events": [e.to_dict() for e in ev]}
                for (d, ph), ev in self._phases.items()
            ],
            "accepted": self.accepted,
            "today": None if self._today is None else self._today.isoformat(),
            "scales": self._scales(),
        }

    def _scales(self) -> dict[str, list[Any]]:
        """The price scale of every symbol held or ordered, at the last session seen (see ``splits``)."""
        if self._today is None:
            return {}
        t = self._session_row(self._today)
        symbols = {s for s, q in self._held.items() if q} | {i.symbol for i in self._resting.values()}
        out: dict[str, list[Any]] = {}
        for symbol in sorted(symbols):
            found = price_factor(self.panel, self.panel.symbol_index(symbol), t)
            if found is not None:
                out[symbol] = [_iso(self.panel.sessions[found[0]]), found[1]]
        return out

    def _apply_splits(self, saved: Mapping[str, Any]) -> None:
        """Apply the splits between the saved scales and this panel's (shares, order sizes and levels)."""
        ratios = changed_scales(saved, self.panel, lambda day: self._session_row(dt.date.fromisoformat(day)))
        for symbol, ratio in sorted(ratios.items()):
            held, fraction = split_shares(self._held.get(symbol, 0), ratio)
            if fraction:
                row = self._session_row(dt.date.fromisoformat(saved[symbol][0]))
                self._cash = self._cash + fraction * float(
                    self.panel.close[row, self.panel.symbol_index(symbol)]
                )
            self._held[symbol] = held
            for coid, order in list(self._resting.items()):
                if order.symbol == symbol:
                    self._resting[coid] = replace(
                        order,
                        shares=max(1, split_shares(order.shares, ratio)[0]),
                        stop_price=None if order.stop_price is None else order.stop_price / ratio,
                        price=None if order.price is None else order.price / ratio,
                    )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], panel: Panel, settings: PortfolioSettings) -> SimulatedBroker:
        """Rebuild a broker saved by :meth:`to_dict` over ``panel``."""
        if data.get("version") != STATE_VERSION:
            raise SimulationError(
                f"simulated broker state version {data.get('version')!r} is not {STATE_VERSION}; "
                "this account was written by another version of trading-playbook"
            )
        broker = cls(panel, settings, cash=float(data["cash"]))
        broker._held = {str(k): int(v) for k, v in data["held"].items()}
        for item in data["resting"]:
            intent = OrderIntent.from_dict(item)
            broker._resting[intent.client_order_id] = intent
        broker._done = {
            coid: (dt.date.fromisoformat(v["session"]), [event_from_dict(e) for e in v["events"]])
            for coid, v in data["done"].items()
        }
        broker._phases = {
            (dt.date.fromisoformat(v["session"]), Phase(v["phase"])): [
                event_from_dict(e) for e in v["events"]
            ]
            for v in data["phases"]
        }
        broker.accepted = int(data["accepted"])
        today = data.get("today")
        broker._today = None if today is None else dt.date.fromisoformat(today)
        broker._apply_splits(data.get("scales", {}))
        return broker


def _priority(intent: OrderIntent) -> tuple[int, ...]:
    return intent.priority


def _iso(value: Any) -> str:
    return str(np.datetime64(value, "D"))
