"""The chunked mode: universes bigger than memory (issue 14, ``[data] mode = "chunked"``).

The scanner is per symbol until the ranking of a session, so the data is built and scanned one
block of symbols at a time and only two things are kept:

- the setup table of each sleeve (a few hundred thousand rows, merged and ranked once at the end,
  :func:`trading_playbook.core.scanners.chunked.merge_setups`);
- the prices the simulation and the metrics read (open, high, low, close and availability, 33 bytes a
  cell instead of 49; no volume, no as-traded close, no split grid).

Then the usual session loop (the fast engine) runs on that panel with those setups, and the metrics
use its closes for the buy-and-hold benchmark. Every number is computed as in the in-memory mode, so
the trades, the equity curve and the metrics are the same (``tests/integration/test_chunked_mode.py``).

Limits: the fast engine only (the reference engine reads the as-traded close for splits); scanners
that say they are per symbol (``daily_breakout``) with a stable cache key; no point-in-time universe;
the synthetic source, or a cached source with its pack (written by ``playbook data ingest``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from trading_playbook.core.errors import ConfigError, DataError
from trading_playbook.core.panel import Panel
from trading_playbook.core.panel_blocks import BarBlock, panel_from_blocks
from trading_playbook.core.scanners.chunked import (
    is_per_symbol,
    merge_setups,
    reusing_scratch,
    scan_in_blocks,
)
from trading_playbook.core.types import SetupTable
from trading_playbook.data.prefetch import prefetched

if TYPE_CHECKING:
    from trading_playbook.config import PlaybookConfig
    from trading_playbook.data.api import DataRequest
    from trading_playbook.engine import Workspace

__all__ = ["load_chunked", "source_blocks"]


def load_chunked(
    cfg: PlaybookConfig,
    request: DataRequest,
    *,
    block_symbols: int = 256,
    scan_symbols: int | None = None,
) -> Workspace:
    """A :class:`~trading_playbook.engine.Workspace` holding the simulation's panel and every sleeve's
    setups, built ``block_symbols`` symbols at a time (each scanned in ``scan_symbols`` blocks)."""
    from trading_playbook.engine import Workspace, build_sleeves

    if cfg.universe is not None:
        raise ConfigError(
            'a point-in-time [universe] is not supported in [data] mode = "chunked"; use mode = "memory"'
        )
    sleeves = build_sleeves(cfg)
    for sleeve in sleeves:
        if not (sleeve.vectorised and is_per_symbol(sleeve.scanner) and sleeve.cache_key is not None):
            raise ConfigError(
                f"sleeve {sleeve.name!r}: the scanner {type(sleeve.scanner).__name__!r} cannot be scanned "
                'in blocks of symbols ([data] mode = "chunked" needs a per-symbol scanner such as '
                'daily_breakout); use mode = "memory"'
            )
    t0 = time.perf_counter()
    symbols, sessions, blocks, info = source_blocks(request, block_symbols)
    shape = (int(sessions.shape[0]), len(symbols))
    prices = {name: np.empty(shape) for name in ("open", "high", "low", "close")}
    available = np.zeros(shape, dtype=bool)
    parts: list[list[tuple[int, SetupTable]]] = [[] for _ in sleeves]
    scanning = 0.0
    # each block's panel is built on a background thread while the one before is scanned (data.prefetch)
    built = prefetched(_block_panels(symbols, sessions, blocks, request.adjustment))
    with reusing_scratch():  # every block's scan reuses the feature kernel's scratch (faulted in once)
        for block, part in built:
            cols = slice(block.first, block.first + block.width)
            for name, grid in prices.items():
                grid[:, cols] = getattr(part, name)
            available[:, cols] = part.available
            t1 = time.perf_counter()
            for s, sleeve in enumerate(sleeves):
                parts[s].append((block.first, scan_in_blocks(sleeve.scanner.scan, part, scan_symbols)))
            scanning += time.perf_counter() - t1
            del part
    missing = np.flatnonzero(~available.any(axis=0))
    if missing.size:
        raise DataError(f"symbol {symbols[int(missing[0])]} has no bars in the chunked load")
    nothing = np.broadcast_to(np.float64(np.nan), shape)  # not held: the fast engine reads neither
    panel = Panel(
        sessions=sessions,
        symbols=symbols,
        open=prices["open"],
        high=prices["high"],
        low=prices["low"],
        close=prices["close"],
        volume=nothing,
        raw_close=nothing,
        available=available,
        adjustment=request.adjustment,
    )
    setups = {
        sleeve.cache_key: merge_setups(p) for sleeve, p in zip(sleeves, parts, strict=True)
    }  # empties parts
    ws = Workspace(panel=panel, info=info, setups=setups, chunked=True)
    ws.timings["load"] = time.perf_counter() - t0 - scanning
    ws.timings["setups_at_load"] = scanning
    return ws


def _block_panels(
    symbols: tuple[str, ...], sessions: np.ndarray, blocks: Iterator[BarBlock], adjustment: str
) -> Iterator[tuple[BarBlock, Panel]]:
    """Each block with its own panel (its symbols' columns only)."""
    for block in blocks:
        cols = slice(block.first, block.first + block.width)
        yield block, panel_from_blocks(symbols[cols], sessions, [block._replace(first=0)], adjustment)


def source_blocks(
    request: DataRequest, width: int
) -> tuple[tuple[str, ...], np.ndarray, Iterator[BarBlock], dict[str, Any]]:
    """The symbols, the session axis, the bars in blocks of ``width`` symbols and the info dict of a
    synthetic source or a cached source with a current pack."""
    if request.symbols:
        raise ConfigError(
            '[data] mode = "chunked" loads a whole source; remove [data] symbols or use mode = "memory"'
        )
    if request.source == "synthetic":
        return _synthetic_blocks(request, width)
    if request.source == "cache":
        return _cache_blocks(request)
    raise ConfigError(
        f'[data] mode = "chunked" reads the synthetic source or the cache, not {request.source!r}; '
        'ingest the data first (playbook data ingest PATH --source-name NAME) and use source = "cache"'
    )


def _synthetic_blocks(
    request: DataRequest, width: int
) -> tuple[tuple[str, ...], np.ndarray, Iterator[BarBlock], dict[str, Any]]:
    from trading_playbook.data.api import _synthetic_fingerprint, synthetic_blocks

    info: dict[str, Any] = {"source": "synthetic", "path": request.path}
    symbols, sessions, blocks = synthetic_blocks(request, width, info)
    info.update(
        seed=request.synthetic_seed,
        symbols=len(symbols),
        first_session=str(sessions[0]),
        last_session=str(sessions[-1]),
        adjustment=request.adjustment,
        fingerprint=_synthetic_fingerprint(request),
        mode="chunked",
    )
    return symbols, sessions, blocks, info


def _cache_blocks(
    request: DataRequest,
) -> tuple[tuple[str, ...], np.ndarray, Iterator[BarBlock], dict[str, Any]]:
    from trading_playbook.data.api import _cache_info, _complete_selection, _only_source
    from trading_playbook.data.cache import BarCache, validate_source_name
    from trading_playbook.data.pack import pack_blocks

    cache = BarCache(request.cache_dir)
    name = validate_source_name(request.path or _only_source(cache))
    _, incomplete = _complete_selection(cache, name, request)
    entries = cache.catalog.entries(name)
    columns = ["date", "open", "high", "low", "close", "volume", "split"]
    if request.adjustment == "all":
        columns.append("adjusted_close")
    found = pack_blocks(cache, name, entries, columns) if entries else None
    if found is None:
        raise DataError(
            f'[data] mode = "chunked" reads the cached source {name!r} through its pack, which is missing '
            f"or out of date at {cache.root}; ingest the source again (playbook data ingest PATH "
            f"--source-name {name} writes the pack)"
        )
    sessions, blocks = found
    names = tuple(e.symbol for e in entries)
    info: dict[str, Any] = {"source": request.source, "path": request.path, "repairs": []}
    info.update(incomplete)
    info = _cache_info(info, cache, name, names, request.adjustment, entries)
    checksums = info.pop("checksums")
    info.update(
        symbols=len(names),
        first_session=str(sessions[0]),
        last_session=str(sessions[-1]),
        rows=int(sum(e.rows for e in entries)),
        adjustment=request.adjustment,
        fingerprint=checksums,
        mode="chunked",
    )
    return names, sessions, blocks, info
