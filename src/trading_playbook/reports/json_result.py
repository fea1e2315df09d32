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
import operator
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from trading_playbook.core.errors import PlaybookError
from trading_playbook.core.metrics import BenchmarkSeries
from trading_playbook.core.types import RunResult, Trade, trade_field_columns
from trading_playbook.reports._rows_text import RowsText, equity_rows_text, trade_rows_text

__all__ = [
    "SCHEMA_VERSION",
    "PlainDocument",
    "PreparedRows",
    "config_hash",
    "dumps_canonical",
    "dumps_canonical_bytes",
    "load_result",
    "prepare_rows",
    "result_document",
    "schema",
    "to_jsonable",
    "trade_rows",
    "validate_document",
    "write_canonical",
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

    def first_keys(self) -> dict[int, str]:
        """``id(rows) -> key`` of the built row lists it holds (:meth:`text_of`): every row a dict of
        the table's keys, ``key`` the first of them in sorted order."""
        known = {}
        for key in self.rows_text:
            table = self.text_of(key)
            if table is not None and table.values:
                known[id(self[key])] = min(table.values)
        return known


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


def _layout(value: Any, depth: int, out: list[Any], first_keys: Mapping[int, str] | None = None) -> None:
    """Objects indented two spaces per level; a list holding objects or lists gets one item per line,
    each in compact form; scalars and lists of scalars stay on one line. ``out`` receives the text
    as bytes-like pieces (joined or written by the caller). ``first_keys``: ``id(rows) -> key`` of
    lists of row dicts known to share their keys (a document's built rows), ``key`` the first of them."""
    pad = b"  " * depth
    if isinstance(value, dict) and value:
        out.append(b"{\n")
        keys = sorted(value)
        for i, key in enumerate(keys):
            out.append(pad + b"  " + _compact(str(key)) + b": ")
            _layout(value[key], depth + 1, out, first_keys)
            out.append(b",\n" if i + 1 < len(keys) else b"\n")
        out.append(pad + b"}")
    elif isinstance(value, list) and any(map(isinstance, value, itertools.repeat(dict | list))):
        item_pad = pad + b"  "
        first = first_keys.get(id(value)) if first_keys is not None else None
        items = _items_at_once(value, item_pad, first)
        if items is None:  # item by item
            items = (b",\n".join([item_pad + _compact(v) for v in value]),)
        out.extend((b"[\n", *items, b"\n", pad, b"]"))
    else:
        out.append(_compact(value))


_PLAIN_KEY = re.compile(r"[A-Za-z0-9_]+")


def _items_at_once(items: list[Any], item_pad: bytes, first: str | None = None) -> tuple[Any, ...] | None:
    """``b",\n".join(item_pad + _compact(v) for v in items)`` written by one orjson call (a run's
    10,000 trade rows: no per-row text), as bytes-like pieces, or None when that cannot be proven
    the same bytes.

    orjson writes a list as ``[`` + its items' compact texts joined by ``,`` + ``]``. When every item
    is a non-empty object whose first key (sorted) is the same plain name ``k``, every boundary
    between two items reads ``},{"k":``; a ``"`` inside a string is escaped, so that text appears
    elsewhere only as the start of a nested object with the same first key. Finding it exactly
    ``len(items) - 1`` times therefore finds the boundaries and nothing else, and a line break and
    ``item_pad`` go after each comma. Anything else (another first key, a nested object starting with
    the same key, an item that is not an object) is None: the caller writes item by item.
    ``first``: the items are known to be dicts of the same non-empty keys, ``first`` the first of them
    in sorted order (a document's built rows, :class:`PlainDocument`): not looked up row by row.
    """
    if len(items) < 2:
        return None
    if first is None:
        if not all(type(v) is dict and v for v in items):
            return None
        try:
            first = min(items[0])
            same_first = all(map(first.__eq__, map(min, items)))
        except TypeError:  # keys that do not compare (not a plain document): item by item
            return None
        if not same_first:
            return None
    if not isinstance(first, str) or not _PLAIN_KEY.fullmatch(first):
        return None
    text = orjson.dumps(items, option=_OPTIONS)
    key = b'{"' + first.encode() + b'":'
    boundary = b"}," + key
    laid = text.replace(boundary, b"},\n" + item_pad + key)
    # each replaced boundary (non-overlapping, as counted) adds a line break and the padding
    if len(laid) - len(text) != (len(items) - 1) * (1 + len(item_pad)):
        return None
    return item_pad, memoryview(laid)[1:-1]


def _canonical_parts(doc: Mapping[str, Any]) -> list[Any]:
    """The canonical text of ``doc`` as bytes-like pieces, in order."""
    plain = doc if isinstance(doc, PlainDocument) else to_jsonable(doc)
    out: list[Any] = []
    _layout(plain, 0, out, plain.first_keys() if isinstance(plain, PlainDocument) else None)
    out.append(b"\n")
    return out


def dumps_canonical_bytes(doc: Mapping[str, Any]) -> bytes:
    """:func:`dumps_canonical` as UTF-8 bytes (what is written to ``result.json``)."""
    return b"".join(_canonical_parts(doc))


def write_canonical(doc: Mapping[str, Any], path: Path) -> Path:
    """Write :func:`dumps_canonical_bytes` of ``doc`` to ``path`` piece by piece (a run's 5 MB of
    text is never joined into one more copy)."""
    with Path(path).open("wb") as file:
        file.writelines(_canonical_parts(doc))
    return Path(path)


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


@dataclass
class PreparedRows:
    """A run's trade and equity rows built ahead of its document (:func:`prepare_rows`): a command
    builds them while the metrics' bootstrap draws on its threads.

    They go into one document, of the very trades list and equity curve they were built from
    (:meth:`take`); :func:`result_document` builds the rows afresh for anything else (and for a
    second document: two documents never share their row lists).
    """

    trades: list[Trade]  # the run's list they were built from (identity checked)
    equity: Any  # the run's EquityCurve they were built from (identity checked)
    tables: dict[str, RowsText]  # "trades", "equity": the rows (made) with their JSON text
    taken: bool = False

    def take(self, result: RunResult) -> dict[str, RowsText] | None:
        """The tables, once, when they are the rows of ``result`` (its very trades list and equity
        curve); else None."""
        if self.taken or self.trades is not result.trades or self.equity is not result.equity:
            return None
        self.taken = True
        return self.tables


def prepare_rows(result: RunResult) -> PreparedRows:
    """The rows :func:`result_document` puts in the document of ``result`` (metrics not needed)."""
    tables = {"trades": trade_rows_text(_entry_order(result.trades)), "equity": _equity_text(result)}
    for table in tables.values():
        table.make_rows()
    return PreparedRows(result.trades, result.equity, tables)


def result_document(
    result: RunResult,
    *,
    created_at: str,
    benchmark: BenchmarkSeries | None = None,
    rows: PreparedRows | None = None,
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
    rows : PreparedRows, optional
        The rows :func:`prepare_rows` built for this run (used once, and only for ``result``).
    """
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
    tables = rows.take(result) if rows is not None else None
    plain.rows_text = dict(tables if tables is not None else prepare_rows(result).tables)
    for key, table in plain.rows_text.items():
        plain[key] = table.rows
    return plain


def _entry_order(trades: list[Trade]) -> list[Trade]:
    """The trades in the document's order: entry session, then symbol."""
    made = trade_field_columns(trades)
    if made is not None:  # the same comparisons, on the fast engine's columns
        keys = list(zip(made["entry_date"], made["symbol"], strict=True))
        if not any(map(operator.lt, keys[1:], keys)):
            return trades
    elif not any((b.entry_date, b.symbol) < (a.entry_date, a.symbol) for a, b in itertools.pairwise(trades)):
        return trades
    return sorted(trades, key=lambda t: (t.entry_date, t.symbol))


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
