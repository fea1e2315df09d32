"""The bar cache: a SQLite catalog plus one Parquet file per (source, symbol).

Layout of a cache folder::

    catalog.sqlite                 symbols, covered ranges, fetch log, checksums (WAL mode)
    bars/<source>/<SYMBOL>.<checksum>.parquet
    quarantine/<source>/...        files that failed a checksum or could not be read
    locks/<source>/<SYMBOL>.lock   per-symbol file locks

Writes are atomic: the new file is written under a new, content-addressed name (temp file, fsync,
``os.replace``), then one catalog transaction points the symbol at it, then the old file is deleted.
A process killed at any step leaves the catalog pointing at a complete file: the previous state or
the new one, never a mix. A per-symbol lock serialises concurrent writers of one symbol, so no
update is lost; SQLite's WAL mode and busy timeout let several processes share the catalog.

Reads check the file size against the catalog and the Parquet page CRCs (written with every page);
writes and ``verify`` re-hash the whole file. A file that fails is moved to ``quarantine/`` and
forgotten, so it is refetched (Alpaca) or reported (ingested files); it is never returned as data.

Every write first records the symbols it sets out to store as *expected* (one transaction, before any
file is written), and an ingest or fetch runs inside :meth:`BarCache.writing`, which records it and
holds a lock file while it runs. So a symbol lost to quarantine or to a killed ingest is *missing*,
not silently absent, and a killed ingest is visible as interrupted (see ``data.completeness``).
Temporary and uncommitted files left by a killed writer are removed by the next write of the source.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from trading_playbook._atomic import write_atomically
from trading_playbook.core.errors import CacheError, DataError
from trading_playbook.data.arrow import column_numpy, read_parquet, table_from_arrays
from trading_playbook.data.catalog import Catalog, SymbolEntry, now_iso
from trading_playbook.data.model import VALUE_COLUMNS, BarArrays, normalize_symbol
from trading_playbook.data.pack import clean_pack_orphans, read_pack, write_pack
from trading_playbook.data.validate import corporate_action_warnings

__all__ = ["BarCache", "CacheLoadError", "StoreSummary", "resolve_cache_dir", "validate_source_name"]

CACHE_ENV = "PLAYBOOK_CACHE_DIR"
_SOURCE_RE = re.compile(r"^[a-z0-9][a-z0-9_\-]{0,47}$")
_COMPRESSION = "lz4"
Progress = Callable[[int], None]
# SYMBOL.<16 hex>.parquet, and its temp files .SYMBOL.<16 hex>.parquet.<pid>.<8 hex>.tmp
_FILE_RE = re.compile(
    r"^\.?(?P<symbol>[A-Z0-9][A-Z0-9.\-]*)\.[0-9a-f]{16}\.parquet(\.\d+\.[0-9a-f]{8}\.tmp)?$"
)


def resolve_cache_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The cache folder: ``explicit``, else env ``PLAYBOOK_CACHE_DIR``, else the per-user cache dir."""
    if explicit:
        return Path(explicit).expanduser()
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("trading-playbook", appauthor=False))


def validate_source_name(name: str) -> str:
    """Lower-case and check a source name (it becomes a folder name)."""
    text = str(name).strip().lower()
    if not _SOURCE_RE.fullmatch(text):
        raise DataError(
            f"invalid source name {name!r}: use 1-48 characters a-z, 0-9, '-' or '_' (e.g. 'sp500', 'alpaca-iex')"
        )
    return text


class CacheLoadError(CacheError):
    """Some cached files failed their integrity check; they were quarantined (``symbols`` lists them)."""

    def __init__(self, message: str, symbols: list[str]) -> None:
        super().__init__(message)
        self.symbols = symbols


@dataclass
class Write:
    """An ingest or fetch in progress (see :meth:`BarCache.writing`)."""

    id: int
    source: str
    symbols: set[str] = field(default_factory=set)

    def narrow(self, stored: Iterable[str]) -> None:
        """Record only ``stored`` as this write's symbols (a fetch that found no bars for some)."""
        self.symbols = set(stored)


@dataclass(frozen=True)
class StoreSummary:
    """What a store/ingest wrote."""

    source: str
    symbols: int
    rows: int


def adjustment_of(columns: Sequence[str]) -> str:
    """The richest adjustment stored data supports: ``all``, ``split`` or ``raw``."""
    if "adjusted_close" in columns:
        return "all"
    return "split" if "split" in columns else "raw"


class BarCache:
    """A cache folder: catalog, Parquet files, locks. Safe to share between processes."""

    def __init__(self, root: str | os.PathLike[str] | None = None, *, lock_timeout: float = 120.0) -> None:
        self.root = resolve_cache_dir(root)
        try:
            for sub in ("bars", "packs", "quarantine", "locks"):
                (self.root / sub).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CacheError(
                f"cannot use {self.root.absolute()} as the cache folder ({exc.strerror or exc}); pass a "
                f"writable folder with --cache-dir or {CACHE_ENV}"
            ) from exc
        self.catalog = Catalog(self.root / "catalog.sqlite")
        self.lock_timeout = lock_timeout

    # ------------------------------------------------------------------ paths and locks
    def _dir(self, kind: str, source: str) -> Path:
        path = self.root / kind / validate_source_name(source)
        path.mkdir(parents=True, exist_ok=True)
        return path

    def file_path(self, entry: SymbolEntry) -> Path:
        return self.root / "bars" / entry.source / entry.file

    @contextlib.contextmanager
    def writing(
        self,
        source: str,
        symbols: Iterable[str],
        *,
        kind: str,
        origin: str,
        options: dict[str, Any] | None = None,
    ) -> Iterator[Write]:
        """Record an ingest or fetch of ``symbols`` from ``origin`` for as long as the block runs.

        The symbols become expected before anything is written; a lock file is held meanwhile, so a
        reader can tell a running write from a killed one (whose lock is free). The write is marked
        ``complete`` when the block ends normally and ``failed`` (with the error) when it raises.
        """
        from filelock import FileLock  # imported where a lock is taken: a warm read takes none

        source = validate_source_name(source)
        names = {normalize_symbol(s) for s in symbols}
        lock_name = f".write-{uuid.uuid4().hex}.lock"
        lock = FileLock(str(self._dir("locks", source) / lock_name))
        lock.acquire()
        try:
            write_id = self.catalog.begin_write(
                source, kind, origin, dict(options or {}), names, f"{source}/{lock_name}"
            )
            handle = Write(write_id, source, names)
            try:
                yield handle
            except BaseException as exc:
                self.catalog.end_write(write_id, "failed", f"{type(exc).__name__}: {exc}")
                raise
            self.catalog.end_write(write_id, "complete", symbols=handle.symbols)
            if names - handle.symbols:
                self.catalog.unexpect(source, names - handle.symbols)
        finally:
            lock.release()
            with contextlib.suppress(FileNotFoundError):
                os.unlink(lock.lock_file)

    def write_alive(self, lock: str) -> bool:
        """True while the writer holding ``lock`` (a :class:`WriteEntry` lock) is running."""
        from filelock import FileLock, Timeout  # imported where a lock is taken: a warm read takes none

        source, _, name = lock.partition("/")
        path = self.root / "locks" / source / name
        if not path.exists():
            return False
        probe = FileLock(str(path))
        try:
            probe.acquire(timeout=0)
        except Timeout:
            return True
        probe.release()
        return False

    @contextlib.contextmanager
    def _lock(self, source: str, symbol: str) -> Iterator[None]:
        from filelock import FileLock, Timeout  # imported where a lock is taken: a warm read takes none

        lock = FileLock(str(self._dir("locks", source) / f"{normalize_symbol(symbol)}.lock"))
        try:
            with lock.acquire(timeout=self.lock_timeout):
                yield
        except Timeout as exc:
            raise CacheError(
                f"cache lock for {source}/{symbol} held for over {self.lock_timeout:.0f} s by another "
                "process; wait for it to finish or remove a stale lock file in locks/"
            ) from exc

    # ------------------------------------------------------------------ writing
    def store(
        self,
        source: str,
        bars: BarArrays,
        coverage: dict[str, tuple[str, str]] | None = None,
        *,
        adjustment: str | None = None,
        progress: Progress | None = None,
        threads: int = 4,
        repairs: Sequence[dict[str, str]] = (),
    ) -> StoreSummary:
        """Merge validated, sorted ``bars`` into the cache, one atomic update per symbol.

        ``coverage`` maps a symbol to the (first, last) ISO range the bars cover (default: the
        symbol's first and last bar); ``adjustment`` is the kind of that coverage (default: what the
        columns support). Rows of the same session replace the stored ones. ``repairs`` are the
        validation changes made to ``bars`` (``ValidationReport.records()``), kept in the catalog so
        every later load reports them; each symbol's data warnings are recomputed on its merged bars.
        """
        source = validate_source_name(source)
        kind = adjustment or adjustment_of(list(bars.values))
        pieces = _split_by_symbol(bars)
        cover = coverage or {}
        by_symbol: dict[str, list[dict[str, str]]] = {}
        for record in repairs:
            by_symbol.setdefault(record["symbol"], []).append(record)
        with self.catalog.transaction() as con:
            self.catalog.expect(con, source, pieces)
        self.clean_orphans(source)

        def one(item: tuple[str, BarArrays]) -> int:
            symbol, part = item
            span = cover.get(symbol) or (str(part.day[0]), str(part.day[-1]))
            self._write_symbol(source, symbol, part, kind, span, by_symbol.get(symbol, []))
            if progress is not None:
                progress(1)
            return len(part)

        with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
            rows = sum(pool.map(one, pieces.items()))
        return StoreSummary(source, len(pieces), rows)

    def add_coverage(
        self, source: str, symbols: Sequence[str], first: str, last: str, adjustment: str
    ) -> None:
        """Mark a range as fetched for symbols that returned no bars in it (not refetched later)."""
        with self.catalog.transaction() as con:
            for symbol in symbols:
                self.catalog.add_coverage(con, source, normalize_symbol(symbol), adjustment, first, last)

    def _write_symbol(
        self,
        source: str,
        symbol: str,
        new: BarArrays,
        kind: str,
        span: tuple[str, str],
        repairs: list[dict[str, str]],
    ) -> None:
        with self._lock(source, symbol):
            old_entry = self.catalog.entry(source, symbol)
            existing = None
            if old_entry is not None:
                try:
                    existing = self._read_checked(old_entry)
                except CacheError:
                    self._quarantine(old_entry, "checksum or read failure while merging", locked=True)
                    old_entry = None
            merged = _merge(existing, new)
            data = _parquet_bytes(merged)
            checksum = hashlib.blake2b(data, digest_size=16).hexdigest()
            name = f"{symbol}.{checksum[:16]}.parquet"
            folder = self._dir("bars", source)
            _atomic_write(folder / name, data)
            entry = SymbolEntry(
                source,
                symbol,
                name,
                len(merged),
                str(merged.day[0]),
                str(merged.day[-1]),
                checksum,
                len(data),
                tuple(merged.values),
                now_iso(),
            )
            warnings = [w.as_dict() for w in corporate_action_warnings(merged)]
            with self.catalog.transaction() as con:
                self.catalog.put_entry(con, entry)
                self.catalog.add_coverage(con, source, symbol, kind, span[0], span[1])
                self.catalog.replace_notes(con, source, symbol, warnings, repairs, span)
            if old_entry is not None and old_entry.file != name:
                with contextlib.suppress(FileNotFoundError):
                    (folder / old_entry.file).unlink()

    # ------------------------------------------------------------------ reading
    def _read_checked(self, entry: SymbolEntry) -> BarArrays:
        """One symbol's bars after a full checksum check (raises CacheError on any mismatch)."""
        path = self.file_path(entry)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise CacheError(f"cache file {path} for {entry.symbol} is missing ({exc})") from exc
        if hashlib.blake2b(data, digest_size=16).hexdigest() != entry.checksum:
            raise CacheError(f"cache file {path} for {entry.symbol} fails its checksum")
        table = _parse(pa.BufferReader(data), entry, None)
        return _single(entry.symbol, table)

    def _read_fast(self, entry: SymbolEntry, columns: list[str]) -> pa.Table:
        path = self.file_path(entry)
        try:
            size = path.stat().st_size
        except OSError as exc:
            raise CacheError(f"cache file {path} for {entry.symbol} is missing ({exc})") from exc
        if size != entry.size:
            raise CacheError(
                f"cache file {path} for {entry.symbol} has {size} bytes, catalog says {entry.size}"
            )
        return _parse(str(path), entry, columns)

    def read(
        self,
        source: str,
        symbols: Sequence[str] = (),
        *,
        adjustment: str = "split",
        threads: int = 8,
        packed: bool = True,
    ) -> BarArrays:
        """Bars of ``symbols`` (all stored when empty) from one source.

        The source's pack (``data.pack``) is used when it is current; otherwise the per-symbol
        files are read in parallel and, for a full read, the pack is rebuilt. Files failing their
        integrity check are quarantined and a :class:`CacheLoadError` names them.
        """
        source = validate_source_name(source)
        entries = every = self.catalog.entries(source)
        if symbols:
            wanted = {normalize_symbol(s) for s in symbols}
            missing = sorted(wanted - {e.symbol for e in entries})
            if missing:
                raise DataError(
                    f"symbol(s) {', '.join(missing)} not in the cache for source {source!r} at {self.root}; "
                    "ingest or fetch them first (playbook data ingest / fetch)"
                )
            entries = [e for e in entries if e.symbol in wanted]
        if not entries:
            raise DataError(
                f"the cache at {self.root} holds no data for source {source!r}; ingest a file first "
                "(playbook data ingest PATH --source-name NAME) or fetch from Alpaca"
            )
        columns = ["date", "open", "high", "low", "close", "volume", "split"]
        if adjustment == "all":
            lacking = [e.symbol for e in entries if "adjusted_close" not in e.columns]
            if lacking:
                raise DataError(
                    f"adjustment 'all' needs adjusted_close, which the cached {source!r} data lacks for "
                    f'{", ".join(lacking[:5])}{" ..." if len(lacking) > 5 else ""}; use adjustment = "split"'
                )
            columns.append("adjusted_close")
        if packed:
            whole = read_pack(self, source, every, columns)
            if whole is not None:
                return whole if len(entries) == len(every) else whole.select([e.symbol for e in entries])
        rebuild = packed and len(entries) == len(every)
        if rebuild and "adjusted_close" not in columns and all("adjusted_close" in e.columns for e in every):
            columns.append("adjusted_close")  # so that the rebuilt pack serves every adjustment

        def one(entry: SymbolEntry) -> pa.Table | CacheError:
            try:
                return self._read_fast(entry, columns)
            except CacheError as exc:
                return exc

        with ThreadPoolExecutor(max_workers=threads) as pool:
            tables = list(pool.map(one, entries))
        failed = [(e, t) for e, t in zip(entries, tables, strict=True) if isinstance(t, CacheError)]
        if failed:
            for entry, exc in failed:
                self._quarantine(entry, str(exc))
            names = [e.symbol for e, _ in failed]
            raise CacheLoadError(
                f"{len(failed)} cached file(s) failed their integrity check and were quarantined: "
                f"{', '.join(names[:10])}; fetch or ingest them again ({failed[0][1]})",
                names,
            )
        good = [t for t in tables if isinstance(t, pa.Table)]
        bars = _assemble(entries, good, columns, source)
        if rebuild:
            write_pack(self, source, every, bars)
        return bars

    def repack(self, source: str) -> None:
        """Rebuild the pack of ``source`` now (after an ingest or a fetch)."""
        with contextlib.suppress(DataError):
            self.read(source)

    # ------------------------------------------------------------------ integrity
    def _quarantine(self, entry: SymbolEntry, reason: str, *, locked: bool = False) -> None:
        """Move a bad file aside and forget the symbol, so it is refetched or reported."""
        lock = contextlib.nullcontext() if locked else self._lock(entry.source, entry.symbol)
        with lock:
            current = self.catalog.entry(entry.source, entry.symbol)
            if current is None or current.file != entry.file:
                return  # another process already replaced or quarantined it
            target = self._dir("quarantine", entry.source) / f"{entry.file}.{uuid.uuid4().hex[:8]}"
            with contextlib.suppress(FileNotFoundError):
                os.replace(self.file_path(entry), target)
            self.catalog.forget(entry.source, entry.symbol, reason)

    def verify_entry(self, entry: SymbolEntry) -> BarArrays:
        """Full checksum check of one stored file; raises CacheError when it fails."""
        return self._read_checked(entry)

    def quarantine(self, entry: SymbolEntry, reason: str) -> None:
        """Public: move a failed file aside and forget it (used by ``playbook data verify --fix``)."""
        self._quarantine(entry, reason)

    def orphans(self) -> list[Path]:
        """Files in ``bars/`` the catalog does not point to (left by killed writers)."""
        known = self.catalog.files()
        return sorted(p for p in (self.root / "bars").glob("*/*") if p.is_file() and p.name not in known)

    def clean_orphans(self, source: str) -> list[Path]:
        """Delete the temporary and uncommitted files a killed writer of ``source`` left; returns them.

        A symbol's files are only touched under its lock, taken without waiting: a symbol another
        process is writing right now (whose temp file is live) is left for a later write.
        """
        from filelock import FileLock, Timeout  # imported where a lock is taken: a warm read takes none

        source = validate_source_name(source)
        folder = self.root / "bars" / source
        known = self.catalog.files()
        by_symbol: dict[str, list[Path]] = {}
        for path in folder.glob("*") if folder.is_dir() else ():
            match = _FILE_RE.fullmatch(path.name)
            if match and path.name not in known:
                by_symbol.setdefault(match["symbol"], []).append(path)
        removed: list[Path] = []
        for symbol, paths in by_symbol.items():
            lock = FileLock(str(self._dir("locks", source) / f"{symbol}.lock"))
            try:
                lock.acquire(timeout=0)
            except Timeout:
                continue
            try:
                current = self.catalog.entry(source, symbol)
                for path in paths:
                    if current is None or path.name != current.file:
                        with contextlib.suppress(FileNotFoundError):
                            path.unlink()
                            removed.append(path)
            finally:
                lock.release()
        removed.extend(clean_pack_orphans(self, source))
        return removed

    def sources(self) -> list[str]:
        return sorted({e.source for e in self.catalog.entries()})


# ---------------------------------------------------------------------- helpers
def _split_by_symbol(bars: BarArrays) -> dict[str, BarArrays]:
    """Per-symbol pieces of sorted bars."""
    if len(bars) == 0:
        return {}
    bounds = np.flatnonzero(np.diff(bars.codes)) + 1
    starts = np.r_[0, bounds]
    ends = np.r_[bounds, len(bars)]
    out: dict[str, BarArrays] = {}
    for a, b in zip(starts, ends, strict=True):
        symbol = bars.symbols[int(bars.codes[a])]
        out[symbol] = BarArrays(
            (symbol,),
            np.zeros(b - a, np.int64),
            bars.day[a:b],
            {k: v[a:b] for k, v in bars.values.items()},
            bars.origin,
        )
    return out


def _merge(old: BarArrays | None, new: BarArrays) -> BarArrays:
    """Stored bars updated with new ones: a new session replaces the stored one.

    A NaN split coefficient in ``new`` means unknown (the first bar of an Alpaca fetch): the stored
    coefficient of that session is kept, else 1.0.
    """
    if old is None:
        first = dict(new.values)
        if "split" in first:
            first["split"] = np.where(np.isnan(first["split"]), 1.0, first["split"])
        return BarArrays(new.symbols, new.codes, new.day, first, new.origin)
    names = [c for c in VALUE_COLUMNS if c in old.values or c in new.values]
    keep_old = ~np.isin(old.day, new.day)
    day = np.concatenate([old.day[keep_old], new.day])
    order = np.argsort(day, kind="stable")
    values: dict[str, np.ndarray] = {}
    for name in names:
        fill = {"split": 1.0, "dividend": 0.0}.get(name, np.nan)
        old_col = old.values.get(name, np.full(len(old), fill))
        new_col = new.values.get(name, np.full(len(new), fill)).copy()
        if name == "split":
            unknown = np.isnan(new_col)
            pos = np.searchsorted(old.day, new.day)
            pos = np.minimum(pos, len(old) - 1)
            same = old.day[pos] == new.day
            new_col[unknown] = np.where(same[unknown], old_col[pos[unknown]], 1.0)
        values[name] = np.concatenate([old_col[keep_old], new_col])[order]
    return BarArrays(new.symbols, np.zeros(day.shape[0], np.int64), day[order], values, new.origin)


def _parquet_bytes(bars: BarArrays) -> bytes:
    sink = pa.BufferOutputStream()
    pq.write_table(
        table_from_arrays(bars, with_symbol=False), sink, compression=_COMPRESSION, write_page_checksum=True
    )
    return bytes(sink.getvalue())


def _atomic_write(path: Path, data: bytes) -> None:
    """A cache file (a symbol's bars, a pack) written whole and flushed to disk before it replaces
    ``path`` (:func:`~trading_playbook._atomic.write_atomically`)."""
    write_atomically(path, data, durable=True)


def _parse(where: str | pa.BufferReader, entry: SymbolEntry, columns: list[str] | None) -> pa.Table:
    wanted = None if columns is None else [c for c in columns if c in entry.columns or c == "date"]
    try:
        table = read_parquet(where, wanted, verify=True, threads=False)
    except (pa.ArrowException, OSError) as exc:
        raise CacheError(f"cache file {entry.file} for {entry.symbol} cannot be read ({exc})") from exc
    if table.num_rows != entry.rows:
        raise CacheError(
            f"cache file {entry.file} for {entry.symbol} has {table.num_rows} rows, catalog says {entry.rows}"
        )
    if columns is not None:
        for name in columns:
            if name not in table.column_names:
                fill = 1.0 if name == "split" else np.nan
                table = table.append_column(name, pa.array(np.full(table.num_rows, fill)))
        table = table.select(columns)
    return table


def _single(symbol: str, table: pa.Table) -> BarArrays:
    values = {name: column_numpy(table.column(name)) for name in VALUE_COLUMNS if name in table.column_names}
    day = column_numpy(table.column("date")).astype("datetime64[D]")
    return BarArrays((symbol,), np.zeros(table.num_rows, np.int64), day, values, f"cache {symbol}")


def _assemble(
    entries: list[SymbolEntry], tables: list[pa.Table], columns: list[str], source: str
) -> BarArrays:
    """Concatenate per-symbol tables (entries are in symbol order) into :class:`BarArrays`."""
    combined = pa.concat_tables(tables)
    rows = np.array([t.num_rows for t in tables], dtype=np.int64)
    codes = np.repeat(np.arange(len(tables), dtype=np.int64), rows)
    day = column_numpy(combined.column("date")).astype("datetime64[D]")
    values = {name: column_numpy(combined.column(name)) for name in columns if name != "date"}
    symbols = tuple(e.symbol for e in entries)
    if list(symbols) != sorted(symbols):  # catalog order is by symbol; keep the invariant explicit
        raise CacheError("cache catalog returned symbols out of order")
    return BarArrays(symbols, codes, day, values, f"cache source {source}")
