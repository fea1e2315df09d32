"""Exits written in plain Python: the design's ``check_exit`` protocol and its adapter.

A user exit is any object with

.. code-block:: python

    def check_exit(self, position, current_bar, bars_held) -> tuple[bool, str, float | None]: ...

The reference engine calls it once per open position at each close it has a bar for (step 3 of the
session loop, RULES section 4), with

- ``position``: a read-only :class:`PositionView` (entry price and date, shares, initial stop,
  ``peak_close``, ``peak_high``, ``sessions_held``),
- ``current_bar``: a :class:`Bar` of that session (``bar.close`` or ``bar["close"]``),
- ``bars_held``: backtest sessions since the entry session (0 on the entry session).

It returns ``(should_exit, reason, exit_price)``. When ``should_exit`` is true the whole remaining
position is sold, with ``reason`` as the trade's exit reason (``"CUSTOM"`` when empty), and:

- ``exit_price is None``: the sale fills like any close rule, at this close (``exit_fill = "close"``)
  or at the next open (``"next_open"``);
- ``exit_price`` inside the bar's ``[low, high]``: the sale fills at that price this session (use it
  for an intraday stop level), adjusted for slippage like every fill;
- any other price is a :class:`~trading_playbook.core.errors.SimulationError`: no fill can happen
  outside the bar's range.

The function sees the whole bar of the session, so it is the author's job not to name a price that
could only be known after the fact. Such exits run on the reference engine only. An optional
``hard_stop`` attribute (default 0.08) sets the positions' initial stop, used for ``r_multiple``;
no stop rests intraday unless the function returns one.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from trading_playbook.core.errors import ConfigError, SimulationError
from trading_playbook.core.exits.rules import BarView, ExitOrder, ExitRuleEngine, ExitState
from trading_playbook.core.exits.spec import ExitSpec

__all__ = [
    "Bar",
    "ExitEngine",
    "ExitStrategyProtocol",
    "PositionView",
    "ProtocolExitAdapter",
    "as_exit_engine",
]


@dataclass(frozen=True, slots=True)
class PositionView:
    """What a ``check_exit`` function may read about a position."""

    symbol: str
    entry_date: dt.date | None
    entry_price: float
    shares: int  # remaining shares
    original_shares: int
    initial_stop: float
    peak_close: float
    peak_high: float
    sessions_held: int


@dataclass(frozen=True, slots=True)
class Bar:
    """One session's bar of the position's symbol (adjusted prices); also readable as ``bar["close"]``."""

    date: dt.date | None
    open: float
    high: float
    low: float
    close: float
    volume: float
    prev_close: float
    prev_high: float

    def __getitem__(self, key: str) -> Any:
        try:
            return getattr(self, key)
        except AttributeError:
            raise KeyError(key) from None


@runtime_checkable
class ExitStrategyProtocol(Protocol):
    """The design's exit protocol for exits written in Python."""

    def check_exit(
        self, position: PositionView, current_bar: Bar, bars_held: int
    ) -> tuple[bool, str, float | None]:
        """``(should_exit, reason, exit_price)``; see the module docstring for how the price is used."""
        ...


@runtime_checkable
class ExitEngine(Protocol):
    """What the reference engine calls on a sleeve's exit (implemented by :class:`ExitRuleEngine`)."""

    @property
    def name(self) -> str: ...

    @property
    def hard_stop(self) -> float: ...

    def indicator_needs(self) -> dict[str, set[int]]: ...

    def open_position(
        self,
        entry_price: float,
        shares: int,
        entry_session: int,
        *,
        symbol: str = "",
        entry_date: dt.date | None = None,
    ) -> ExitState: ...

    def after_entry_at_close(self, state: ExitState, bar: BarView) -> None: ...

    def resting_stop(self, state: ExitState, session: int) -> tuple[float, str] | None: ...

    def on_close(self, state: ExitState, bar: BarView) -> list[ExitOrder]: ...


class ProtocolExitAdapter:
    """Runs an :class:`ExitStrategyProtocol` object as an :class:`ExitEngine`."""

    def __init__(self, strategy: ExitStrategyProtocol, *, hard_stop: float | None = None) -> None:
        self.strategy = strategy
        stop = hard_stop if hard_stop is not None else getattr(strategy, "hard_stop", 0.08)
        if not (isinstance(stop, int | float) and 0.0 < float(stop) < 1.0):
            raise ConfigError(f"exit {self.name!r}: hard_stop must be a number in (0, 1), got {stop!r}")
        self._engine = ExitRuleEngine(ExitSpec(name=self.name, rules=(), hard_stop=float(stop)))

    @property
    def name(self) -> str:
        return str(getattr(self.strategy, "name", type(self.strategy).__name__))

    @property
    def hard_stop(self) -> float:
        return self._engine.hard_stop

    def indicator_needs(self) -> dict[str, set[int]]:
        return {"sma": set(), "ema": set(), "atr": set()}

    def open_position(
        self,
        entry_price: float,
        shares: int,
        entry_session: int,
        *,
        symbol: str = "",
        entry_date: dt.date | None = None,
    ) -> ExitState:
        return self._engine.open_position(
            entry_price, shares, entry_session, symbol=symbol, entry_date=entry_date
        )

    def after_entry_at_close(self, state: ExitState, bar: BarView) -> None:
        state.peak_high = max(state.peak_high, bar.high)

    def resting_stop(self, state: ExitState, session: int) -> tuple[float, str] | None:
        return None

    def on_close(self, state: ExitState, bar: BarView) -> list[ExitOrder]:
        state.peak_close = max(state.peak_close, bar.close)
        state.peak_high = max(state.peak_high, bar.high)
        held = state.sessions_held(bar.session)
        view = PositionView(
            symbol=state.symbol,
            entry_date=state.entry_date,
            entry_price=state.entry_price,
            shares=state.remaining,
            original_shares=state.original_shares,
            initial_stop=state.initial_stop,
            peak_close=state.peak_close,
            peak_high=state.peak_high,
            sessions_held=held,
        )
        current = Bar(
            bar.date, bar.open, bar.high, bar.low, bar.close, bar.volume, bar.prev_close, bar.prev_high
        )
        answer = self.strategy.check_exit(view, current, held)
        should_exit, reason, price = _unpack(answer, self.name)
        if not should_exit:
            return []
        if price is not None and not (bar.low <= price <= bar.high):
            raise SimulationError(
                f"exit {self.name!r}: exit_price {price} for {state.symbol} on {bar.date} is outside the "
                f"bar's range [{bar.low}, {bar.high}]; return None to fill per exit_fill, or a price "
                "inside the bar"
            )
        shares = state.remaining
        state.remaining = 0
        return [ExitOrder(shares, reason or "CUSTOM", price)]


def _unpack(answer: object, name: str) -> tuple[bool, str, float | None]:
    if not (isinstance(answer, tuple) and len(answer) == 3):
        raise SimulationError(
            f"exit {name!r}: check_exit must return (should_exit, reason, exit_price), got {answer!r}"
        )
    should_exit, reason, price = answer
    if price is not None:
        price = float(price)
        if not math.isfinite(price):
            raise SimulationError(f"exit {name!r}: exit_price must be finite or None, got {price}")
    return bool(should_exit), str(reason or ""), price


def as_exit_engine(exit_strategy: object) -> ExitEngine:
    """The :class:`ExitEngine` for a sleeve's exit: an ExitSpec, an engine, or a ``check_exit`` object."""
    if isinstance(exit_strategy, ExitSpec):
        return ExitRuleEngine(exit_strategy)
    if isinstance(exit_strategy, ExitRuleEngine | ProtocolExitAdapter):
        return exit_strategy
    if isinstance(exit_strategy, ExitStrategyProtocol):
        return ProtocolExitAdapter(exit_strategy)
    if isinstance(exit_strategy, ExitEngine):
        return exit_strategy
    raise ConfigError(
        f"exit strategy {exit_strategy!r} is neither an ExitSpec nor an object with "
        "check_exit(position, current_bar, bars_held); build one with get_exit_strategy(name) or "
        "exit_spec_from_config(...)"
    )
