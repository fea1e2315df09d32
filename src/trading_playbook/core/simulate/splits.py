"""Splits that arrive after a paper account saved its state: the corporate action on the saved state.

Prices are split-adjusted with every split in the loaded data (RULES section 1), so when a later step
loads data holding a new split of a stock the account holds, every earlier price of that stock is on a
new scale: a 2-for-1 split halves them. A saved state records, per symbol it holds or has orders for,
the price factor of its scale (``raw close / adjusted close`` at the symbol's last bar up to the saved
session). When the state is restored on a panel whose factor differs, the difference is a split of
``ratio = new factor / old factor`` new shares per old share, applied as a broker applies it: shares
times ``ratio``, every price (entry, stops, peaks, trails, fills, last close) divided by it, dollar
amounts (cash, commissions, proceeds) unchanged. A fraction of a share left over (a 3-for-2 split of an
odd count) is paid out in cash at the last close, as cash in lieu.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from trading_playbook.core.panel import Panel

__all__ = [
    "SplitApplied",
    "apply_saved_splits",
    "changed_scales",
    "price_factor",
    "rescale_entries",
    "rescale_position",
    "split_shares",
]

_ROUNDING = 1e-6  # a ratio like 7.000007 (a data artifact of a 7:1 split) still gives whole shares
_SAME_SCALE = 1e-9  # a factor recomputed from revised raw prices moves by rounding only


@dataclass(frozen=True)
class SplitApplied:
    """A split applied to a saved state (for the journal's log)."""

    symbol: str
    ratio: float
    cash_in_lieu: float


def split_shares(shares: int, ratio: float) -> tuple[int, float]:
    """Whole shares after the split and the fraction left over (0.0 when the result is whole)."""
    exact = shares * ratio
    whole = round(exact)
    if abs(exact - whole) <= _ROUNDING * max(1.0, abs(exact)):
        return int(whole), 0.0
    return math.floor(exact), exact - math.floor(exact)


def _price(value: Any, ratio: float) -> Any:
    if isinstance(value, str):  # "nan", "inf", "-inf" stay what they are
        return value
    return float(value) / ratio


def rescale_position(p: dict[str, Any], ratio: float, last_close: float) -> float:
    """Apply a split of ``ratio`` to the saved position ``p`` in place; returns the cash in lieu.

    ``last_close`` is the position's last close on the new scale (the price of a left-over fraction).
    Market prices (stops, peaks, trails, last close, the exit rules' entry) move to the new scale; the
    booked entry and fill prices keep the dollars paid and received (price x shares), so the trade's
    P&L is exactly what was paid and received, also when the new share count was rounded.
    """
    original = int(p["original_shares"])
    held, fraction = split_shares(int(p["held"]), ratio)
    lieu = fraction * last_close
    sold = 0
    for fill in p["fills"]:
        before = int(fill["shares"])
        fill["shares"] = split_shares(before, ratio)[0]
        if fill["shares"]:
            fill["price"] = float(fill["price"]) * before / fill["shares"]
        sold += fill["shares"]
    for pending in p["pending"]:
        pending["shares"] = split_shares(int(pending["shares"]), ratio)[0]
    if p.get("stop"):
        p["stop"]["shares"] = split_shares(int(p["stop"]["shares"]), ratio)[0]
        p["stop"]["level"] = _price(p["stop"]["level"], ratio)
    p["held"] = held
    p["original_shares"] = held + sold
    p["entry_price"] = float(p["entry_price"]) * original / p["original_shares"]
    for key in ("last_close", "max_high", "min_low"):
        p[key] = _price(p[key], ratio)
    p["exit_value"] = float(p["exit_value"]) + lieu
    ex = p["exit_state"]
    ex["original_shares"] = p["original_shares"]
    ex["remaining"] = held - sum(x["shares"] for x in p["pending"])
    for key in ("entry_price", "initial_stop", "peak_close", "peak_high"):
        ex[key] = _price(ex[key], ratio)
    ex["trails"] = [_price(x, ratio) for x in ex["trails"]]
    return lieu


def rescale_entries(entries: list[dict[str, Any]], symbol: str, ratio: float) -> None:
    """Entries queued for the next open were sized on the old scale: their share counts follow the split."""
    for entry in entries:
        if entry["symbol"] == symbol:
            entry["shares"] = max(1, split_shares(int(entry["shares"]), ratio)[0])


def price_factor(panel: Panel, col: int, t: int) -> tuple[int, float] | None:
    """``(row, raw close / adjusted close)`` at the symbol's last bar up to row ``t`` (None: no bar)."""
    for row in range(t, -1, -1):
        if panel.available[row, col]:
            return row, float(panel.raw_close[row, col]) / float(panel.close[row, col])
    return None


def changed_scales(saved: Mapping[str, Any], panel: Panel, row_of: Callable[[str], int]) -> dict[str, float]:
    """``{symbol: ratio}`` for every saved ``{symbol: [date, factor]}`` scale that ``panel`` moved."""
    out = {}
    for symbol, (day, old) in saved.items():
        if symbol not in panel.symbols:
            continue
        col = panel.symbol_index(symbol)
        row = row_of(day)
        if not panel.available[row, col]:
            continue
        new = float(panel.raw_close[row, col]) / float(panel.close[row, col])
        ratio = new / float(old)
        if abs(ratio - 1.0) > _SAME_SCALE:
            out[symbol] = ratio
    return out


def apply_saved_splits(
    data: Mapping[str, Any], panel: Panel, row_of: Callable[[str], int]
) -> tuple[dict[str, Any], list[SplitApplied]]:
    """A copy of the saved state ``data`` on ``panel``'s scale, and the splits applied to it."""
    ratios = changed_scales(data.get("scales", {}), panel, row_of)
    if not ratios:
        return dict(data), []
    out = copy.deepcopy(dict(data))
    applied = []
    for symbol, ratio in sorted(ratios.items()):
        col = panel.symbol_index(symbol)
        row = row_of(out["scales"][symbol][0])
        close = float(panel.close[row, col])
        lieu = 0.0
        for position in out["positions"]:
            if position["symbol"] == symbol:
                lieu += rescale_position(position, ratio, close)
        rescale_entries(out["entries"], symbol, ratio)
        out["cash"] = float(out["cash"]) + lieu
        out["scales"][symbol] = [out["scales"][symbol][0], float(panel.raw_close[row, col]) / close]
        applied.append(SplitApplied(symbol, ratio, lieu))
    return out, applied
