"""Validation of bars on the way in: reject (default) or repair with an exact report.

Rules, checked per symbol in this order:

==================== ======================================== ===============================
rule                 what is wrong                            repair
==================== ======================================== ===============================
unsorted             a symbol's dates go backwards            rows sorted by (symbol, date)
duplicate            two bars for one symbol and session      the first one kept, others dropped
missing_price        open/high/low/close NaN or infinite      row dropped
non_positive_price   a price <= 0                             row dropped
missing_volume       volume NaN                               row dropped
negative_volume      volume < 0                               row dropped
high_below_low       high < low                               row dropped
open_outside_range   open outside [low, high]                 high/low widened to include it
close_outside_range  close outside [low, high]                high/low widened to include it
invalid_split        split coefficient <= 0 or infinite       set to 1.0 (no split)
==================== ======================================== ===============================

A NaN split coefficient means "not known" and counts as no split. Zero volume is valid (the shared real data has 187 such days: halts and thin sessions), and so are
gaps and late starts. The shared data passes every rule without tolerance; comparisons are literal.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from trading_playbook.core.errors import DataValidationError
from trading_playbook.data.model import PRICE_COLUMNS, BarArrays

__all__ = ["RULES", "Change", "ValidationPolicy", "ValidationReport", "validate_bars"]

ValidationPolicy = Literal["reject", "repair"]

RULES: tuple[str, ...] = (
    "unsorted",
    "duplicate",
    "missing_price",
    "non_positive_price",
    "missing_volume",
    "negative_volume",
    "high_below_low",
    "open_outside_range",
    "close_outside_range",
    "invalid_split",
)

_FIX = (
    'correct the source data, or load with validation = "repair" (CLI: --repair) to {action} '
    "and get a report of every change"
)
_ACTION = {
    "unsorted": "sort the rows",
    "duplicate": "keep the first bar of each session",
    "missing_price": "drop such rows",
    "non_positive_price": "drop such rows",
    "missing_volume": "drop such rows",
    "negative_volume": "drop such rows",
    "high_below_low": "drop such rows",
    "open_outside_range": "widen high/low to include the open",
    "close_outside_range": "widen high/low to include the close",
    "invalid_split": "treat it as no split (1.0)",
}


@dataclass(frozen=True)
class Change:
    """One repair: the rule, where (symbol, ISO date) and what was done."""

    rule: str
    symbol: str
    date: str
    action: str

    def as_dict(self) -> dict[str, str]:
        return {"rule": self.rule, "symbol": self.symbol, "date": self.date, "action": self.action}


@dataclass(frozen=True)
class ValidationReport:
    """What validation changed (empty under ``reject``: bad data raises instead)."""

    origin: str
    changes: tuple[Change, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return not self.changes

    def summary(self) -> dict[str, int]:
        """Number of changes per rule."""
        counts: dict[str, int] = {}
        for change in self.changes:
            counts[change.rule] = counts.get(change.rule, 0) + 1
        return counts

    def records(self) -> list[dict[str, str]]:
        return [c.as_dict() for c in self.changes]


def validate_bars(bars: BarArrays, policy: ValidationPolicy = "reject") -> tuple[BarArrays, ValidationReport]:
    """Check ``bars``; return them sorted by (symbol, date) with a report of repairs.

    Under ``reject`` the first violation raises :class:`DataValidationError` naming the file, symbol,
    date, how many rows break the rule and the fix. Under ``repair`` offending rows are dropped or
    fixed and every change is listed in the report.
    """
    if policy not in ("reject", "repair"):
        raise DataValidationError(f"unknown validation policy {policy!r}; use 'reject' or 'repair'")
    if len(bars) == 0:
        return bars, ValidationReport(bars.origin)
    changes: list[Change] = []
    bars = _check_order(bars, policy, changes)
    masks = _row_rules(bars)
    drop = np.zeros(len(bars), dtype=bool)
    for rule in (
        "missing_price",
        "non_positive_price",
        "missing_volume",
        "negative_volume",
        "high_below_low",
    ):
        bad = masks[rule] & ~drop
        if bad.any():
            _reject_or_record(bars, rule, bad, policy, changes, _ACTION[rule].replace("such rows", "row"))
            drop |= bad
    for rule, column in (("open_outside_range", "open"), ("close_outside_range", "close")):
        bad = masks[rule] & ~drop
        if bad.any():
            _reject_or_record(bars, rule, bad, policy, changes, f"high/low widened to include the {column}")
    split = bars.values.get("split")
    if split is not None:
        bad = _bad_split(split) & ~drop
        if bad.any():
            _reject_or_record(bars, "invalid_split", bad, policy, changes, "split set to 1.0")
    if not changes:
        return bars, ValidationReport(bars.origin)
    return _apply_fixes(bars, drop), ValidationReport(bars.origin, tuple(changes))


def _check_order(bars: BarArrays, policy: ValidationPolicy, changes: list[Change]) -> BarArrays:
    """Unsorted dates and duplicate sessions; under repair the result is sorted and unique."""
    if bars.is_sorted():
        return bars
    days = bars.day.astype(np.int64)
    by_symbol = bars.codes if np.all(np.diff(bars.codes) >= 0) else None
    order = np.argsort(bars.codes, kind="stable") if by_symbol is None else np.arange(len(bars))
    codes, ordered_days = bars.codes[order], days[order]
    same = np.diff(codes) == 0
    backwards = same & (np.diff(ordered_days) < 0)
    if backwards.any():
        bad_rows = order[1:][backwards]
        mask = np.zeros(len(bars), dtype=bool)
        mask[bad_rows] = True
        if policy == "reject":
            _raise(bars, "unsorted", mask)
        for j in np.unique(bars.codes[mask]):
            changes.append(Change("unsorted", bars.symbols[j], "", "rows sorted by date"))
    bars = bars.take(np.lexsort((days, bars.codes)))
    dup = np.zeros(len(bars), dtype=bool)
    dup[1:] = (np.diff(bars.codes) == 0) & (np.diff(bars.day.astype(np.int64)) == 0)
    if dup.any():
        _reject_or_record(bars, "duplicate", dup, policy, changes, "duplicate bar dropped (first kept)")
        bars = bars.take(~dup)
    return bars


def _row_rules(bars: BarArrays) -> dict[str, np.ndarray]:
    """Boolean masks of the row-level rules."""
    v = bars.values
    o, h, lo, c, vol = v["open"], v["high"], v["low"], v["close"], v["volume"]
    finite = np.isfinite(o) & np.isfinite(h) & np.isfinite(lo) & np.isfinite(c)
    with np.errstate(invalid="ignore"):
        positive = (o > 0) & (h > 0) & (lo > 0) & (c > 0)
        return {
            "missing_price": ~finite,
            "non_positive_price": finite & ~positive,
            "missing_volume": np.isnan(vol),
            "negative_volume": vol < 0,
            "high_below_low": h < lo,
            "open_outside_range": (o < lo) | (o > h),
            "close_outside_range": (c < lo) | (c > h),
        }


def _bad_split(split: np.ndarray) -> np.ndarray:
    """Zero, negative or infinite coefficients; NaN means "not known" (no split) and is allowed."""
    with np.errstate(invalid="ignore"):
        return np.asarray(np.isinf(split) | (split <= 0), dtype=bool)


def _apply_fixes(bars: BarArrays, drop: np.ndarray) -> BarArrays:
    """Widen high/low to include open and close, default bad splits, drop flagged rows."""
    values = dict(bars.values)
    o, c = values["open"], values["close"]
    values["high"] = np.fmax(values["high"], np.fmax(o, c))
    values["low"] = np.fmin(values["low"], np.fmin(o, c))
    if "split" in values:
        s = values["split"]
        values["split"] = np.where(_bad_split(s), 1.0, s)
    fixed = BarArrays(bars.symbols, bars.codes, bars.day, values, bars.origin)
    return fixed.take(~drop) if drop.any() else fixed


def _reject_or_record(
    bars: BarArrays,
    rule: str,
    mask: np.ndarray,
    policy: ValidationPolicy,
    changes: list[Change],
    action: str,
) -> None:
    if policy == "reject":
        _raise(bars, rule, mask)
    for i in np.flatnonzero(mask):
        changes.append(
            Change(rule, bars.symbols[bars.codes[i]], str(bars.day[i]), _detail(bars, int(i), action))
        )


def _detail(bars: BarArrays, i: int, action: str) -> str:
    row = ", ".join(f"{k}={bars.values[k][i]:g}" for k in (*PRICE_COLUMNS, "volume"))
    return f"{action} ({row})"


def _raise(bars: BarArrays, rule: str, mask: np.ndarray) -> None:
    i = int(np.flatnonzero(mask)[0])
    count = int(mask.sum())
    symbol = bars.symbols[bars.codes[i]]
    more = f" ({count} rows break this rule; first shown)" if count > 1 else ""
    raise DataValidationError(
        f"{bars.origin}: symbol {symbol}, date {bars.day[i]}: {_describe(bars, rule, i)}{more}. "
        f"Fix: {_FIX.format(action=_ACTION[rule])}."
    )


def _describe(bars: BarArrays, rule: str, i: int) -> str:
    v = {k: bars.values[k][i] for k in bars.values}
    text = {
        "unsorted": "date is earlier than the previous row of the same symbol (dates must increase)",
        "duplicate": "more than one bar for this session",
        "missing_price": "a price is missing (NaN)",
        "non_positive_price": "a price is zero or negative",
        "missing_volume": "volume is missing (NaN)",
        "negative_volume": f"volume {v['volume']:g} is negative",
        "high_below_low": f"high {v['high']:g} < low {v['low']:g}",
        "open_outside_range": f"open {v['open']:g} outside [low {v['low']:g}, high {v['high']:g}]",
        "close_outside_range": f"close {v['close']:g} outside [low {v['low']:g}, high {v['high']:g}]",
        "invalid_split": f"split coefficient {v.get('split', float('nan')):g} is not a positive number",
    }[rule]
    if rule in ("missing_price", "non_positive_price"):
        prices = ", ".join(f"{k}={v[k]:g}" for k in PRICE_COLUMNS)
        text = f"{text} ({prices})"
    return text
