"""What both engines take besides the panel: portfolio settings and sleeves.

A backtest is one or more **sleeves** sharing one cash pool. A sleeve is a scanner, an exit
strategy, a sizer, its own ``max_positions`` and a ``weight``. A plain backtest is one sleeve with
weight 1.0, and then everything below reduces exactly to RULES.md.

Sleeve semantics (multi-strategy portfolios):

- One cash pool, one equity curve. Sleeves are processed in config order at every step of the
  session loop (fills at the open: all pending exits of every sleeve first, then pending entries
  sleeve by sleeve in ranking order; stops, close rules and scans sleeve by sleeve).
- A sizer of sleeve k sees ``equity * weight_k`` and ``cash * weight_k`` as its equity and cash
  (``percent_equity`` defaults to ``1 / max_positions_k`` of that). At the fill, the whole pool's cash
  is what cash allows.
- Free slots are per sleeve: ``max_positions_k`` - its open positions - its pending entries. A symbol
  held (or pending) in one sleeve is skipped by that sleeve's scan only; two sleeves may hold the same
  symbol as two separate positions.
- Attribution: each sleeve's P&L curve = its realised P&L + the unrealised P&L of its open positions,
  marked at each session's close; ``sleeve_equity[k] = weight_k * starting_capital + pnl_k``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from trading_playbook.core.errors import ConfigError

__all__ = ["PortfolioSettings", "SleeveSpec", "commission_for"]


@dataclass(frozen=True)
class PortfolioSettings:
    """Capital, fills and costs (RULES sections 4 and 6)."""

    starting_capital: float = 100_000.0
    entry_fill: Literal["next_open", "close"] = "next_open"
    exit_fill: Literal["close", "next_open"] = "close"
    slippage_bps: float = 5.0
    commission_per_share: float = 0.0
    commission_per_order: float = 0.0
    commission_min: float = 0.0

    def __post_init__(self) -> None:
        if self.starting_capital <= 0:
            raise ConfigError("portfolio.starting_capital must be positive")
        if self.entry_fill not in ("next_open", "close"):
            raise ConfigError(f"portfolio.entry_fill must be 'next_open' or 'close', got {self.entry_fill!r}")
        if self.exit_fill not in ("close", "next_open"):
            raise ConfigError(f"portfolio.exit_fill must be 'close' or 'next_open', got {self.exit_fill!r}")
        for name in ("slippage_bps", "commission_per_share", "commission_per_order", "commission_min"):
            if getattr(self, name) < 0:
                raise ConfigError(f"portfolio.{name} must be >= 0")

    @property
    def slippage(self) -> float:
        """Slippage as a fraction: buy at price * (1 + s), sell at price * (1 - s)."""
        return self.slippage_bps / 10_000.0


def commission_for(shares: int, settings: PortfolioSettings) -> float:
    """Commission of one fill: ``max(min, per_order + per_share * shares)``; 0 for 0 shares."""
    if shares <= 0:
        return 0.0
    return max(
        settings.commission_min,
        settings.commission_per_order + settings.commission_per_share * shares,
    )


@dataclass(frozen=True)
class SleeveSpec:
    """One strategy of a portfolio: scanner, exit strategy, sizer, slots and capital weight.

    ``scanner``, ``exit`` and ``sizer`` are component objects from the registry (built-in ones are
    compiled by the fast engine; user-written Python ones run on the reference engine).
    """

    name: str
    scanner: Any
    exit: Any
    sizer: Any
    max_positions: int = 3
    weight: float = 1.0
    params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.max_positions < 1:
            raise ConfigError(f"sleeve {self.name!r}: max_positions must be >= 1")
        if not 0.0 < self.weight <= 1.0:
            raise ConfigError(f"sleeve {self.name!r}: weight must be in (0, 1]")
