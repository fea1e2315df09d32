"""The plain-Python interpreter of an :class:`~trading_playbook.core.exits.spec.ExitSpec`.

The reference engine keeps one :class:`ExitState` per position and asks an :class:`ExitRuleEngine`
two questions each session (RULES sections 4, 5 and 8; the semantics are those of the module
docstring of :mod:`~trading_playbook.core.exits.spec`):

- step 2, intraday: :meth:`ExitRuleEngine.resting_stop` gives the resting level and its reason;
  the engine exits when ``low_t <= level`` at ``min(open_t, level)``.
- step 3, at the close: :meth:`ExitRuleEngine.on_close` updates ``peak_close`` / ``peak_high``, runs the
  rules in order and returns the sales it decided (a full exit, or one or more partial sales).

Arithmetic (float64, in this order; the fast engine mirrors it):

- ``initial_stop = entry * (1.0 - spec.hard_stop)``; a :class:`HardStop` rests at
  ``entry * (1.0 - rule.pct)``; a :class:`BreakevenStop` rests at ``entry`` once a partial was taken.
- profit ratios are ``x / entry - 1.0``; thresholds on prices are ``entry * (1.0 + pct)`` and
  ``entry * (1.0 - pct)``.
- trail tiers: ``p = peak / entry - 1.0``; the first tier with ``p >= min_profit`` gives
  ``value * peak`` (``pct``) or ``peak - value * atr`` (``atr``). A new level replaces the trail only
  when it is finite and strictly higher (or the trail is undefined): trails never move down, and an
  undefined ATR leaves the trail as it was.
- a scale-out level sells ``min(floor(fraction * original_shares), remaining)``.
- ``sessions_held = t - entry_session`` (backtest session indices).

Decided corner cases (documented in docs by the lead):

- A partial sale that fires ends the close processing of that session: no trail update (close
  or resting), no other rule.
- Rules gated by ``after_partial`` are skipped, and their trails not updated, until a partial has
  been taken.
- Resting trails are recomputed after the rules at every close where the position stays open (and
  right after an entry filled at the close, from that session's bar), so they rest from the next
  session; the ``update`` mode of a resting trail is not used (RULES: recomputed at every close).
- An indicator that is undefined (NaN) makes its rule false.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from trading_playbook.core.exits.spec import (
    BreakevenStop,
    EmaBreak,
    ExitRule,
    ExitSpec,
    HardStop,
    LowerClose,
    LowerHigh,
    MaBreak,
    ScaleOut,
    StopLossClose,
    TargetClose,
    TimeStop,
    TrailingStop,
    TrailTier,
    is_gated,
)

__all__ = [
    "CLOSE_CHECKS",
    "PARTIALS",
    "RESTING_LEVELS",
    "BarView",
    "ExitOrder",
    "ExitRuleEngine",
    "ExitState",
    "trail_level",
]

_NAN = math.nan


@dataclass(frozen=True, slots=True)
class BarView:
    """One symbol's bar at backtest session index ``session`` plus what exit rules read.

    ``prev_close`` / ``prev_high`` are the symbol's previous bar (even one before the entry; NaN on its
    first bar). ``sma`` / ``ema`` / ``atr`` map a period to the indicator's value at this bar (NaN when
    undefined); the engine fills the periods ``ExitSpec.indicator_needs()`` lists.
    """

    session: int
    open: float
    high: float
    low: float
    close: float
    volume: float = _NAN
    prev_close: float = _NAN
    prev_high: float = _NAN
    sma: Mapping[int, float] = field(default_factory=dict)
    ema: Mapping[int, float] = field(default_factory=dict)
    atr: Mapping[int, float] = field(default_factory=dict)
    symbol: str = ""
    date: dt.date | None = None


@dataclass(frozen=True, slots=True)
class ExitOrder:
    """A sale decided by a rule: ``shares`` (> 0 or a 0-share partial) and its reason.

    ``price`` is None for every built-in rule (the sale fills per ``exit_fill``). A user exit written
    with the ``check_exit`` protocol may name a price inside the bar's ``[low, high]``: the sale then
    fills at that price, adjusted for slippage, this session.
    """

    shares: int
    reason: str
    price: float | None = None


@dataclass
class ExitState:
    """Per-position exit state (names as in RULES).

    ``remaining`` counts the shares not yet sold **or committed** to a sale (a sale decided for the
    next open is already deducted). ``trails`` holds one level per rule (NaN = undefined or not a
    trailing rule); ``levels_taken`` one flag per scale-out level per rule.
    """

    entry_price: float
    original_shares: int
    remaining: int
    initial_stop: float
    entry_session: int
    peak_close: float
    peak_high: float
    trails: list[float]
    levels_taken: list[list[bool]]
    partial_taken: bool = False
    symbol: str = ""
    entry_date: dt.date | None = None

    def sessions_held(self, session: int) -> int:
        """Backtest sessions from the entry session to ``session`` (0 on the entry session)."""
        return session - self.entry_session


def trail_level(tiers: tuple[TrailTier, ...], peak: float, entry: float, atr: float) -> float:
    """The level of the first tier whose ``min_profit`` the peak profit reaches (NaN if none/undefined)."""
    profit = peak / entry - 1.0
    for tier in tiers:
        if profit >= tier.min_profit:
            if tier.mode == "pct":
                return tier.value * peak
            return peak - tier.value * atr
    return _NAN


def _raise_trail(old: float, new: float) -> float:
    """``max(old, new)`` where NaN means undefined: an undefined new level keeps the old one."""
    if math.isnan(new):
        return old
    if math.isnan(old) or new > old:
        return new
    return old


# ---------------------------------------------------------------------------------------- primitives
# The reference implementation of each primitive: one function per primitive and stage, registered in
# the table of its stage by primitive type. A rule's reason is its primitive's declared REASONS[0].


def _rest_hard_stop(rule: HardStop, state: ExitState, session: int, i: int) -> float:
    return state.entry_price * (1.0 - rule.pct)


def _rest_breakeven_stop(rule: BreakevenStop, state: ExitState, session: int, i: int) -> float:
    return state.entry_price if state.partial_taken else _NAN


def _rest_trailing_stop(rule: TrailingStop, state: ExitState, session: int, i: int) -> float:
    if rule.basis != "resting" or session <= state.entry_session:
        return _NAN
    if rule.after_partial and not state.partial_taken:
        return _NAN
    return state.trails[i]


def _close_trailing_stop(rule: TrailingStop, state: ExitState, bar: BarView, i: int, rose: bool) -> bool:
    if rule.basis == "resting":
        return False  # checked intraday; recomputed after the rules
    if rule.update == "every_close" or rose:
        atr = bar.atr.get(rule.atr_period, _NAN)
        level = trail_level(rule.tiers, state.peak_close, state.entry_price, atr)
        state.trails[i] = _raise_trail(state.trails[i], level)
    trail = state.trails[i]
    if math.isnan(trail):
        return False
    if rule.activation is not None and not state.peak_close > state.entry_price * (1.0 + rule.activation):
        return False
    return bar.close < trail


def _close_ma_break(rule: MaBreak, state: ExitState, bar: BarView, i: int, rose: bool) -> bool:
    entry = state.entry_price
    if rule.max_profit is not None and not bar.close / entry - 1.0 < rule.max_profit:
        return False
    if rule.min_peak_high_profit is not None and not state.peak_high > entry * (
        1.0 + rule.min_peak_high_profit
    ):
        return False
    return bar.close < bar.sma.get(rule.period, _NAN)


def _close_lower_close(rule: LowerClose, state: ExitState, bar: BarView, i: int, rose: bool) -> bool:
    return state.peak_close > state.entry_price * (1.0 + rule.min_peak_profit) and bar.close < bar.prev_close


def _close_lower_high(rule: LowerHigh, state: ExitState, bar: BarView, i: int, rose: bool) -> bool:
    return state.peak_high > state.entry_price * (1.0 + rule.min_peak_profit) and bar.high < bar.prev_high


def _close_ema_break(rule: EmaBreak, state: ExitState, bar: BarView, i: int, rose: bool) -> bool:
    return bar.close < bar.ema.get(rule.period, _NAN)


def _close_time_stop(rule: TimeStop, state: ExitState, bar: BarView, i: int, rose: bool) -> bool:
    return state.sessions_held(bar.session) >= rule.sessions


def _close_stop_loss(rule: StopLossClose, state: ExitState, bar: BarView, i: int, rose: bool) -> bool:
    return bar.close <= state.entry_price * (1.0 - rule.pct)


def _close_target(rule: TargetClose, state: ExitState, bar: BarView, i: int, rose: bool) -> bool:
    return bar.close >= state.entry_price * (1.0 + rule.pct)


def _partial_scale_out(rule: ScaleOut, state: ExitState, bar: BarView, i: int) -> list[ExitOrder]:
    profit = bar.close / state.entry_price - 1.0
    per_level = math.floor(rule.fraction * state.original_shares)
    orders: list[ExitOrder] = []
    taken = state.levels_taken[i]
    for k, level in enumerate(rule.levels):
        if taken[k] or not profit >= level:
            continue
        taken[k] = True
        shares = min(per_level, state.remaining)
        state.remaining -= shares
        orders.append(ExitOrder(shares, rule.reason(k)))
    if orders:
        state.partial_taken = True
    return orders


# stage tables: primitive type -> its reference implementation at that stage
RESTING_LEVELS: dict[type, Callable[[Any, ExitState, int, int], float]] = {
    HardStop: _rest_hard_stop,
    BreakevenStop: _rest_breakeven_stop,
    TrailingStop: _rest_trailing_stop,
}
CLOSE_CHECKS: dict[type, Callable[[Any, ExitState, BarView, int, bool], bool]] = {
    TrailingStop: _close_trailing_stop,
    MaBreak: _close_ma_break,
    LowerClose: _close_lower_close,
    LowerHigh: _close_lower_high,
    EmaBreak: _close_ema_break,
    TimeStop: _close_time_stop,
    StopLossClose: _close_stop_loss,
    TargetClose: _close_target,
}
PARTIALS: dict[type, Callable[[Any, ExitState, BarView, int], list[ExitOrder]]] = {
    ScaleOut: _partial_scale_out
}


class ExitRuleEngine:
    """Interprets one :class:`ExitSpec` for any number of positions (the state lives in ExitState)."""

    def __init__(self, spec: ExitSpec) -> None:
        self.spec = spec
        self.rules: tuple[ExitRule, ...] = spec.rules
        self._resting = [
            (i, r, RESTING_LEVELS[type(r)]) for i, r in enumerate(self.rules) if type(r) in RESTING_LEVELS
        ]
        self._closing = [
            (i, r, CLOSE_CHECKS.get(type(r)), PARTIALS.get(type(r))) for i, r in enumerate(self.rules)
        ]
        self._trails = [
            (i, r) for i, r in enumerate(self.rules) if isinstance(r, TrailingStop) and r.basis == "resting"
        ]

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def hard_stop(self) -> float:
        return self.spec.hard_stop

    def indicator_needs(self) -> dict[str, set[int]]:
        """Indicator periods the rules read (see :meth:`ExitSpec.indicator_needs`)."""
        return self.spec.indicator_needs()

    # ------------------------------------------------------------------ lifecycle
    def open_position(
        self,
        entry_price: float,
        shares: int,
        entry_session: int,
        *,
        symbol: str = "",
        entry_date: dt.date | None = None,
    ) -> ExitState:
        """State of a position just filled at ``entry_price`` (after slippage)."""
        return ExitState(
            symbol=symbol,
            entry_date=entry_date,
            entry_price=entry_price,
            original_shares=shares,
            remaining=shares,
            initial_stop=entry_price * (1.0 - self.spec.hard_stop),
            entry_session=entry_session,
            peak_close=entry_price,
            peak_high=-math.inf,
            trails=[_NAN] * len(self.rules),
            levels_taken=[[False] * len(r.levels) if isinstance(r, ScaleOut) else [] for r in self.rules],
        )

    def after_entry_at_close(self, state: ExitState, bar: BarView) -> None:
        """An entry filled at the close of ``bar``: no close rule runs, the entry bar's high counts
        in ``peak_high`` and resting trails are set so they rest from the next session."""
        state.peak_high = max(state.peak_high, bar.high)
        self._update_resting_trails(state, bar)

    # ------------------------------------------------------------------ step 2: intraday
    def resting_stop(self, state: ExitState, session: int) -> tuple[float, str] | None:
        """The highest resting level and its reason (ties: the rule listed first), or None."""
        best_level = _NAN
        best_reason = ""
        for i, rule, level_of in self._resting:
            level = level_of(rule, state, session, i)
            if not math.isnan(level) and (math.isnan(best_level) or level > best_level):
                best_level = level
                best_reason = rule.REASONS[0]
        if math.isnan(best_level):
            return None
        return best_level, best_reason

    # ------------------------------------------------------------------ step 3: at the close
    def on_close(self, state: ExitState, bar: BarView) -> list[ExitOrder]:
        """Run the close rules on ``bar``; return the sales decided (empty: hold).

        A full exit is one order of all remaining shares; partial sales are one order per scale-out
        level (0-share orders included, the engine skips their fills). ``state.remaining`` is reduced
        by what the orders sell; the position is closed when it reaches 0.
        """
        rose = bar.close > state.peak_close
        if rose:
            state.peak_close = bar.close
        state.peak_high = max(state.peak_high, bar.high)
        for i, rule, check, partial in self._closing:
            if is_gated(rule) and not state.partial_taken:
                continue
            if partial is not None:
                orders = partial(rule, state, bar, i)
                if orders:
                    return orders  # a partial ends the close processing of the session
            elif check is not None and check(rule, state, bar, i, rose):
                shares = state.remaining
                state.remaining = 0
                return [ExitOrder(shares, rule.REASONS[0])]
        self._update_resting_trails(state, bar)
        return []

    def _update_resting_trails(self, state: ExitState, bar: BarView) -> None:
        for i, rule in self._trails:
            if rule.after_partial and not state.partial_taken:
                continue
            atr = bar.atr.get(rule.atr_period, _NAN)
            level = trail_level(rule.tiers, state.peak_high, state.entry_price, atr)
            state.trails[i] = _raise_trail(state.trails[i], level)
