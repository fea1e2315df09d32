"""How much memory a run's data will need, known before anything is loaded (issue 14).

The estimate reads only the catalog (a cached source: its symbols and each one's first and last
date) or the synthetic source's arguments, and counts the cells of the (sessions x symbols) panel:

- ``memory`` mode holds open, high, low, close, volume and the as-traded close as float64 plus the
  availability byte (49 bytes a cell) and scans in blocks of symbols;
- ``chunked`` mode holds only what the simulation reads (open, high, low, close and availability: 33
  bytes a cell) and builds and scans one block of symbols at a time.

Both add the block being built and scanned and the interpreter with its libraries. The figures were
checked against the peak RSS of 5,000- and 20,000-symbol runs (docs/performance.md).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from trading_playbook.core.errors import DataError

if TYPE_CHECKING:
    from trading_playbook.data.api import DataRequest
    from trading_playbook.data.catalog import SymbolEntry

__all__ = ["MemoryEstimate", "available_memory", "check_fits", "estimate_memory"]

MEMORY_CELL_BYTES = 49  # open, high, low, close, volume, raw_close (float64) + available (bool)
CHUNKED_CELL_BYTES = 33  # open, high, low, close (float64) + available (bool)
BLOCK_SYMBOLS = 256  # symbols of one block of the chunked mode (data.pack.PACK_BLOCK_SYMBOLS too)
# one block while it is built and scanned: its bars (about 64 bytes each) and grids, the scanner's
# candidate rows (about 60 bytes a bar of a 256-symbol scan block)
BLOCK_CELL_BYTES = 64 + 49
BASE_BYTES = 400 * 2**20  # interpreter, numpy, numba, pyarrow and the compiled kernels


@dataclass(frozen=True)
class MemoryEstimate:
    """The panel's size and the peak memory each mode is expected to need, in bytes."""

    symbols: int
    sessions: int
    memory_mode: int
    chunked_mode: int

    @property
    def cells(self) -> int:
        return self.symbols * self.sessions

    def describe(self) -> str:
        return (
            f"{self.symbols:,} symbols x {self.sessions:,} sessions: about {_gb(self.memory_mode)} "
            f"in memory, {_gb(self.chunked_mode)} in chunked mode"
        )


def estimate_memory(
    request: DataRequest, entries: Sequence[SymbolEntry] | None = None
) -> MemoryEstimate | None:
    """The estimate for ``request`` from the catalog or the synthetic arguments; None for a source it
    cannot size without reading it (a file, Alpaca). ``entries``: the cached source's catalog
    entries, when the caller has read them."""
    shape = _shape(request, entries)
    if shape is None:
        return None
    symbols, sessions = shape
    cells = symbols * sessions
    block = min(symbols, BLOCK_SYMBOLS) * sessions
    return MemoryEstimate(
        symbols=symbols,
        sessions=sessions,
        memory_mode=BASE_BYTES + cells * MEMORY_CELL_BYTES + min(symbols, 256) * sessions * 60,
        chunked_mode=BASE_BYTES + cells * CHUNKED_CELL_BYTES + block * BLOCK_CELL_BYTES,
    )


def check_fits(
    request: DataRequest, available: int | None = None, *, entries: Sequence[SymbolEntry] | None = None
) -> MemoryEstimate | None:
    """Refuse, before loading, a ``memory`` mode run whose data will not fit.

    ``available`` defaults to the memory the system reports available now. The error names the size,
    what is available, and the fix (chunked mode, or fewer symbols or sessions). ``entries``: the
    cached source's catalog entries, when the caller has read them.
    """
    estimate = estimate_memory(request, entries)
    if estimate is None or request.mode != "memory":
        return estimate
    free = available_memory() if available is None else available
    if free is not None and estimate.memory_mode > free:
        fits = estimate.chunked_mode <= free
        fix = (
            'set [data] mode = "chunked" (CLI: --chunked): the scan runs in blocks of symbols and only '
            f"the prices the simulation reads are held, about {_gb(estimate.chunked_mode)}"
            if fits
            else f"even the chunked mode needs about {_gb(estimate.chunked_mode)}: load fewer symbols "
            "([data] symbols) or a shorter range ([data] start/end)"
        )
        raise DataError(
            f"the data will not fit in memory: {estimate.symbols:,} symbols x {estimate.sessions:,} "
            f"sessions needs about {_gb(estimate.memory_mode)} and {_gb(free)} is available; {fix}"
        )
    return estimate


def available_memory() -> int | None:
    """Bytes the system reports available (``MemAvailable`` of /proc/meminfo), None where unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def _shape(request: DataRequest, known: Sequence[SymbolEntry] | None = None) -> tuple[int, int] | None:
    """(symbols, sessions) of the panel ``request`` would load, from metadata only (``known``: the
    source's catalog entries)."""
    if request.source == "synthetic":
        from trading_playbook.data.synthetic import DEFAULT_END, DEFAULT_START, synthetic_days

        symbols = len(request.symbols) or request.synthetic_symbols
        return symbols, synthetic_days(request.start or DEFAULT_START, request.end or DEFAULT_END)
    if request.source != "cache":
        return None
    entries = _entries(request) if known is None else known
    if request.symbols:
        wanted = set(request.symbols)
        entries = [e for e in entries if e.symbol in wanted]
    if not entries:
        return None
    # ISO dates order as strings: one conversion each instead of one per entry
    first = np.datetime64(min(e.first for e in entries), "D")
    last = np.datetime64(max(e.last for e in entries), "D")
    # weekdays between the first and the last bar: an upper bound of the sessions (holidays aside)
    return len(entries), int(np.busday_count(first, last + np.timedelta64(1, "D")))


def _entries(request: DataRequest) -> Sequence[SymbolEntry]:
    """The catalog entries of the cached source ``request`` reads (none when it cannot tell which)."""
    from trading_playbook.data.cache import BarCache, validate_source_name

    root = request.cache_dir or os.environ.get("PLAYBOOK_CACHE_DIR")
    cache = BarCache(root)
    name = request.path
    if name is None:
        sources = cache.sources()
        if len(sources) != 1:
            return []
        name = sources[0]
    return cache.catalog.entries(validate_source_name(name))


def _gb(n: float) -> str:
    return f"{n / 2**30:.1f} GB"
