"""The run registry: every backtest recorded in SQLite (``runs.sqlite`` in the playbook home).

The home is ``$PLAYBOOK_HOME`` when set, else the platform's user data directory
(``platformdirs.user_data_dir("trading-playbook")``). Each row keeps the run id, the time, the resolved
config and its hash, the data fingerprint, the package version, the git commit of the code when there
is one, the engine, the output folder, the timings, the headline metrics and the whole ``result.json``
(zlib-compressed), so ``playbook report ID`` re-renders the reports without the output folder.

Public API: :func:`record_run`, :func:`list_runs`, :func:`get_run`, :func:`load_document`,
:func:`compare_runs`, :func:`registry_path`; research outputs (``playbook optimize`` / ``walk-forward``
folders) are listed in the same file by :func:`record_research`, :func:`list_research`,
:func:`get_research`. The readers take ``readonly=True`` to open the file read-only (``mode=ro``; the
web dashboard never writes).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import sqlite3
import subprocess
import zlib
from collections.abc import Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trading_playbook.core.errors import PlaybookError
from trading_playbook.core.types import RunResult

__all__ = [
    "HEADLINE_METRICS",
    "PackedDocument",
    "ResearchRecord",
    "RunRecord",
    "compare_runs",
    "get_research",
    "get_run",
    "list_research",
    "list_runs",
    "load_document",
    "pack_written_document",
    "record_research",
    "record_run",
    "registry_path",
]

HEADLINE_METRICS = (
    "total_return",
    "cagr",
    "annual_volatility",
    "sharpe",
    "sortino",
    "calmar",
    "max_drawdown",
    "exposure",
    "turnover",
    "trades",
    "trades_per_year",
    "win_rate",
    "profit_factor",
    "expectancy",
    "expectancy_r",
    "avg_sessions_held",
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    config_json TEXT NOT NULL,
    config_hash TEXT NOT NULL,
    data_fingerprint TEXT,
    package_version TEXT NOT NULL,
    git_commit TEXT,
    engine TEXT NOT NULL,
    out_dir TEXT,
    timings_json TEXT NOT NULL,
    metrics_json TEXT NOT NULL,
    result_json_z BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_created ON runs(created_at);
CREATE TABLE IF NOT EXISTS research (
    research_id TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    kind TEXT NOT NULL,
    out_dir TEXT NOT NULL,
    summary_json TEXT NOT NULL
);
"""


class RegistryError(PlaybookError):
    """The run registry cannot be read or does not hold the run asked for."""


@dataclass(frozen=True)
class RunRecord:
    """One registry row (without the stored document; see :func:`load_document`)."""

    run_id: str
    created_at: str
    config: dict[str, Any]
    config_hash: str
    data_fingerprint: str | None
    package_version: str
    git_commit: str | None
    engine: str
    out_dir: str | None
    timings: dict[str, float]
    metrics: dict[str, Any]


def registry_path(home: Path | None = None) -> Path:
    """``runs.sqlite`` in ``home``, ``$PLAYBOOK_HOME`` or the user data directory."""
    if home is None:
        env = os.environ.get("PLAYBOOK_HOME")
        if env:
            home = Path(env).expanduser()
        else:
            import platformdirs

            home = Path(platformdirs.user_data_dir("trading-playbook", appauthor=False))
    return Path(home) / "runs.sqlite"


@contextmanager
def _connect(path: Path | None, readonly: bool = False) -> Iterator[sqlite3.Connection]:
    db = path or registry_path()
    if readonly:
        with _connect_readonly(db) as conn:
            yield conn
        return
    try:
        db.parent.mkdir(parents=True, exist_ok=True)
        with closing(sqlite3.connect(db, timeout=30)) as conn:
            conn.executescript(_SCHEMA)
            with conn:  # one transaction, committed on success
                yield conn
    except sqlite3.Error as exc:
        raise RegistryError(
            f"run registry {db} is unusable: {exc}; move it aside to start a new one"
        ) from exc


@contextmanager
def _connect_readonly(db: Path) -> Iterator[sqlite3.Connection]:
    """The registry opened read-only (``mode=ro``): nothing is created, migrated or written."""
    if not db.is_file():
        raise RegistryError(f"no run registry at {db} yet; run `playbook backtest CONFIG.toml` first")
    try:
        with closing(sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True, timeout=30)) as conn:
            yield conn
    except sqlite3.Error as exc:
        raise RegistryError(f"run registry {db} cannot be read: {exc}") from exc


try:  # a stored document is several MB for 10,000 trades; orjson parses it twice as fast
    from orjson import loads as _fast_loads
except ImportError:  # pragma: no cover - orjson comes with the web extra
    _fast_loads = json.loads


def _loads(data: bytes | str) -> Any:
    """JSON text to values: orjson when installed, the standard parser for what orjson refuses (NaN)."""
    try:
        return _fast_loads(data)
    except ValueError:
        return json.loads(data)


def _package_version() -> str:
    # the distribution's version is this attribute (pyproject.toml reads it), installed or not; asking
    # importlib.metadata instead cost its import, ~16 ms of every recorded run
    from trading_playbook import __version__

    return __version__


def git_commit(cwd: Path | None = None) -> str | None:
    """The commit of the code (``git rev-parse HEAD`` next to the package), or None; never fails."""
    where = cwd or Path(__file__).resolve().parent
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = out.stdout.strip()
    return commit if out.returncode == 0 and len(commit) == 40 else None


def _new_run_id(created_at: str) -> str:
    stamp = "".join(ch for ch in created_at[:19] if ch.isdigit())
    return f"{stamp[:8]}-{stamp[8:14]}-{secrets.token_hex(3)}"


_CREATED_AT = re.compile(rb'^  "created_at": "([^"\\]*)",?$', re.MULTILINE)


def _written_document(out_dir: Path | None) -> tuple[bytes, str] | None:
    """The bytes of ``out_dir/result.json`` and its ``created_at`` (None when there is no such file)."""
    if out_dir is None:
        return None
    try:
        text = (Path(out_dir) / "result.json").read_bytes()
    except OSError:
        return None
    found = _CREATED_AT.search(text)
    return (text, found.group(1).decode()) if found else None


@dataclass(frozen=True)
class PackedDocument:
    """A run's ``result.json`` as the registry stores it (:func:`pack_written_document`)."""

    blob: bytes  # the file's bytes, zlib-compressed
    created_at: str  # the document's ``created_at``


def pack_written_document(out_dir: Path) -> PackedDocument | None:
    """The ``result.json`` in ``out_dir`` compressed for :func:`record_run` (None without that file).

    Compressing a 5 MB document takes ~60 ms and releases the GIL: ``playbook backtest`` packs it in
    a thread while it writes the other reports, and passes it to :func:`record_run` as ``packed``.
    """
    stored = _written_document(out_dir)
    if stored is None:
        return None
    text, created_at = stored
    return PackedDocument(
        zlib.compress(text, 1), created_at
    )  # level 1: 4x faster than 6 on 5 MB, a fifth larger


def _document_for(result: RunResult, out_dir: Path | None) -> dict[str, Any]:
    from trading_playbook.reports import result_document, utc_now
    from trading_playbook.reports.json_result import load_result

    if out_dir is not None and (Path(out_dir) / "result.json").is_file():
        return load_result(Path(out_dir) / "result.json")
    return result_document(result, created_at=utc_now())


def record_run(
    result: RunResult,
    out_dir: Path | None = None,
    *,
    db_path: Path | None = None,
    document: Mapping[str, Any] | None = None,
    packed: PackedDocument | None = None,
) -> str:
    """Record a run and return its id (``YYYYMMDD-HHMMSS-xxxxxx``).

    Parameters
    ----------
    result : RunResult
        The run, with its metrics computed.
    out_dir : Path, optional
        The run's output folder; its ``result.json`` (written by ``reports.write_run``) is stored.
        Without one, the document is built from ``result`` (no benchmark curves).
    db_path : Path, optional
        Registry file (default :func:`registry_path`).
    document : mapping, optional
        The result document to store, when the caller already has it.
    packed : PackedDocument, optional
        ``out_dir``'s ``result.json`` already compressed (:func:`pack_written_document`).
    """
    from trading_playbook.reports.json_result import config_hash, dumps_canonical_bytes, to_jsonable

    if packed is None and document is None:
        packed = pack_written_document(out_dir) if out_dir is not None else None
    if packed is not None:  # the bytes of result.json as written: no parse and no second dump
        blob, created_at = packed.blob, packed.created_at
        config, metrics = to_jsonable(result.config), to_jsonable(result.metrics)
    else:
        doc = dict(document) if document is not None else _document_for(result, out_dir)
        created_at = str(doc.get("created_at"))
        blob = zlib.compress(dumps_canonical_bytes(doc), 1)
        config, metrics = doc.get("config", result.config), doc.get("metrics", {})
    run_id = _new_run_id(created_at)
    row = (
        run_id,
        created_at,
        json.dumps(config, sort_keys=True),
        config_hash(result.config),
        (result.data or {}).get("fingerprint"),
        _package_version(),
        git_commit(),
        result.engine,
        str(Path(out_dir).resolve()) if out_dir is not None else None,
        json.dumps(result.timings, sort_keys=True),
        json.dumps(metrics, sort_keys=True, allow_nan=False),
        blob,
    )
    with _connect(db_path) as conn:
        conn.execute(f"INSERT INTO runs VALUES ({', '.join('?' * len(row))})", row)
    return run_id


def _record(row: sqlite3.Row) -> RunRecord:
    return RunRecord(
        run_id=row["run_id"],
        created_at=row["created_at"],
        config=_loads(row["config_json"]),
        config_hash=row["config_hash"],
        data_fingerprint=row["data_fingerprint"],
        package_version=row["package_version"],
        git_commit=row["git_commit"],
        engine=row["engine"],
        out_dir=row["out_dir"],
        timings=_loads(row["timings_json"]),
        metrics=_loads(row["metrics_json"]),
    )


_COLUMNS = "run_id, created_at, config_json, config_hash, data_fingerprint, package_version, git_commit, engine, out_dir, timings_json, metrics_json"


def list_runs(
    *, limit: int | None = None, db_path: Path | None = None, readonly: bool = False
) -> list[RunRecord]:
    """Recorded runs, newest first."""
    with _connect(db_path, readonly) as conn:
        conn.row_factory = sqlite3.Row
        sql = f"SELECT {_COLUMNS} FROM runs ORDER BY created_at DESC, rowid DESC"
        rows = conn.execute(sql + (" LIMIT ?" if limit else ""), (limit,) if limit else ()).fetchall()
    return [_record(r) for r in rows]


def _resolve_id(conn: sqlite3.Connection, run_id: str) -> str:
    """A full id from an id or a unique prefix of one (or its random suffix)."""
    matches = [
        r[0]
        for r in conn.execute(
            "SELECT run_id FROM runs WHERE run_id LIKE ? ESCAPE '\\' OR run_id LIKE ? ESCAPE '\\'",
            (_like(run_id) + "%", "%-" + _like(run_id)),
        )
    ]
    if len(matches) == 1:
        return str(matches[0])
    if not matches:
        raise RegistryError(f"no recorded run {run_id!r}; `playbook runs ls` lists the run ids")
    raise RegistryError(
        f"run id {run_id!r} is ambiguous ({', '.join(sorted(matches)[:5])}); give more characters"
    )


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def get_run(run_id: str, *, db_path: Path | None = None, readonly: bool = False) -> RunRecord:
    """One recorded run by id (or a unique prefix, or its six-character suffix)."""
    with _connect(db_path, readonly) as conn:
        conn.row_factory = sqlite3.Row
        full = _resolve_id(conn, run_id)
        row = conn.execute(f"SELECT {_COLUMNS} FROM runs WHERE run_id = ?", (full,)).fetchone()
    return _record(row)


def load_document(run_id: str, *, db_path: Path | None = None, readonly: bool = False) -> dict[str, Any]:
    """The stored ``result.json`` document of a run."""
    with _connect(db_path, readonly) as conn:
        full = _resolve_id(conn, run_id)
        blob = conn.execute("SELECT result_json_z FROM runs WHERE run_id = ?", (full,)).fetchone()[0]
    try:
        doc = _loads(zlib.decompress(blob))
    except (zlib.error, ValueError) as exc:
        raise RegistryError(f"the stored result of run {full} is corrupt: {exc}") from exc
    return doc  # type: ignore[no-any-return]


def compare_runs(
    run_ids: Sequence[str], *, db_path: Path | None = None
) -> tuple[list[RunRecord], list[tuple[str, list[Any]]]]:
    """Side-by-side headline metrics: the records and rows of (metric, [value per run])."""
    records = [get_run(r, db_path=db_path) for r in run_ids]
    rows: list[tuple[str, list[Any]]] = [
        (k, [rec.metrics.get(k) for rec in records]) for k in HEADLINE_METRICS
    ]
    rows.insert(
        0,
        (
            "sample_size_status",
            [rec.metrics.get("validation", {}).get("sample_size_status") for rec in records],
        ),
    )
    return records, rows


# ------------------------------------------------------------------------------------ research outputs


@dataclass(frozen=True)
class ResearchRecord:
    """One recorded research output: ``kind`` is ``optimize`` or ``walk-forward``; ``summary`` holds
    the headline figures (what the command printed) and ``out_dir`` the folder of its report files."""

    research_id: str
    created_at: str
    kind: str
    out_dir: str
    summary: dict[str, Any]


def record_research(
    kind: str, out_dir: Path, summary: Mapping[str, Any], *, db_path: Path | None = None
) -> str:
    """Record a finished optimisation or walk-forward (its output folder) and return its id."""
    from trading_playbook.reports import utc_now

    created_at = utc_now()
    research_id = _new_run_id(created_at)
    text = json.dumps(summary, sort_keys=True, default=str)
    with _connect(db_path) as conn:
        conn.execute(
            "INSERT INTO research VALUES (?, ?, ?, ?, ?)",
            (research_id, created_at, kind, str(Path(out_dir).resolve()), text),
        )
    return research_id


def _research(row: tuple[Any, ...]) -> ResearchRecord:
    return ResearchRecord(row[0], row[1], row[2], row[3], json.loads(row[4]))


def list_research(*, db_path: Path | None = None, readonly: bool = False) -> list[ResearchRecord]:
    """Recorded research outputs, newest first (none in a registry older than the research table)."""
    with _connect(db_path, readonly) as conn:
        try:
            rows = conn.execute("SELECT * FROM research ORDER BY created_at DESC, rowid DESC").fetchall()
        except sqlite3.OperationalError:  # read-only registry written before the table existed
            return []
    return [_research(r) for r in rows]


def get_research(research_id: str, *, db_path: Path | None = None, readonly: bool = False) -> ResearchRecord:
    """One recorded research output by its exact id."""
    with _connect(db_path, readonly) as conn:
        try:
            row = conn.execute("SELECT * FROM research WHERE research_id = ?", (research_id,)).fetchone()
        except sqlite3.OperationalError:
            row = None
    if row is None:
        raise RegistryError(f"no recorded research output {research_id!r}")
    return _research(row)
