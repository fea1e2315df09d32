"""The SQLite catalog of the cache: symbols, covered date ranges, fetch log, checksums.

Besides what is stored, the catalog records what a complete source is: ``expected`` holds every
symbol a write set out to store (recorded before the first file is written), ``writes`` one row per
ingest or fetch (what, from where, with which options, and whether it finished), and ``notes`` the
repairs made on the way in and the data warnings of each stored symbol. A symbol that is expected but
not stored (quarantined, or never written because the ingest was killed) is *missing*.

Every statement is parameterised. The database runs in WAL mode with a busy timeout, so several
processes can read and write it at once; each change is one ``BEGIN IMMEDIATE`` transaction.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import json
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trading_playbook.core.errors import CacheError

__all__ = ["ADJUSTMENT_LEVEL", "Catalog", "PackEntry", "SymbolEntry", "WriteEntry", "state_of"]

SCHEMA_VERSION = "1"
# A stored range of kind "all" (raw + split + adjusted_close) also serves "split" and "raw" requests.
ADJUSTMENT_LEVEL = {"raw": 0, "split": 1, "all": 2}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS symbols (
    source TEXT NOT NULL, symbol TEXT NOT NULL, file TEXT NOT NULL, rows INTEGER NOT NULL,
    first TEXT NOT NULL, last TEXT NOT NULL, checksum TEXT NOT NULL, size INTEGER NOT NULL,
    columns TEXT NOT NULL, updated TEXT NOT NULL, PRIMARY KEY (source, symbol));
CREATE TABLE IF NOT EXISTS coverage (
    source TEXT NOT NULL, symbol TEXT NOT NULL, adjustment TEXT NOT NULL,
    first TEXT NOT NULL, last TEXT NOT NULL, PRIMARY KEY (source, symbol, adjustment, first));
CREATE TABLE IF NOT EXISTS packs (
    source TEXT PRIMARY KEY, file TEXT NOT NULL, state TEXT NOT NULL, checksum TEXT NOT NULL,
    size INTEGER NOT NULL, rows INTEGER NOT NULL, columns TEXT NOT NULL, updated TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS fetch_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, source TEXT NOT NULL,
    symbols TEXT NOT NULL, first TEXT, last TEXT, rows INTEGER NOT NULL, status TEXT NOT NULL,
    detail TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS expected (
    source TEXT NOT NULL, symbol TEXT NOT NULL, since TEXT NOT NULL, PRIMARY KEY (source, symbol));
CREATE TABLE IF NOT EXISTS writes (
    id INTEGER PRIMARY KEY AUTOINCREMENT, source TEXT NOT NULL, kind TEXT NOT NULL, origin TEXT NOT NULL,
    options TEXT NOT NULL, symbols TEXT NOT NULL, started TEXT NOT NULL, finished TEXT,
    status TEXT NOT NULL, lock TEXT NOT NULL, detail TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS notes (
    source TEXT NOT NULL, symbol TEXT NOT NULL, kind TEXT NOT NULL, date TEXT NOT NULL,
    body TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS notes_symbol ON notes (source, symbol);
"""
# Caches written before ``expected`` existed: what they hold is all that can be known to be expected.
_ADOPT_LEGACY = """
INSERT OR IGNORE INTO expected (source, symbol, since)
SELECT source, symbol, updated FROM symbols WHERE source NOT IN (SELECT DISTINCT source FROM expected)
"""


@dataclass(frozen=True)
class SymbolEntry:
    """One stored (source, symbol) file as the catalog knows it."""

    source: str
    symbol: str
    file: str
    rows: int
    first: str
    last: str
    checksum: str
    size: int
    columns: tuple[str, ...]
    updated: str


@dataclass(frozen=True)
class WriteEntry:
    """One ingest or fetch as the catalog knows it.

    ``status`` is ``running`` (set when it starts), ``complete`` or ``failed`` (set when it ends);
    a ``running`` write whose ``lock`` file is free was killed.
    """

    id: int
    source: str
    kind: str
    origin: str
    options: dict[str, Any]
    symbols: tuple[str, ...]
    started: str
    finished: str | None
    status: str
    lock: str
    detail: str


@dataclass(frozen=True)
class PackEntry:
    """The read-optimised copy of a whole source (see ``data.pack``)."""

    source: str
    file: str
    state: str
    checksum: str
    size: int
    rows: int
    columns: tuple[str, ...]


def state_of(pairs: Iterable[tuple[str, str]]) -> str:
    """Hash of (symbol, checksum) pairs in symbol order."""
    h = hashlib.blake2b(digest_size=16)
    for symbol, checksum in pairs:
        h.update(f"{symbol}\x1f{checksum}\x1e".encode())
    return h.hexdigest()


@functools.lru_cache(maxsize=64)
def _columns(text: str) -> tuple[str, ...]:
    """A stored column list (JSON): a source's entries share a handful of them, parsed once each."""
    return tuple(str(c) for c in json.loads(text))


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


class Catalog:
    """Access to ``catalog.sqlite`` in a cache folder."""

    def __init__(self, path: Path, timeout: float = 60.0) -> None:
        self.path = path
        self.timeout = timeout
        self._local = threading.local()
        with self._connect() as con:
            con.execute("PRAGMA journal_mode = WAL")  # persistent in the database file
            con.executescript(_SCHEMA)
            con.execute("INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)", ("schema", SCHEMA_VERSION))
            if con.execute("SELECT value FROM meta WHERE key = 'expected'").fetchone() is None:
                con.execute(_ADOPT_LEGACY)
                con.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('expected', '1')")

    def _connection(self) -> sqlite3.Connection:
        """This thread's connection (opened once per thread and process; opening costs a checkpoint)."""
        existing: sqlite3.Connection | None = getattr(self._local, "con", None)
        if existing is not None and self._local.pid == os.getpid():
            return existing
        try:
            con = sqlite3.connect(
                self.path, timeout=self.timeout, isolation_level=None, check_same_thread=False
            )
            con.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")
            con.execute("PRAGMA synchronous = NORMAL")
        except sqlite3.Error as exc:
            raise CacheError(
                f"cannot open the cache catalog {self.path} ({exc}); check the cache dir"
            ) from exc
        self._local.con = con
        self._local.pid = os.getpid()
        return con

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        con = self._connection()
        try:
            yield con
        except sqlite3.DatabaseError as exc:
            raise CacheError(
                f"cache catalog {self.path} failed ({exc}); if it is corrupt, delete the cache folder "
                "and ingest again"
            ) from exc

    def close(self) -> None:
        """Close this thread's connection (others close when their thread ends)."""
        con = getattr(self._local, "con", None)
        if con is not None and self._local.pid == os.getpid():
            con.close()
        self._local.con = None

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One ``BEGIN IMMEDIATE`` transaction: committed on success, rolled back on any error."""
        with self._connect() as con:
            con.execute("BEGIN IMMEDIATE")
            try:
                yield con
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")

    # ------------------------------------------------------------------ symbols
    def entries(self, source: str | None = None) -> list[SymbolEntry]:
        """Stored files, ordered by source then symbol (code-point order)."""
        query = "SELECT * FROM symbols"
        args: tuple[str, ...] = ()
        if source is not None:
            query += " WHERE source = ?"
            args = (source,)
        with self._connect() as con:
            rows = con.execute(query + " ORDER BY source, symbol", args).fetchall()
        return [self._entry(r) for r in rows]

    def entry(self, source: str, symbol: str) -> SymbolEntry | None:
        with self._connect() as con:
            row = con.execute(
                "SELECT * FROM symbols WHERE source = ? AND symbol = ?", (source, symbol)
            ).fetchone()
        return None if row is None else self._entry(row)

    @staticmethod
    def _entry(row: tuple[Any, ...]) -> SymbolEntry:
        source, symbol, file, rows, first, last, checksum, size, columns, updated = row
        return SymbolEntry(
            str(source),
            str(symbol),
            str(file),
            int(rows),
            str(first),
            str(last),
            str(checksum),
            int(size),
            _columns(str(columns)),
            str(updated),
        )

    @staticmethod
    def put_entry(con: sqlite3.Connection, entry: SymbolEntry) -> None:
        con.execute(
            "INSERT OR REPLACE INTO symbols (source, symbol, file, rows, first, last, checksum, size, "
            "columns, updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                entry.source,
                entry.symbol,
                entry.file,
                entry.rows,
                entry.first,
                entry.last,
                entry.checksum,
                entry.size,
                json.dumps(list(entry.columns)),
                entry.updated,
            ),
        )

    def forget(self, source: str, symbol: str, reason: str) -> None:
        """Drop a symbol's entry, coverage and notes (after quarantining its file) and log why.

        The symbol stays expected, so the source reports it missing until it is stored again.
        """
        with self.transaction() as con:
            for table in ("symbols", "coverage", "notes"):
                con.execute(f"DELETE FROM {table} WHERE source = ? AND symbol = ?", (source, symbol))
            self.log(con, source, [symbol], None, None, 0, "quarantined", reason)

    # ------------------------------------------------------------------ completeness
    @staticmethod
    def expect(con: sqlite3.Connection, source: str, symbols: Iterable[str]) -> None:
        """Record symbols a write sets out to store (before any of their files is written)."""
        now = _now()
        con.executemany(
            "INSERT OR IGNORE INTO expected (source, symbol, since) VALUES (?, ?, ?)",
            [(source, s, now) for s in symbols],
        )

    def unexpect(self, source: str, symbols: Iterable[str]) -> None:
        """Forget expected symbols that have no stored file (a fetch that found no bars for them)."""
        with self.transaction() as con:
            for symbol in symbols:
                con.execute(
                    "DELETE FROM expected WHERE source = ? AND symbol = ? AND symbol NOT IN "
                    "(SELECT symbol FROM symbols WHERE source = ?)",
                    (source, symbol, source),
                )

    def source_names(self) -> list[str]:
        """Every source with stored or expected symbols (one may have lost all its files)."""
        with self._connect() as con:
            rows = con.execute("SELECT source FROM expected UNION SELECT source FROM symbols").fetchall()
        return sorted(str(r[0]) for r in rows)

    def expected(self, source: str) -> list[str]:
        """Every symbol of ``source`` some write set out to store, in symbol order."""
        with self._connect() as con:
            rows = con.execute(
                "SELECT symbol FROM expected WHERE source = ? ORDER BY symbol", (source,)
            ).fetchall()
        return [str(r[0]) for r in rows]

    def begin_write(
        self,
        source: str,
        kind: str,
        origin: str,
        options: dict[str, Any],
        symbols: Iterable[str],
        lock: str,
    ) -> int:
        """Record a starting ingest or fetch and expect its symbols; returns the write's id."""
        names = sorted(set(symbols))
        with self.transaction() as con:
            cur = con.execute(
                "INSERT INTO writes (source, kind, origin, options, symbols, started, finished, status, "
                "lock, detail) VALUES (?, ?, ?, ?, ?, ?, NULL, 'running', ?, '')",
                (source, kind, origin, json.dumps(options, sort_keys=True), json.dumps(names), _now(), lock),
            )
            self.expect(con, source, names)
            return int(cur.lastrowid or 0)

    def end_write(
        self, write_id: int, status: str, detail: str = "", symbols: Iterable[str] | None = None
    ) -> None:
        """Mark a write ``complete`` or ``failed`` (optionally narrowing the symbols it stored)."""
        with self.transaction() as con:
            con.execute(
                "UPDATE writes SET status = ?, finished = ?, detail = ? WHERE id = ?",
                (status, _now(), detail[:500], write_id),
            )
            if symbols is not None:
                con.execute(
                    "UPDATE writes SET symbols = ? WHERE id = ?",
                    (json.dumps(sorted(set(symbols))), write_id),
                )

    def writes(self, source: str | None = None) -> list[WriteEntry]:
        """Ingests and fetches, oldest first."""
        query = "SELECT * FROM writes" + (" WHERE source = ?" if source is not None else "") + " ORDER BY id"
        with self._connect() as con:
            rows = con.execute(query, (source,) if source is not None else ()).fetchall()
        return [
            WriteEntry(
                int(r[0]),
                str(r[1]),
                str(r[2]),
                str(r[3]),
                dict(json.loads(str(r[4]))),
                tuple(json.loads(str(r[5]))),
                str(r[6]),
                None if r[7] is None else str(r[7]),
                str(r[8]),
                str(r[9]),
                str(r[10]),
            )
            for r in rows
        ]

    def quarantine_reasons(self, source: str) -> dict[str, str]:
        """The latest quarantine reason (and time) of each symbol of ``source`` that was quarantined."""
        with self._connect() as con:
            rows = con.execute(
                "SELECT symbols, at, detail FROM fetch_log WHERE source = ? AND status = 'quarantined' "
                "ORDER BY id",
                (source,),
            ).fetchall()
        return {str(sym): f"quarantined {at}: {detail}" for sym, at, detail in rows}

    # ------------------------------------------------------------------ notes
    @staticmethod
    def replace_notes(
        con: sqlite3.Connection,
        source: str,
        symbol: str,
        warnings: Iterable[dict[str, str]],
        repairs: Iterable[dict[str, str]],
        span: tuple[str, str],
    ) -> None:
        """A symbol's data warnings (all replaced) and repairs (those inside ``span`` replaced)."""
        con.execute(
            "DELETE FROM notes WHERE source = ? AND symbol = ? AND kind = 'warning'", (source, symbol)
        )
        con.execute(
            "DELETE FROM notes WHERE source = ? AND symbol = ? AND kind = 'repair' AND date >= ? AND date <= ?",
            (source, symbol, span[0], span[1]),
        )
        rows = [(source, symbol, "warning", w["date"], json.dumps(w, sort_keys=True)) for w in warnings]
        rows += [(source, symbol, "repair", r["date"], json.dumps(r, sort_keys=True)) for r in repairs]
        con.executemany("INSERT INTO notes (source, symbol, kind, date, body) VALUES (?, ?, ?, ?, ?)", rows)

    def notes(self, source: str, kind: str, symbols: Iterable[str] | None = None) -> list[dict[str, str]]:
        """Repairs (``kind="repair"``) or warnings (``"warning"``) of stored symbols, by symbol and date."""
        with self._connect() as con:
            rows = con.execute(
                "SELECT symbol, body FROM notes WHERE source = ? AND kind = ? ORDER BY symbol, date, rowid",
                (source, kind),
            ).fetchall()
        wanted = None if symbols is None else set(symbols)
        return [json.loads(str(body)) for sym, body in rows if wanted is None or str(sym) in wanted]

    # ------------------------------------------------------------------ packs
    def state(self, source: str, con: sqlite3.Connection | None = None) -> str:
        """Hash of a source's (symbol, checksum) pairs: changes with any stored byte."""
        query = "SELECT symbol, checksum FROM symbols WHERE source = ? ORDER BY symbol"
        if con is None:
            with self._connect() as own:
                rows = own.execute(query, (source,)).fetchall()
        else:
            rows = con.execute(query, (source,)).fetchall()
        return state_of((str(a), str(b)) for a, b in rows)

    def pack(self, source: str) -> PackEntry | None:
        with self._connect() as con:
            row = con.execute(
                "SELECT source, file, state, checksum, size, rows, columns FROM packs WHERE source = ?",
                (source,),
            ).fetchone()
        if row is None:
            return None
        return PackEntry(
            str(row[0]),
            str(row[1]),
            str(row[2]),
            str(row[3]),
            int(row[4]),
            int(row[5]),
            tuple(json.loads(str(row[6]))),
        )

    @staticmethod
    def put_pack(con: sqlite3.Connection, pack: PackEntry) -> None:
        con.execute(
            "INSERT OR REPLACE INTO packs (source, file, state, checksum, size, rows, columns, updated) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                pack.source,
                pack.file,
                pack.state,
                pack.checksum,
                pack.size,
                pack.rows,
                json.dumps(list(pack.columns)),
                _now(),
            ),
        )

    def drop_pack(self, source: str) -> None:
        with self.transaction() as con:
            con.execute("DELETE FROM packs WHERE source = ?", (source,))

    # ------------------------------------------------------------------ coverage
    def coverage(self, source: str, symbol: str, adjustment: str) -> list[tuple[str, str]]:
        """Covered (first, last) ISO ranges whose adjustment serves ``adjustment``."""
        kinds = [k for k, level in ADJUSTMENT_LEVEL.items() if level >= ADJUSTMENT_LEVEL[adjustment]]
        marks = ",".join("?" for _ in kinds)
        with self._connect() as con:
            rows = con.execute(
                f"SELECT first, last FROM coverage WHERE source = ? AND symbol = ? AND adjustment IN ({marks})"
                " ORDER BY first",
                (source, symbol, *kinds),
            ).fetchall()
        return [(str(a), str(b)) for a, b in rows]

    @staticmethod
    def add_coverage(
        con: sqlite3.Connection, source: str, symbol: str, adjustment: str, first: str, last: str
    ) -> None:
        """Record a covered range, merged with the overlapping ranges of the same adjustment."""
        rows = con.execute(
            "SELECT first, last FROM coverage WHERE source = ? AND symbol = ? AND adjustment = ? "
            "AND first <= ? AND last >= ?",
            (source, symbol, adjustment, last, first),
        ).fetchall()
        lo = min([first, *(str(r[0]) for r in rows)])
        hi = max([last, *(str(r[1]) for r in rows)])
        con.execute(
            "DELETE FROM coverage WHERE source = ? AND symbol = ? AND adjustment = ? AND first <= ? AND last >= ?",
            (source, symbol, adjustment, last, first),
        )
        con.execute(
            "INSERT OR REPLACE INTO coverage (source, symbol, adjustment, first, last) VALUES (?, ?, ?, ?, ?)",
            (source, symbol, adjustment, lo, hi),
        )

    # ------------------------------------------------------------------ fetch log
    @staticmethod
    def log(
        con: sqlite3.Connection,
        source: str,
        symbols: list[str],
        first: str | None,
        last: str | None,
        rows: int,
        status: str,
        detail: str = "",
    ) -> None:
        con.execute(
            "INSERT INTO fetch_log (at, source, symbols, first, last, rows, status, detail) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (_now(), source, ",".join(symbols), first, last, rows, status, detail),
        )

    def record(
        self,
        source: str,
        symbols: list[str],
        first: str | None,
        last: str | None,
        rows: int,
        status: str,
        detail: str = "",
    ) -> None:
        """A fetch-log row in its own transaction."""
        with self.transaction() as con:
            self.log(con, source, symbols, first, last, rows, status, detail)

    def fetch_log(self, limit: int = 50) -> list[dict[str, object]]:
        with self._connect() as con:
            cur = con.execute("SELECT * FROM fetch_log ORDER BY id DESC LIMIT ?", (limit,))
            names = [d[0] for d in cur.description]
            return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def files(self) -> set[str]:
        """Every file name the catalog points to (symbol files and packs)."""
        with self._connect() as con:
            names = {str(r[0]) for r in con.execute("SELECT file FROM symbols").fetchall()}
            return names | {str(r[0]) for r in con.execute("SELECT file FROM packs").fetchall()}


def now_iso() -> str:
    """The current UTC time as ISO text (catalog timestamps)."""
    return _now()
