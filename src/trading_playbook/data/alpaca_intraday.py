"""Intraday bars beside the daily cache: minute bars and provisional daily bars from the live feed.

The daily cache (``data.cache``) holds one final bar per session; a live feed also sees minute bars
and the day's bar while the session is still running. Those go into ``intraday.sqlite`` in the
cache folder (SQLite, WAL), never into the daily Parquet files:

- ``minute_bars``: one row per (source, symbol, minute start), from the stream or a REST back-fill
  (a later copy of the same minute replaces the earlier one);
- ``stream_daily``: the latest daily bar the stream sent per (source, symbol, session): the day so
  far, provisional until the REST bar after the close replaces it in the daily cache;
- ``gaps``: every stream gap detected, and whether and how it was back-filled.

Bars are validated on the way in with the daily cache's rules (finite positive prices, ``low <= open,
close <= high``, volume >= 0); a bad bar is rejected and logged, never stored.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Gap", "IntradayStore", "MinuteBar", "bar_problem"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS minute_bars (
    source TEXT NOT NULL, symbol TEXT NOT NULL, t INTEGER NOT NULL,
    open REAL NOT NULL, high REAL NOT NULL, low REAL NOT NULL, close REAL NOT NULL, volume REAL NOT NULL,
    origin TEXT NOT NULL, received_at TEXT NOT NULL,
    PRIMARY KEY (source, symbol, t)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS stream_daily (
    source TEXT NOT NULL, symbol TEXT NOT NULL, session TEXT NOT NULL,
    open REAL NOT NULL, high REAL NOT NULL, low REAL NOT NULL, close REAL NOT NULL, volume REAL NOT NULL,
    received_at TEXT NOT NULL,
    PRIMARY KEY (source, symbol, session)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS gaps (
    id INTEGER PRIMARY KEY, source TEXT NOT NULL, start INTEGER NOT NULL, end INTEGER NOT NULL,
    reason TEXT NOT NULL, detected_at TEXT NOT NULL, filled_at TEXT, bars INTEGER, error TEXT
);
"""


@dataclass(frozen=True)
class MinuteBar:
    """One bar (a minute, or a session when used for daily bars); ``t`` is its aware UTC start."""

    symbol: str
    t: dt.datetime
    open: float
    high: float
    low: float
    close: float
    volume: float


@dataclass
class Gap:
    """A stretch of time the stream may have missed (``start``..``end``, UTC)."""

    start: dt.datetime
    end: dt.datetime
    reason: str
    id: int = 0
    bars: int | None = None
    error: str | None = None


def bar_problem(bar: MinuteBar) -> str | None:
    """Why a bar is invalid (the daily cache's rules), or None."""
    prices = (bar.open, bar.high, bar.low, bar.close)
    if not all(math.isfinite(p) and p > 0 for p in prices):
        return "non-finite or non-positive price"
    if bar.high < bar.low:
        return "high below low"
    if not (bar.low <= bar.open <= bar.high and bar.low <= bar.close <= bar.high):
        return "open or close outside [low, high]"
    if not math.isfinite(bar.volume) or bar.volume < 0:
        return "negative or non-finite volume"
    return None


def _epoch(t: dt.datetime) -> int:
    return int(t.timestamp())


def _from_epoch(value: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(value, dt.UTC)


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


class IntradayStore:
    """``intraday.sqlite``: minute bars, provisional daily bars and gaps (safe across threads and processes)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as con:
            con.execute("PRAGMA journal_mode=WAL")
            con.executescript(_SCHEMA)

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        con = sqlite3.connect(self.path, timeout=30.0)
        try:
            with con:
                yield con
        finally:
            con.close()

    # ------------------------------------------------------------------ minute bars
    def put_minutes(self, source: str, bars: Sequence[MinuteBar], origin: str) -> int:
        """Store valid bars (a minute already stored is replaced); how many were stored."""
        rows = [
            (source, b.symbol, _epoch(b.t), b.open, b.high, b.low, b.close, b.volume, origin, _now())
            for b in bars
        ]
        with self._connect() as con:
            con.executemany("INSERT OR REPLACE INTO minute_bars VALUES (?,?,?,?,?,?,?,?,?,?)", rows)
        return len(rows)

    def minutes(
        self, source: str, symbols: Sequence[str], start: dt.datetime, end: dt.datetime
    ) -> list[MinuteBar]:
        """Stored minute bars with ``start <= t < end``, ordered by symbol then time."""
        marks = ",".join("?" * len(symbols))
        with self._connect() as con:
            rows = con.execute(
                f"SELECT symbol, t, open, high, low, close, volume FROM minute_bars "
                f"WHERE source = ? AND symbol IN ({marks}) AND t >= ? AND t < ? ORDER BY symbol, t",
                (source, *symbols, _epoch(start), _epoch(end)),
            ).fetchall()
        return [MinuteBar(s, _from_epoch(t), o, h, low, c, v) for s, t, o, h, low, c, v in rows]

    def origins(self, source: str) -> dict[str, int]:
        """How many stored minute bars came from each origin (``stream``, ``rest``)."""
        with self._connect() as con:
            rows = con.execute(
                "SELECT origin, COUNT(*) FROM minute_bars WHERE source = ? GROUP BY origin", (source,)
            ).fetchall()
        return dict(rows)

    def last_minute(self, source: str, symbols: Sequence[str]) -> dt.datetime | None:
        """Start of the latest stored minute of any of ``symbols``."""
        marks = ",".join("?" * len(symbols))
        with self._connect() as con:
            row = con.execute(
                f"SELECT MAX(t) FROM minute_bars WHERE source = ? AND symbol IN ({marks})", (source, *symbols)
            ).fetchone()
        return None if row[0] is None else _from_epoch(row[0])

    # ------------------------------------------------------------------ provisional daily bars
    def put_daily(self, source: str, session: dt.date, bar: MinuteBar) -> None:
        with self._connect() as con:
            con.execute(
                "INSERT OR REPLACE INTO stream_daily VALUES (?,?,?,?,?,?,?,?,?)",
                (
                    source,
                    bar.symbol,
                    session.isoformat(),
                    bar.open,
                    bar.high,
                    bar.low,
                    bar.close,
                    bar.volume,
                    _now(),
                ),
            )

    def daily(self, source: str, session: dt.date) -> dict[str, MinuteBar]:
        """The stream's latest daily bar of each symbol for ``session``."""
        with self._connect() as con:
            rows = con.execute(
                "SELECT symbol, open, high, low, close, volume FROM stream_daily WHERE source = ? AND session = ?",
                (source, session.isoformat()),
            ).fetchall()
        stamp = dt.datetime.combine(session, dt.time(), dt.UTC)
        return {s: MinuteBar(s, stamp, o, h, low, c, v) for s, o, h, low, c, v in rows}

    # ------------------------------------------------------------------ gaps
    def add_gap(self, source: str, gap: Gap) -> Gap:
        with self._connect() as con:
            cur = con.execute(
                "INSERT INTO gaps (source, start, end, reason, detected_at) VALUES (?,?,?,?,?)",
                (source, _epoch(gap.start), _epoch(gap.end), gap.reason, _now()),
            )
        gap.id = int(cur.lastrowid or 0)
        return gap

    def close_gap(self, gap: Gap) -> None:
        with self._connect() as con:
            con.execute(
                "UPDATE gaps SET filled_at = ?, bars = ?, error = ? WHERE id = ?",
                (None if gap.error else _now(), gap.bars, gap.error, gap.id),
            )

    def gaps(self, source: str, *, open_only: bool = False) -> list[Gap]:
        """Recorded gaps, oldest first (``open_only``: those not back-filled yet)."""
        where = " AND filled_at IS NULL" if open_only else ""
        with self._connect() as con:
            rows = con.execute(
                f"SELECT id, start, end, reason, bars, error FROM gaps WHERE source = ?{where} ORDER BY id",
                (source,),
            ).fetchall()
        return [Gap(_from_epoch(a), _from_epoch(b), r, i, n, e) for i, a, b, r, n, e in rows]
