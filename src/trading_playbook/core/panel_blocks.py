"""Building a :class:`~trading_playbook.core.panel.Panel` block of symbols by block (issue 14).

A large universe is never held as one long bar table: its source hands over the bars of a few hundred
symbols at a time (:class:`BarBlock`: a pack's row group, a block of synthetic bars) and
:func:`panel_from_blocks` writes each block straight into its columns of the (sessions x symbols)
grids, with the arithmetic of :func:`~trading_playbook.core.panel.panel_from_arrays`, so the panel is
the same bit for bit. Blocks may be written by several threads at once: each owns its columns.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import NamedTuple, TypeVar

import numpy as np

from trading_playbook.core.errors import DataError
from trading_playbook.core.panel import (
    ADJUSTMENTS,
    PRICE_FIELDS,
    DayRows,
    Panel,
    SplitEvents,
    _adjusted,
    _bar_factors,
    _joined_events,
    _panel_of,
)

__all__ = ["BarBlock", "panel_from_blocks"]

_T = TypeVar("_T")


class BarBlock(NamedTuple):
    """The bars of the symbols ``first .. first + width - 1`` of a universe (codes count from ``first``)."""

    first: int
    width: int
    codes: np.ndarray
    day: np.ndarray
    columns: dict[str, np.ndarray]


def panel_from_blocks(
    symbols: tuple[str, ...],
    sessions: np.ndarray,
    blocks: Iterable[BarBlock],
    adjustment: str = "split",
    *,
    threads: int = 1,
) -> Panel:
    """Build a :class:`Panel` block of symbols by block, never holding more than one block's bars per
    thread.

    ``blocks`` yields :class:`BarBlock` s covering ``symbols`` (code-point order) in consecutive
    column ranges, each with the per-bar arrays :func:`panel_from_arrays` takes (codes counting from
    the block's first symbol). Every value is computed per bar exactly as :func:`panel_from_arrays`
    computes it on all the bars at once and written straight into the grids, so the panel is the
    same, bit for bit; the peak memory is the panel plus a block per thread instead of the panel
    plus every bar.

    ``threads``: how many threads take blocks from ``blocks`` (one at a time and in order, under a
    lock) and write them into the grids. The writes are numpy calls that release the GIL, and so is
    the reading a block source may do inside ``next()`` (Arrow decoding a pack's row group), so two
    threads keep both cores busy: one reads or writes a block while the other writes the one before.
    The panel does not depend on it.
    """
    if adjustment not in ADJUSTMENTS:
        raise DataError(f"unknown adjustment {adjustment!r}; use one of {', '.join(ADJUSTMENTS)}")
    shape = (int(sessions.shape[0]), len(symbols))
    names = [*PRICE_FIELDS, "volume"] + ([] if adjustment == "raw" else ["raw_close"])
    prices = {name: np.empty(shape) for name in names}
    available = np.zeros(shape, dtype=bool)
    lookup = DayRows(sessions)
    feed = _BlockFeed(blocks)

    def fill() -> list[tuple[int, SplitEvents]]:
        made: list[tuple[int, SplitEvents]] = []
        scratch = _Scratch()
        while (block := feed.take()) is not None:
            events = _fill_block(prices, available, block, lookup, shape, adjustment, scratch)
            if events is not None:
                made.append((block.first, events))
        return made

    if threads <= 1:
        made = fill()
    else:
        with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="playbook-panel") as pool:
            futures = [pool.submit(feed.guarded, fill) for _ in range(threads)]
            made = [item for future in futures for item in future.result()]
    if feed.filled != shape[1]:
        raise DataError(f"the blocks held {feed.filled} of {shape[1]} symbols; every symbol needs bars")
    events = [e for _, e in sorted(made, key=lambda item: item[0])]
    return _panel_of(sessions, symbols, prices, available, adjustment, _joined_events(shape, events))


class _BlockFeed:
    """Hands the blocks of an iterable to the threads of :func:`panel_from_blocks` one at a time and in
    order (a generator cannot run in two threads at once), checking that they cover the columns in
    order. Once a thread has failed, the others take no more blocks."""

    def __init__(self, blocks: Iterable[BarBlock]) -> None:
        self._blocks = iter(blocks)
        self._lock = threading.Lock()
        self._failed = False
        self.filled = 0  # columns handed out so far

    def take(self) -> BarBlock | None:
        with self._lock:
            if self._failed:
                return None
            block = next(self._blocks, None)
            if block is None:
                return None
            if block.first != self.filled:
                raise DataError(
                    f"blocks must cover the symbols in order: expected column {self.filled}, got {block.first}"
                )
            self.filled += block.width
            return block

    def guarded(self, work: Callable[[], _T]) -> _T:
        """``work()``; when it raises, the other threads stop taking blocks."""
        try:
            return work()
        except BaseException:
            self._failed = True
            raise


class _Scratch:
    """One thread's reusable buffers for :func:`_fill_block`: allocated (and faulted in) once, not once
    a block."""

    def __init__(self) -> None:
        self._arrays: dict[str, np.ndarray] = {}

    def get(self, name: str, size: int, dtype: type = np.float64) -> np.ndarray:
        array = self._arrays.get(name)
        if array is None or array.shape[0] < size:
            array = self._arrays[name] = np.empty(size, dtype=dtype)
        return array[:size]


def _fill_block(
    prices: dict[str, np.ndarray],
    available: np.ndarray,
    block: BarBlock,
    lookup: DayRows,
    shape: tuple[int, int],
    adjustment: str,
    scratch: _Scratch,
) -> SplitEvents | None:
    """Write one block's adjusted bars into its columns of the grids (the arithmetic of
    :func:`panel_from_arrays`); returns its split events (columns of the whole panel), if any.

    The block is first laid out symbol-major, one contiguous series per symbol (bars come sorted by
    symbol and session, so these writes are nearly sequential), then copied into the row-major grids
    a session row at a time: scattering bars straight into a column of a wide grid touched one memory
    page per bar. Every column writes the same cells of the series, so its holes are set to NaN once.
    """
    columns = block.columns
    if block.day.shape[0] == 0:
        raise DataError("no bars to load: the data selection is empty (check symbols, start and end)")
    if adjustment == "all" and "adjusted_close" not in columns:
        raise DataError(
            "adjustment 'all' needs an adjusted_close column, which this source does not "
            'provide; use adjustment = "split"'
        )
    n_rows = shape[0]
    row = lookup.rows(block.day)
    codes = block.codes.astype(np.int64, copy=False)
    if codes.min() < 0 or codes.max() >= block.width:
        raise DataError(
            f"a block of {block.width} symbols holds bars of symbol codes outside 0..{block.width - 1}"
        )
    local = codes * n_rows
    local += row  # symbol-major cell of each bar
    # bars sorted by (symbol, session) without repeats (validated data) are the bars whose cells
    # strictly increase, as 0 <= row < n_rows; anything else is checked in full
    ordered = bool((np.diff(local) > 0).all())
    if not ordered and np.unique(local).shape[0] != local.shape[0]:
        raise DataError("duplicate (symbol, date) rows in the bar table; validate the data before loading")
    cols = slice(block.first, block.first + block.width)
    cells = block.width * n_rows
    mask = scratch.get("mask", cells, np.bool_)
    mask.fill(False)
    mask[local] = True
    available[:, cols] = mask.reshape(block.width, n_rows).T
    events, factor = _split_events(block, row, codes, n_rows, adjustment, ordered)
    ratio = columns["adjusted_close"] / columns["close"] if adjustment == "all" else None
    series = scratch.get("series", cells)
    if local.shape[0] != cells:  # cells without a bar: NaN (no column writes them)
        series.fill(np.nan)
    adjusted = scratch.get("adjusted", local.shape[0])
    for name, grid in prices.items():
        series[local] = _adjusted(name, columns, adjustment, factor, ratio, out=adjusted)
        grid[:, cols] = series.reshape(block.width, n_rows).T
    if events is None:
        return None
    return replace(events, cols=events.cols + block.first, shape=(n_rows, available.shape[1]))


def _split_events(
    block: BarBlock, row: np.ndarray, codes: np.ndarray, n_rows: int, adjustment: str, ordered: bool
) -> tuple[SplitEvents | None, np.ndarray | None]:
    """The block's split events (its own columns) and its bars' split factors (None: all 1.0)."""
    if "split" not in block.columns:
        return None, None
    split = block.columns["split"]
    odd = np.flatnonzero(split != 1.0)
    coefficients = split[odd]
    with np.errstate(invalid="ignore"):  # the factors' events: finite, positive, ascending
        real = odd[np.isfinite(coefficients) & (coefficients > 0)]
    by_bar = np.lexsort((codes[odd], row[odd]))  # bar order: session, then symbol
    odd = odd[by_bar]
    events = SplitEvents((n_rows, block.width), row[odd], codes[odd], coefficients[by_bar].astype(np.float64))
    if adjustment == "raw":
        return events, None
    return events, _bar_factors(events, row, codes, split, ordered, events=real)
