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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from trading_playbook.core.errors import ConfigError, SimulationError
from trading_playbook.core.exits.protocol import ExitEngine, ExitStrategyProtocol, as_exit_engine
from trading_playbook.core.exits.rules import ExitRuleEngine
from trading_playbook.core.exits.spec import ExitSpec
from trading_playbook.core.scanners.base import ScannerProtocol, VectorScanner
from trading_playbook.core.sizing import PositionSizerProtocol

__all__ = [
    "AtrSizer",
    "DescribedScanner",
    "PortfolioSettings",
    "PreparedScanner",
    "SleeveSpec",
    "check_run",
    "check_windows",
    "commission_for",
    "scanner_cache_key",
]


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


@runtime_checkable
class DescribedScanner(Protocol):
    """A scanner that names its parameters: its setups are memoised under them (a stable cache key)."""

    def params(self) -> Mapping[str, Any]: ...


@runtime_checkable
class PreparedScanner(Protocol):
    """A vectorised scanner whose threshold-independent features can be computed once and shared by
    every scanner with the same ``features_key()`` (parameter sweeps)."""

    def features_key(self) -> Any: ...

    def prepare(self, panel: Any) -> Any: ...

    def scan(self, panel: Any, features: Any = None) -> Any: ...


@runtime_checkable
class AtrSizer(Protocol):
    """A sizer that reads ATRs from its :class:`~trading_playbook.core.sizing.SizingContext`."""

    def atr_periods(self) -> tuple[int, ...]: ...


@dataclass(frozen=True)
class SleeveSpec:
    """One strategy of a portfolio: scanner, exit strategy, sizer, slots and capital weight.

    ``scanner``, ``exit`` and ``sizer`` are component objects from the registry (built-in ones are
    compiled by the fast engine; user-written Python ones run on the reference engine). The sleeve
    is resolved once, when it is built, and both engines read the resolution instead of probing the
    components:

    - ``vectorised``: the scanner has ``scan(panel)`` (:class:`VectorScanner`), else it is a per-date
      :class:`ScannerProtocol` (``scan_for_setups``);
    - ``exit_engine``: the exit as the reference engine runs it; ``exit_spec``: the
      :class:`ExitSpec` the fast engine compiles, None for an exit written in Python;
    - ``indicators``: the SMA / EMA / ATR periods the exit and the sizer read;
    - ``cache_key``: a stable key of the scanner's setups (its class and parameters), None when the
      scanner does not name its parameters (then nothing is memoised for it);
    - ``prepared``: the scanner shares features across parameter sets (:class:`PreparedScanner`).

    A component that fits no protocol is a :class:`ConfigError` naming the sleeve.
    """

    name: str
    scanner: VectorScanner | ScannerProtocol
    exit: ExitSpec | ExitEngine | ExitStrategyProtocol
    sizer: PositionSizerProtocol
    max_positions: int = 3
    weight: float = 1.0
    params: dict[str, Any] = field(default_factory=dict)
    vectorised: bool = field(init=False, repr=False, compare=False)
    prepared: bool = field(init=False, repr=False, compare=False)
    exit_engine: ExitEngine = field(init=False, repr=False, compare=False)
    exit_spec: ExitSpec | None = field(init=False, repr=False, compare=False)
    indicators: Mapping[str, frozenset[int]] = field(init=False, repr=False, compare=False)
    cache_key: tuple[Any, ...] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.max_positions < 1:
            raise ConfigError(f"sleeve {self.name!r}: max_positions must be >= 1")
        if not 0.0 < self.weight <= 1.0:
            raise ConfigError(f"sleeve {self.name!r}: weight must be in (0, 1]")
        resolved = _resolve(self)
        for key, value in resolved.items():
            object.__setattr__(self, key, value)


def _resolve(sleeve: SleeveSpec) -> dict[str, Any]:
    """What :class:`SleeveSpec` records about its components (its docstring lists the keys)."""
    scanner, sizer = sleeve.scanner, sleeve.sizer
    if isinstance(scanner, VectorScanner):
        vectorised = True
    elif isinstance(scanner, ScannerProtocol):
        vectorised = False
    else:
        raise ConfigError(
            f"sleeve {sleeve.name!r}: the scanner {scanner!r} has neither scan(panel) nor "
            "scan_for_setups(date, panel)"
        )
    if not isinstance(sizer, PositionSizerProtocol):
        raise ConfigError(f"sleeve {sleeve.name!r}: the sizer {sizer!r} has no size(setup, context) method")
    try:
        engine = as_exit_engine(sleeve.exit)
    except ConfigError as exc:
        raise ConfigError(f"sleeve {sleeve.name!r}: {exc}") from None
    exit_spec = engine.spec if isinstance(engine, ExitRuleEngine) else None
    needs = {kind: set(periods) for kind, periods in engine.indicator_needs().items()}
    if isinstance(sizer, AtrSizer):
        needs.setdefault("atr", set()).update(sizer.atr_periods())
    return {
        "vectorised": vectorised,
        "prepared": vectorised and isinstance(scanner, PreparedScanner),
        "exit_engine": engine,
        "exit_spec": exit_spec,
        "indicators": {kind: frozenset(periods) for kind, periods in needs.items()},
        "cache_key": scanner_cache_key(scanner),
    }


def scanner_cache_key(scanner: object) -> tuple[Any, ...] | None:
    """``(module, class, sorted parameter reprs)``; None for a scanner that does not name its
    parameters (an object's ``id`` is no key: a sweep can reuse it for another scanner)."""
    if not isinstance(scanner, DescribedScanner):
        return None
    params = tuple(sorted((str(k), repr(v)) for k, v in scanner.params().items()))
    return (type(scanner).__module__, type(scanner).__qualname__, params)


def check_run(sleeves: Sequence[SleeveSpec], n_sessions: int, start: int, end: int) -> None:
    """The checks both engines make before a run, with the same errors for the same input."""
    if not sleeves:
        raise SimulationError("a backtest needs at least one sleeve (scanner, exit strategy, sizer)")
    names = [s.name for s in sleeves]
    if len(set(names)) != len(names):
        raise ConfigError(f"sleeve names must be unique, got {names}; rename the [[sleeves]] entries")
    if n_sessions == 0:
        raise SimulationError("the panel holds no sessions; check the data selection")
    if not 0 <= start <= end < n_sessions:
        raise SimulationError(
            f"sessions {start}..{end} are outside the panel's 0..{n_sessions - 1}; check the "
            "backtest's start and end dates against the loaded data"
        )


def check_windows(sleeves: Sequence[SleeveSpec], first_session: Any, last_session: Any) -> None:
    """Ask each scanner that depends on time-stamped artefacts whether it may scan these sessions.

    A scanner with ``check_window(first, last)`` (e.g. ``ml_score``: no session may use a model
    trained on data up to or after it) raises a clear error instead of silently scanning nothing.
    Every path that runs a strategy (backtest, replay, a paper or live step) calls this.
    """
    for sleeve in sleeves:
        check = getattr(sleeve.scanner, "check_window", None)
        if callable(check):
            check(first_session, last_session)
