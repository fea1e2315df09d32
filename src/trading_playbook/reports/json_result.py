"""``result.json``: the versioned, deterministic document of one run (RULES section 7).

The document carries ``schema_version``, exactly one timestamp (``created_at``), ``trades`` (in order of
entry session then symbol), ``equity`` (one row per session: ``date, equity, cash, positions,
exposure``), ``metrics``, ``config``, ``config_hash``, ``data``, ``engine``, ``starting_capital``, and
the buy-and-hold ``benchmarks`` curves aligned with the equity rows (growth of 1, for the charts).

Serialisation is canonical, so the same run gives the same bytes apart from ``created_at``: keys sorted,
objects indented two spaces per level, each item of a list of objects or lists on one line in compact
form (one trade, one equity row per line: short diffs), floats in their shortest round-trip form
(written by orjson, which is about twenty times faster than the standard library for a run's 100,000
floats), NaN and infinities written as ``null``, numpy scalars as plain numbers, dates as ISO
``YYYY-MM-DD``. Run timings are left out on purpose (they change from run to run); the run registry
stores them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from trading_playbook.core.errors import PlaybookError
from trading_playbook.core.metrics import BenchmarkSeries
from trading_playbook.core.types import RunResult, Trade
from trading_playbook.reports._rows_text import RowsText, equity_rows_text, trade_rows_text

__all__ = [
    "SCHEMA_VERSION",
    "PlainDocument",
    "config_hash",
    "dumps_canonical",
    "dumps_canonical_bytes",
    "load_result",
    "result_document",
    "schema",
    "to_jsonable",
    "trade_rows",
    "validate_document",
]

SCHEMA_VERSION = "1.0"
_SCHEMA_PATH = Path(__file__).resolve().parents[1] / "schemas" / "result.schema.json"


class PlainDocument(dict[str, Any]):
    """A document already made of plain JSON values (the output of :func:`to_jsonable`).

    ``rows_text``: the :class:`~trading_playbook.reports._rows_text.RowsText` of its large lists
    (``trades``, ``equity``) when :func:`result_document` built them; the writers use their text
    while the document still holds those very lists.
    """

    rows_text: dict[str, RowsText]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.rows_text = {}

    def text_of(self, key: str) -> RowsText | None:
        """The text of the list at ``key`` when it is the one built with it, else None."""
        table = self.rows_text.get(key)
        return table.text_for(self.get(key)) if table is not None else None


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
        if value.ndim == 1 and value.dtype.kind == "f":
            return _floats(value)
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


_OPTIONS = orjson.OPT_SORT_KEYS


def _compact(value: Any) -> bytes:
    return orjson.dumps(value, option=_OPTIONS)


def _layout(value: Any, depth: int, out: list[bytes], lines: dict[int, list[str]] | None = None) -> None:
    """Objects indented two spaces per level; a list holding objects or lists gets one item per line,
    each in compact form; scalars and lists of scalars stay on one line. ``lines``: the compact text
    of the items of known lists, by the list's ``id`` (see :meth:`PlainDocument.text_of`)."""
    pad = b"  " * depth
    if isinstance(value, dict) and value:
        out.append(b"{\n")
        keys = sorted(value)
        for i, key in enumerate(keys):
            out.append(pad + b"  " + _compact(str(key)) + b": ")
            _layout(value[key], depth + 1, out, lines)
            out.append(b",\n" if i + 1 < len(keys) else b"\n")
        out.append(pad + b"}")
    elif lines and id(value) in lines and value:
        indent = (pad + b"  ").decode()
        text = f",\n{indent}".join(lines[id(value)])
        out.append(b"[\n" + f"{indent}{text}".encode() + b"\n" + pad + b"]")
    elif isinstance(value, list) and any(map(isinstance, value, itertools.repeat(dict | list))):
        item_pad = pad + b"  "
        out.append(b"[\n" + b",\n".join([item_pad + _compact(v) for v in value]) + b"\n" + pad + b"]")
    else:
        out.append(_compact(value))


def dumps_canonical_bytes(doc: Mapping[str, Any]) -> bytes:
    """:func:`dumps_canonical` as UTF-8 bytes (what is written to ``result.json``)."""
    plain = doc if isinstance(doc, PlainDocument) else to_jsonable(doc)
    lines: dict[int, list[str]] = {}
    if isinstance(plain, PlainDocument):
        for key in plain.rows_text:
            table = plain.text_of(key)
            if table is not None:  # (the document holds the list, so its id stays its own meanwhile)
                lines[id(plain[key])] = table.json_lines()
    out: list[bytes] = []
    _layout(plain, 0, out, lines)
    out.append(b"\n")
    return b"".join(out)


def dumps_canonical(doc: Mapping[str, Any]) -> str:
    """The canonical text of a document, newline-terminated.

    Keys sorted; floats in their shortest round-trip form; NaN/inf as ``null``; objects indented, one
    trade / equity row per line, each row compact.
    """
    return dumps_canonical_bytes(doc).decode("utf-8")


def config_hash(config: Mapping[str, Any]) -> str:
    """SHA-256 of the canonical compact JSON of a resolved configuration (first 16 hex digits)."""
    text = json.dumps(to_jsonable(config), sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _floats(values: Any) -> list[float | None]:
    """A float column as plain floats, NaN and infinities as None."""
    array = np.asarray(values, dtype=np.float64)
    out: list[float | None] = array.tolist()
    for i in np.flatnonzero(~np.isfinite(array)).tolist():
        out[i] = None
    return out


def _equity_text(result: RunResult) -> RowsText:
    curve = result.equity
    return equity_rows_text(curve.dates, curve.equity, curve.cash, curve.positions, curve.exposure)


def trade_rows(trades: list[Trade]) -> list[dict[str, Any]]:
    """``[to_jsonable(t.to_dict()) for t in trades]``, built column by column (a run has 10,000)."""
    return trade_rows_text(trades).make_rows()


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
    trades = _entry_order(result.trades)
    doc: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "created_at": created_at,
        "engine": result.engine,
        "starting_capital": float(result.starting_capital),
        "config": result.config,
        "config_hash": config_hash(result.config),
        "data": result.data,
        "metrics": result.metrics,
        "benchmarks": _benchmark_curves(result, benchmark),
    }
    if result.equity.sleeve_equity:
        doc["sleeve_equity"] = dict(result.equity.sleeve_equity)
    plain = PlainDocument(to_jsonable(doc))
    # the large lists are built plain, column by column (to_jsonable would walk them value by value),
    # with their JSON text (result.json and the CSV files write it)
    plain.rows_text = {"trades": trade_rows_text(trades), "equity": _equity_text(result)}
    for key, table in plain.rows_text.items():
        plain[key] = table.make_rows()
    return plain


def _entry_order(trades: list[Trade]) -> list[Trade]:
    """The trades in the document's order: entry session, then symbol."""
    if any((b.entry_date, b.symbol) < (a.entry_date, a.symbol) for a, b in itertools.pairwise(trades)):
        return sorted(trades, key=lambda t: (t.entry_date, t.symbol))
    return trades


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
