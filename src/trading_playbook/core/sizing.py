"""Position sizers (RULES sections 6 and 8): how many whole shares a setup gets.

A sizer turns a :class:`~trading_playbook.core.types.Setup` and a :class:`SizingContext` (the
portfolio's equity and cash **at the decision close**, before any entry of that scan) into a whole
number of shares. Every setup of one scan is sized from the same context values. A setup sized to 0
shares takes no slot (the engine tries the next-ranked one).

Arithmetic contract (both engines compute exactly this, in this order, in float64):

==================  ================================================================================
kind                shares
==================  ================================================================================
``percent_equity``  ``floor((fraction * equity) / reference)``; ``fraction = 1.0 / max_positions``
                    when not given
``percent_cash``    ``floor((fraction * cash) / reference)``
``risk``            ``floor((fraction * equity) / (reference - initial_stop))``; 0 when
                    ``reference - initial_stop <= 0``
``fixed_dollar``    ``floor(amount / reference)``; ``amount = starting_capital / max_positions`` when
                    not given
``atr_target``      ``min(floor((risk_fraction * equity) / (atr_multiple * atr)),
                    floor((max_fraction * equity) / reference))``; 0 when ATR is undefined or <= 0;
                    ``max_fraction = 1.0 / max_positions`` when not given
==================  ================================================================================

``reference`` is the setup's reference price (its close) and ``initial_stop`` the setup's initial
stop. With sleeves, the engine passes ``equity * weight``, ``cash * weight`` and
``starting_capital * weight`` (one multiplication each) and the sleeve's own ``max_positions``.
A non-finite or non-positive reference price gives 0 shares.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

from trading_playbook.core.errors import ConfigError
from trading_playbook.core.types import Setup

__all__ = [
    "SIZER_TYPES",
    "AtrTargetSizer",
    "FixedDollarSizer",
    "PercentCashSizer",
    "PercentEquitySizer",
    "PositionSizerProtocol",
    "RiskSizer",
    "Sizer",
    "SizingContext",
    "floor_shares",
]


@dataclass(frozen=True)
class SizingContext:
    """What a sizer may read, all taken at the decision close (sleeve-weighted already).

    ``atr`` maps an ATR period to ``ATR_period`` of the setup's symbol at the decision session
    (NaN when undefined); the engine fills the periods a sizer lists in ``atr_periods()``.
    """

    equity: float
    cash: float
    max_positions: int
    starting_capital: float
    atr: Mapping[int, float] = field(default_factory=dict)


@runtime_checkable
class PositionSizerProtocol(Protocol):
    """The design's sizer protocol: whole shares for one setup (0 = skip the setup)."""

    def size(self, setup: Setup, context: SizingContext) -> int:
        """Number of shares to order for ``setup``."""
        ...


def floor_shares(value: float, price: float) -> int:
    """``floor(value / price)`` as a non-negative int; 0 when either input is unusable."""
    if not (math.isfinite(value) and math.isfinite(price)) or price <= 0.0 or value <= 0.0:
        return 0
    return max(0, math.floor(value / price))


def _check_fraction(name: str, value: float | None, *, upper: float = 1.0) -> None:
    if value is not None and not 0.0 < value <= upper:
        raise ConfigError(f"sizer {name}: the fraction must be in (0, {upper:g}], got {value}")


@dataclass(frozen=True)
class PercentEquitySizer:
    """A fraction of equity at the decision close (default ``1 / max_positions``)."""

    fraction: float | None = None
    kind: Literal["percent_equity"] = "percent_equity"

    def __post_init__(self) -> None:
        _check_fraction(self.kind, self.fraction)

    def size(self, setup: Setup, context: SizingContext) -> int:
        fraction = self.fraction if self.fraction is not None else 1.0 / context.max_positions
        return floor_shares(fraction * context.equity, setup.reference_price)


@dataclass(frozen=True)
class PercentCashSizer:
    """A fraction of cash at the decision close (the original system used 0.0667)."""

    fraction: float = 0.0667
    kind: Literal["percent_cash"] = "percent_cash"

    def __post_init__(self) -> None:
        _check_fraction(self.kind, self.fraction)

    def size(self, setup: Setup, context: SizingContext) -> int:
        return floor_shares(self.fraction * context.cash, setup.reference_price)


@dataclass(frozen=True)
class RiskSizer:
    """Risk ``fraction`` of equity between the reference price and the setup's initial stop."""

    fraction: float = 0.01
    kind: Literal["risk"] = "risk"

    def __post_init__(self) -> None:
        _check_fraction(self.kind, self.fraction)

    def size(self, setup: Setup, context: SizingContext) -> int:
        risk_per_share = setup.reference_price - setup.initial_stop
        return floor_shares(self.fraction * context.equity, risk_per_share)


@dataclass(frozen=True)
class FixedDollarSizer:
    """A fixed dollar amount per position (default ``starting_capital / max_positions``)."""

    amount: float | None = None
    kind: Literal["fixed_dollar"] = "fixed_dollar"

    def __post_init__(self) -> None:
        if self.amount is not None and not self.amount > 0.0:
            raise ConfigError(f"sizer fixed_dollar: amount must be positive, got {self.amount}")

    def size(self, setup: Setup, context: SizingContext) -> int:
        amount = self.amount if self.amount is not None else context.starting_capital / context.max_positions
        return floor_shares(amount, setup.reference_price)


@dataclass(frozen=True)
class AtrTargetSizer:
    """Volatility targeting: lose ``risk_fraction`` of equity on a move of ``atr_multiple`` ATRs.

    Capped at ``max_fraction`` of equity (default ``1 / max_positions``) so that a quiet stock does
    not take the whole account.
    """

    risk_fraction: float = 0.01
    atr_multiple: float = 2.0
    atr_period: int = 10
    max_fraction: float | None = None
    kind: Literal["atr_target"] = "atr_target"

    def __post_init__(self) -> None:
        _check_fraction(self.kind, self.risk_fraction)
        _check_fraction(self.kind, self.max_fraction)
        if not self.atr_multiple > 0.0:
            raise ConfigError(f"sizer atr_target: atr_multiple must be positive, got {self.atr_multiple}")
        if self.atr_period < 1:
            raise ConfigError(f"sizer atr_target: atr_period must be >= 1, got {self.atr_period}")

    def atr_periods(self) -> tuple[int, ...]:
        """The ATR periods this sizer reads from the context."""
        return (self.atr_period,)

    def size(self, setup: Setup, context: SizingContext) -> int:
        atr = context.atr.get(self.atr_period, math.nan)
        if not (math.isfinite(atr) and atr > 0.0):
            return 0
        by_risk = floor_shares(self.risk_fraction * context.equity, self.atr_multiple * atr)
        max_fraction = self.max_fraction if self.max_fraction is not None else 1.0 / context.max_positions
        cap = floor_shares(max_fraction * context.equity, setup.reference_price)
        return min(by_risk, cap)


Sizer = PercentEquitySizer | PercentCashSizer | RiskSizer | FixedDollarSizer | AtrTargetSizer

SIZER_TYPES: dict[str, type] = {
    "percent_equity": PercentEquitySizer,
    "percent_cash": PercentCashSizer,
    "risk": RiskSizer,
    "fixed_dollar": FixedDollarSizer,
    "atr_target": AtrTargetSizer,
}
