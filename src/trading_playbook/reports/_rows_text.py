"""The trade and equity rows of a result document, built with their text, column by column.

A run has about 10,000 trades and 5,000 sessions. The document holds them as row dicts (what every
report reads), and ``result.json`` writes each row in compact form (keys sorted) on its own line
(all rows by one orjson call, :func:`trading_playbook.reports.json_result.write_canonical`);
``trades.csv`` and ``equity.csv`` write the same values again as cells. Reading 15,000 dicts back
one by one was most of the reports' time. Here the values are taken from the trades in one pass and
held as columns; each column's text is written by orjson at once (numbers, in the shortest
round-trip form of ``result.json``) or once per distinct value (strings, dates); the row dicts and
the CSV cells are made from those columns.

The bytes are those of the row-by-row path (the CSV cells of
:mod:`trading_playbook.reports.csv_files` read back from the rows): ``tests/unit/test_rows_text.py``
compares them, NaN, infinities, partial exits and quoted strings included.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

import numpy as np
import orjson

from trading_playbook.core.types import trade_field_columns

__all__ = ["RowsText", "equity_rows_text", "trade_rows_text"]

_SORTED = orjson.OPT_SORT_KEYS

TRADE_FLOATS = (
    "entry_price",
    "exit_price",
    "pnl",
    "pnl_pct",
    "r_multiple",
    "mfe",
    "mae",
    "initial_stop",
    "commission",
)
_TRADE_INTS = ("shares", "sessions_held")
_TRADE_STRINGS = ("symbol", "exit_reason", "sleeve")
_TRADE_DATES = ("entry_date", "exit_date")
_TRADE_FIELDS = (*TRADE_FLOATS, *_TRADE_INTS, *_TRADE_STRINGS, *_TRADE_DATES, "partial_exits")


@dataclass
class RowsText:
    """Rows of equal keys as columns: their plain JSON values, and the CSV cells of each column.

    ``rows`` is the document's list (built once, by :meth:`make_rows`); the text is valid for it as
    long as the document holds that very list (the writers check identity, see :meth:`text_for`).
    """

    values: dict[str, list[Any]]  # key -> plain JSON values (None for NaN and infinities)
    numeric: frozenset[str]  # keys whose values are floats, ints or None (made so here)
    rows: list[dict[str, Any]] | None = None

    def make_rows(self) -> list[dict[str, Any]]:
        """The row dicts, keys in sorted order (the document's rows)."""
        keys = tuple(sorted(self.values))
        columns = [self.values[k] for k in keys]
        if len({len(c) for c in columns}) > 1:
            raise ValueError("row columns of different lengths")
        self.rows = list(map(_row_maker(keys), *columns)) if keys else []
        return self.rows

    def csv_cells(self, key: str) -> list[str]:
        """The CSV cells of ``key``'s column as :func:`csv_files._texts` writes them (unquoted): numbers
        as in JSON, None as empty, strings as they are, anything else as its JSON text."""
        values = self.values[key]
        if key in self.numeric:
            return ["" if t == "null" else t for t in _number_texts(values)]
        if key == "partial_exits":
            return [_json_text(v) if v else "[]" for v in values]
        return [v if type(v) is str else "" if v is None else _json_text(v) for v in values]

    def text_for(self, rows: object) -> RowsText | None:
        """Itself when ``rows`` is the list it built, else None (the writers then walk the rows)."""
        return self if rows is not None and rows is self.rows else None


_ROW_MAKERS: dict[tuple[str, ...], Callable[..., dict[str, Any]]] = {}


def _row_maker(keys: tuple[str, ...]) -> Callable[..., dict[str, Any]]:
    """``lambda *values: dict(zip(keys, values))`` written as a dict display of the constant keys
    (``{"commission": v0, "entry_date": v1, ...}``), made once per key tuple.

    Python builds a display's dict in one step at its final size; ``dict(zip(...))`` inserts the
    values one by one through a zip iterator and grows the table as it goes: about twice the time
    for a run's 10,000 rows of 17 keys. Same keys, same order, same value objects.
    """
    maker = _ROW_MAKERS.get(keys)
    if maker is None:
        names = [f"v{i}" for i in range(len(keys))]
        pairs = ", ".join(f"{key!r}: {name}" for key, name in zip(keys, names, strict=True))
        # the keys are string literals (repr) and the names are generated: the text is code of this module
        maker = eval(f"lambda {', '.join(names)}: {{{pairs}}}", {})
        _ROW_MAKERS[keys] = maker
    return maker


def _floats(values: Sequence[Any]) -> list[float | None]:
    """A float column as plain floats, NaN and infinities as None (as the document writes them)."""
    array = np.asarray(values, dtype=np.float64)
    out: list[float | None] = array.tolist()
    for i in np.flatnonzero(~np.isfinite(array)).tolist():
        out[i] = None
    return out


def _float_values(column: Sequence[Any]) -> list[float | None]:
    """:func:`_floats` of a column of trade fields, keeping the float objects the trades hold (equal
    values, no copies) when every value is a plain ``float``."""
    if not set(map(type, column)) <= {float}:
        return _floats(column)
    out: list[float | None] = list(column)
    if all(map(math.isfinite, column)):  # the common case: nothing to replace
        return out
    for i in np.flatnonzero(~np.isfinite(np.asarray(column, dtype=np.float64))).tolist():
        out[i] = None
    return out


def _number_texts(values: list[Any]) -> list[str]:
    """orjson's text of each number (or ``null``) of a column, written in one call (no commas inside)."""
    return orjson.dumps(values).decode()[1:-1].split(",") if values else []


def _json_text(value: Any) -> str:
    return orjson.dumps(value, option=_SORTED).decode()


def _iso_dates(values: Sequence[dt.date], table: dict[dt.date, str] | None = None) -> list[str]:
    """Each date's ISO text, made once per distinct date (``table``: shared between columns)."""
    table = {} if table is None else table
    table.update({d: d.isoformat() for d in dict.fromkeys(values) if d not in table})
    return list(map(table.__getitem__, values))


def _partial_exits(exits: tuple[Any, ...]) -> list[dict[str, Any]]:
    from trading_playbook.reports.json_result import to_jsonable

    return [
        to_jsonable({"date": p.date.isoformat(), "shares": p.shares, "price": p.price, "reason": p.reason})
        for p in exits
    ]


def trade_rows_text(trades: Sequence[Any]) -> RowsText:
    """The trade columns of the document (``to_jsonable(t.to_dict())`` of each trade, column by column)."""
    n = len(trades)
    made = trade_field_columns(trades)  # the fast engine's columns (the trades' own values)
    if made is not None:
        fields: dict[str, Sequence[Any]] = {name: made[name] for name in _TRADE_FIELDS}
    else:
        picked = (
            list(zip(*map(attrgetter(*_TRADE_FIELDS), trades), strict=True))
            if n
            else [()] * len(_TRADE_FIELDS)
        )
        fields = dict(zip(_TRADE_FIELDS, picked, strict=True))
    values: dict[str, list[Any]] = {name: _float_values(fields[name]) for name in TRADE_FLOATS}
    values.update({name: list(map(int, fields[name])) for name in _TRADE_INTS})
    values.update({name: list(fields[name]) for name in _TRADE_STRINGS})
    iso: dict[dt.date, str] = {}  # entry and exit dates share most of their sessions
    values.update({name: _iso_dates(fields[name], iso) for name in _TRADE_DATES})
    exits = fields["partial_exits"]
    values["partial_exits"] = [_partial_exits(p) if p else [] for p in exits]
    return RowsText(values, frozenset((*TRADE_FLOATS, *_TRADE_INTS)))


def equity_rows_text(dates: Any, equity: Any, cash: Any, positions: Any, exposure: Any) -> RowsText:
    """The equity columns of the document: one row per session (date, equity, cash, positions, exposure)."""
    values: dict[str, list[Any]] = {
        "date": np.asarray(dates).astype("datetime64[D]").astype(str).tolist(),
        "equity": _floats(equity),
        "cash": _floats(cash),
        "positions": np.asarray(positions, dtype=np.int64).tolist(),
        "exposure": _floats(exposure),
    }
    return RowsText(values, frozenset(("equity", "cash", "positions", "exposure")))
