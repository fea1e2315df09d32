"""``trades.csv`` (one row per trade, partial exits flattened to a JSON column) and ``equity.csv``."""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

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


def _cell(value: Any) -> Any:
    """Empty for undefined numbers; floats as their shortest round-trip repr."""
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    return value


def write_trades_csv(doc: Mapping[str, Any], path: Path) -> Path:
    """One row per trade in result order; ``partial_exits`` is a JSON list of {date, shares, price, reason}."""
    with Path(path).open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(TRADE_COLUMNS)
        for trade in doc["trades"]:
            row = [_cell(trade.get(c)) for c in TRADE_COLUMNS[:-1]]
            row.append(json.dumps(trade.get("partial_exits", []), sort_keys=True, separators=(",", ":")))
            writer.writerow(row)
    return Path(path)


def write_equity_csv(doc: Mapping[str, Any], path: Path) -> Path:
    """One row per session: date, equity, cash, positions, exposure."""
    with Path(path).open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(EQUITY_COLUMNS)
        for row in doc["equity"]:
            writer.writerow([_cell(row.get(c)) for c in EQUITY_COLUMNS])
    return Path(path)
