"""The journal of a paper account: one SQLite file (WAL) per account, written as things happen.

``$PLAYBOOK_HOME/paper/<account>.sqlite`` (the home of the run registry, see
:mod:`trading_playbook.history`). Tables (``docs/paper-trading.md`` documents every column):

``meta``            key/value: account, config (resolved JSON) and its hash, config file, broker, start
``intents``         every order intent, written **before** it is submitted (client order id is the key)
``events``          every fill and cancellation the broker reported (``event_id`` is the key)
``sessions``        one row per processed session: the equity row and the portfolio state snapshot
``trades``          every closed trade (result.json's trade format)
``decisions``       the decision log: each setup seen, its rank, size and what happened to it
``broker_state``    the simulated broker's own book (for a live broker, the broker keeps it)
``log``             messages of steps and of the daemon

Every write is one transaction. Each committed write is counted per process; a fault-injection hook
(:func:`set_fault_hook`, or the environment variable ``PLAYBOOK_PAPER_FAULT_AFTER=k``, which kills the
process with SIGKILL right after the k-th write) lets the tests crash a step at any point.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import signal
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from trading_playbook.core.broker import BrokerEvent, Cancelled, Fill, OrderIntent
from trading_playbook.core.errors import PlaybookError

__all__ = [
    "SCHEMA_VERSION",
    "Journal",
    "JournalError",
    "event_id",
    "set_fault_hook",
    "writes_so_far",
]

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS intents (
    client_order_id TEXT PRIMARY KEY,
    session TEXT NOT NULL,
    sleeve TEXT NOT NULL,
    symbol TEXT NOT NULL,
    leg TEXT NOT NULL,
    side TEXT NOT NULL,
    shares INTEGER NOT NULL,
    timing TEXT NOT NULL,
    reason TEXT NOT NULL,
    stop_price REAL,
    price REAL,
    replaces TEXT,
    intent_json TEXT NOT NULL,
    written_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS intents_session ON intents(session);
CREATE TABLE IF NOT EXISTS events (
    event_id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    type TEXT NOT NULL,
    client_order_id TEXT NOT NULL,
    session TEXT NOT NULL,
    phase TEXT NOT NULL,
    sleeve TEXT NOT NULL,
    symbol TEXT NOT NULL,
    side TEXT,
    shares INTEGER,
    price REAL,
    commission REAL,
    reason TEXT,
    reference_price REAL,
    code TEXT,
    message TEXT,
    written_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_session ON events(session);
CREATE TABLE IF NOT EXISTS sessions (
    session TEXT PRIMARY KEY,
    equity REAL NOT NULL,
    cash REAL NOT NULL,
    positions INTEGER NOT NULL,
    exposure REAL NOT NULL,
    sleeve_equity_json TEXT NOT NULL,
    state_json TEXT NOT NULL,
    processed_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS trades (
    sleeve TEXT NOT NULL,
    symbol TEXT NOT NULL,
    entry_date TEXT NOT NULL,
    sleeve_index INTEGER NOT NULL,
    exit_date TEXT NOT NULL,
    exit_reason TEXT NOT NULL,
    pnl REAL NOT NULL,
    trade_json TEXT NOT NULL,
    PRIMARY KEY (sleeve, symbol, entry_date)
);
CREATE TABLE IF NOT EXISTS decisions (
    session TEXT NOT NULL,
    sleeve TEXT NOT NULL,
    rank INTEGER NOT NULL,
    symbol TEXT NOT NULL,
    score REAL,
    volume_ratio REAL,
    reference_price REAL,
    shares INTEGER NOT NULL,
    outcome TEXT NOT NULL,
    PRIMARY KEY (session, sleeve, rank)
);
CREATE TABLE IF NOT EXISTS broker_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    state_json TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    level TEXT NOT NULL,
    message TEXT NOT NULL
);
"""


class JournalError(PlaybookError):
    """The journal cannot be read or written, or disagrees with what the engine just did."""


# ---------------------------------------------------------------------------------------- faults
class _Faults:
    """Per-process count of committed writes and the fault-injection hook."""

    writes = 0
    hook: Callable[[int], None] | None = None


def set_fault_hook(hook: Callable[[int], None] | None) -> None:
    """Call ``hook(n)`` after the n-th committed journal write of this process (None: no hook)."""
    _Faults.hook = hook


def writes_so_far() -> int:
    """Journal writes committed by this process."""
    return _Faults.writes


def _after_write() -> None:
    _Faults.writes += 1
    count = _Faults.writes
    if _Faults.hook is not None:
        _Faults.hook(count)
    kill_at = os.environ.get("PLAYBOOK_PAPER_FAULT_AFTER")
    if kill_at and count == int(kill_at):
        os.kill(os.getpid(), signal.SIGKILL)  # kill -9: no cleanup, no flush, no finally
    pause = os.environ.get("PLAYBOOK_PAPER_PAUSE_AFTER")  # "k:seconds", for the concurrency tests
    if pause:
        at, seconds = pause.split(":")
        if count == int(at):
            time.sleep(float(seconds))


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def event_id(event: BrokerEvent) -> str:
    """The journal key of a broker event: the fill id, or ``{client_order_id}/x`` for a cancellation."""
    return event.fill_id if isinstance(event, Fill) else f"{event.client_order_id}/x"


# ---------------------------------------------------------------------------------------- journal
class Journal:
    """Read and write one account's journal file."""

    def __init__(self, path: Path, *, create: bool = False) -> None:
        self.path = Path(path)
        if not create and not self.path.is_file():
            raise JournalError(f"no paper account journal at {self.path}")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            self.conn.row_factory = sqlite3.Row
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=NORMAL")
            self.conn.execute("PRAGMA busy_timeout=30000")
            if create:
                self.conn.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise JournalError(f"paper account journal {self.path} is unusable: {exc}") from exc

    def close(self) -> None:
        self.conn.close()

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One committed transaction, counted for fault injection."""
        try:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")
        except sqlite3.Error as exc:
            raise JournalError(f"cannot write the journal {self.path}: {exc}") from exc
        _after_write()

    # ------------------------------------------------------------------ meta
    def set_meta(self, values: Mapping[str, Any]) -> None:
        with self._write() as conn:
            conn.executemany(
                "INSERT OR REPLACE INTO meta VALUES (?, ?)", [(k, json.dumps(v)) for k, v in values.items()]
            )

    def meta(self) -> dict[str, Any]:
        return {r["key"]: json.loads(r["value"]) for r in self.conn.execute("SELECT key, value FROM meta")}

    # ------------------------------------------------------------------ orders and fills
    def record_intents(self, intents: Sequence[OrderIntent]) -> None:
        """Write intents before they are submitted; a known id must carry the same intent."""
        if not intents:
            return
        at = _now()
        with self._write() as conn:
            for intent in intents:
                text = json.dumps(intent.to_dict(), sort_keys=True, allow_nan=False)
                row = conn.execute(
                    "SELECT intent_json FROM intents WHERE client_order_id = ?", (intent.client_order_id,)
                ).fetchone()
                if row is not None:
                    if row[0] != text:
                        raise JournalError(
                            f"order {intent.client_order_id} was journaled before with different content; "
                            "the account's data or code changed under it: restore the data or start a new account"
                        )
                    continue
                conn.execute(
                    "INSERT INTO intents VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        intent.client_order_id, intent.session.isoformat(), intent.sleeve, intent.symbol,
                        intent.leg, intent.side, intent.shares, str(intent.timing), intent.reason,
                        intent.stop_price, intent.price, intent.replaces, text, at,
                    ),
                )  # fmt: skip

    def record_events(self, events: Iterable[BrokerEvent]) -> None:
        """Write fills and cancellations (a known event id is skipped: re-reported events are the same)."""
        rows = list(events)
        if not rows:
            return
        at = _now()
        with self._write() as conn:
            seq = conn.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()[0]
            for event in rows:
                key = event_id(event)
                if conn.execute("SELECT 1 FROM events WHERE event_id = ?", (key,)).fetchone():
                    continue
                seq += 1
                conn.execute(
                    "INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    _event_row(key, seq, event, at),
                )

    # ------------------------------------------------------------------ sessions
    def commit_session(
        self,
        session: dt.date,
        row: tuple[float, float, int, float],
        sleeve_equity: Mapping[str, float],
        state: Mapping[str, Any],
        trades: Sequence[tuple[int, Mapping[str, Any]]],
        decisions: Sequence[Mapping[str, Any]],
    ) -> None:
        """The end of a session, in one transaction: equity row, state snapshot, trades, decisions."""
        day = session.isoformat()
        with self._write() as conn:
            if conn.execute("SELECT 1 FROM sessions WHERE session = ?", (day,)).fetchone():
                raise JournalError(f"session {day} is already in the journal {self.path}")
            conn.execute(
                "INSERT INTO sessions VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    day, row[0], row[1], int(row[2]), row[3],
                    json.dumps(dict(sleeve_equity), allow_nan=False),
                    json.dumps(state, sort_keys=True, allow_nan=False), _now(),
                ),
            )  # fmt: skip
            for sleeve_index, trade in trades:
                conn.execute(
                    "INSERT INTO trades VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        trade["sleeve"], trade["symbol"], trade["entry_date"], sleeve_index,
                        trade["exit_date"], trade["exit_reason"], trade["pnl"],
                        json.dumps(trade, sort_keys=True),
                    ),
                )  # fmt: skip
            conn.executemany(
                "INSERT INTO decisions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        day, d["sleeve"], d["rank"], d["symbol"], _finite(d["score"]), _finite(d["volume_ratio"]),
                        _finite(d["reference_price"]), d["shares"], d["outcome"],
                    )
                    for d in decisions
                ],
            )  # fmt: skip

    def last_session(self) -> tuple[dt.date, dict[str, Any]] | None:
        """The last processed session and its state snapshot, or None."""
        row = self.conn.execute(
            "SELECT session, state_json FROM sessions ORDER BY session DESC LIMIT 1"
        ).fetchone()
        if row is None:
            return None
        return dt.date.fromisoformat(row[0]), json.loads(row[1])

    def amend_last_state(self, state: Mapping[str, Any], why: str) -> None:
        """Replace the state snapshot of the last processed session (a reconciliation adopting what the
        broker holds); the reason goes to the log in the same transaction."""
        with self._write() as conn:
            row = conn.execute("SELECT session FROM sessions ORDER BY session DESC LIMIT 1").fetchone()
            if row is None:
                raise JournalError(f"the journal {self.path} has no session to amend yet")
            conn.execute(
                "UPDATE sessions SET state_json = ? WHERE session = ?",
                (json.dumps(state, sort_keys=True, allow_nan=False), row[0]),
            )
            conn.execute("INSERT INTO log (at, level, message) VALUES (?, ?, ?)", (_now(), "warning", why))

    # ------------------------------------------------------------------ broker and log
    def save_broker_state(self, state: Mapping[str, Any]) -> None:
        with self._write() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO broker_state VALUES (1, ?, ?)",
                (json.dumps(state, sort_keys=True, allow_nan=False), _now()),
            )

    def broker_state(self) -> dict[str, Any] | None:
        row = self.conn.execute("SELECT state_json FROM broker_state WHERE id = 1").fetchone()
        return None if row is None else json.loads(row[0])  # type: ignore[no-any-return]

    def log(self, message: str, level: str = "info") -> None:
        with self._write() as conn:
            conn.execute("INSERT INTO log (at, level, message) VALUES (?, ?, ?)", (_now(), level, message))


def _finite(value: Any) -> float | None:
    x = float(value)
    return x if x == x and abs(x) != float("inf") else None


def _event_row(key: str, seq: int, event: BrokerEvent, at: str) -> tuple[Any, ...]:
    if isinstance(event, Fill):
        return (
            key, seq, "fill", event.client_order_id, event.session.isoformat(), str(event.phase), event.sleeve,
            event.symbol, event.side, event.shares, event.price, event.commission, event.reason,
            event.reference_price, None, None, at,
        )  # fmt: skip
    assert isinstance(event, Cancelled)
    return (
        key, seq, "cancelled", event.client_order_id, event.session.isoformat(), str(event.phase), event.sleeve,
        event.symbol, None, None, None, None, None, None, event.code, event.message, at,
    )  # fmt: skip
