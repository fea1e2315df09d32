"""A read-optimised copy of a whole cached source (the "pack").

The per-symbol Parquet files are the source of truth. Opening 500 small files costs about a
millisecond each, so a load of a whole universe would take several times a plain read of one file.
The pack is one Parquet file holding every symbol of a source, in catalog (symbol) order, each
symbol's rows in date order (``day`` as int64 days since 1970 and the value columns; one row group,
so columns convert to numpy without copies), tagged with the catalog *state* it was built from:
the hash of every (symbol, content checksum) pair. A load uses the pack only when its state equals
the catalog's current state, so a pack can be stale but never wrong; any write to the source changes
the state and the next full load rebuilds it. A pack failing its size, row or page-CRC check is
dropped and the per-symbol files are read instead.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import logging
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from trading_playbook.core.panel_blocks import BarBlock
from trading_playbook.data.arrow import column_numpy, read_parquet
from trading_playbook.data.catalog import PackEntry, SymbolEntry, state_of
from trading_playbook.data.model import BarArrays

if TYPE_CHECKING:
    from trading_playbook.data.cache import BarCache

__all__ = [
    "PACK_BLOCK_SYMBOLS",
    "PACK_LAYOUT",
    "checked_sessions",
    "clean_pack_orphans",
    "discard_pack",
    "pack_blocks",
    "pack_layout",
    "read_pack",
    "write_pack",
]

log = logging.getLogger(__name__)
# Dictionary-encoded pages, not compressed: LZ4 on top of the dictionary saved about 15-20 % of the
# file (5,000 synthetic symbols: 435 -> about 510 MB; the shared S&P 500 data: 53 -> 64 MB) and cost
# about 60 % of a row group's decoding time (90 -> 34 ms for 256 symbols x 25 years)
_COMPRESSION = "none"
PACK_LAYOUT = b"2"  # footer ``playbook.layout``: 2 = session axis in the footer, pages not compressed
_LAYOUT_KEY = b"playbook.layout"
PACK_BLOCK_SYMBOLS = 256  # symbols per row group of a pack (a block of a chunked or blocked load)
_SESSIONS_KEY = b"playbook.sessions"  # footer metadata: the sorted distinct days, int64 little-endian


def read_pack(
    cache: BarCache, source: str, entries: list[SymbolEntry], columns: list[str]
) -> BarArrays | None:
    """All bars of ``source`` from its pack, or None when there is no current, intact pack."""
    pack = cache.catalog.pack(source)
    if pack is None or pack.state != state_of((e.symbol, e.checksum) for e in entries):
        return None
    if "day" not in pack.columns:  # a pack of an older layout: rebuilt on this load
        return None
    if any(c not in pack.columns for c in columns):
        return None
    path = cache.root / "packs" / pack.file
    try:
        if path.stat().st_size != pack.size:
            raise OSError(f"size differs from the catalog's {pack.size}")
        wanted = ["day", *(c for c in columns if c != "date")]
        table = read_parquet(path, wanted, verify=True)
        if table.num_rows != pack.rows:
            raise OSError(f"{table.num_rows} rows, catalog says {pack.rows}")
    except (OSError, pa.ArrowException) as exc:
        log.warning("pack of %s unusable (%s); reading the per-symbol files", source, exc)
        _discard(cache, pack)
        return None
    counts = np.array([e.rows for e in entries], dtype=np.int64)
    codes = np.repeat(np.arange(len(entries), dtype=np.int64), counts)
    day = _numpy(table.column("day")).view("datetime64[D]")
    values = {c: _numpy(table.column(c)) for c in columns if c != "date"}
    return BarArrays(tuple(e.symbol for e in entries), codes, day, values, f"cache source {source}")


def pack_blocks(
    cache: BarCache, source: str, entries: list[SymbolEntry], columns: list[str]
) -> tuple[np.ndarray, Iterator[BarBlock]] | None:
    """The session axis of ``source`` and its bars as blocks of symbols (one per row group of the
    pack), or None when there is no current, intact pack laid out by symbol blocks.

    The page checksums are verified as each part is read; a pack failing them mid-way raises
    :class:`OSError` or :class:`pyarrow.ArrowException` (the caller drops it and reads the files).
    """
    pack = cache.catalog.pack(source)
    if pack is None or pack.state != state_of((e.symbol, e.checksum) for e in entries):
        return None
    if "day" not in pack.columns or any(c not in pack.columns for c in columns):
        return None
    path = cache.root / "packs" / pack.file
    try:
        if path.stat().st_size != pack.size:
            return None
        handle = pq.ParquetFile(path, page_checksum_verification=True)
        groups = [handle.metadata.row_group(i).num_rows for i in range(handle.num_row_groups)]
    except (OSError, pa.ArrowException):
        return None
    rows = np.array([e.rows for e in entries], dtype=np.int64)
    ends = np.cumsum(rows)
    group_ends = np.cumsum(groups)
    if int(group_ends[-1] if groups else 0) != pack.rows or int(ends[-1]) != pack.rows:
        return None
    cut = np.searchsorted(ends, group_ends, side="left")
    if not np.array_equal(ends[np.minimum(cut, ends.shape[0] - 1)], group_ends):
        return None  # a row group splits a symbol: not a block layout
    sessions = _footer_sessions(handle)
    if sessions is None:  # a pack written before the footer held them
        sessions = _present_days(column_numpy(handle.read(["day"], use_threads=True).column("day")))
    firsts = np.concatenate(([0], cut[:-1] + 1)).tolist()
    widths = (cut + 1 - np.array(firsts)).tolist()
    wanted = ["day", *(c for c in columns if c != "date")]

    def blocks() -> Iterator[BarBlock]:
        with handle:
            for i, (first, width) in enumerate(zip(firsts, widths, strict=True)):
                # one thread a row group: the callers read blocks on two threads (Arrow's own
                # column threads made a row group slower here)
                table = handle.read_row_group(i, columns=wanted, use_threads=False)
                codes = np.repeat(np.arange(width, dtype=np.int64), rows[first : first + width])
                values = {c: _numpy(table.column(c)) for c in wanted if c != "day"}
                yield BarBlock(first, width, codes, _numpy(table.column("day")).view("datetime64[D]"), values)

    return sessions, blocks()


def _footer_sessions(handle: pq.ParquetFile) -> np.ndarray | None:
    """The pack's session axis (the sorted distinct days of its bars) from its footer, where
    :func:`write_pack` stores it; None when the footer lacks it or it is not sorted and distinct.

    The loader checks that every bar's day is on this axis and every session has a bar
    (:func:`checked_sessions`), so a wrong axis is caught, never used."""
    meta = handle.schema_arrow.metadata or {}
    raw = meta.get(_SESSIONS_KEY)
    if raw is None or len(raw) % 8:
        return None
    days = np.frombuffer(raw, dtype="<i8").astype(np.int64)
    if days.shape[0] == 0 or not (np.diff(days) > 0).all():
        return None
    return days.view("datetime64[D]")


def pack_layout(cache: BarCache, source: str) -> bytes | None:
    """The layout of the current pack of ``source`` (:data:`PACK_LAYOUT` for one written now; None
    for a pack written before layouts were recorded, or no pack)."""
    pack = cache.catalog.pack(source)
    if pack is None:
        return None
    try:
        meta = pq.read_schema(cache.root / "packs" / pack.file).metadata or {}
    except (OSError, pa.ArrowException):
        return None
    return meta.get(_LAYOUT_KEY)


def checked_sessions(available: np.ndarray) -> None:
    """Raise :class:`OSError` when a session of a pack's axis has no bar (a footer that does not
    match its bars: the caller drops the pack and reads the files)."""
    if not available.any(axis=1).all():
        raise OSError("the session axis in the pack's footer holds a day without bars")


def _present_days(day: np.ndarray) -> np.ndarray:
    """The sorted distinct days of an int64 day-number column, by counting (no sort)."""
    first = int(day.min())
    present = np.zeros(int(day.max()) - first + 1, dtype=bool)
    present[day - first] = True
    return (np.flatnonzero(present) + first).astype("datetime64[D]")


def _numpy(column: pa.ChunkedArray) -> np.ndarray:
    """Zero-copy when the pack has one row group (it is written so), a concatenation otherwise."""
    return column_numpy(column)


def write_pack(cache: BarCache, source: str, entries: list[SymbolEntry], bars: BarArrays) -> bool:
    """Store ``bars`` (all of ``entries``, in catalog order) as the pack of ``source``; best effort.

    Skipped when another process is packing, or when the catalog changed meanwhile.
    """
    from filelock import FileLock, Timeout  # imported where a lock is taken: a warm read takes none

    state = state_of((e.symbol, e.checksum) for e in entries)
    folder = cache.root / "packs"
    folder.mkdir(exist_ok=True)
    lock = FileLock(str(cache.root / "locks" / source / ".pack.lock"))
    try:
        with lock.acquire(timeout=0):
            return _write_locked(cache, source, state, bars, folder)
    except Timeout:
        return False


def _write_locked(cache: BarCache, source: str, state: str, bars: BarArrays, folder) -> bool:  # type: ignore[no-untyped-def]
    day = bars.day.astype("datetime64[D]").view(np.int64)
    columns = {"day": pa.array(day, pa.int64())}
    columns.update({k: pa.array(v, pa.float64()) for k, v in bars.values.items()})
    # the session axis in the footer: a block-by-block load need not read the day column twice
    sessions = _present_days(day).view(np.int64).astype("<i8").tobytes()
    table = pa.table(columns).replace_schema_metadata({_SESSIONS_KEY: sessions, _LAYOUT_KEY: PACK_LAYOUT})
    sink = pa.BufferOutputStream()
    # one row group per block of symbols: a block's columns convert to numpy without a copy, and a
    # large universe is loaded block by block (:func:`pack_blocks`); a universe of up to
    # ``PACK_BLOCK_SYMBOLS`` symbols is one row group
    bounds = np.flatnonzero(np.diff(bars.codes)) + 1
    starts = [*np.concatenate(([0], bounds))[::PACK_BLOCK_SYMBOLS].tolist(), len(bars)]
    with pq.ParquetWriter(sink, table.schema, compression=_COMPRESSION, write_page_checksum=True) as writer:
        for a, b in itertools.pairwise(starts):
            writer.write_table(table.slice(a, b - a), row_group_size=max(1, b - a))
    data = bytes(sink.getvalue())
    checksum = hashlib.blake2b(data, digest_size=16).hexdigest()
    name = f"{source}.{state[:16]}.parquet"
    from trading_playbook.data.cache import _atomic_write

    _atomic_write(folder / name, data)
    old = cache.catalog.pack(source)
    with cache.catalog.transaction() as con:
        if cache.catalog.state(source, con) != state:
            current = False
        else:
            cache.catalog.put_pack(
                con,
                PackEntry(
                    source, name, state, checksum, len(data), len(bars), (*tuple(bars.values), "day", "date")
                ),
            )
            current = True
    if not current:
        with contextlib.suppress(FileNotFoundError):
            (folder / name).unlink()
        return False
    if old is not None and old.file != name:
        with contextlib.suppress(FileNotFoundError):
            (folder / old.file).unlink()
    return True


def clean_pack_orphans(cache: BarCache, source: str) -> list[Path]:
    """Delete packs of ``source`` the catalog does not point to and temp files of killed packers.

    Done under the pack lock, taken without waiting (another process packing keeps its files).
    """
    from filelock import FileLock, Timeout  # imported where a lock is taken: a warm read takes none

    pattern = re.compile(rf"^\.?{re.escape(source)}\.[0-9a-f]{{16}}\.parquet(\.\d+\.[0-9a-f]{{8}}\.tmp)?$")
    folder = cache.root / "packs"
    (cache.root / "locks" / source).mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(cache.root / "locks" / source / ".pack.lock"))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        return []
    removed: list[Path] = []
    try:
        current = cache.catalog.pack(source)
        for path in folder.glob("*") if folder.is_dir() else ():
            if pattern.fullmatch(path.name) and (current is None or path.name != current.file):
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                    removed.append(path)
    finally:
        lock.release()
    return removed


def discard_pack(cache: BarCache, source: str) -> None:
    """Move the pack of ``source`` to quarantine and forget it (it failed a check while being read)."""
    pack = cache.catalog.pack(source)
    if pack is not None:
        log.warning("pack of %s unusable; reading the per-symbol files", source)
        _discard(cache, pack)


def _discard(cache: BarCache, pack: PackEntry) -> None:
    path = cache.root / "packs" / pack.file
    target = cache.root / "quarantine" / f"{pack.file}.{uuid.uuid4().hex[:8]}"
    with contextlib.suppress(FileNotFoundError):
        path.replace(target)
    cache.catalog.drop_pack(pack.source)
