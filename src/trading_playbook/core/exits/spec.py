"""Exit rules as data: primitives, their parameters, and the named rule sets of RULES section 5.

An exit strategy is an ordered tuple of rule primitives plus ``hard_stop`` (the fraction that sets
every position's initial stop, ``entry * (1 - hard_stop)``, used for r_multiple even when no rule
rests a stop there). Both engines interpret the same :class:`ExitSpec`:

- ``core.exits.rules`` (plain Python, used by the reference engine), and
- ``core.simulate._kernels`` (numba; the spec is encoded into arrays by :func:`encode`).

Semantics shared by every primitive (the session loop is RULES section 4):

Position state: ``entry`` (fill price after slippage), ``original_shares``, ``remaining``,
``initial_stop``, ``peak_close`` (starts at entry; max of closes since entry, updated at each close
before the rules run), ``peak_high`` (max high from the entry session through the current
session), ``trail`` per trailing rule (NaN = undefined), ``partial_taken`` (any scale-out or profit
take has fired, even one that sold 0 shares), ``levels_taken`` per scale-out rule.

Intraday (resting) stops, step 2 of the loop: the resting level is the maximum over the rules that
rest a stop (:class:`HardStop`, :class:`BreakevenStop` once a partial was taken,
:class:`TrailingStop` with ``basis='resting'`` once defined and not on the entry session). If
``low_t <= level`` the position exits at ``min(open_t, level)``; the reason is that of the rule with
the highest level, ties going to the rule listed first (so HARD_STOP wins a tie).

At the close, step 3: ``peak_close`` and ``peak_high`` are updated, then the rules run in the listed
order. A full-exit rule that matches closes the whole remaining position ("first match wins").
A partial rule (:class:`ScaleOut`) that fires sells its shares and ends the close processing of that
session: no trail update, no other rule. After the rules, resting trails (``basis='resting'``) are
recomputed for the next session (unless the position closed, or a partial fired: that ended the
processing). A position entered at the close (``entry_fill='close'``) runs no close rule on its entry
session, but its ``peak_high`` takes that session's high and its resting trails are computed then, so
they rest from the next session.

Gating: ``after_partial=True`` makes a rule (its check and its trail updates) inactive until a partial
has been taken on an earlier session.

Each primitive is declared once, here: its fields (the TOML keys), its kernel ``CODE``, its parameter
``SLOTS`` (the fields the fast engine's rule table carries, by name, in order) and its ``REASONS``.
The fast engine's constants (rule codes, parameter columns, reason codes) and its encoder are derived
from these declarations (:func:`slot_columns`, :data:`REASON_CODES`); the reference interpreter
(``core.exits.rules``) has one method per primitive. docs/architecture.md walks through adding one.
"""

from __future__ import annotations

import functools
import math
import typing
from dataclasses import dataclass, field
from typing import ClassVar, Literal

from trading_playbook.core.errors import ConfigError
from trading_playbook.core.types import ExitReason

__all__ = [
    "EXIT_RULE_TYPES",
    "MAX_LEVELS",
    "MAX_TIERS",
    "NAMED_EXITS",
    "N_SLOT_COLUMNS",
    "REASON_CODES",
    "SLOT_AFTER_PARTIAL",
    "SLOT_REASON",
    "BreakevenStop",
    "EmaBreak",
    "ExitRule",
    "ExitSpec",
    "HardStop",
    "LowerClose",
    "LowerHigh",
    "MaBreak",
    "ScaleOut",
    "Slot",
    "StopLossClose",
    "TargetClose",
    "TimeStop",
    "TrailTier",
    "TrailingStop",
    "choice_code",
    "is_gated",
    "named_exit",
    "slot_columns",
]

MAX_TIERS = 8  # tiers of a trailing stop the fast engine's rule table holds
MAX_LEVELS = 8  # levels of a scale-out


@dataclass(frozen=True)
class Slot:
    """One named parameter of a primitive in the fast engine's rule table.

    ``field`` is the primitive's attribute. A scalar takes one column: a number as itself, ``None`` as
    NaN, a bool as 1.0 / 0.0, a ``Literal`` choice as its index among the choices
    (:func:`choice_code`). ``items > 0`` declares a sequence: one column for its length, then up to
    ``items`` items of ``width`` columns each (a dataclass item's fields in order). ``encode="reason"``
    stores reason names as reason codes; ``encode="ema_row"`` stores an EMA period as its row in the
    run's EMA stack. ``indicator`` names the indicator a period field asks the engines to provide
    (``"sma"``, ``"atr"``, ``"ema"``).
    """

    field: str
    items: int = 0
    width: int = 1
    encode: Literal["value", "reason", "ema_row"] = "value"
    indicator: Literal["", "sma", "atr", "ema"] = ""

    @property
    def columns(self) -> int:
        """Columns the slot takes in a rule's parameter row."""
        return 1 + self.items * self.width if self.items else 1


SLOT_AFTER_PARTIAL = 0  # every rule's column 0: 1.0 = gated until a partial was taken (``is_gated``)
SLOT_REASON = 1  # every rule's column 1: the code of its (first) reason
_FIRST_SLOT = 2


@dataclass(frozen=True)
class TrailTier:
    """One tier of a profit-tiered trail.

    Applies when peak profit (``peak / entry - 1``) ``>= min_profit`` (tiers are tried in the given
    order, first applicable wins; use ``-inf`` for the last). ``mode='pct'``: level = ``value * peak``;
    ``mode='atr'``: level = ``peak - value * ATR``.
    """

    min_profit: float
    mode: Literal["pct", "atr"]
    value: float


@dataclass(frozen=True)
class HardStop:
    """Resting stop at the initial stop ``entry * (1 - pct)``; reason HARD_STOP. Never moves."""

    CODE: ClassVar[int] = 0
    REASONS: ClassVar[tuple[str, ...]] = ("HARD_STOP",)
    SLOTS: ClassVar[tuple[Slot, ...]] = (Slot("pct"),)

    pct: float = 0.08
    kind: Literal["hard_stop"] = "hard_stop"


@dataclass(frozen=True)
class BreakevenStop:
    """Once a partial was taken, a resting stop at the entry fill price; reason BREAKEVEN_STOP."""

    CODE: ClassVar[int] = 1
    REASONS: ClassVar[tuple[str, ...]] = ("BREAKEVEN_STOP",)
    SLOTS: ClassVar[tuple[Slot, ...]] = ()

    kind: Literal["breakeven_stop"] = "breakeven_stop"


@dataclass(frozen=True)
class TrailingStop:
    """A profit-tiered trailing stop that never moves down; reason TRAILING_STOP.

    ``basis='close'``: the trail follows ``peak_close`` and is checked at the close: exit when
    ``close_t < trail`` and (if ``activation`` is set) ``peak_close > entry * (1 + activation)``.
    ``update='new_peak'`` recomputes the trail only at a close that set a new (strictly higher)
    peak_close, with that close's ATR, so it is undefined until peak_close first rises above entry;
    ``update='every_close'`` recomputes it at every active close. ``trail = max(old, new)``.

    ``basis='resting'``: the trail follows ``peak_high`` (entry session through t) and ATR_t, is
    recomputed at every close after the rules, and rests intraday from the next session (never on the
    entry session).
    """

    CODE: ClassVar[int] = 2
    REASONS: ClassVar[tuple[str, ...]] = ("TRAILING_STOP",)
    SLOTS: ClassVar[tuple[Slot, ...]] = (
        Slot("basis"),
        Slot("update"),
        Slot("activation"),
        Slot("atr_period", indicator="atr"),
        Slot("tiers", items=MAX_TIERS, width=3),
    )

    tiers: tuple[TrailTier, ...]
    basis: Literal["close", "resting"] = "close"
    update: Literal["new_peak", "every_close"] = "new_peak"
    activation: float | None = None
    atr_period: int = 10
    after_partial: bool = False
    kind: Literal["trailing_stop"] = "trailing_stop"


@dataclass(frozen=True)
class MaBreak:
    """Exit when ``close_t < SMA_period_t``; reason MA_BREAK.

    Optional conditions: ``max_profit`` (``close_t / entry - 1 < max_profit``) and
    ``min_peak_high_profit`` (``peak_high > entry * (1 + x)``, peak_high including today).
    """

    CODE: ClassVar[int] = 3
    REASONS: ClassVar[tuple[str, ...]] = ("MA_BREAK",)
    SLOTS: ClassVar[tuple[Slot, ...]] = (
        Slot("period", indicator="sma"),
        Slot("max_profit"),
        Slot("min_peak_high_profit"),
    )

    period: int = 5
    max_profit: float | None = None
    min_peak_high_profit: float | None = None
    after_partial: bool = False
    kind: Literal["ma_break"] = "ma_break"


@dataclass(frozen=True)
class LowerClose:
    """Exit when ``peak_close > entry * (1 + min_peak_profit)`` and ``close_t < close`` of the symbol's
    previous bar (even one before the entry); reason LOWER_CLOSE."""

    CODE: ClassVar[int] = 4
    REASONS: ClassVar[tuple[str, ...]] = ("LOWER_CLOSE",)
    SLOTS: ClassVar[tuple[Slot, ...]] = (Slot("min_peak_profit"),)

    min_peak_profit: float = 0.05
    after_partial: bool = False
    kind: Literal["lower_close"] = "lower_close"


@dataclass(frozen=True)
class LowerHigh:
    """Exit when ``peak_high > entry * (1 + min_peak_profit)`` (today included) and ``high_t < high`` of
    the symbol's previous bar; reason LOWER_HIGH."""

    CODE: ClassVar[int] = 5
    REASONS: ClassVar[tuple[str, ...]] = ("LOWER_HIGH",)
    SLOTS: ClassVar[tuple[Slot, ...]] = (Slot("min_peak_profit"),)

    min_peak_profit: float = 0.05
    after_partial: bool = False
    kind: Literal["lower_high"] = "lower_high"


@dataclass(frozen=True)
class EmaBreak:
    """Exit when ``close_t < EMA_period_t``; reason EMA_BREAK."""

    CODE: ClassVar[int] = 6
    REASONS: ClassVar[tuple[str, ...]] = ("EMA_BREAK",)
    SLOTS: ClassVar[tuple[Slot, ...]] = (Slot("period", encode="ema_row", indicator="ema"),)

    period: int = 10
    after_partial: bool = False
    kind: Literal["ema_break"] = "ema_break"


@dataclass(frozen=True)
class TimeStop:
    """Exit when ``sessions_held >= sessions`` (backtest sessions since the entry session); TIME_STOP."""

    CODE: ClassVar[int] = 7
    REASONS: ClassVar[tuple[str, ...]] = ("TIME_STOP",)
    SLOTS: ClassVar[tuple[Slot, ...]] = (Slot("sessions"),)

    sessions: int = 17
    after_partial: bool = False
    kind: Literal["time_stop"] = "time_stop"


@dataclass(frozen=True)
class StopLossClose:
    """Exit when ``close_t <= entry * (1 - pct)``; reason STOP_LOSS (a close rule, not resting)."""

    CODE: ClassVar[int] = 8
    REASONS: ClassVar[tuple[str, ...]] = ("STOP_LOSS",)
    SLOTS: ClassVar[tuple[Slot, ...]] = (Slot("pct"),)

    pct: float = 0.08
    after_partial: bool = False
    kind: Literal["stop_loss"] = "stop_loss"


@dataclass(frozen=True)
class TargetClose:
    """Exit when ``close_t >= entry * (1 + pct)``; reason TARGET."""

    CODE: ClassVar[int] = 9
    REASONS: ClassVar[tuple[str, ...]] = ("TARGET",)
    SLOTS: ClassVar[tuple[Slot, ...]] = (Slot("pct"),)

    pct: float = 0.20
    after_partial: bool = False
    kind: Literal["target"] = "target"


@dataclass(frozen=True)
class ScaleOut:
    """Partial profit taking at the close.

    With ``p = close_t / entry - 1``, every level not yet taken with ``p >= level`` sells
    ``floor(fraction * original_shares)`` (capped at what remains); several levels can fire in one
    session (one partial fill each, reasons from ``reasons``, default SCALE_1, SCALE_2, ...). A level that
    sells 0 shares still counts as taken. If any level fired, the close processing of this session ends.
    The position closes when nothing remains (the last fill is then the final exit).
    """

    CODE: ClassVar[int] = 10
    REASONS: ClassVar[tuple[str, ...]] = tuple(f"SCALE_{i + 1}" for i in range(MAX_LEVELS))
    SLOTS: ClassVar[tuple[Slot, ...]] = (
        Slot("fraction"),
        Slot("levels", items=MAX_LEVELS),
        Slot("level_reasons", items=MAX_LEVELS, encode="reason"),
    )

    levels: tuple[float, ...] = (0.08, 0.15, 0.25)
    fraction: float = 0.25
    reasons: tuple[str, ...] = ()
    kind: Literal["scale_out"] = "scale_out"

    def reason(self, level_index: int) -> str:
        if level_index < len(self.reasons):
            return self.reasons[level_index]
        return f"SCALE_{level_index + 1}"

    @property
    def level_reasons(self) -> tuple[str, ...]:
        """The reason of each level, in order."""
        return tuple(self.reason(i) for i in range(len(self.levels)))


ExitRule = (
    HardStop
    | BreakevenStop
    | TrailingStop
    | MaBreak
    | LowerClose
    | LowerHigh
    | EmaBreak
    | TimeStop
    | StopLossClose
    | TargetClose
    | ScaleOut
)

EXIT_RULE_TYPES: dict[str, type] = {
    "hard_stop": HardStop,
    "breakeven_stop": BreakevenStop,
    "trailing_stop": TrailingStop,
    "ma_break": MaBreak,
    "lower_close": LowerClose,
    "lower_high": LowerHigh,
    "ema_break": EmaBreak,
    "time_stop": TimeStop,
    "stop_loss": StopLossClose,
    "target": TargetClose,
    "scale_out": ScaleOut,
}


def is_gated(rule: ExitRule) -> bool:
    """Whether ``rule`` waits for a partial (``after_partial``; primitives without the field never do)."""
    return bool(getattr(rule, "after_partial", False))


@functools.cache
def slot_columns(cls: type) -> dict[str, int]:
    """Column of each declared slot of primitive ``cls`` in its rule's parameter row (a sequence's
    column holds its length; its items follow)."""
    out: dict[str, int] = {}
    column = _FIRST_SLOT
    for slot in cls.SLOTS:  # type: ignore[attr-defined]
        out[slot.field] = column
        column += slot.columns
    return out


@functools.cache
def choice_code(cls: type, field_name: str, choice: str) -> float:
    """The number a ``Literal`` field's ``choice`` is stored as: its index among the choices."""
    hint = typing.get_type_hints(cls)[field_name]
    return float(typing.get_args(hint).index(choice))


def _slot_width(cls: type) -> int:
    return _FIRST_SLOT + sum(slot.columns for slot in cls.SLOTS)  # type: ignore[attr-defined]


N_SLOT_COLUMNS = max(_slot_width(cls) for cls in EXIT_RULE_TYPES.values())


def _reason_codes() -> dict[str, int]:
    """Every reason's integer code: the engine's own (:class:`ExitReason`), then each primitive's
    declared reasons in declaration order. Codes live only inside one run (results carry names)."""
    codes = {reason.name: int(reason) for reason in ExitReason}
    for cls in EXIT_RULE_TYPES.values():
        for name in cls.REASONS:  # type: ignore[attr-defined]
            codes.setdefault(name, len(codes))
    return codes


REASON_CODES: dict[str, int] = _reason_codes()


@dataclass(frozen=True)
class ExitSpec:
    """A named, ordered list of exit rule primitives."""

    name: str
    rules: tuple[ExitRule, ...]
    hard_stop: float = 0.08  # sets the initial stop of every position (r_multiple, setups)
    description: str = ""
    extra: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not 0.0 < self.hard_stop < 1.0:
            raise ConfigError(f"exit {self.name!r}: hard_stop must be in (0, 1), got {self.hard_stop}")
        for rule in self.rules:
            if isinstance(rule, TrailingStop) and not rule.tiers:
                raise ConfigError(f"exit {self.name!r}: a trailing_stop needs at least one tier")
            if isinstance(rule, ScaleOut) and not 0.0 < rule.fraction <= 1.0:
                raise ConfigError(f"exit {self.name!r}: scale_out fraction must be in (0, 1]")

    def indicator_needs(self) -> dict[str, set[int]]:
        """Indicator periods the rules read: {'sma': {5}, 'ema': {10}, 'atr': {10}}."""
        needs: dict[str, set[int]] = {"sma": set(), "ema": set(), "atr": set()}
        for rule in self.rules:
            for slot in rule.SLOTS:
                if slot.indicator:
                    needs[slot.indicator].add(int(getattr(rule, slot.field)))
        return needs


_INF = -math.inf


def _smart_exits(hard_stop: float = 0.08, time_stop: int = 17) -> ExitSpec:
    return ExitSpec(
        name="smart_exits",
        hard_stop=hard_stop,
        description="Adaptive trailing stop, MA break below +3 %, lower close after +5 %, 17-session time stop",
        rules=(
            HardStop(pct=hard_stop),
            TrailingStop(
                tiers=(
                    TrailTier(0.15, "pct", 0.95),
                    TrailTier(0.10, "atr", 1.0),
                    TrailTier(_INF, "atr", 2.0),
                ),
                basis="close",
                update="new_peak",
                activation=0.05,
            ),
            MaBreak(period=5, max_profit=0.03),
            LowerClose(min_peak_profit=0.05),
            TimeStop(sessions=time_stop),
        ),
    )


def _scaled_exits(hard_stop: float = 0.08, time_stop: int = 20) -> ExitSpec:
    return ExitSpec(
        name="scaled_exits",
        hard_stop=hard_stop,
        description="Sell 25 % of the original shares at +8/+15/+25 %, then trail; 20-session time stop",
        rules=(
            HardStop(pct=hard_stop),
            ScaleOut(levels=(0.08, 0.15, 0.25), fraction=0.25),
            TrailingStop(
                tiers=(
                    TrailTier(0.30, "pct", 0.95),
                    TrailTier(0.20, "atr", 1.0),
                    TrailTier(_INF, "atr", 2.0),
                ),
                basis="close",
                update="new_peak",
                activation=0.08,
                after_partial=True,
            ),
            MaBreak(period=5, after_partial=True),
            TimeStop(sessions=time_stop),
        ),
    )


def _trend_following_75(hard_stop: float = 0.08) -> ExitSpec:
    return ExitSpec(
        name="trend_following_75",
        hard_stop=hard_stop,
        description="Take 25 % at +10 % and move the stop to breakeven; trail 10 % below the peak close, EMA10 break",
        rules=(
            HardStop(pct=hard_stop),
            BreakevenStop(),
            ScaleOut(levels=(0.10,), fraction=0.25, reasons=("PROFIT_TAKE_25",)),
            TrailingStop(
                tiers=(TrailTier(_INF, "pct", 0.90),), basis="close", update="every_close", after_partial=True
            ),
            EmaBreak(period=10, after_partial=True),
        ),
    )


def _hybrid_trailing(hard_stop: float = 0.08, time_stop: int = 15) -> ExitSpec:
    return ExitSpec(
        name="hybrid_trailing",
        hard_stop=hard_stop,
        description="(deprecated) Resting trail from the peak high, MA break after +3 %, lower high after +5 %",
        rules=(
            HardStop(pct=hard_stop),
            TrailingStop(
                tiers=(
                    TrailTier(0.15, "pct", 0.95),
                    TrailTier(0.10, "atr", 1.0),
                    TrailTier(_INF, "atr", 2.0),
                ),
                basis="resting",
                update="every_close",
            ),
            MaBreak(period=5, min_peak_high_profit=0.03),
            LowerHigh(min_peak_profit=0.05),
            TimeStop(sessions=time_stop),
        ),
    )


def _fixed(hard_stop: float = 0.08, target: float = 0.20, time_stop: int = 10) -> ExitSpec:
    return ExitSpec(
        name="fixed",
        hard_stop=hard_stop,
        description="The original baseline: close-based 8 % stop loss, 20 % target, 10-session time stop",
        rules=(StopLossClose(pct=hard_stop), TargetClose(pct=target), TimeStop(sessions=time_stop)),
    )


NAMED_EXITS = {
    "smart_exits": _smart_exits,
    "scaled_exits": _scaled_exits,
    "trend_following_75": _trend_following_75,
    "hybrid_trailing": _hybrid_trailing,
    "fixed": _fixed,
}


def named_exit(name: str, **params: float) -> ExitSpec:
    """One of the built-in rule sets, with its top-level parameters overridden by name."""
    try:
        factory = NAMED_EXITS[name]
    except KeyError:
        raise ConfigError(f"unknown exit rule set {name!r}; built-in: {', '.join(NAMED_EXITS)}") from None
    try:
        return factory(**params)
    except TypeError as exc:
        raise ConfigError(f"exit {name!r}: {exc}") from exc
