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

A NaN split coefficient means "not known" and counts as no split. Zero volume is valid (the shared
real data has 187 such days: halts and thin sessions), and so are gaps and late starts. The shared data
passes every rule without tolerance; comparisons are literal. Every repair is recorded as a
:class:`Change` with the row's values before and after.

Besides the rules, :func:`corporate_action_warnings` flags what the split column cannot explain
(warnings, never errors: the bars are kept as they are):

==================== =================================================================================
warning              when
==================== =================================================================================
large_dividend       a cash dividend above ``MAX_DIVIDEND_FRACTION`` (25 %) of the previous close: a
                     spin-off or special distribution recorded as a dividend (KSU 2000-07-13: 181.0 on
                     a 93.75 close), which split adjustment leaves in the prices as a crash
unexplained_move     a one-day close-to-close move, split-adjusted, of -50 % or worse or +100 % or more
                     (``MAX_DAILY_FALL``, ``MAX_DAILY_RISE``): a crash, or a corporate action missing
                     from the split column
==================== =================================================================================

One warning per symbol and session; ``large_dividend`` wins when both apply.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from trading_playbook.core.errors import DataValidationError
from trading_playbook.data.model import PRICE_COLUMNS, BarArrays

__all__ = [
    "MAX_DAILY_FALL",
    "MAX_DAILY_RISE",
    "MAX_DIVIDEND_FRACTION",
    "RULES",
    "Change",
    "DataWarning",
    "ValidationPolicy",
    "ValidationReport",
    "corporate_action_warnings",
    "validate_bars",
]

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

#: A dividend above this fraction of the previous close is flagged (``large_dividend``).
MAX_DIVIDEND_FRACTION = 0.25
#: Split-adjusted one-day moves at or beyond these are flagged (``unexplained_move``).
MAX_DAILY_FALL = -0.5
MAX_DAILY_RISE = 1.0

_FIX = (
    'correct the source data, or set validation = "repair" in [data] (CLI: playbook backtest --repair, '
    "playbook data ingest --repair) to {action} and get a report of every change"
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
    """One repair: the rule, where (symbol, ISO date), what was done, and the row before and after."""

    rule: str
    symbol: str
    date: str
    action: str
    before: str = ""
    after: str = ""

    def as_dict(self) -> dict[str, str]:
        return {
            "rule": self.rule,
            "symbol": self.symbol,
            "date": self.date,
            "action": self.action,
            "before": self.before,
            "after": self.after,
        }

    def line(self) -> str:
        """One human-readable line: ``rule: SYMBOL DATE action (before -> after)``."""
        change = f" ({self.before} -> {self.after})" if self.before or self.after else ""
        return f"{self.rule}: {self.symbol} {self.date} {self.action}{change}"


@dataclass(frozen=True)
class DataWarning:
    """Something the data holds that looks wrong but is kept (see the module docstring)."""

    rule: str
    symbol: str
    date: str
    detail: str

    def as_dict(self) -> dict[str, str]:
        return {"rule": self.rule, "symbol": self.symbol, "date": self.date, "detail": self.detail}

    def line(self) -> str:
        return f"{self.rule}: {self.symbol} {self.date} {self.detail}"


@dataclass(frozen=True)
class ValidationReport:
    """What validation changed (empty under ``reject``: bad data raises instead) and what it flagged."""

    origin: str
    changes: tuple[Change, ...] = field(default=())
    warnings: tuple[DataWarning, ...] = field(default=())

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
        """Every change as a plain dict (``rule, symbol, date, action, before, after``)."""
        return [c.as_dict() for c in self.changes]

    def warning_records(self) -> list[dict[str, str]]:
        """Every warning as a plain dict (``rule, symbol, date, detail``)."""
        return [w.as_dict() for w in self.warnings]


def validate_bars(bars: BarArrays, policy: ValidationPolicy = "reject") -> tuple[BarArrays, ValidationReport]:
    """Check ``bars``; return them sorted by (symbol, date) with a report of repairs.

    Under ``reject`` the first violation raises :class:`DataValidationError` naming the file, symbol,
    date, how many rows break the rule and the fix. Under ``repair`` offending rows are dropped or
    fixed and every change is listed in the report. Either way the report carries the
    :func:`corporate_action_warnings` of the (repaired) bars.
    """
    if policy not in ("reject", "repair"):
        raise DataValidationError(f"unknown validation policy {policy!r}; use 'reject' or 'repair'")
    if len(bars) == 0:
        return bars, ValidationReport(bars.origin)
    bars, changes = _checked(bars, policy)
    return bars, ValidationReport(bars.origin, tuple(changes), corporate_action_warnings(bars))


def _checked(bars: BarArrays, policy: ValidationPolicy) -> tuple[BarArrays, list[Change]]:
    """The rules of the module docstring: sorted, repaired bars and the changes made."""
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
        return bars, changes
    return _apply_fixes(bars, drop), changes


def corporate_action_warnings(bars: BarArrays) -> tuple[DataWarning, ...]:
    """Large dividends and split-adjusted one-day moves the split column does not explain.

    ``bars`` are sorted by (symbol, date) with valid prices (the output of :func:`validate_bars`).
    Compared literally; each symbol's first bar has no previous close and is never flagged.
    """
    if len(bars) < 2:
        return ()
    close = bars.values["close"]
    split = bars.values.get("split")
    factor = np.ones(len(bars)) if split is None else np.where(np.isfinite(split), split, 1.0)
    dividend = bars.values.get("dividend", np.zeros(len(bars)))
    same = np.zeros(len(bars), dtype=bool)
    same[1:] = bars.codes[1:] == bars.codes[:-1]
    previous = np.full(len(bars), np.nan)
    previous[1:] = close[:-1]
    previous[~same] = np.nan
    with np.errstate(invalid="ignore", divide="ignore"):
        move = close * factor / previous - 1.0
        big_dividend = same & (dividend > MAX_DIVIDEND_FRACTION * previous)
        big_move = same & ~big_dividend & ((move <= MAX_DAILY_FALL) | (move >= MAX_DAILY_RISE))
    out = []
    for i in np.flatnonzero(big_dividend | big_move):
        symbol, day = bars.symbols[bars.codes[i]], str(bars.day[i])
        moved = f"the close moved {100 * move[i]:+.0f} % (split-adjusted, {previous[i]:g} -> {close[i]:g})"
        if big_dividend[i]:
            detail = (
                f"dividend {dividend[i]:g} is {100 * dividend[i] / previous[i]:.0f} % of the previous close "
                f"{previous[i]:g} ({moved}): probably a spin-off or special distribution the split column "
                'does not carry; split adjustment leaves it in the prices as a fall, adjustment = "all" '
                "removes it"
            )
            out.append(DataWarning("large_dividend", symbol, day, detail))
        else:
            detail = (
                f"{moved}, which the split column does not explain: check for a corporate action missing from the "
                'data (adjustment = "all" removes dividends and distributions)'
            )
            out.append(DataWarning("unexplained_move", symbol, day, detail))
    return tuple(out)


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
            first = int(np.flatnonzero(mask & (bars.codes == j))[0])
            changes.append(
                Change(
                    "unsorted",
                    bars.symbols[j],
                    str(bars.day[first]),
                    "rows sorted by date",
                    f"{int((mask & (bars.codes == j)).sum())} row(s) dated before the row above them",
                    "rows in date order",
                )
            )
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
        before, after = _before_after(bars, rule, int(i))
        changes.append(Change(rule, bars.symbols[bars.codes[i]], str(bars.day[i]), action, before, after))


def _before_after(bars: BarArrays, rule: str, i: int) -> tuple[str, str]:
    """The repaired row's values before and after the repair (as _apply_fixes changes them)."""
    v = {k: float(bars.values[k][i]) for k in bars.values}
    if rule in ("open_outside_range", "close_outside_range"):
        high, low = max(v["high"], v["open"], v["close"]), min(v["low"], v["open"], v["close"])
        return f"high={v['high']:g} low={v['low']:g}", f"high={high:g} low={low:g}"
    if rule == "invalid_split":
        return f"split={v['split']:g}", "split=1"
    row = " ".join(f"{k}={v[k]:g}" for k in (*PRICE_COLUMNS, "volume"))
    return row, "row dropped"


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
        "missing_price": _missing(v),
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


def _missing(values: dict[str, float]) -> str:
    """'a price is missing (NaN)', 'a price is infinite' or both, from the row's prices."""
    prices = [values[k] for k in PRICE_COLUMNS]
    kinds = []
    if any(np.isnan(p) for p in prices):
        kinds.append("missing (NaN)")
    if any(np.isinf(p) for p in prices):
        kinds.append("infinite")
    return f"a price is {' and another is '.join(kinds)}"
