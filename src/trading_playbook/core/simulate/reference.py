"""The reference engine: a plain-Python, event-driven portfolio simulation (RULES sections 4, 6, 8).

It walks the sessions ``start..end`` one at a time and calls the components through their
protocols, so it also runs scanners, exits and sizers that users write in Python. The numba engine
(``_kernels``) must give identical trades and equity (relative difference <= 1e-9); this docstring
is the arithmetic contract it mirrors.

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
1. Pending exits (every sleeve) fill at ``open_t`` for symbols with a bar; then pending entries,
   sleeve by sleeve in ranking order (no bar at t: the entry is cancelled).
2. Resting stops of every position with a bar at t (none for positions with an exit still pending):
   ``low_t <= level`` exits at ``min(open_t, level)``.
3. Close rules of every position with a bar at t; the orders fill at ``close_t`` (``exit_fill =
   "close"``) or are queued for the symbol's next open. On the symbol's last bar before ``end``
   (END_OF_DATA) or at ``end`` (END_OF_TEST), orders decided for the next open become the forced
   exit, and what remains is sold at ``close_t`` with that reason.
4. Mark; the equity and cash used for sizing this evening.
5. Scan (not at ``end``): per sleeve, free slots = ``max_positions`` - open positions (pending exits
   included) - pending entries; setups ranked by ``Setup.rank_key``; symbols held or pending in that
   sleeve skipped; a setup sized to 0 takes no slot. ``entry_fill = "close"`` fills each at ``close_t``
   as it is reached in rank order (sleeve by sleeve); one that cash allows 0 shares takes no slot;
   such a position on its symbol's last bar before ``end`` is sold at the same close, END_OF_DATA.
6. Record the equity row (after every fill of the session).

Scanners
--------
A scanner with a vectorised ``scan(panel) -> SetupTable`` is called once on the panel cut after
``end`` and the rows of session t are taken (its test proves it equals the per-date protocol, and the
scanner is lookahead-free); otherwise ``scan_for_setups(date, panel.truncate(t))`` is called each
session. Trades are returned ordered by entry session, then symbol, then sleeve.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np

from trading_playbook.core import indicators
from trading_playbook.core.errors import ConfigError, SimulationError
from trading_playbook.core.exits.protocol import ExitEngine
from trading_playbook.core.exits.rules import BarView, ExitOrder, ExitState
from trading_playbook.core.panel import Panel
from trading_playbook.core.scanners.base import ScannerProtocol, VectorScanner
from trading_playbook.core.simulate.settings import PortfolioSettings, SleeveSpec, check_run, commission_for
from trading_playbook.core.sizing import PositionSizerProtocol, SizingContext
from trading_playbook.core.types import EquityCurve, PartialExit, Setup, SetupTable, Trade

__all__ = ["affordable_shares", "run_reference"]


def affordable_shares(shares: int, fill_price: float, cash: float, settings: PortfolioSettings) -> int:
    """The shares an entry gets at the fill: all of them if cash pays shares plus commission, else
    ``floor((cash - per_order) / (fill + per_share))``, reduced until the commission minimum fits."""
    if shares * fill_price + commission_for(shares, settings) <= cash:
        return shares
    room = (cash - settings.commission_per_order) / (fill_price + settings.commission_per_share)
    q = min(shares, max(0, math.floor(room)))
    while q > 0 and q * fill_price + commission_for(q, settings) > cash:
        q -= 1
    return q


# ---------------------------------------------------------------------------------------- state
@dataclass
class _Position:
    sleeve: int
    symbol: str
    col: int
    entry_session: int
    entry_price: float
    original_shares: int
    held: int
    state: ExitState
    commission: float
    last_close: float
    max_high: float
    min_low: float
    exit_value: float = 0.0
    fills: list[tuple[int, int, float, str]] = field(default_factory=list)  # session, shares, price, reason
    pending: list[ExitOrder] = field(default_factory=list)

    @property
    def entry_value(self) -> float:
        return self.original_shares * self.entry_price

    def see_bar(self, high: float, low: float) -> None:
        self.max_high = max(self.max_high, high)
        self.min_low = min(self.min_low, low)


@dataclass
class _PendingEntry:
    symbol: str
    col: int
    shares: int


@dataclass
class _Sleeve:
    spec: SleeveSpec
    exit: ExitEngine
    sizer: PositionSizerProtocol
    setups_at: Callable[[int], list[Setup]]
    positions: list[_Position] = field(default_factory=list)
    entries: list[_PendingEntry] = field(default_factory=list)
    realised: float = 0.0


# ---------------------------------------------------------------------------------------- engine
class _Simulation:
    def __init__(
        self, panel: Panel, sleeves: Sequence[SleeveSpec], settings: PortfolioSettings, start: int, end: int
    ) -> None:
        self.panel = panel
        self.settings = settings
        self.slip = settings.slippage
        self.start = start
        self.end = end
        self.cash = settings.starting_capital
        self.dates = [_as_date(d) for d in panel.sessions]
        self.sleeves = [self._sleeve(spec, panel, end) for spec in sleeves]
        self._indicators(panel)
        avail = panel.available[: end + 1]
        last = avail.shape[0] - 1 - np.argmax(avail[::-1], axis=0)
        self.last_bar = np.where(avail.any(axis=0), last, -1)
        self.trades: list[tuple[tuple[int, str, int], Trade]] = []
        self.rows: list[tuple[float, float, int, float]] = []
        self.sleeve_rows: list[list[float]] = []

    # -------------------------------------------------------------- setup
    def _sleeve(self, spec: SleeveSpec, panel: Panel, end: int) -> _Sleeve:
        return _Sleeve(
            spec=spec, exit=spec.exit_engine, sizer=spec.sizer, setups_at=_setup_source(spec, panel, end)
        )

    def _indicators(self, panel: Panel) -> None:
        needs: dict[str, set[int]] = {"sma": set(), "ema": set(), "atr": set()}
        for sleeve in self.sleeves:
            for key, periods in sleeve.spec.indicators.items():
                needs[key] |= periods
        p = panel
        self.sma = {n: indicators.sma(p.close, n, p.available) for n in sorted(needs["sma"])}
        self.ema = {n: indicators.ema(p.close, n, p.available) for n in sorted(needs["ema"])}
        self.atr = {n: indicators.atr(p.high, p.low, p.close, p.available, n) for n in sorted(needs["atr"])}
        self.prev_close = indicators.previous_bar(p.close, p.available)
        self.prev_high = indicators.previous_bar(p.high, p.available)

    def bar(self, t: int, col: int) -> BarView:
        p = self.panel
        return BarView(
            session=t,
            open=float(p.open[t, col]),
            high=float(p.high[t, col]),
            low=float(p.low[t, col]),
            close=float(p.close[t, col]),
            volume=float(p.volume[t, col]),
            prev_close=float(self.prev_close[t, col]),
            prev_high=float(self.prev_high[t, col]),
            sma={n: float(a[t, col]) for n, a in self.sma.items()},
            ema={n: float(a[t, col]) for n, a in self.ema.items()},
            atr={n: float(a[t, col]) for n, a in self.atr.items()},
            symbol=p.symbols[col],
            date=self.dates[t],
        )

    # -------------------------------------------------------------- fills
    def sell(self, pos: _Position, t: int, shares: int, raw_price: float, reason: str) -> None:
        """One exit fill of ``shares`` at ``raw_price`` (before slippage); closes the position at 0."""
        if shares <= 0:
            return
        fill = raw_price * (1.0 - self.slip)
        fee = commission_for(shares, self.settings)
        self.cash = self.cash + (shares * fill - fee)
        pos.exit_value += shares * fill
        pos.commission += fee
        pos.held -= shares
        pos.fills.append((t, shares, fill, reason))
        if pos.held == 0:
            self._close(pos)

    def buy(self, sleeve_index: int, t: int, entry: _PendingEntry, raw_price: float) -> _Position | None:
        fill = raw_price * (1.0 + self.slip)
        shares = affordable_shares(entry.shares, fill, self.cash, self.settings)
        if shares <= 0:
            return None
        fee = commission_for(shares, self.settings)
        self.cash = self.cash - (shares * fill + fee)
        sleeve = self.sleeves[sleeve_index]
        state = sleeve.exit.open_position(fill, shares, t, symbol=entry.symbol, entry_date=self.dates[t])
        pos = _Position(
            sleeve=sleeve_index,
            symbol=entry.symbol,
            col=entry.col,
            entry_session=t,
            entry_price=fill,
            original_shares=shares,
            held=shares,
            state=state,
            commission=fee,
            last_close=math.nan,
            max_high=-math.inf,
            min_low=math.inf,
        )
        sleeve.positions.append(pos)
        return pos

    def _close(self, pos: _Position) -> None:
        sleeve = self.sleeves[pos.sleeve]
        sleeve.positions.remove(pos)
        trade = _trade(pos, self.dates, sleeve.spec.name)
        sleeve.realised += trade.pnl
        self.trades.append(((pos.entry_session, pos.symbol, pos.sleeve), trade))

    # -------------------------------------------------------------- the session loop
    def session(self, t: int) -> None:
        self.open_fills(t)
        self.intraday_stops(t)
        self.close_rules(t)
        equity = self.mark()
        if t < self.end:
            self.scan(t, equity, self.cash)
        self.record()

    def open_fills(self, t: int) -> None:
        avail = self.panel.available
        for sleeve in self.sleeves:
            for pos in list(sleeve.positions):
                if pos.pending and avail[t, pos.col]:
                    pos.see_bar(float(self.panel.high[t, pos.col]), float(self.panel.low[t, pos.col]))
                    orders, pos.pending = pos.pending, []
                    for order in orders:
                        self.sell(pos, t, order.shares, float(self.panel.open[t, pos.col]), order.reason)
        for k, sleeve in enumerate(self.sleeves):
            entries, sleeve.entries = sleeve.entries, []
            for entry in entries:
                if avail[t, entry.col]:
                    self.buy(k, t, entry, float(self.panel.open[t, entry.col]))

    def intraday_stops(self, t: int) -> None:
        p = self.panel
        for sleeve in self.sleeves:
            for pos in list(sleeve.positions):
                if pos.pending or not p.available[t, pos.col]:
                    continue
                low = float(p.low[t, pos.col])
                pos.see_bar(float(p.high[t, pos.col]), low)
                stop = sleeve.exit.resting_stop(pos.state, t)
                if stop is not None and low <= stop[0]:
                    pos.state.remaining = 0
                    self.sell(pos, t, pos.held, min(float(p.open[t, pos.col]), stop[0]), stop[1])

    def close_rules(self, t: int) -> None:
        for sleeve in self.sleeves:
            for pos in list(sleeve.positions):
                if pos.pending or not self.panel.available[t, pos.col]:
                    continue
                bar = self.bar(t, pos.col)
                pos.last_close = bar.close
                orders = sleeve.exit.on_close(pos.state, bar)
                self.apply_close_orders(pos, t, bar, orders)

    def forced_reason(self, t: int, col: int) -> str:
        if t == self.end:
            return "END_OF_TEST"
        if t == self.last_bar[col]:
            return "END_OF_DATA"
        return ""

    def apply_close_orders(self, pos: _Position, t: int, bar: BarView, orders: list[ExitOrder]) -> None:
        forced = self.forced_reason(t, pos.col)
        for order in orders:
            if order.price is not None:
                self.sell(pos, t, order.shares, order.price, order.reason)
            elif self.settings.exit_fill == "close":
                self.sell(pos, t, order.shares, bar.close, order.reason)
            elif not forced and order.shares > 0:
                pos.pending.append(order)
        if forced and pos.held > 0:
            pos.pending = []
            pos.state.remaining = 0
            self.sell(pos, t, pos.held, bar.close, forced)

    def mark(self) -> float:
        value = 0.0
        for sleeve in self.sleeves:
            for pos in sleeve.positions:
                value += pos.held * pos.last_close
        return self.cash + value

    def scan(self, t: int, equity: float, cash: float) -> None:
        for k, sleeve in enumerate(self.sleeves):
            spec = sleeve.spec
            free = spec.max_positions - len(sleeve.positions) - len(sleeve.entries)
            if free <= 0:
                continue
            held = {pos.symbol for pos in sleeve.positions} | {e.symbol for e in sleeve.entries}
            setups = sorted(sleeve.setups_at(t), key=Setup.rank_key)
            queued: list[_PendingEntry] = []
            for setup in setups:
                if free <= 0:
                    break
                if setup.symbol in held:
                    continue
                col = self.panel.symbol_index(setup.symbol)
                context = SizingContext(
                    equity=equity * spec.weight,
                    cash=cash * spec.weight,
                    max_positions=spec.max_positions,
                    starting_capital=self.settings.starting_capital * spec.weight,
                    atr={n: float(a[t, col]) for n, a in self.atr.items()},
                )
                shares = int(sleeve.sizer.size(setup, context))
                if shares <= 0:
                    continue
                entry = _PendingEntry(setup.symbol, col, shares)
                if self.settings.entry_fill == "next_open":
                    queued.append(entry)
                elif not self.enter_at_close(k, t, entry):
                    continue  # cash allows 0 shares at this close: no slot taken
                held.add(setup.symbol)
                free -= 1
            sleeve.entries.extend(queued)

    def enter_at_close(self, k: int, t: int, entry: _PendingEntry) -> bool:
        """Fill ``entry`` at this close; False when cash allows 0 shares (the slot stays free)."""
        if not self.panel.available[t, entry.col]:
            return True  # a setup on a symbol without a bar: no fill, its slot was used
        bar = self.bar(t, entry.col)
        pos = self.buy(k, t, entry, bar.close)
        if pos is None:
            return False
        pos.last_close = bar.close
        pos.see_bar(bar.high, bar.low)
        self.sleeves[k].exit.after_entry_at_close(pos.state, bar)
        if t == self.last_bar[entry.col]:
            pos.state.remaining = 0
            self.sell(pos, t, pos.held, bar.close, "END_OF_DATA")
        return True

    def record(self) -> None:
        value = 0.0
        count = 0
        unrealised = [0.0] * len(self.sleeves)
        for k, sleeve in enumerate(self.sleeves):
            for pos in sleeve.positions:
                market = pos.held * pos.last_close
                value += market
                count += 1
                unrealised[k] += (pos.exit_value + market - pos.entry_value) - pos.commission
        equity = self.cash + value
        exposure = value / equity if equity != 0.0 else 0.0
        self.rows.append((equity, self.cash, count, exposure))
        capital = self.settings.starting_capital
        self.sleeve_rows.append(
            [
                s.spec.weight * capital + (s.realised + u)
                for s, u in zip(self.sleeves, unrealised, strict=True)
            ]
        )

    def curve(self) -> EquityCurve:
        rows = np.array(self.rows, dtype=np.float64).reshape(-1, 4)
        sleeve_values = np.array(self.sleeve_rows, dtype=np.float64).reshape(-1, len(self.sleeves))
        return EquityCurve(
            dates=self.panel.sessions[self.start : self.end + 1].astype("datetime64[D]"),
            equity=rows[:, 0].copy(),
            cash=rows[:, 1].copy(),
            positions=rows[:, 2].astype(np.int64),
            exposure=rows[:, 3].copy(),
            sleeve_equity={s.spec.name: sleeve_values[:, k].copy() for k, s in enumerate(self.sleeves)},
        )


# ---------------------------------------------------------------------------------------- helpers
def _setup_source(spec: SleeveSpec, panel: Panel, end: int) -> Callable[[int], list[Setup]]:
    if spec.vectorised:
        table = cast(VectorScanner, spec.scanner).scan(panel.truncate(end))
        if not isinstance(table, SetupTable):
            raise ConfigError(
                f"sleeve {spec.name!r}: scanner.scan(panel) must return a SetupTable, got {type(table)}"
            )

        def from_table(t: int) -> list[Setup]:
            return table.to_setups(table.session_slice(t), panel.sessions, panel.symbols)

        return from_table
    per_date = cast(ScannerProtocol, spec.scanner).scan_for_setups

    def from_protocol(t: int) -> list[Setup]:
        return list(per_date(_as_date(panel.sessions[t]), panel.truncate(t)))

    return from_protocol


def _trade(pos: _Position, dates: list[dt.date], sleeve_name: str) -> Trade:
    final = pos.fills[-1]
    shares = pos.original_shares
    pnl = (pos.exit_value - pos.entry_value) - pos.commission
    return Trade(
        symbol=pos.symbol,
        entry_date=dates[pos.entry_session],
        exit_date=dates[final[0]],
        entry_price=pos.entry_price,
        exit_price=pos.exit_value / shares,
        shares=shares,
        exit_reason=final[3],
        pnl=pnl,
        pnl_pct=pnl / pos.entry_value,
        r_multiple=(pnl / shares) / (pos.entry_price - pos.state.initial_stop),
        sessions_held=final[0] - pos.entry_session,
        mfe=pos.max_high / pos.entry_price - 1.0,
        mae=pos.min_low / pos.entry_price - 1.0,
        partial_exits=tuple(
            PartialExit(dates[s], q, price, reason) for s, q, price, reason in pos.fills[:-1]
        ),
        initial_stop=pos.state.initial_stop,
        commission=pos.commission,
        sleeve=sleeve_name,
    )


def _as_date(value: Any) -> dt.date:
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(np.datetime64(value, "D")))


# ---------------------------------------------------------------------------------------- entry point
def run_reference(
    panel: Panel, sleeves: Sequence[SleeveSpec], settings: PortfolioSettings, *, start: int, end: int
) -> tuple[list[Trade], EquityCurve]:
    """Simulate ``sleeves`` over the sessions ``start..end`` (inclusive indices of ``panel``).

    Sessions before ``start`` are indicator warm-up: nothing trades there. Returns the trades
    (ordered by entry session, symbol, sleeve) and one equity row per session ``start..end``.
    """
    check_run(sleeves, panel.n_sessions, start, end)
    sim = _Simulation(panel, sleeves, settings, start, end)
    for t in range(start, end + 1):
        sim.session(t)
    leftover = [pos.symbol for s in sim.sleeves for pos in s.positions]
    if leftover:  # pragma: no cover - END_OF_TEST closes everything; this guards the invariant
        raise SimulationError(f"positions left open after the last session: {leftover}")
    trades = [trade for _, trade in sorted(sim.trades, key=lambda item: item[0])]
    return trades, sim.curve()
