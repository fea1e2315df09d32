"""The reference engine: one event-driven engine for backtests, replays and paper accounts.

RULES sections 4, 6 and 8, one session at a time. Each session is a conversation with a broker
(:mod:`trading_playbook.core.broker` describes the phases): fills of earlier orders come in, positions
and trails are updated, close rules and the scanner decide, the engine emits order intents, and the
broker fills them. Nothing in this module prices a fill: with the pure
:class:`~trading_playbook.core.simulate.sim_broker.SimulatedBroker` (fills as RULES says, arithmetic in
:mod:`~trading_playbook.core.simulate.fills`) the engine *is* the reference engine, and
:func:`run_reference` runs it over a backtest window. The portfolio state is a plain value
(:mod:`~trading_playbook.core.simulate.state`), so a paper account saves it after every session and
resumes from it with a longer panel.

The engine calls the components through their protocols, so it also runs scanners, exits and sizers
that users write in Python. The numba engine (``_kernels``) must give identical trades and equity;
this docstring is the arithmetic contract it mirrors.

Arithmetic contract (float64 throughout, evaluated exactly in this order)
-------------------------------------------------------------------------
``s = slippage_bps / 10_000.0``; ``commission(q) = max(min, per_order + per_share * q)`` for
``q > 0``, else 0 (:func:`~trading_playbook.core.simulate.settings.commission_for`).

Fills
  entry fill price ``= price * (1.0 + s)``, exit fill price ``= price * (1.0 - s)``, where ``price`` is
  ``open_t`` (next_open fills), ``close_t`` (close fills), ``min(open_t, level)`` (resting stops), or
  a ``check_exit`` exit_price.
Entry cash check (at the fill, each entry against the cash the earlier ones left)
  ``if q * fill + commission(q) > cash: q = max(0, floor((cash - per_order) / (fill + per_share)))``,
  then while ``q > 0`` and ``q * fill + commission(q) > cash``: ``q -= 1`` (only a commission minimum
  can make this loop run). ``q == 0``: no trade. At the next open the slot was used that evening;
  an entry at the close (``entry_fill = "close"``) is decided with the cash known, so it takes no slot
  and the next-ranked setup is tried (RULES 8, decided 2026-12-01).
Cash
  entry: ``cash = cash - (q * fill + commission(q))``; exit fill: ``cash = cash + (q * fill - commission(q))``.
Position
  ``entry_price = fill``; ``initial_stop = entry_price * (1.0 - hard_stop)``;
  ``entry_value = original_shares * entry_price``; ``exit_value`` and ``commission`` accumulate
  ``q * fill`` and ``commission(q)`` in fill order (``commission`` starts at the entry commission).
Trade
  ``pnl = (exit_value - entry_value) - commission``; ``exit_price = exit_value / original_shares``;
  ``pnl_pct = pnl / entry_value``; ``r_multiple = (pnl / original_shares) / (entry_price - initial_stop)``;
  ``mfe = max_high / entry_price - 1.0``; ``mae = min_low / entry_price - 1.0`` over the full bars of
  the entry session through the exit session.
Marking
  ``equity = cash + sum(held_shares * last_close)``, summed sleeve by sleeve, positions in the order
  they were opened; ``exposure = market_value / equity``.
Sizing (per sleeve k, from the equity and cash marked at step 4, before any entry of that evening)
  ``SizingContext(equity * weight_k, cash * weight_k, max_positions_k, starting_capital * weight_k)``;
  shares per :mod:`~trading_playbook.core.sizing`.
Sleeve attribution
  ``sleeve_equity[k] = weight_k * starting_capital + (realised_k + unrealised_k)``, realised = sum of
  closed trades' pnl (in close order), unrealised per open position
  ``(exit_value + held_shares * last_close - entry_value) - commission``.

Order of events in session t (sleeves in config order; positions in the order they were opened)
-----------------------------------------------------------------------------------------------
1. OPEN: the broker fills pending exits (every sleeve) at ``open_t`` for symbols with a bar; then
   pending entries, sleeve by sleeve in ranking order (no bar at t: the entry is cancelled). The
   resting stop of each position filled this morning is placed.
2. INTRADAY: resting stops of every position with a bar at t (placed the evening before, or this
   morning): ``low_t <= level`` exits at ``min(open_t, level)``.
3. Close rules of every position with a bar at t; the orders fill at ``close_t`` (``exit_fill =
   "close"``) or are queued for the symbol's next open. At ``end`` (END_OF_TEST), on the last member
   day of a point-in-time universe with policy ``exit`` (UNIVERSE_EXIT: the symbol is not a member on
   the next session) or on the symbol's last bar before ``end`` (END_OF_DATA), in that order of
   precedence, orders decided for the next open become the forced exit, and what remains is sold at
   ``close_t`` with that reason.
4. Mark; the equity and cash used for sizing this evening.
5. Scan (not at ``end``): per sleeve, free slots = ``max_positions`` - open positions (pending exits
   included) - pending entries; with a universe only the setups of symbols eligible at t (a member
   at t; under policy ``exit`` also at t+1); setups ranked by ``Setup.rank_key``; symbols held or pending in that
   sleeve skipped; a setup sized to 0 takes no slot. ``entry_fill = "close"`` fills each at ``close_t``
   as it is reached in rank order (sleeve by sleeve); one that cash allows 0 shares takes no slot;
   such a position on its symbol's last bar before ``end`` is sold at the same close, END_OF_DATA.
6. Record the equity row (after every fill of the session).
7. EVENING (not at ``end``): each position's resting stop for the next session is placed, replaced
   (level or shares changed) or cancelled (a full exit queued for the next open).

Scanners
--------
A scanner with a vectorised ``scan(panel) -> SetupTable`` is called once on the panel cut after
``end`` and the rows of session t are taken (its test proves it equals the per-date protocol, and the
scanner is lookahead-free); otherwise ``scan_for_setups(date, panel.truncate(t))`` is called each
session. Trades are returned ordered by entry session, then symbol, then sleeve.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from trading_playbook.core.broker import (
    Broker,
    BrokerEvent,
    Cancelled,
    Fill,
    OrderIntent,
    Phase,
    Side,
    Timing,
    client_order_id,
)
from trading_playbook.core.errors import SimulationError
from trading_playbook.core.exits.rules import BarView, ExitOrder
from trading_playbook.core.panel import Panel
from trading_playbook.core.simulate.fills import affordable_shares, cash_after_buy, cash_after_sell
from trading_playbook.core.simulate.market import Market, build_market
from trading_playbook.core.simulate.records import SessionLog, equity_curve, trade_of
from trading_playbook.core.simulate.settings import PortfolioSettings, SleeveSpec, check_run
from trading_playbook.core.simulate.sim_broker import SimulatedBroker
from trading_playbook.core.simulate.splits import SplitApplied, apply_saved_splits, price_factor
from trading_playbook.core.simulate.state import (
    PendingEntry,
    PendingExit,
    PortfolioState,
    PositionState,
    RestingStop,
    new_state,
    state_from_dict,
    state_to_dict,
)
from trading_playbook.core.sizing import SizingContext
from trading_playbook.core.types import EquityCurve, Setup, Trade

__all__ = ["EventEngine", "SessionLog", "affordable_shares", "equity_curve", "run_reference"]


_FORCED_LEGS = {"END_OF_TEST": "eot", "END_OF_DATA": "eod", "UNIVERSE_EXIT": "uexit"}


class EventEngine:
    """The session loop over a :class:`Market`, trading through a :class:`Broker`.

    Parameters
    ----------
    market
        Bars, indicators and the sleeves' components (:func:`~.market.build_market`).
    settings
        Fill modes and costs (the broker prices fills; the engine needs ``entry_fill``/``exit_fill``
        and ``starting_capital``).
    broker
        Fills the intents (the simulated broker, or a live adapter).
    state
        The portfolio to continue (:func:`~.state.new_state` for a new account).
    end
        Row of the last session of a backtest or replay (END_OF_TEST, no scan); None for an account
        that goes on.
    decisions
        Keep a decision log of every setup seen (paper accounts; off for speed in backtests).
    """

    def __init__(
        self,
        market: Market,
        settings: PortfolioSettings,
        broker: Broker,
        state: PortfolioState,
        *,
        end: int | None = None,
        decisions: bool = False,
    ) -> None:
        names = tuple(rt.spec.name for rt in market.sleeves)
        if state.sleeves != names:
            raise SimulationError(
                f"the account's sleeves {list(state.sleeves)} are not the config's {list(names)}"
            )
        self.market = market
        self.panel = market.panel
        self.sleeves = market.sleeves
        self.settings = settings
        self.broker = broker
        self.state = state
        self.end = end
        self.log_decisions = decisions
        self.account = state.account
        self._orders: dict[str, tuple[str, Any]] = {}
        self._created: list[PositionState] = []
        self._cancels: list[str] = []
        self._coid_heads: dict[tuple[int, str], list[str]] = {}
        self._log = SessionLog(-1, dt.date.min)
        self.splits: list[SplitApplied] = []
        for group in state.entries:
            for entry in group:
                self._orders[entry.client_order_id] = ("entry", entry)
        for pos in state.open_positions():
            for pending in pos.pending:
                self._orders[pending.client_order_id] = ("exit", pos)
            if pos.stop is not None:
                self._orders[pos.stop.client_order_id] = ("stop", pos)

    @classmethod
    def restore(
        cls,
        market: Market,
        settings: PortfolioSettings,
        broker: Broker,
        data: Mapping[str, Any],
        *,
        end: int | None = None,
        decisions: bool = False,
    ) -> EventEngine:
        """An engine continuing a state saved with :meth:`save` (sessions looked up in ``market``).

        When ``market``'s prices of a held symbol are on another scale than when the state was saved
        (a split arrived with the new data), the split is applied to the state first
        (:mod:`~.splits`); ``engine.splits`` lists what was applied.
        """
        rescaled, applied = apply_saved_splits(
            data, market.panel, lambda day: market.session_index(dt.date.fromisoformat(day))
        )
        state = state_from_dict(
            rescaled, session_index=market.session_index, symbol_index=market.panel.symbol_index
        )
        engine = cls(market, settings, broker, state, end=end, decisions=decisions)
        engine.splits = applied
        return engine

    def save(self) -> dict[str, Any]:
        """The portfolio state as JSON-able data (:func:`~.state.state_to_dict`), with the price scale
        (``scales``: symbol -> [date, raw close / adjusted close]) of every symbol it holds or orders."""
        data = state_to_dict(self.state, self.market.dates)
        last = self.state.last_session
        if last is not None:
            symbols = {p.symbol for p in self.state.open_positions()}
            symbols |= {e.symbol for group in self.state.entries for e in group}
            scales = {}
            for symbol in sorted(symbols):
                found = price_factor(self.panel, self.panel.symbol_index(symbol), last)
                if found is not None:
                    scales[symbol] = [self.market.iso[found[0]], found[1]]
            data["scales"] = scales
        return data

    # ------------------------------------------------------------------ the session
    def run_session(self, t: int) -> SessionLog:
        """Process session row ``t`` (after ``state.last_session``); returns what happened."""
        last = self.state.last_session
        if last is not None and t <= last:
            raise SimulationError(
                f"session {self.market.dates[t]} was already processed (the account is at "
                f"{self.market.dates[last]}); sessions run forward only"
            )
        if self.end is not None and t > self.end:
            raise SimulationError(f"session {self.market.dates[t]} is after the run's last session")
        self._log = log = SessionLog(t, self.market.dates[t])
        self._open(t)
        self._intraday(t)
        self._close(t)
        equity = self._mark()
        if self.end is None or t < self.end:
            self._scan(t, equity, self.state.cash)
            self._evening(t)
        self._record(log)
        self.state.last_session = t
        return log

    # ------------------------------------------------------------------ broker traffic
    def _submit(self, intents: list[OrderIntent], t: int) -> list[BrokerEvent]:
        self._log.intents.extend(intents)
        events = self.broker.submit(intents)
        for event in events:
            self._apply(event, t)
        self._flush_cancels()
        return events

    def _flush_cancels(self) -> None:
        if self._cancels:
            cancels, self._cancels = self._cancels, []
            self._log.cancels.extend(cancels)
            self._log.events.extend(self.broker.cancel(cancels))

    def _intent(
        self,
        k: int,
        symbol: str,
        t: int,
        leg: str,
        side: Side,
        shares: int,
        timing: Timing,
        reason: str,
        priority: tuple[int, ...],
        *,
        stop_price: float | None = None,
        price: float | None = None,
        replaces: str | None = None,
        stop_fraction: float | None = None,
    ) -> OrderIntent:
        sleeve = self.state.sleeves[k]
        key = (k, symbol)
        head = self._coid_heads.get(key)
        if head is None:  # the sanitised parts of client_order_id, computed once per (sleeve, symbol)
            head = self._coid_heads[key] = client_order_id(self.account, "{}", sleeve, symbol, "").split("{}")
        return OrderIntent(
            client_order_id=f"{head[0]}{self.market.iso[t]}{head[1]}{leg}",
            session=self.market.dates[t],
            sleeve=sleeve,
            symbol=symbol,
            leg=leg,
            side=side,
            shares=shares,
            timing=timing,
            reason=reason,
            stop_price=stop_price,
            price=price,
            replaces=replaces,
            stop_fraction=stop_fraction,
            priority=priority,
        )

    def _apply(self, event: BrokerEvent, t: int) -> None:
        """Book one broker event into the state."""
        self._log.events.append(event)
        kind, target = self._orders.pop(event.client_order_id, ("", None))
        if isinstance(event, Cancelled):
            if kind == "entry":
                self.state.entries[target.sleeve].remove(target)
            elif kind == "exit":
                self._exit_cancelled(target, event.client_order_id)
            return
        if kind == "entry":
            self.state.entries[target.sleeve].remove(target)
            self._created.append(self._open_position(target, t, event))
        elif kind == "exit":
            pos: PositionState = target
            if event.phase is Phase.OPEN:
                self._see(pos, t)
            pos.pending = [x for x in pos.pending if x.client_order_id != event.client_order_id]
            self._sell(pos, t, event)
        elif kind == "stop":
            pos = target
            pos.stop = None
            pos.exit.remaining = max(0, pos.exit.remaining - event.shares)
            self._sell(pos, t, event)
        else:
            raise SimulationError(
                f"the broker reported a fill for order {event.client_order_id}, which this account "
                "does not know; reconcile the account with the broker"
            )

    def _exit_cancelled(self, pos: PositionState, coid: str) -> None:
        """A queued exit the broker did not fill: the shares are the position's again."""
        for pending in pos.pending:
            if pending.client_order_id == coid:
                pos.pending.remove(pending)
                pos.exit.remaining += pending.shares
                return

    # ------------------------------------------------------------------ fills into the book
    def _open_position(self, entry: PendingEntry, t: int, fill: Fill) -> PositionState:
        state = self.state
        state.cash = cash_after_buy(state.cash, fill.shares, fill.price, fill.commission)
        exit_state = self.sleeves[entry.sleeve].exit.open_position(
            fill.price, fill.shares, t, symbol=entry.symbol, entry_date=self.market.dates[t]
        )
        pos = PositionState(
            seq=state.next_seq,
            sleeve=entry.sleeve,
            symbol=entry.symbol,
            col=entry.col,
            entry_session=t,
            entry_price=fill.price,
            original_shares=fill.shares,
            held=fill.shares,
            exit=exit_state,
            commission=fill.commission,
            last_close=float("nan"),
            max_high=-float("inf"),
            min_low=float("inf"),
        )
        state.next_seq += 1
        state.positions[entry.sleeve].append(pos)
        return pos

    def _sell(self, pos: PositionState, t: int, fill: Fill) -> None:
        """One exit fill; the position closes when nothing is held."""
        if fill.shares <= 0:
            return
        state = self.state
        state.cash = cash_after_sell(state.cash, fill.shares, fill.price, fill.commission)
        pos.exit_value += fill.shares * fill.price
        pos.commission += fill.commission
        pos.held -= fill.shares
        pos.fills.append((t, fill.shares, fill.price, fill.reason))
        if pos.held == 0:
            self._close_position(pos)

    def _close_position(self, pos: PositionState) -> None:
        state = self.state
        state.positions[pos.sleeve].remove(pos)
        if pos.stop is not None:
            self._orders.pop(pos.stop.client_order_id, None)
            self._cancels.append(pos.stop.client_order_id)
            pos.stop = None
        trade = trade_of(pos, self.market.dates, state.sleeves[pos.sleeve])
        state.realised[pos.sleeve] += trade.pnl
        self._log.trades.append(((pos.entry_session, pos.symbol, pos.sleeve), trade))

    def _see(self, pos: PositionState, t: int) -> None:
        p = self.panel
        pos.see_bar(float(p.high[t, pos.col]), float(p.low[t, pos.col]))

    # ------------------------------------------------------------------ 1. open, 2. intraday
    def _open(self, t: int) -> None:
        self._created = []
        for event in self.broker.events(self.market.dates[t], Phase.OPEN):
            self._apply(event, t)
        self._flush_cancels()
        stops = [self._first_stop(pos, t) for pos in self._created]
        self._submit([s for s in stops if s is not None], t)
        avail = self.panel.available
        for group in self.state.positions:
            for pos in group:
                if avail[t, pos.col]:
                    self._see(pos, t)

    def _first_stop(self, pos: PositionState, t: int) -> OrderIntent | None:
        stop = self.sleeves[pos.sleeve].exit.resting_stop(pos.exit, t)
        if stop is None:
            return None
        return self._stop_intent(pos, t, "stop-open", stop[0], stop[1], pos.held)

    def _stop_intent(
        self, pos: PositionState, t: int, leg: str, level: float, reason: str, shares: int
    ) -> OrderIntent:
        previous = pos.stop
        intent = self._intent(
            pos.sleeve, pos.symbol, t, leg, "sell", shares, Timing.STOP, reason, (0, pos.sleeve, pos.seq, 0),
            stop_price=level,
            replaces=None if previous is None else previous.client_order_id,
        )  # fmt: skip
        if previous is not None:
            self._orders.pop(previous.client_order_id, None)
        pos.stop = RestingStop(intent.client_order_id, level, shares, reason)
        self._orders[intent.client_order_id] = ("stop", pos)
        return intent

    def _intraday(self, t: int) -> None:
        for event in self.broker.events(self.market.dates[t], Phase.INTRADAY):
            self._apply(event, t)
        self._flush_cancels()

    # ------------------------------------------------------------------ 3. close rules
    def _close(self, t: int) -> None:
        avail = self.panel.available
        intents: list[OrderIntent] = []
        for k, runtime in enumerate(self.sleeves):
            for pos in self.state.positions[k]:
                if pos.pending or not avail[t, pos.col]:
                    continue
                bar = self.market.bar(t, pos.col)
                pos.last_close = bar.close
                orders = runtime.exit.on_close(pos.exit, bar)
                if orders or self._forced_reason(t, pos.col):
                    intents.extend(self._close_intents(k, pos, t, orders))
        if intents:
            self._submit(intents, t)

    def _forced_reason(self, t: int, col: int) -> str:
        if t == self.end:
            return "END_OF_TEST"
        if self.market.leaving is not None and self.market.leaving[t, col]:
            return "UNIVERSE_EXIT"
        if self.market.last_bar is not None and t == self.market.last_bar[col]:
            return "END_OF_DATA"
        return ""

    def _close_intents(
        self, k: int, pos: PositionState, t: int, orders: list[ExitOrder]
    ) -> list[OrderIntent]:
        forced = self._forced_reason(t, pos.col)
        full = len(orders) == 1 and pos.exit.remaining == 0
        out: list[OrderIntent] = []
        committed = 0
        for i, order in enumerate(orders):
            if order.shares <= 0:
                continue  # a 0-share partial counts as taken but sells nothing
            if order.price is not None:
                timing = Timing.PRICE
            elif self.settings.exit_fill == "close":
                timing = Timing.CLOSE
            elif forced:
                continue  # an exit decided for the next open becomes the forced exit
            else:
                timing = Timing.NEXT_OPEN
            leg = "exit" if full else f"part{i + 1}"
            intent = self._intent(
                k, pos.symbol, t, leg, "sell", order.shares, timing, order.reason, (0, k, pos.seq, i),
                price=order.price,
            )  # fmt: skip
            self._orders[intent.client_order_id] = ("exit", pos)
            if timing is Timing.NEXT_OPEN:
                pos.pending.append(PendingExit(intent.client_order_id, order.shares, order.reason))
            else:
                committed += order.shares
            out.append(intent)
        rest = pos.held - committed
        if forced and rest > 0:
            pos.exit.remaining = 0
            leg = _FORCED_LEGS[forced]
            intent = self._intent(
                k, pos.symbol, t, leg, "sell", rest, Timing.CLOSE, forced, (0, k, pos.seq, len(orders))
            )
            self._orders[intent.client_order_id] = ("exit", pos)
            out.append(intent)
        return out

    # ------------------------------------------------------------------ 4. mark
    def _mark(self) -> float:
        value = 0.0
        for group in self.state.positions:
            for pos in group:
                value += pos.held * pos.last_close
        return self.state.cash + value

    # ------------------------------------------------------------------ 5. scan
    def _scan(self, t: int, equity: float, cash: float) -> None:
        for k, runtime in enumerate(self.sleeves):
            spec = runtime.spec
            positions, entries = self.state.positions[k], self.state.entries[k]
            free = spec.max_positions - len(positions) - len(entries)
            if free <= 0 and not self.log_decisions:
                continue
            held = {pos.symbol for pos in positions} | {e.symbol for e in entries}
            setups = sorted(runtime.setups_at(t), key=Setup.rank_key)
            queued: list[OrderIntent] = []
            for rank, setup in enumerate(setups):
                if setup.symbol in held:
                    self._decide(k, rank, setup, 0, "held")
                    continue
                if free <= 0:
                    if not self.log_decisions:
                        break
                    self._decide(k, rank, setup, 0, "no_slot")
                    continue
                col = self.panel.symbol_index(setup.symbol)
                context = SizingContext(
                    equity=equity * spec.weight,
                    cash=cash * spec.weight,
                    max_positions=spec.max_positions,
                    starting_capital=self.settings.starting_capital * spec.weight,
                    atr={n: float(a[t, col]) for n, a in self.market.atr.items()},
                )
                shares = int(runtime.sizer.size(setup, context))
                if shares <= 0:
                    self._decide(k, rank, setup, 0, "sized_zero")
                    continue
                if self.settings.entry_fill == "next_open":
                    queued.append(self._queue_entry(k, t, setup.symbol, col, shares, len(queued)))
                    outcome = "queued"
                else:
                    outcome = self._enter_at_close(k, t, setup.symbol, col, shares)
                    if outcome == "no_cash":
                        self._decide(k, rank, setup, shares, outcome)
                        continue  # cash allows 0 shares at this close: no slot taken
                self._decide(k, rank, setup, shares, outcome)
                held.add(setup.symbol)
                free -= 1
            if queued:
                self._submit(queued, t)

    def _decide(self, k: int, rank: int, setup: Setup, shares: int, outcome: str) -> None:
        if self.log_decisions:
            self._log.decisions.append(
                {
                    "sleeve": self.state.sleeves[k],
                    "rank": rank + 1,
                    "symbol": setup.symbol,
                    "score": setup.score,
                    "volume_ratio": setup.volume_ratio,
                    "reference_price": setup.reference_price,
                    "shares": shares,
                    "outcome": outcome,
                }
            )

    def _entry_intent(
        self, k: int, t: int, symbol: str, col: int, shares: int, timing: Timing, order: int
    ) -> OrderIntent:
        intent = self._intent(
            k, symbol, t, "entry", "buy", shares, timing, "ENTRY", (1, k, order, 0),
            stop_fraction=self.sleeves[k].stop_fraction,
        )  # fmt: skip
        entry = PendingEntry(intent.client_order_id, k, symbol, col, shares)
        self._orders[intent.client_order_id] = ("entry", entry)
        self.state.entries[k].append(entry)
        return intent

    def _queue_entry(self, k: int, t: int, symbol: str, col: int, shares: int, order: int) -> OrderIntent:
        return self._entry_intent(k, t, symbol, col, shares, Timing.NEXT_OPEN, order)

    def _enter_at_close(self, k: int, t: int, symbol: str, col: int, shares: int) -> str:
        """Fill an entry at this close; ``no_cash`` when cash allows 0 shares (the slot stays free)."""
        if not self.panel.available[t, col]:
            return "no_bar"  # a setup on a symbol without a bar: no order, its slot was used
        intent = self._entry_intent(k, t, symbol, col, shares, Timing.CLOSE, 0)
        self._created = []
        events = self._submit([intent], t)
        if not self._created:
            ended = [e for e in events if isinstance(e, Cancelled)]
            return "no_cash" if ended and ended[0].code == "NO_CASH" else "no_bar"
        pos = self._created[0]
        bar: BarView = self.market.bar(t, col)
        pos.last_close = bar.close
        pos.see_bar(bar.high, bar.low)
        self.sleeves[k].exit.after_entry_at_close(pos.exit, bar)
        if self.market.last_bar is not None and t == self.market.last_bar[col]:
            pos.exit.remaining = 0
            sale = self._intent(
                k, symbol, t, "eod-new", "sell", pos.held, Timing.CLOSE, "END_OF_DATA", (0, k, pos.seq, 0)
            )
            self._orders[sale.client_order_id] = ("exit", pos)
            self._submit([sale], t)
        return "entered"

    # ------------------------------------------------------------------ 7. evening stops
    def _evening(self, t: int) -> None:
        intents: list[OrderIntent] = []
        for k, runtime in enumerate(self.sleeves):
            for pos in self.state.positions[k]:
                shares = pos.held - sum(x.shares for x in pos.pending) if pos.pending else pos.held
                stop = runtime.exit.resting_stop(pos.exit, t + 1) if shares > 0 else None
                current = pos.stop
                if stop is None:
                    if current is not None:
                        self._orders.pop(current.client_order_id, None)
                        self._cancels.append(current.client_order_id)
                        pos.stop = None
                    continue
                level, reason = stop
                if (
                    current is not None
                    and current.level == level
                    and current.shares == shares
                    and current.reason == reason
                ):
                    continue
                intents.append(self._stop_intent(pos, t, "stop", level, reason, shares))
        self._flush_cancels()
        if intents:
            self._submit(intents, t)

    # ------------------------------------------------------------------ 6. record
    def _record(self, log: SessionLog) -> None:
        value = 0.0
        count = 0
        state = self.state
        unrealised = [0.0] * len(state.sleeves)
        for k, group in enumerate(state.positions):
            for pos in group:
                market = pos.held * pos.last_close
                value += market
                count += 1
                unrealised[k] += (pos.exit_value + market - pos.entry_value) - pos.commission
        equity = state.cash + value
        exposure = value / equity if equity != 0.0 else 0.0
        log.row = (equity, state.cash, count, exposure)
        capital = self.settings.starting_capital
        log.sleeve_equity = [
            rt.spec.weight * capital + (realised + u)
            for rt, realised, u in zip(self.sleeves, state.realised, unrealised, strict=True)
        ]


# ---------------------------------------------------------------------------------------- entry point
def run_reference(
    panel: Panel, sleeves: Sequence[SleeveSpec], settings: PortfolioSettings, *, start: int, end: int
) -> tuple[list[Trade], EquityCurve]:
    """Simulate ``sleeves`` over the sessions ``start..end`` (inclusive indices of ``panel``).

    The event-driven engine with a :class:`SimulatedBroker`. Sessions before ``start`` are indicator
    warm-up: nothing trades there. Returns the trades (ordered by entry session, symbol, sleeve) and
    one equity row per session ``start..end``.
    """
    check_run(sleeves, panel.n_sessions, start, end)
    cut = panel.truncate(end)
    market = build_market(cut, sleeves)
    names = [s.name for s in sleeves]
    engine = EventEngine(
        market,
        settings,
        SimulatedBroker(cut, settings),
        new_state("backtest", settings.starting_capital, names),
        end=end,
    )
    logs = [engine.run_session(t) for t in range(start, end + 1)]
    leftover = [pos.symbol for pos in engine.state.open_positions()]
    if leftover:  # pragma: no cover - END_OF_TEST closes everything; this guards the invariant
        raise SimulationError(f"positions left open after the last session: {leftover}")
    keyed = [item for log in logs for item in log.trades]
    trades = [trade for _, trade in sorted(keyed, key=lambda item: item[0])]
    return trades, equity_curve(panel, start, end, logs, names)
