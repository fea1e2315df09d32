"""SQLite trial store: every trial's parameters, metrics and daily returns, so a run can resume.

One database file (``trials.sqlite`` in the output directory) holds any number of **studies**. A study
is identified by a hash of everything that defines the sweep (configuration hash, parameter specs,
method, objective, seed, window); rerunning the same command finds its study and skips the trials
already recorded, so an interrupted run resumes where it stopped. Trials are identified by a hash of
their parameters and window, so the same trial is never run twice within a study.

Only the parent process writes (workers send outcomes back), one transaction per trial.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from trading_playbook.core.errors import CacheError
from trading_playbook.research.executors import TrialOutcome

__all__ = ["StoredTrial", "TrialStore", "canonical_json", "stable_hash", "trial_key"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS studies (
    study TEXT PRIMARY KEY,
    spec TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS trials (
    study TEXT NOT NULL,
    trial_key TEXT NOT NULL,
    number INTEGER NOT NULL,
    params TEXT NOT NULL,
    status TEXT NOT NULL,
    metrics TEXT NOT NULL,
    returns BLOB,
    dates BLOB,
    error TEXT,
    seconds REAL,
    finished REAL,
    PRIMARY KEY (study, trial_key)
);
"""


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no spaces (stable across runs and processes)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def stable_hash(value: Any, length: int = 16) -> str:
    """A short SHA-256 of :func:`canonical_json`."""
    return hashlib.sha256(canonical_json(value).encode()).hexdigest()[:length]


def trial_key(params: dict[str, Any], start: str | None = None, end: str | None = None) -> str:
    """Identity of one trial within a study: its parameters and its window."""
    return stable_hash({"params": params, "start": start, "end": end})


@dataclass(frozen=True)
class StoredTrial:
    """A trial as recorded: ``status`` is ``"ok"`` or ``"failed"``."""

    number: int
    trial_key: str
    params: dict[str, Any]
    status: str
    metrics: dict[str, float]
    returns: np.ndarray
    dates: np.ndarray
    error: str | None
    seconds: float


class TrialStore:
    """The SQLite trial store at ``path`` (created when missing).

    Parameters
    ----------
    path : str or Path
        Database file.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._conn = sqlite3.connect(self.path, timeout=30.0)
            self._conn.execute("PRAGMA journal_mode=WAL")
            # WAL with NORMAL sync: a commit is not fsynced (a killed or interrupted process still
            # keeps every committed trial; only a power loss can lose the last ones, which a resume
            # runs again). FULL syncs every trial: 500 trials measured 2.6 s against 0.8 s.
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise CacheError(
                f"trial store {self.path} is not a usable SQLite database ({exc}); "
                "delete it or choose another --out directory"
            ) from exc

    def open_study(self, spec: dict[str, Any]) -> str:
        """Return the study id of ``spec``, creating the study when new."""
        study = stable_hash(spec)
        with self._tx() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO studies (study, spec, created) VALUES (?, ?, ?)",
                (study, canonical_json(spec), time.time()),
            )
        return study

    def completed_keys(self, study: str) -> set[str]:
        """Keys of the trials already recorded (ok or failed) in ``study``."""
        rows = self._conn.execute("SELECT trial_key FROM trials WHERE study = ?", (study,))
        return {row[0] for row in rows}

    def record(self, study: str, number: int, key: str, outcome: TrialOutcome) -> None:
        """Record one finished trial (one transaction: an interruption loses at most this trial)."""
        status = "failed" if outcome.error else "ok"
        returns = np.ascontiguousarray(outcome.returns, dtype=np.float64)
        dates = np.ascontiguousarray(outcome.dates, dtype="datetime64[D]").view(np.int64)
        with self._tx() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO trials (study, trial_key, number, params, status, metrics, returns,"
                " dates, error, seconds, finished) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    study,
                    key,
                    number,
                    canonical_json(outcome.params),
                    status,
                    json.dumps(_finite_metrics(outcome.metrics), sort_keys=True),
                    returns.tobytes(),
                    dates.tobytes(),
                    outcome.error,
                    outcome.seconds,
                    time.time(),
                ),
            )

    def trials(self, study: str) -> list[StoredTrial]:
        """Every recorded trial of ``study`` in trial-number order."""
        rows = self._conn.execute(
            f"SELECT {_COLUMNS} FROM trials WHERE study = ? ORDER BY number", (study,)
        ).fetchall()
        return [_stored(r) for r in rows]

    def trial(self, study: str, key: str) -> StoredTrial | None:
        """The recorded trial ``key`` of ``study``, or ``None``."""
        row = self._conn.execute(
            f"SELECT {_COLUMNS} FROM trials WHERE study = ? AND trial_key = ?", (study, key)
        ).fetchone()
        return None if row is None else _stored(row)

    def count(self) -> int:
        """How many trials are recorded (every study)."""
        return int(self._conn.execute("SELECT COUNT(*) FROM trials").fetchone()[0])

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()

    def __enter__(self) -> TrialStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        try:
            with self._conn:
                yield self._conn
        except sqlite3.DatabaseError as exc:
            raise CacheError(f"trial store {self.path}: {exc}") from exc


_COLUMNS = "number, trial_key, params, status, metrics, returns, dates, error, seconds"


def _stored(row: tuple[Any, ...]) -> StoredTrial:
    return StoredTrial(
        number=int(row[0]),
        trial_key=row[1],
        params=json.loads(row[2]),
        status=row[3],
        metrics={k: (float("nan") if v is None else v) for k, v in json.loads(row[4]).items()},
        returns=np.frombuffer(row[5] or b"", dtype=np.float64).copy(),
        dates=np.frombuffer(row[6] or b"", dtype=np.int64).copy().view("datetime64[D]"),
        error=row[7],
        seconds=float(row[8] or 0.0),
    )


def _finite_metrics(metrics: dict[str, Any]) -> dict[str, float | None]:
    # JSON has no NaN/inf; store them as null and read them back as NaN.
    out: dict[str, float | None] = {}
    for key, value in metrics.items():
        try:
            number = float(value)
        except (TypeError, ValueError):
            continue
        out[key] = number if np.isfinite(number) else None
    return out
