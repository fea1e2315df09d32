"""Frozen value types shared by every layer: setups, fills, trades and run results.

Names follow RULES.md and are used everywhere with the same meaning:
``entry_price`` is the entry fill after slippage, ``initial_stop`` is ``entry_price * (1 - hard_stop)``,
``sessions_held`` counts backtest sessions from the entry session, ``peak_close`` is the highest close
since entry (starting at the entry price).
"""

from __future__ import annotations

import datetime as dt
import operator
from dataclasses import dataclass, field, fields
from enum import IntEnum
from typing import Any

import numpy as np

__all__ = [
    "EquityCurve",
    "ExitReason",
    "PartialExit",
    "RunResult",
    "Setup",
    "SetupTable",
    "Trade",
    "TradeList",
    "trade_field_columns",
]


class ExitReason(IntEnum):
    """The exit reasons the session loop gives itself, integer-coded for the fast engine.

    Each exit primitive declares its own reasons (``REASONS`` in ``core.exits.spec``); their codes
    follow these (``core.exits.spec.REASON_CODES``). A reason the engines give outside any exit rule
    (a forced sale) is added here, and both engines name it.
    """

    NONE = 0
    END_OF_DATA = 1  # the symbol's data ends before the backtest's last session
    END_OF_TEST = 2  # the backtest's last session
    CUSTOM = 3  # a user exit written in Python gave no reason string
    UNIVERSE_EXIT = 4  # [universe] policy = "exit": sold at the close of the last member day


@dataclass(frozen=True, slots=True)
class Setup:
    """An entry setup found by a scanner at the close of ``session`` (RULES section 3)."""

    symbol: str
    session: dt.date
    reference_price: float
    initial_stop: float
    score: float
    base_high: float
    base_days: int
    base_width: float
    volume_ratio: float
    distance_from_high: float
    rs: float

    def rank_key(self) -> tuple[float, float, str]:
        """Sort key for ranking: score desc, volume_ratio desc, symbol asc (code-point order)."""
        return (-self.score, -self.volume_ratio, self.symbol)


@dataclass(frozen=True)
class SetupTable:
    """Every setup of a vectorised scan, sparse, columnar.

    Rows are sorted by session index ascending and, within a session, by rank (score desc,
    volume_ratio desc, symbol asc). ``session_idx`` / ``symbol_idx`` index the panel's
    ``sessions`` / ``symbols``. All arrays have the same length K.
    """

    session_idx: np.ndarray  # int64[K]
    symbol_idx: np.ndarray  # int64[K]
    reference_price: np.ndarray  # float64[K], adjusted close at the setup session
    initial_stop: np.ndarray  # float64[K]
    score: np.ndarray
    base_high: np.ndarray
    base_days: np.ndarray  # int64[K]
    base_width: np.ndarray
    volume_ratio: np.ndarray
    distance_from_high: np.ndarray
    rs: np.ndarray

    def __len__(self) -> int:
        return int(self.session_idx.shape[0])

    def session_slice(self, t: int) -> slice:
        """Rows of session index ``t`` (already in rank order)."""
        lo = int(np.searchsorted(self.session_idx, t, side="left"))
        hi = int(np.searchsorted(self.session_idx, t, side="right"))
        return slice(lo, hi)

    def to_setups(
        self, rows: slice | np.ndarray, sessions: np.ndarray, symbols: tuple[str, ...]
    ) -> list[Setup]:
        """Materialise rows as :class:`Setup` objects."""
        idx = np.arange(len(self))[rows]
        out: list[Setup] = []
        for i in idx:
            out.append(
                Setup(
                    symbol=symbols[int(self.symbol_idx[i])],
                    session=_to_date(sessions[int(self.session_idx[i])]),
                    reference_price=float(self.reference_price[i]),
                    initial_stop=float(self.initial_stop[i]),
                    score=float(self.score[i]),
                    base_high=float(self.base_high[i]),
                    base_days=int(self.base_days[i]),
                    base_width=float(self.base_width[i]),
                    volume_ratio=float(self.volume_ratio[i]),
                    distance_from_high=float(self.distance_from_high[i]),
                    rs=float(self.rs[i]),
                )
            )
        return out


@dataclass(frozen=True, slots=True)
class PartialExit:
    """One non-final exit fill of a position (scale-out, profit take)."""

    date: dt.date
    shares: int
    price: float
    reason: str


@dataclass(frozen=True, slots=True)
class Trade:
    """One position from entry fill to final exit (RULES sections 6 and 7)."""

    symbol: str
    entry_date: dt.date
    exit_date: dt.date
    entry_price: float
    exit_price: float  # share-weighted mean of all exit fills, final one included
    shares: int  # original shares
    exit_reason: str  # reason of the final exit
    pnl: float
    pnl_pct: float
    r_multiple: float
    sessions_held: int
    mfe: float
    mae: float
    partial_exits: tuple[PartialExit, ...] = ()
    initial_stop: float = float("nan")
    commission: float = 0.0
    sleeve: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The RULES section 7 representation (ISO dates, plain floats)."""
        return {
            "symbol": self.symbol,
            "entry_date": self.entry_date.isoformat(),
            "exit_date": self.exit_date.isoformat(),
            "entry_price": self.entry_price,
            "exit_price": self.exit_price,
            "shares": self.shares,
            "exit_reason": self.exit_reason,
            "pnl": self.pnl,
            "pnl_pct": self.pnl_pct,
            "r_multiple": self.r_multiple,
            "sessions_held": self.sessions_held,
            "mfe": self.mfe,
            "mae": self.mae,
            "partial_exits": [
                {"date": p.date.isoformat(), "shares": p.shares, "price": p.price, "reason": p.reason}
                for p in self.partial_exits
            ],
            "initial_stop": self.initial_stop,
            "commission": self.commission,
            "sleeve": self.sleeve,
        }


TRADE_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(Trade))  # in field order


class TradeList(list):  # type: ignore[type-arg]  # list[Trade]; typed as such where it is passed
    """A run's trades as the fast engine builds them: a plain list of :class:`Trade` that also keeps
    the columns it made them from (one list per field, in field order, holding the very objects each
    trade's fields hold).

    The metrics and the reports read the trades column by column; with these they skip reading
    10,000 trades back attribute by attribute. The columns are handed out only while the list holds
    exactly the trades it was made with, in the same order (:meth:`field_columns`): a trade is
    frozen, so its fields are then the columns' values. A copy, a slice, a sorted list or a pickled
    one is a plain ``list``.
    """

    __slots__ = ("_columns", "_made")

    def __init__(self, trades: list[Trade], columns: dict[str, list[Any]]) -> None:
        super().__init__(trades)
        if set(columns) != set(TRADE_FIELDS) or any(len(c) != len(trades) for c in columns.values()):
            raise ValueError("a TradeList needs one column per Trade field, one value per trade")
        self._columns = columns
        self._made = tuple(trades)

    def field_columns(self) -> dict[str, list[Any]] | None:
        """Field name -> the column of that field, while the list holds exactly the trades it was made
        with (same objects, same order); else None (read the trades themselves)."""
        made = self._made
        if len(self) != len(made) or not all(map(operator.is_, self, made)):
            return None
        return self._columns

    def __reduce__(self) -> tuple[Any, ...]:
        return (list, (list(self),))  # a plain list: the columns are an in-process shortcut


def trade_field_columns(trades: object) -> dict[str, list[Any]] | None:
    """The columns of ``trades`` when it is a :class:`TradeList` still holding the trades it was made
    with (:meth:`TradeList.field_columns`), else None."""
    return trades.field_columns() if isinstance(trades, TradeList) else None


@dataclass(frozen=True)
class EquityCurve:
    """Daily marks of the portfolio, one row per backtest session (after every fill of the session)."""

    dates: np.ndarray  # datetime64[D][S]
    equity: np.ndarray  # float64[S]
    cash: np.ndarray  # float64[S]
    positions: np.ndarray  # int64[S], count open at the end of the session
    exposure: np.ndarray  # float64[S], market value of open positions / equity
    sleeve_equity: dict[str, np.ndarray] = field(default_factory=dict)  # per-sleeve attribution (P&L-based)

    def __len__(self) -> int:
        return int(self.dates.shape[0])


@dataclass(frozen=True)
class RunResult:
    """Everything one backtest produced. ``metrics`` is filled by core.metrics after the run."""

    trades: list[Trade]
    equity: EquityCurve
    config: dict[str, Any]
    data: dict[str, Any]  # source, symbols count, first and last session, fingerprint
    starting_capital: float
    engine: str = "fast"
    metrics: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)


def _to_date(value: Any) -> dt.date:
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(np.datetime64(value, "D")))
