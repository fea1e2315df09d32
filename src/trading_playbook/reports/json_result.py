"""``result.json``: the versioned, deterministic document of one run (RULES section 7).

The document carries ``schema_version``, exactly one timestamp (``created_at``), ``trades`` (in order of
entry session then symbol), ``equity`` (one row per session: ``date, equity, cash, positions,
exposure``), ``metrics``, ``config``, ``config_hash``, ``data``, ``engine``, ``starting_capital``, and
the buy-and-hold ``benchmarks`` curves aligned with the equity rows (growth of 1, for the charts).

Serialisation is canonical, so the same run gives the same bytes apart from ``created_at``: keys sorted,
two-space indent, floats written as Python's shortest round-trip ``repr``, NaN and infinities written
as ``null``, numpy scalars as plain numbers, dates as ISO ``YYYY-MM-DD``. Run timings are left out on
purpose (they change from run to run); the run registry stores them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from trading_playbook.core.errors import PlaybookError
from trading_playbook.core.metrics import BenchmarkSeries
from trading_playbook.core.types import RunResult

__all__ = [
    "SCHEMA_VERSION",
    "PlainDocument",
    "config_hash",
    "dumps_canonical",
    "load_result",
    "result_document",
    "schema",
    "to_jsonable",
    "validate_document",
]

SCHEMA_VERSION = "1.0"
_SCHEMA_PATH = Path(__file__).resolve().parents[1] / "schemas" / "result.schema.json"


class PlainDocument(dict[str, Any]):
    """A document already made of plain JSON values (the output of :func:`to_jsonable`)."""


def to_jsonable(value: Any) -> Any:
    """Plain JSON values: numpy scalars unwrapped, NaN/inf -> None, dates -> ISO, tuples -> lists."""
    kind = type(value)
    if kind is float:  # the common case first: a result is mostly floats
        return value if math.isfinite(value) else None
    if kind is str or kind is int or kind is bool or value is None:
        return value
    if kind is list or kind is tuple:
        return [to_jsonable(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return [to_jsonable(v) for v in value.tolist()]
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        out = float(value)
        return out if math.isfinite(out) else None
    if isinstance(value, np.datetime64):
        return str(value.astype("datetime64[D]"))
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    return value


_ENCODER = json.JSONEncoder(sort_keys=True, ensure_ascii=False, allow_nan=False)


def _compact(value: Any) -> str:
    return _ENCODER.encode(value)


def _layout(value: Any, depth: int) -> str:
    """Objects indented two spaces per level; a list holding objects or lists gets one item per line;
    scalars and lists of scalars stay on one line (fast C encoder, short diffs: one trade per line)."""
    pad = "  " * depth
    if isinstance(value, dict) and value:
        items = [f"{pad}  {_compact(str(k))}: {_layout(value[k], depth + 1)}" for k in sorted(value)]
        return "{\n" + ",\n".join(items) + f"\n{pad}}}"
    if isinstance(value, list) and any(isinstance(v, dict | list) for v in value):
        return "[\n" + ",\n".join(f"{pad}  {_compact(v)}" for v in value) + f"\n{pad}]"
    return _compact(value)


def dumps_canonical(doc: Mapping[str, Any]) -> str:
    """The canonical text of a document, newline-terminated.

    Keys sorted; floats as Python's shortest round-trip ``repr``; NaN/inf as ``null`` (``allow_nan``
    is off, so nothing else can slip through); objects indented, one trade / equity row per line.
    """
    plain = doc if isinstance(doc, PlainDocument) else to_jsonable(doc)
    return _layout(plain, 0) + "\n"


def config_hash(config: Mapping[str, Any]) -> str:
    """SHA-256 of the canonical compact JSON of a resolved configuration (first 16 hex digits)."""
    text = json.dumps(to_jsonable(config), sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _equity_rows(result: RunResult) -> list[dict[str, Any]]:
    curve = result.equity
    dates = np.asarray(curve.dates).astype("datetime64[D]").astype(str).tolist()
    return [
        {"date": d, "equity": e, "cash": c, "positions": int(p), "exposure": x}
        for d, e, c, p, x in zip(
            dates,
            np.asarray(curve.equity, dtype=np.float64).tolist(),
            np.asarray(curve.cash, dtype=np.float64).tolist(),
            np.asarray(curve.positions).tolist(),
            np.asarray(curve.exposure, dtype=np.float64).tolist(),
            strict=True,
        )
    ]


def _benchmark_curves(result: RunResult, benchmark: BenchmarkSeries | None) -> dict[str, Any]:
    """Benchmark curves aligned on the equity dates (forward-filled), growth of 1."""
    if benchmark is None:
        return {}
    dates = np.asarray(result.equity.dates).astype("datetime64[D]")
    pos = np.searchsorted(benchmark.dates.astype("datetime64[D]"), dates, side="right") - 1
    out: dict[str, Any] = {}
    for name, curve in benchmark.curves.items():
        values = np.where(pos >= 0, curve[np.clip(pos, 0, None)], np.nan) if dates.size else curve[:0]
        out[name] = {"label": benchmark.labels.get(name, name), "values": values}
    return out


def result_document(
    result: RunResult, *, created_at: str, benchmark: BenchmarkSeries | None = None
) -> dict[str, Any]:
    """The ``result.json`` document of a run whose ``metrics`` are already computed.

    Parameters
    ----------
    result : RunResult
        The run; ``result.metrics`` should hold :func:`~trading_playbook.core.metrics.compute_metrics`.
    created_at : str
        The one timestamp of the document (ISO 8601, UTC).
    benchmark : BenchmarkSeries, optional
        Buy-and-hold curves stored for the charts.
    """
    trades = sorted(result.trades, key=lambda t: (t.entry_date, t.symbol))
    doc: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "created_at": created_at,
        "engine": result.engine,
        "starting_capital": float(result.starting_capital),
        "config": result.config,
        "config_hash": config_hash(result.config),
        "data": result.data,
        "metrics": result.metrics,
        "trades": [t.to_dict() for t in trades],
        "equity": _equity_rows(result),
        "benchmarks": _benchmark_curves(result, benchmark),
    }
    if result.equity.sleeve_equity:
        doc["sleeve_equity"] = dict(result.equity.sleeve_equity)
    return PlainDocument(to_jsonable(doc))


def schema() -> dict[str, Any]:
    """The JSON Schema of ``result.json`` (shipped as package data)."""
    return json.loads(_SCHEMA_PATH.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def validate_document(doc: Mapping[str, Any]) -> None:
    """Check a document against the schema; :class:`PlaybookError` names the failing path."""
    import jsonschema

    try:
        jsonschema.validate(dict(doc), schema())
    except jsonschema.ValidationError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "<root>"
        raise PlaybookError(
            f"result.json does not match schema {SCHEMA_VERSION} at {where}: {exc.message}"
        ) from exc


def load_result(path: Path) -> dict[str, Any]:
    """Read a ``result.json``; a clear error when it is missing or not a result document."""
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"), parse_constant=lambda _token: None)
    except (OSError, json.JSONDecodeError) as exc:
        raise PlaybookError(
            f"cannot read result file {path}: {exc}; re-run the backtest to recreate it"
        ) from exc
    if not isinstance(doc, dict) or "schema_version" not in doc:
        raise PlaybookError(f"{path} is not a result.json (no schema_version)")
    return PlainDocument(doc)
