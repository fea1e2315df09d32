"""``trades.csv`` (one row per trade, partial exits flattened to a JSON column) and ``equity.csv``.

Written column by column: numbers are formatted a column at a time by orjson, the same shortest
round-trip text as ``result.json``; an undefined number is an empty cell.
"""

from __future__ import annotations

import csv
import io
import itertools
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson

from trading_playbook.reports._rows_text import RowsText
from trading_playbook.reports.json_result import PlainDocument

__all__ = ["EQUITY_COLUMNS", "TRADE_COLUMNS", "write_equity_csv", "write_trades_csv"]

TRADE_COLUMNS = (
    "symbol",
    "entry_date",
    "exit_date",
    "entry_price",
    "exit_price",
    "shares",
    "exit_reason",
    "pnl",
    "pnl_pct",
    "r_multiple",
    "sessions_held",
    "mfe",
    "mae",
    "initial_stop",
    "commission",
    "sleeve",
    "partial_exits",
)
EQUITY_COLUMNS = ("date", "equity", "cash", "positions", "exposure")


def _texts(values: Sequence[Any]) -> list[str]:
    """Cells of one column: numbers as orjson writes them, None as empty, strings as they are."""
    kinds = set(map(type, values))
    if kinds <= {str}:
        return list(values)
    if kinds <= {float, int, type(None)}:
        return (
            ["" if t == "null" else t for t in orjson.dumps(list(values)).decode()[1:-1].split(",")]
            if values
            else []
        )
    return ["" if v is None else v if isinstance(v, str) else orjson.dumps(v).decode() for v in values]


def _special_characters() -> re.Pattern[str]:
    """What makes ``csv.writer`` (QUOTE_MINIMAL, line terminator ``\\n``) quote a cell: the comma, the
    quote, the line feed, and on newer Pythons the carriage return (asked of the csv module itself)."""
    probe = io.StringIO()
    csv.writer(probe, lineterminator="\n").writerow(["\r"])
    return re.compile(r'[,"\n\r]' if probe.getvalue().startswith('"') else r'[,"\n]')


_SPECIAL = _special_characters()


_SPECIAL_CHARACTERS = tuple(c for c in ',"\n\r' if _SPECIAL.search(c))


def _quoted(cells: list[str]) -> list[str]:
    """A column as ``csv.writer`` (QUOTE_MINIMAL, ``,`` and ``"``) writes its cells: a cell holding a
    comma, a quote or a line break (:data:`_SPECIAL`) in quotes, its quotes doubled; a column without
    any as it is (looked for with ``in``, a fast scan, rather than the regular expression)."""
    column = "\x00".join(cells)
    if not any(c in column for c in _SPECIAL_CHARACTERS):
        return cells
    return [f'"{c.replace(chr(34), chr(34) * 2)}"' if _SPECIAL.search(c) else c for c in cells]


def _column(rows: Sequence[Mapping[str, Any]], key: str) -> list[Any]:
    """``[row.get(key) for row in rows]``, looped in C."""
    return list(map(dict.get, rows, itertools.repeat(key)))  # type: ignore[arg-type]


def _write(path: Path, header: Sequence[str], columns: list[list[str]]) -> Path:
    """The rows joined here, column by column (the bytes ``csv.writer`` writes, about four times
    faster for a run's 10,000 trades; a test compares the two)."""
    if len({len(c) for c in columns}) > 1:
        raise ValueError("csv columns of different lengths")
    lines = [",".join(_quoted(list(header)))]
    lines.extend(map(",".join, zip(*map(_quoted, columns), strict=True)))
    lines.append("")
    Path(path).write_text("\n".join(lines), encoding="utf-8", newline="")
    return Path(path)


def _plain_cells(column: list[Any]) -> bool | None:
    """Whether ``column`` can go through :func:`_write_at_once`: True for strings that orjson writes
    as they are between quotes and the csv module leaves unquoted, False for numbers (None: empty
    cells) or for empty lists (the last column only), None for anything else."""
    kinds = set(map(type, column))
    if kinds <= _NUMBERS:
        return False
    if kinds == {list} and not any(column):
        return False
    # each distinct string once (a run's 10,000 cells hold a few hundred symbols and dates): the
    # pattern is one character, so what it finds does not depend on the order or the joins
    if kinds <= {str} and not _NOT_PLAIN.search("".join(dict.fromkeys(column))):
        return True
    return None


_NUMBERS = frozenset({float, int, type(None)})
_NOT_PLAIN = re.compile(r'[",\\\x00-\x1f]')  # JSON escapes, CSV quotes (the comma, quote, line breaks)


def _write_at_once(
    path: Path, header: Sequence[str], columns: list[list[Any]], numbers: Sequence[bool] = ()
) -> Path | None:
    """:func:`_write` of columns of plain strings, numbers and empty lists, from one orjson call of
    the rows (no text per cell), or None (nothing written) when a column holds anything else.

    With only such cells (the first a string), orjson writes the rows as ``[["s",1.5,null,[]],...]``,
    and ``],[`` (only between rows: no string holds a comma, an empty list is last), ``,null`` (an
    undefined number: never first) and the quotes (around plain strings only) are the only
    differences from the CSV lines: each number is the cell :func:`_texts` writes (orjson's text),
    each string is written as it is, ``[]`` as it is. A backslash in the text means orjson escaped
    something, and a count of row boundaries other than the rows' is impossible: both None.
    ``numbers[i]`` True: column ``i`` is known to hold only floats, ints and None (not looked at).
    """
    known = (*numbers, *[False] * (len(columns) - len(numbers)))
    plain = [False if number else _plain_cells(c) for c, number in zip(columns, known, strict=True)]
    if not columns or not columns[0] or None in plain or not plain[0]:
        return None
    if any(type(c[0]) is list for c in columns[:-1]):  # an empty list is followed by "]" only last
        return None
    text = orjson.dumps(list(zip(*columns, strict=True)))
    if b"\\" in text:
        return None
    lines = text[2:-2].replace(b"],[", b"\n")
    if len(text) - 4 - len(lines) != 2 * (len(columns[0]) - 1):  # each boundary replaced is 2 bytes shorter
        return None
    # the quotes last: before, no "],[" or ",null" can be inside a string (no commas there)
    body = lines.replace(b",null", b",").translate(None, b'"')
    with Path(path).open("wb") as file:
        file.writelines((",".join(_quoted(list(header))).encode(), b"\n", body, b"\n"))
    return Path(path)


def _rows_text(doc: Mapping[str, Any], key: str) -> RowsText | None:
    """The cells the document's builder wrote for ``doc[key]`` (None: walk the rows)."""
    return doc.text_of(key) if isinstance(doc, PlainDocument) else None


def write_trades_csv(doc: Mapping[str, Any], path: Path) -> Path:
    """One row per trade in result order; ``partial_exits`` is a JSON list of {date, shares, price, reason}."""
    trades = doc["trades"]
    built = _rows_text(doc, "trades")
    if built is not None:  # the same cells, from the columns the document was built from
        columns = [built.values[c] for c in TRADE_COLUMNS]
        numbers = [c in built.numeric for c in TRADE_COLUMNS]
        at_once = _write_at_once(path, TRADE_COLUMNS, columns, numbers)
        return at_once or _write(path, TRADE_COLUMNS, [built.csv_cells(c) for c in TRADE_COLUMNS])
    columns = [_texts(_column(trades, c)) for c in TRADE_COLUMNS[:-1]]
    columns.append(
        [orjson.dumps(t.get("partial_exits", []), option=orjson.OPT_SORT_KEYS).decode() for t in trades]
    )
    return _write(path, TRADE_COLUMNS, columns)


def write_equity_csv(doc: Mapping[str, Any], path: Path) -> Path:
    """One row per session: date, equity, cash, positions, exposure."""
    built = _rows_text(doc, "equity")
    if built is not None:
        columns = [built.values[c] for c in EQUITY_COLUMNS]
        numbers = [c in built.numeric for c in EQUITY_COLUMNS]
        at_once = _write_at_once(path, EQUITY_COLUMNS, columns, numbers)
        return at_once or _write(path, EQUITY_COLUMNS, [built.csv_cells(c) for c in EQUITY_COLUMNS])
    rows = doc["equity"]
    return _write(path, EQUITY_COLUMNS, [_texts(_column(rows, c)) for c in EQUITY_COLUMNS])
