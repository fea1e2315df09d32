"""``trades.csv`` (one row per trade, partial exits flattened to a JSON column) and ``equity.csv``.

Written column by column: numbers are formatted a column at a time by orjson, the same shortest
round-trip text as ``result.json``; an undefined number is an empty cell.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson

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
    if all(type(v) is str for v in values):
        return list(values)
    if all(v is None or type(v) in (float, int) for v in values):
        return (
            ["" if t == "null" else t for t in orjson.dumps(list(values)).decode()[1:-1].split(",")]
            if values
            else []
        )
    return ["" if v is None else v if isinstance(v, str) else orjson.dumps(v).decode() for v in values]


def _write(path: Path, header: Sequence[str], columns: list[list[str]]) -> Path:
    with Path(path).open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(zip(*columns, strict=True))
    return Path(path)


def write_trades_csv(doc: Mapping[str, Any], path: Path) -> Path:
    """One row per trade in result order; ``partial_exits`` is a JSON list of {date, shares, price, reason}."""
    trades = doc["trades"]
    columns = [_texts([t.get(c) for t in trades]) for c in TRADE_COLUMNS[:-1]]
    columns.append(
        [orjson.dumps(t.get("partial_exits", []), option=orjson.OPT_SORT_KEYS).decode() for t in trades]
    )
    return _write(path, TRADE_COLUMNS, columns)


def write_equity_csv(doc: Mapping[str, Any], path: Path) -> Path:
    """One row per session: date, equity, cash, positions, exposure."""
    rows = doc["equity"]
    return _write(path, EQUITY_COLUMNS, [_texts([r.get(c) for r in rows]) for c in EQUITY_COLUMNS])
