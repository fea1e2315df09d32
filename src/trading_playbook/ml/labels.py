"""Labels: each setup's single trade, simulated alone with the chosen exit rules.

One position, the session loop of RULES section 4 restricted to it, with the exit decisions taken by
the same :class:`~trading_playbook.core.exits.rules.ExitRuleEngine` (through
:func:`~trading_playbook.core.exits.protocol.as_exit_engine`) the reference engine asks, and the
reference engine's fill arithmetic (``core/simulate/reference.py``): slippage on every fill, a resting
stop hit below the open fills at the open, exits decided for the next open wait for the symbol's next
bar, ``END_OF_DATA`` on the symbol's last bar, ``END_OF_TEST`` at the label horizon ``end``.

The entry follows ``entry_fill``: the next session's open (no bar there: no trade, as a cancelled
entry) or the signal close. A label is independent of the portfolio (cash, slots), so it exists for
every setup the scanner produced; a test checks it against the reference engine's trade for setups the
portfolio took.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from trading_playbook.core.exits.protocol import ExitEngine, as_exit_engine
from trading_playbook.core.exits.rules import BarView, ExitOrder, ExitState
from trading_playbook.core.panel import Panel
from trading_playbook.core.simulate.market import bars_with_indicators, last_bar_rows
from trading_playbook.core.simulate.settings import PortfolioSettings, commission_for

__all__ = ["LabelSimulator", "TradeLabel"]


@dataclass(frozen=True, slots=True)
class TradeLabel:
    """The outcome of one setup's trade (RULES section 6 arithmetic)."""

    entry_session: int
    exit_session: int
    entry_price: float
    shares: int
    pnl: float
    pnl_pct: float
    r_multiple: float
    exit_reason: str
    mfe: float
    mae: float

    @property
    def sessions_held(self) -> int:
        return self.exit_session - self.entry_session


class _Position:
    """Fill bookkeeping of the one position (as the reference engine's ``_Position``)."""

    def __init__(self, entry_session: int, fill: float, shares: int, fee: float, state: ExitState) -> None:
        self.state = state
        self.entry_session = entry_session
        self.entry_price = fill
        self.shares = shares
        self.held = shares
        self.commission = fee
        self.exit_value = 0.0
        self.max_high = -math.inf
        self.min_low = math.inf
        self.last_fill: tuple[int, str] | None = None
        self.pending: list[ExitOrder] = []

    def see_bar(self, high: float, low: float) -> None:
        self.max_high = max(self.max_high, high)
        self.min_low = min(self.min_low, low)


class LabelSimulator:
    """Simulates single trades on one panel with one exit strategy and the portfolio's fill settings.

    Parameters
    ----------
    panel : Panel
        The bars; labels never look past session index ``end``.
    exit_strategy
        An ExitSpec (from the registry / config) or any exit the reference engine accepts.
    settings : PortfolioSettings
        Fills, slippage and commissions (capital and slots play no part in a single trade).
    end : int
        The label horizon: a trade still open at this session closes there, ``END_OF_TEST``.
    """

    def __init__(self, panel: Panel, exit_strategy: Any, settings: PortfolioSettings, end: int) -> None:
        self.panel = panel
        self.exit: ExitEngine = as_exit_engine(exit_strategy)
        self.settings = settings
        self.slip = settings.slippage
        self.end = int(end)
        self.bars = bars_with_indicators(panel, self.exit.indicator_needs())
        self.last_bar = last_bar_rows(panel.available[: self.end + 1])

    # ------------------------------------------------------------------ public
    def label(self, signal: int, col: int, shares: int) -> TradeLabel | None:
        """The trade of a setup at session ``signal`` on column ``col`` with ``shares`` shares.

        None when no trade happens: the signal is at/after the horizon, the symbol has no bar at the
        next open (a cancelled entry), or ``shares`` is 0.
        """
        if shares <= 0 or signal >= self.end:
            return None
        if self.settings.entry_fill == "next_open":
            first = signal + 1
            if not self.panel.available[first, col]:
                return None
            pos = self._open(first, col, shares, float(self.panel.open[first, col]))
        else:
            bar = self._bar(signal, col)
            pos = self._open(signal, col, shares, bar.close)
            pos.see_bar(bar.high, bar.low)
            self.exit.after_entry_at_close(pos.state, bar)
            if signal == self.last_bar[col]:
                self._sell(pos, signal, pos.held, bar.close, "END_OF_DATA")
                return self._result(pos)
            first = signal + 1
        for t in range(first, self.end + 1):
            if self._session(pos, t, col):
                return self._result(pos)
        raise AssertionError("END_OF_TEST closes every label trade")  # pragma: no cover

    # ------------------------------------------------------------------ the session steps
    def _open(self, t: int, col: int, shares: int, raw_price: float) -> _Position:
        fill = raw_price * (1.0 + self.slip)  # no cash limit: a label trades its notional shares
        state = self.exit.open_position(fill, shares, t, symbol=self.panel.symbols[col])
        return _Position(t, fill, shares, commission_for(shares, self.settings), state)

    def _session(self, pos: _Position, t: int, col: int) -> bool:
        """Steps 1-3 of session ``t`` for the position; True once it is closed."""
        p = self.panel
        if not p.available[t, col]:
            return False  # held, marked at its last close; nothing can trigger
        if pos.pending:
            pos.see_bar(float(p.high[t, col]), float(p.low[t, col]))
            orders, pos.pending = pos.pending, []
            for order in orders:
                self._sell(pos, t, order.shares, float(p.open[t, col]), order.reason)
            if pos.held == 0:
                return True
        low = float(p.low[t, col])
        pos.see_bar(float(p.high[t, col]), low)
        stop = self.exit.resting_stop(pos.state, t)
        if stop is not None and low <= stop[0]:
            pos.state.remaining = 0
            self._sell(pos, t, pos.held, min(float(p.open[t, col]), stop[0]), stop[1])
            return True
        bar = self._bar(t, col)
        orders = self.exit.on_close(pos.state, bar)
        forced = "END_OF_TEST" if t == self.end else ("END_OF_DATA" if t == self.last_bar[col] else "")
        for order in orders:
            if order.price is not None:
                self._sell(pos, t, order.shares, order.price, order.reason)
            elif self.settings.exit_fill == "close":
                self._sell(pos, t, order.shares, bar.close, order.reason)
            elif not forced and order.shares > 0:
                pos.pending.append(order)
        if forced and pos.held > 0:
            pos.pending = []
            pos.state.remaining = 0
            self._sell(pos, t, pos.held, bar.close, forced)
        return pos.held == 0

    def _sell(self, pos: _Position, t: int, shares: int, raw_price: float, reason: str) -> None:
        if shares <= 0:
            return
        fill = raw_price * (1.0 - self.slip)
        pos.exit_value += shares * fill
        pos.commission += commission_for(shares, self.settings)
        pos.held -= shares
        pos.last_fill = (t, reason)

    def _result(self, pos: _Position) -> TradeLabel:
        assert pos.last_fill is not None
        entry_value = pos.shares * pos.entry_price
        pnl = (pos.exit_value - entry_value) - pos.commission
        stop = pos.state.initial_stop
        return TradeLabel(
            entry_session=pos.entry_session,
            exit_session=pos.last_fill[0],
            entry_price=pos.entry_price,
            shares=pos.shares,
            pnl=pnl,
            pnl_pct=pnl / entry_value,
            r_multiple=(pnl / pos.shares) / (pos.entry_price - stop),
            exit_reason=pos.last_fill[1],
            mfe=pos.max_high / pos.entry_price - 1.0,
            mae=pos.min_low / pos.entry_price - 1.0,
        )

    def _bar(self, t: int, col: int) -> BarView:
        return self.bars.bar(t, col)
