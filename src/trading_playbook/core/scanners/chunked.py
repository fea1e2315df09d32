"""Scanning a large universe in blocks of symbols (issue 14: memory and universes 10-40x larger).

A per-symbol scanner (every feature of a setup reads only its own symbol's bars; the symbols meet only
in the ranking of a session) gives the same setups on a block of columns as on the whole panel. So a
large panel is scanned block by block and the blocks' setups are merged and ranked once:

- the scanner's working memory (its candidate table holds a row per bar) is that of one block, not of
  the whole universe;
- narrow blocks keep the kernels' ring buffers in the CPU caches (a 5,000-symbol panel scanned as two
  2,500-symbol chunks spent most of its time on cache misses).

The merged table is in the documented order of :class:`~trading_playbook.core.types.SetupTable`
(session ascending, then score desc, volume_ratio desc, symbol asc), which is a total order because a
symbol has at most one setup per session: the result is the whole-panel scan's, row for row.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import fields
from typing import Any

import numpy as np

from trading_playbook.core.panel import Panel
from trading_playbook.core.types import SetupTable

__all__ = [
    "BLOCK_SCAN_SYMBOLS",
    "BLOCK_SYMBOLS",
    "is_per_symbol",
    "merge_setups",
    "reusing_scratch",
    "scan_in_blocks",
    "scratch_pool",
    "symbol_blocks",
]

# Symbols per block: narrow enough for the CPU caches and a small candidate table, wide enough that
# the per-call overhead stays negligible (measured on 2,000-5,000 synthetic symbols x 25 years).
BLOCK_SYMBOLS = 256
# A backtest's panel with more symbols than this is scanned in blocks (the shared data's 504 are not:
# a sweep there reuses the whole panel's prepared features).
BLOCK_SCAN_SYMBOLS = 1_000


def is_per_symbol(scanner: Any) -> bool:
    """True for scanners whose setups of a symbol depend only on that symbol's bars.

    ``daily_breakout`` is one (RULES section 3: every window counts the symbol's own bars); any other
    scanner says so with a class attribute ``per_symbol = True``.
    """
    from trading_playbook.core.scanners.daily_breakout import DailyBreakoutScanner

    return type(scanner) is DailyBreakoutScanner or bool(getattr(scanner, "per_symbol", False))


_SCRATCH = threading.local()


@contextmanager
def reusing_scratch() -> Iterator[None]:
    """Scans by this thread keep their kernels' scratch (the breakout scanner's gather table: tens of
    megabytes per chunk) in :func:`scratch_pool` from one scan to the next while the context is open:
    a large universe scanned block by block then allocates it, and faults its pages in, once instead
    of once a block. The scratch is dropped when the outermost context closes."""
    if scratch_pool() is not None:
        yield
        return
    _SCRATCH.pool = {}
    try:
        yield
    finally:
        _SCRATCH.pool = None


def scratch_pool() -> dict[Any, Any] | None:
    """This thread's scratch buffers by the scanner's key, inside :func:`reusing_scratch`; else None
    (a scan allocates its own)."""
    return getattr(_SCRATCH, "pool", None)


def symbol_blocks(n_symbols: int, width: int = BLOCK_SYMBOLS) -> list[tuple[int, int]]:
    """``[first, last)`` column ranges of at most ``width`` symbols covering ``n_symbols``."""
    if width < 1:
        raise ValueError(f"a block needs at least one symbol, got width {width}")
    return [(a, min(a + width, n_symbols)) for a in range(0, n_symbols, width)]


def column_block(panel: Panel, first: int, last: int) -> Panel:
    """The panel's symbols ``first..last-1`` on all its sessions (views of the columns, no copies)."""
    cols = slice(first, last)
    return Panel(
        sessions=panel.sessions,
        symbols=panel.symbols[cols],
        open=panel.open[:, cols],
        high=panel.high[:, cols],
        low=panel.low[:, cols],
        close=panel.close[:, cols],
        volume=panel.volume[:, cols],
        raw_close=panel.raw_close[:, cols],
        available=panel.available[:, cols],
        adjustment=panel.adjustment,
        splits=None if panel.splits is None else panel.splits.columns(first, last),
    )


def scan_in_blocks(scan: Callable[[Panel], SetupTable], panel: Panel, width: int | None = None) -> SetupTable:
    """``scan`` (a per-symbol scanner's ``scan``) run on blocks of ``width`` symbols (default
    :data:`BLOCK_SYMBOLS`), merged and ranked."""
    parts = []
    with reusing_scratch():  # the blocks share the feature kernel's scratch
        for first, last in symbol_blocks(panel.n_symbols, BLOCK_SYMBOLS if width is None else width):
            parts.append((first, scan(column_block(panel, first, last))))
    return merge_setups(parts)


def merge_setups(parts: Iterable[tuple[int, SetupTable]]) -> SetupTable:
    """One table from per-block tables: each block's symbol indices shifted by the block's first
    column (``(first, table)`` pairs), rows put in rank order.

    The rank order sorts on (session, -score, -volume_ratio, symbol); the symbol index is the
    code-point order of the names (the panel's columns are sorted), so ties break as
    :meth:`~trading_playbook.core.types.Setup.rank_key` does. A list of parts is emptied as it is
    merged, column by column, so the blocks' tables and the merged one are not all held at once.
    """
    names = [f.name for f in fields(SetupTable)]
    blocks = parts if isinstance(parts, list) else list(parts)
    if not blocks:
        return SetupTable(**{name: np.zeros(0, dtype=_dtype(name)) for name in names})
    firsts = [first for first, _ in blocks]
    tables = [{name: getattr(table, name) for name in names} for _, table in blocks]
    blocks.clear()  # each block's column is now referenced once, and dropped once merged

    def column(name: str) -> np.ndarray:
        values = [np.asarray(t.pop(name)).astype(_dtype(name), copy=False) for t in tables]
        if name == "symbol_idx":
            values = [v + first for v, first in zip(values, firsts, strict=True)]
        return np.concatenate(values)

    keys = {name: column(name) for name in ("session_idx", "score", "volume_ratio", "symbol_idx")}
    order = np.lexsort((keys["symbol_idx"], -keys["volume_ratio"], -keys["score"], keys["session_idx"]))
    merged: dict[str, np.ndarray] = {}
    for name in names:
        values = keys.pop(name) if name in keys else column(name)
        merged[name] = values[order]
        del values
    return SetupTable(**merged)


def _dtype(name: str) -> Any:
    return np.int64 if name in ("session_idx", "symbol_idx", "base_days") else np.float64
