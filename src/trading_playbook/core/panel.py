"""The aligned panel: sessions x symbols arrays plus an availability mask, and price adjustment.

A :class:`Panel` is what scanners and engines consume. It is built once from a long bar table
(``symbol, date, open, high, low, close, volume`` and optionally ``split, dividend, adjusted_close``)
by :func:`bars_to_panel`, which applies the adjustment of RULES section 1:

- ``split`` (default): back-adjusted for splits. ``F_t = prod(k_s for s > t)`` over the symbol's
  loaded sessions; price = raw / F_t, volume = raw * F_t. The most recent prices equal the raw ones.
- ``all``: also removes dividends: open/high/low/close scaled by ``adjusted_close_t / close_t``;
  volume split-adjusted only.
- ``raw``: prices as traded.

Factors use every split in the loaded data, also those after a backtest's end, so cutting the
panel later (:meth:`Panel.truncate`) never changes earlier prices.

Sessions are the union of dates present in the data. Missing bars are NaN with ``available`` False.
Symbols are sorted in code-point order, so a symbol index order equals plain string order (the
ranking tie-break of RULES section 8).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from trading_playbook.core._dates import to_day
from trading_playbook.core.errors import DataError

if TYPE_CHECKING:  # pandas only where a DataFrame comes in or goes out (a run never needs it)
    import pandas as pd

    from trading_playbook.core.universe import MembershipMask

__all__ = [
    "ADJUSTMENTS",
    "Adjustment",
    "Panel",
    "SplitEvents",
    "bars_to_panel",
    "panel_from_arrays",
    "split_factors",
]

Adjustment = Literal["split", "all", "raw"]
ADJUSTMENTS: tuple[str, ...] = ("split", "all", "raw")
PRICE_FIELDS: tuple[str, ...] = ("open", "high", "low", "close")


@dataclass(frozen=True, eq=False)
class Panel:
    """Aligned (sessions x symbols) arrays. Prices are adjusted as ``adjustment`` says."""

    sessions: np.ndarray  # datetime64[D], shape (T,), strictly increasing
    symbols: tuple[str, ...]  # shape (N,), sorted
    open: np.ndarray  # float64 (T, N), NaN where no bar
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray  # float64 (T, N), adjusted like the prices (split factor)
    raw_close: np.ndarray  # float64 (T, N), the as-traded close (min_price rule)
    available: np.ndarray  # bool (T, N)
    adjustment: str = "split"
    # the raw split coefficients, only where they are not 1.0 (most cells have none): :attr:`split`
    # gives the dense (T, N) grid when something needs it
    splits: SplitEvents | None = field(default=None, repr=False)
    # point-in-time universe (core.universe): which symbols may be traded on which session; None: all
    universe: MembershipMask | None = field(default=None, repr=False)

    # ------------------------------------------------------------------ shape and lookup
    @cached_property
    def split(self) -> np.ndarray | None:
        """The raw split coefficients as a (T, N) float64 grid (1.0 where none), built on first use;
        None when the data had no split column."""
        return None if self.splits is None else self.splits.dense()

    @property
    def n_sessions(self) -> int:
        return int(self.sessions.shape[0])

    @property
    def n_symbols(self) -> int:
        return len(self.symbols)

    @cached_property
    def _symbol_pos(self) -> dict[str, int]:
        return {s: i for i, s in enumerate(self.symbols)}

    def symbol_index(self, symbol: str) -> int:
        """Column of ``symbol``; a clear error when the panel does not hold it."""
        try:
            return self._symbol_pos[symbol]
        except KeyError:
            raise DataError(
                f"symbol {symbol!r} is not in the loaded data ({self.n_symbols} symbols); "
                "check the [data] symbols list or ingest it first"
            ) from None

    def session_index(self, date: Any, side: Literal["left", "right"] = "left") -> int:
        """Index of the first session >= date (side='left') or last session <= date (side='right')."""
        d = to_day(date)
        if side == "left":
            return int(np.searchsorted(self.sessions, d, side="left"))
        return int(np.searchsorted(self.sessions, d, side="right")) - 1

    # ------------------------------------------------------------------ slicing (views, no copies)
    def truncate(self, last: int) -> Panel:
        """The panel cut after session index ``last`` (inclusive). Adjusted prices do not move."""
        end = last + 1
        return replace(
            self,
            sessions=self.sessions[:end],
            open=self.open[:end],
            high=self.high[:end],
            low=self.low[:end],
            close=self.close[:end],
            volume=self.volume[:end],
            raw_close=self.raw_close[:end],
            available=self.available[:end],
            splits=None if self.splits is None else self.splits.truncate(last),
            universe=None if self.universe is None else self.universe.truncate(last),
        )

    def select(self, symbols: list[str] | tuple[str, ...]) -> Panel:
        """A panel restricted to ``symbols`` (kept sorted); sessions without any bar are dropped."""
        cols = np.array(sorted(self.symbol_index(s) for s in set(symbols)), dtype=np.int64)
        avail = self.available[:, cols]
        rows = np.flatnonzero(avail.any(axis=1))
        grid = np.ix_(rows, cols)
        return Panel(
            sessions=self.sessions[rows],
            symbols=tuple(self.symbols[i] for i in cols),
            open=self.open[grid],
            high=self.high[grid],
            low=self.low[grid],
            close=self.close[grid],
            volume=self.volume[grid],
            raw_close=self.raw_close[grid],
            available=avail[rows],
            adjustment=self.adjustment,
            splits=None if self.splits is None else self.splits.take(rows, cols),
            universe=None if self.universe is None else self.universe.take(rows, cols),
        )

    def bars(self, symbol: str) -> pd.DataFrame:
        """One symbol's bars (adjusted) as a DataFrame indexed by session, missing sessions dropped."""
        import pandas as pd

        j = self.symbol_index(symbol)
        mask = self.available[:, j]
        return pd.DataFrame(
            {
                "open": self.open[mask, j],
                "high": self.high[mask, j],
                "low": self.low[mask, j],
                "close": self.close[mask, j],
                "volume": self.volume[mask, j],
                "raw_close": self.raw_close[mask, j],
            },
            index=pd.DatetimeIndex(self.sessions[mask], name="date"),
        )

    # ------------------------------------------------------------------ identity
    @cached_property
    def fingerprint(self) -> str:
        """Content hash of the adjusted arrays, symbols and sessions (stable across runs).

        SHA-256 (cut to 128 bits): with the CPU's SHA instructions it hashes the arrays about twice
        as fast as BLAKE2b, and a full shared-data panel is 130 MB.
        """
        h = hashlib.sha256()
        h.update(self.adjustment.encode())
        h.update("\x1f".join(self.symbols).encode())
        h.update(self.sessions.astype("datetime64[D]").astype(np.int64).tobytes())
        for arr in (self.open, self.high, self.low, self.close, self.volume, self.raw_close):
            h.update(np.ascontiguousarray(arr).data)  # the buffer itself: no copy to bytes
        return h.hexdigest()[:32]


@dataclass(frozen=True, eq=False)
class SplitEvents:
    """The split coefficients of a (T, N) panel that are not 1.0, as (row, column, coefficient) triples
    in bar order. A 25-year panel of 5,000 symbols holds a few thousand of them, not 31 million cells."""

    shape: tuple[int, int]
    rows: np.ndarray  # int64[K]
    cols: np.ndarray  # int64[K]
    coefficients: np.ndarray  # float64[K] (NaN kept: an unknown coefficient, read as 1.0 by the factors)

    @classmethod
    def from_grid(cls, grid: np.ndarray) -> SplitEvents:
        """The events of a dense (T, N) coefficient grid (cells that are not 1.0)."""
        rows, cols = np.nonzero(grid != 1.0)
        return cls((int(grid.shape[0]), int(grid.shape[1])), rows, cols, grid[rows, cols].astype(np.float64))

    def dense(self) -> np.ndarray:
        """The (T, N) grid, 1.0 where no event."""
        grid = np.ones(self.shape)
        grid[self.rows, self.cols] = self.coefficients
        return grid

    def truncate(self, last: int) -> SplitEvents:
        """The events of sessions ``0..last``."""
        keep = self.rows <= last
        return SplitEvents(
            (last + 1, self.shape[1]), self.rows[keep], self.cols[keep], self.coefficients[keep]
        )

    def take(self, rows: np.ndarray, cols: np.ndarray) -> SplitEvents:
        """The events of the sorted session ``rows`` and symbol ``cols`` kept, renumbered."""
        row_at = np.full(self.shape[0], -1, dtype=np.int64)
        row_at[rows] = np.arange(rows.shape[0])
        col_at = np.full(self.shape[1], -1, dtype=np.int64)
        col_at[cols] = np.arange(cols.shape[0])
        r, c = row_at[self.rows], col_at[self.cols]
        keep = (r >= 0) & (c >= 0)
        return SplitEvents(
            (int(rows.shape[0]), int(cols.shape[0])), r[keep], c[keep], self.coefficients[keep]
        )

    def columns(self, first: int, last: int) -> SplitEvents:
        """The events of symbols ``first..last-1``."""
        keep = (self.cols >= first) & (self.cols < last)
        return SplitEvents(
            (self.shape[0], last - first), self.rows[keep], self.cols[keep] - first, self.coefficients[keep]
        )


def split_factors(split: np.ndarray) -> np.ndarray:
    """``F_t = prod(k_s for s > t)`` down each column of a (T, N) split-coefficient array.

    Missing sessions must hold 1.0. The last session's factor is 1.0.
    """
    k = np.where(np.isfinite(split) & (split > 0), split, 1.0)
    factors = np.ones_like(k)
    # only columns with a split need the product (most symbols never split)
    cols = np.flatnonzero((k != 1.0).any(axis=0))
    if cols.size == 0:
        return factors
    # suffix product including t, then shift one session up so that it covers s > t only
    suffix = np.cumprod(k[::-1, cols], axis=0)[::-1]
    factors[:-1, cols] = suffix[1:]
    return factors


def bars_to_panel(bars: pd.DataFrame, adjustment: str = "split") -> Panel:
    """Align a long bar table into a :class:`Panel` and adjust prices.

    ``bars`` needs the columns ``symbol, date, open, high, low, close, volume``; ``split`` (default 1.0)
    and ``adjusted_close`` (needed for ``adjustment='all'``) are optional. The table must already be
    validated (one bar per symbol and session); see ``trading_playbook.data.validate``.
    """
    if adjustment not in ADJUSTMENTS:
        raise DataError(f"unknown adjustment {adjustment!r}; use one of {', '.join(ADJUSTMENTS)}")
    required = ("symbol", "date", "open", "high", "low", "close", "volume")
    missing = [c for c in required if c not in bars.columns]
    if missing:
        raise DataError(f"bar table lacks column(s) {missing}; expected {list(required)}")
    if len(bars) == 0:
        raise DataError("no bars to load: the data selection is empty (check symbols, start and end)")

    sym_codes, symbols = _symbol_codes(bars["symbol"])
    day = _session_days(bars["date"])
    optional = {
        name: _float_column(bars[name]) for name in ("split", "adjusted_close") if name in bars.columns
    }
    return panel_from_arrays(
        sym_codes,
        symbols,
        day,
        {f: _float_column(bars[f]) for f in (*PRICE_FIELDS, "volume")} | optional,
        adjustment,
    )


def panel_from_arrays(
    symbol_codes: np.ndarray,
    symbols: tuple[str, ...],
    day: np.ndarray,
    columns: dict[str, np.ndarray],
    adjustment: str = "split",
    *,
    consume: bool = False,
    sessions: np.ndarray | None = None,
) -> Panel:
    """Build a :class:`Panel` from flat per-bar arrays (the fast path of :func:`bars_to_panel`).

    Parameters
    ----------
    symbol_codes
        int64 index into ``symbols`` per bar.
    symbols
        Symbol names in code-point order; every one must have at least one bar.
    day
        Session date per bar as ``datetime64[D]``.
    columns
        float64 arrays per bar: ``open, high, low, close, volume`` and optionally ``split`` and
        ``adjusted_close``.
    adjustment
        ``split``, ``all`` or ``raw`` (RULES section 1).
    consume
        Remove each per-bar column from ``columns`` once it is in the grid (the caller hands the
        columns over): the long bars and the grids are then never held in full at the same time,
        which lowers the peak memory of a large load by about the size of the bars.
    sessions
        The session axis (sorted ``datetime64[D]``) when it is wider than the bars' own dates (a block
        of a larger universe, :func:`panel_from_blocks`); every bar's date must be on it.
    """
    if adjustment not in ADJUSTMENTS:
        raise DataError(f"unknown adjustment {adjustment!r}; use one of {', '.join(ADJUSTMENTS)}")
    if day.shape[0] == 0:
        raise DataError("no bars to load: the data selection is empty (check symbols, start and end)")
    if adjustment == "all" and "adjusted_close" not in columns:
        raise DataError(
            "adjustment 'all' needs an adjusted_close column, which this source does not "
            'provide; use adjustment = "split"'
        )
    if sessions is None:
        sessions, row = _session_rows(day.astype("datetime64[D]", copy=False))
    else:
        row = DayRows(sessions).rows(day)
    shape = (sessions.shape[0], len(symbols))
    codes = symbol_codes.astype(np.int64, copy=False)
    flat = row * shape[1] + codes

    available = np.zeros(shape[0] * shape[1], dtype=bool)
    available[flat] = True
    if int(np.count_nonzero(available)) != day.shape[0]:
        raise DataError("duplicate (symbol, date) rows in the bar table; validate the data before loading")
    holes = np.flatnonzero(~available)

    def scatter(values: np.ndarray) -> np.ndarray:
        out = np.empty(shape[0] * shape[1], dtype=np.float64)
        out[flat] = values
        out[holes] = np.nan
        return out.reshape(shape)

    splits = None
    if "split" in columns:
        odd = np.flatnonzero(columns["split"] != 1.0)
        order = np.argsort(flat[odd], kind="stable")  # bar order: session, then symbol
        odd = odd[order]
        splits = SplitEvents(shape, row[odd], codes[odd], columns["split"][odd].astype(np.float64))
    # adjustment per bar (same arithmetic as on the grid, on contiguous arrays)
    factor = (
        None if adjustment == "raw" or splits is None else _bar_factors(splits, row, codes, columns["split"])
    )
    if adjustment == "all":
        ratio = columns["adjusted_close"] / columns["close"]
    if consume:  # kept in the split grid, the factors and the ratio; other columns are not used
        for name in [c for c in columns if c not in (*PRICE_FIELDS, "volume")]:
            columns.pop(name)

    def adjusted(name: str) -> np.ndarray:
        return _adjusted(name, columns, adjustment, factor, ratio if adjustment == "all" else None)

    names = [*PRICE_FIELDS, "volume"] + ([] if adjustment == "raw" else ["raw_close"])

    def grid(name: str) -> np.ndarray:
        out = scatter(adjusted(name))
        if consume and name not in ("close", "raw_close"):  # close: both threads may still read it
            columns.pop(name, None)
        return out

    grids = _map_large(grid, names, shape[0] * shape[1])
    if consume:
        columns.pop("close", None)
    prices = dict(zip(names, grids, strict=True))
    events = splits if splits is not None else SplitEvents(shape, *_no_events())
    return _panel_of(sessions, symbols, prices, available.reshape(shape), adjustment, events)


def _panel_of(
    sessions: np.ndarray,
    symbols: tuple[str, ...],
    prices: dict[str, np.ndarray],
    available: np.ndarray,
    adjustment: str,
    splits: SplitEvents,
) -> Panel:
    """The :class:`Panel` of built (T, N) grids (``raw_close`` is the close itself when raw)."""
    return Panel(
        sessions=sessions,
        symbols=symbols,
        open=prices["open"],
        high=prices["high"],
        low=prices["low"],
        close=prices["close"],
        volume=prices["volume"],
        raw_close=prices["close"] if adjustment == "raw" else prices["raw_close"],
        available=available,
        adjustment=adjustment,
        splits=splits,
    )


def _no_events() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0)


def _adjusted(
    name: str,
    columns: dict[str, np.ndarray],
    adjustment: str,
    factor: np.ndarray | None,
    ratio: np.ndarray | None,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """One per-bar column adjusted as RULES section 1 says (``raw_close``: the close as traded).

    ``out``: where to write a column that needs arithmetic (one that does not is returned as is).
    """
    if name == "raw_close":
        return columns["close"]
    values = columns[name]
    if name == "volume":
        return values if factor is None else np.multiply(values, factor, out=out)
    result: np.ndarray = values
    if adjustment == "split" and factor is not None:
        result = np.divide(values, factor, out=out)
    elif adjustment == "all" and ratio is not None:
        result = np.multiply(values, ratio, out=out)
    return result


class DayRows:
    """Each date's row on a session axis, by a lookup table over the days it spans (no search)."""

    def __init__(self, sessions: np.ndarray) -> None:
        days = sessions.astype("datetime64[D]").view(np.int64)
        self.first = int(days[0]) if days.shape[0] else 0
        self.table = np.full(int(days[-1]) - self.first + 1 if days.shape[0] else 0, -1, dtype=np.int64)
        self.table[days - self.first] = np.arange(days.shape[0])

    def rows(self, day: np.ndarray) -> np.ndarray:
        offset = day.astype("datetime64[D]", copy=False).view(np.int64) - self.first
        if offset.shape[0] == 0:
            return offset
        span = self.table.shape[0]
        if offset.min() < 0 or offset.max() >= span:  # before the first session or after the last
            self._refuse(day, (offset < 0) | (offset >= span))
        row = self.table.take(offset)
        if row.min() < 0:  # a day between two sessions
            self._refuse(day, row < 0)
        return row

    @staticmethod
    def _refuse(day: np.ndarray, off: np.ndarray) -> None:
        bad = day[np.flatnonzero(off)[0]]
        raise DataError(f"bar date {bad} is not on the panel's session axis; rebuild the session list")


def _joined_events(shape: tuple[int, int], events: list[SplitEvents]) -> SplitEvents:
    """The blocks' split events as one set in bar order (session, then symbol)."""
    if not events:
        return SplitEvents(shape, *_no_events())
    rows = np.concatenate([e.rows for e in events])
    cols = np.concatenate([e.cols for e in events])
    order = np.lexsort((cols, rows))
    coefficients = np.concatenate([e.coefficients for e in events])
    return SplitEvents(shape, rows[order], cols[order], coefficients[order])


def _map_large(work: Callable[[str], np.ndarray], names: list[str], cells: int) -> list[np.ndarray]:
    """``[work(n) for n in names]``, on two threads for big panels.

    The scatter into the (sessions x symbols) grid is bound by memory latency and numpy releases the
    GIL while it runs, so two threads load a large panel about a third faster. The pool lives only for
    this call (nothing survives a fork).
    """
    if cells < 1_000_000:
        return [work(n) for n in names]
    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(work, names))


def _bar_factors(
    splits: SplitEvents,
    row: np.ndarray,
    codes: np.ndarray,
    coefficients: np.ndarray,
    ordered: bool | None = None,
    events: np.ndarray | None = None,
) -> np.ndarray | None:
    """``F_t`` of every bar (:func:`split_factors`), computed only for symbols that split; None if none.

    ``ordered``: whether the bars are sorted by (symbol, session), when the caller knows it.
    ``events``: the bars whose coefficient is finite, positive and not 1.0, ascending, when the
    caller has them."""
    if events is None:
        with np.errstate(invalid="ignore"):
            events = np.flatnonzero(np.isfinite(coefficients) & (coefficients > 0) & (coefficients != 1.0))
    if events.size == 0:
        return None
    if _sorted_by_symbol_and_row(codes, row) if ordered is None else ordered:
        return _sorted_bar_factors(codes, coefficients, events)
    cols = np.unique(codes[events])
    sub = split_factors(_grid_of(splits, cols))
    position = np.full(splits.shape[1], -1, dtype=np.int64)
    position[cols] = np.arange(cols.size)
    where = position[codes]
    hit = np.flatnonzero(where >= 0)
    factor = np.ones(codes.shape[0])
    factor[hit] = sub[row[hit], where[hit]]
    return factor


def _grid_of(splits: SplitEvents, cols: np.ndarray) -> np.ndarray:
    """The dense coefficient grid of the sorted symbol columns ``cols`` only."""
    grid = np.ones((splits.shape[0], cols.shape[0]))
    where = np.searchsorted(cols, splits.cols)
    hit = (where < cols.shape[0]) & (cols[np.minimum(where, cols.shape[0] - 1)] == splits.cols)
    grid[splits.rows[hit], where[hit]] = splits.coefficients[hit]
    return grid


def _sorted_by_symbol_and_row(codes: np.ndarray, row: np.ndarray) -> bool:
    """True when bars are ordered by (symbol, session), the layout of validated data."""
    if codes.shape[0] < 2:
        return True
    dcode = np.diff(codes)
    return bool(np.all((dcode > 0) | ((dcode == 0) & (np.diff(row) > 0))))


def _sorted_bar_factors(codes: np.ndarray, coefficients: np.ndarray, events: np.ndarray) -> np.ndarray:
    """Bar factors of (symbol, session)-ordered bars: each split multiplies the symbol's earlier bars.

    ``F`` is constant between a symbol's splits, so each split event scales one slice. Events are
    applied from the latest to the earliest, the order of the suffix product of
    :func:`split_factors`, so the results are bitwise equal to the grid computation.
    """
    factor = np.ones(codes.shape[0])
    first_row = np.searchsorted(codes, codes[events], side="left")
    for i in range(events.shape[0] - 1, -1, -1):
        bar = int(events[i])
        factor[int(first_row[i]) : bar] *= coefficients[bar]
    return factor


def _session_rows(day: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted unique sessions and each bar's row, by counting (no sort of the bars)."""
    ints = day.view(np.int64)
    first = int(ints.min())
    offset = ints - first
    present = np.zeros(int(offset.max()) + 1, dtype=bool)
    present[offset] = True
    used = np.flatnonzero(present)
    lookup = np.zeros(present.shape[0], dtype=np.int64)
    lookup[used] = np.arange(used.shape[0], dtype=np.int64)
    sessions = (used + first).astype("datetime64[D]")
    return sessions, lookup[offset]


def _float_column(values: pd.Series) -> np.ndarray:
    """A column as float64 numpy (nullable integers become NaN where missing)."""
    if values.dtype == np.float64:
        return values.to_numpy()
    import pandas as pd

    return pd.to_numeric(values).to_numpy(dtype=np.float64, na_value=np.nan)


def _symbol_codes(symbol: pd.Series) -> tuple[np.ndarray, tuple[str, ...]]:
    """Integer codes of the symbols in code-point order, cheap for categorical columns."""
    import pandas as pd

    if isinstance(symbol.dtype, pd.CategoricalDtype):
        categories = [str(c) for c in symbol.cat.categories]
        order = sorted(range(len(categories)), key=categories.__getitem__)
        remap = np.empty(len(categories), dtype=np.int64)
        remap[np.array(order, dtype=np.int64)] = np.arange(len(categories))
        codes = symbol.cat.codes.to_numpy()
        present = np.unique(codes)
        if present.size and present[0] < 0:
            raise DataError("bar table has rows without a symbol; drop them or fill the symbol column")
        # drop categories without rows so the panel holds only symbols that have data
        keep = np.zeros(len(categories), dtype=bool)
        keep[present] = True
        sorted_keep = keep[np.array(order, dtype=np.int64)]
        compact = np.cumsum(sorted_keep) - 1
        symbols = tuple(categories[i] for i, k in zip(order, sorted_keep, strict=True) if k)
        return compact[remap[codes]].astype(np.int64), symbols
    codes, uniques = pd.factorize(symbol.astype(str), sort=True)
    return codes.astype(np.int64), tuple(str(s) for s in uniques)


def _session_days(dates: pd.Series) -> np.ndarray:
    """Session dates as datetime64[D] (time of day and time zone dropped)."""
    import pandas as pd

    values = dates
    if not pd.api.types.is_datetime64_any_dtype(values):
        values = pd.to_datetime(values)
    if getattr(values.dt, "tz", None) is not None:
        values = values.dt.tz_localize(None)
    return values.to_numpy().astype("datetime64[D]")
