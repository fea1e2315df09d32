"""The exit rules in the kernel: one branch per primitive, read beside ``core.exits.rules``.

A sleeve's exit program is rows of :class:`~._records.RuleTable`: ``kind[s, r]`` is the primitive's
declared ``CODE`` and ``params[s, r]`` its declared slots (column names in :mod:`._records`), encoded by
``fast.encode_rule`` from the declaration. The semantics are those of the docstring of
:mod:`trading_playbook.core.exits.spec`; each branch below mirrors the reference function of the same
primitive in :mod:`trading_playbook.core.exits.rules` (``_rest_*``, ``_close_*``, ``_partial_*``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from trading_playbook.core._builtins_nb import to_int  # int() compiles apart
from trading_playbook.core._jit import loop_kernel  # also: cache keys cover the kernels' other files
from trading_playbook.core.simulate._bars_nb import mean_at_nb, previous_at_nb
from trading_playbook.core.simulate._book_nb import queue_or_sell_nb
from trading_playbook.core.simulate._records import (
    EMA_ROW,
    HARD_STOP_PCT,
    LOWER_CLOSE_MIN_PEAK,
    LOWER_HIGH_MIN_PEAK,
    MA_MAX_PROFIT,
    MA_MIN_PEAK_HIGH,
    MA_PERIOD,
    P_AFTER_PARTIAL,
    P_REASON,
    RULE_BREAKEVEN,
    RULE_EMA_BREAK,
    RULE_HARD_STOP,
    RULE_LOWER_CLOSE,
    RULE_LOWER_HIGH,
    RULE_MA_BREAK,
    RULE_SCALE_OUT,
    RULE_STOP_LOSS,
    RULE_TARGET,
    RULE_TIME_STOP,
    RULE_TRAIL,
    SCALE_FRACTION,
    SCALE_LEVELS,
    SCALE_REASONS,
    STOP_LOSS_PCT,
    TARGET_PCT,
    TIER_ATR,
    TIME_STOP_SESSIONS,
    TRAIL_ACTIVATION,
    TRAIL_ATR_PERIOD,
    TRAIL_BASIS,
    TRAIL_EVERY_CLOSE,
    TRAIL_RESTING,
    TRAIL_TIERS,
    TRAIL_UPDATE,
    Bars,
    Book,
    Journal,
    RuleTable,
)


@loop_kernel(inline="always")
def resting_level_nb(rules: RuleTable, book: Book, c: int, t: int) -> tuple[float, int]:  # pragma: no cover
    """Step 2: the highest resting stop of slot ``c`` at session ``t`` and its reason (0: none rests).

    Ties go to the rule listed first (only a strictly higher level replaces).
    """
    p = book.pos[c]
    s = p.sleeve
    level = np.nan
    reason = 0
    for r in range(rules.n_rules[s]):
        kind = rules.kind[s, r]
        prm = rules.params[s, r]
        if kind == RULE_HARD_STOP:
            value = p.entry * (1.0 - prm[HARD_STOP_PCT])
        elif kind == RULE_BREAKEVEN and p.partial_taken == 1:
            value = p.entry
        elif (
            kind == RULE_TRAIL
            and prm[TRAIL_BASIS] == TRAIL_RESTING
            and t > p.entry_session
            and (prm[P_AFTER_PARTIAL] == 0.0 or p.partial_taken == 1)
        ):
            value = book.trail[c, r]
        else:
            continue
        if not np.isnan(value) and (reason == 0 or value > level):
            level = value
            reason = to_int(prm[P_REASON])
    return level, reason


@loop_kernel(inline="always")
def exit_at_close_nb(
    bars: Bars, rules: RuleTable, book: Book, journal: Journal, acct: Any, c: int, t: int, mode: int
) -> None:  # pragma: no cover - compiled
    """Step 3 for slot ``c``: update the peaks, run the close rules in order (first match wins; a
    partial that fires ends the session's processing), fill or queue what they decide (``mode``), then
    recompute the resting trails."""
    p = book.pos[c]
    s = p.sleeve
    close_t = bars.close[t, p.symbol]
    high_t = bars.high[t, p.symbol]
    rose = close_t > p.peak_close
    if rose:
        p.peak_close = close_t
    if high_t > p.peak_high:
        p.peak_high = high_t
    taken = p.partial_taken
    for r in range(rules.n_rules[s]):
        kind = rules.kind[s, r]
        prm = rules.params[s, r]
        if prm[P_AFTER_PARTIAL] != 0.0 and taken == 0:
            continue
        if kind == RULE_SCALE_OUT:
            if scale_out_nb(book, journal, acct, prm, c, r, t, close_t, mode):
                return
        elif close_rule_nb(bars, book, kind, prm, c, r, t, rose):
            queue_or_sell_nb(
                book, journal, acct, c, t, p.held - p.pending, close_t, to_int(prm[P_REASON]), mode
            )
            return
    update_resting_trails_nb(bars, rules, book, c, t)


@loop_kernel(inline="always")
def close_rule_nb(
    bars: Bars, book: Book, kind: int, prm: np.ndarray, c: int, r: int, t: int, rose: bool
) -> bool:  # pragma: no cover - compiled
    """Whether the full-exit rule ``r`` (``kind``, parameters ``prm``) of slot ``c`` fires at this close
    (a close-basis trail is updated first)."""
    p = book.pos[c]
    j = p.symbol
    entry = p.entry
    close_t = bars.close[t, j]
    if kind == RULE_TRAIL:
        if prm[TRAIL_BASIS] == TRAIL_RESTING:
            return False  # checked intraday; recomputed after the rules
        if rose or prm[TRAIL_UPDATE] == TRAIL_EVERY_CLOSE:
            raise_trail_nb(book, c, r, trail_level_nb(bars, prm, p.peak_close, entry, t, j))
        armed = np.isnan(prm[TRAIL_ACTIVATION]) or p.peak_close > entry * (1.0 + prm[TRAIL_ACTIVATION])
        return bool(armed and close_t < book.trail[c, r])
    if kind == RULE_MA_BREAK:
        return bool(
            (np.isnan(prm[MA_MAX_PROFIT]) or close_t / entry - 1.0 < prm[MA_MAX_PROFIT])
            and (np.isnan(prm[MA_MIN_PEAK_HIGH]) or p.peak_high > entry * (1.0 + prm[MA_MIN_PEAK_HIGH]))
            and close_t < mean_at_nb(bars, to_int(prm[MA_PERIOD]), False, t, j, bars.scratch)
        )
    if kind == RULE_LOWER_CLOSE:
        prev_close = previous_at_nb(bars.close, bars.available, t, j)
        return bool(p.peak_close > entry * (1.0 + prm[LOWER_CLOSE_MIN_PEAK]) and close_t < prev_close)
    if kind == RULE_LOWER_HIGH:
        prev_high = previous_at_nb(bars.high, bars.available, t, j)
        return bool(p.peak_high > entry * (1.0 + prm[LOWER_HIGH_MIN_PEAK]) and bars.high[t, j] < prev_high)
    if kind == RULE_EMA_BREAK:
        return bool(close_t < bars.ema[to_int(prm[EMA_ROW]), t, j])
    if kind == RULE_TIME_STOP:
        return bool(t - p.entry_session >= prm[TIME_STOP_SESSIONS])
    if kind == RULE_STOP_LOSS:
        return bool(close_t <= entry * (1.0 - prm[STOP_LOSS_PCT]))
    if kind == RULE_TARGET:
        return bool(close_t >= entry * (1.0 + prm[TARGET_PCT]))
    return False  # a resting stop: checked intraday only


@loop_kernel()
def scale_out_nb(
    book: Book,
    journal: Journal,
    acct: Any,
    prm: np.ndarray,
    c: int,
    r: int,
    t: int,
    close_t: float,
    mode: int,
) -> bool:  # pragma: no cover - compiled
    """Every level not yet taken with ``close / entry - 1 >= level`` sells ``min(floor(fraction *
    original), remaining)`` shares (0-share levels count as taken). True when any level fired."""
    p = book.pos[c]
    profit = close_t / p.entry - 1.0
    per_level = to_int(np.floor(prm[SCALE_FRACTION] * p.orig_shares))
    fired = False
    for i in range(to_int(prm[SCALE_LEVELS])):
        if (book.levels[c, r] >> i) & 1 or not profit >= prm[SCALE_LEVELS + 1 + i]:
            continue
        book.levels[c, r] |= 1 << i
        fired = True
        remaining = p.held - p.pending
        shares = per_level if per_level < remaining else remaining
        queue_or_sell_nb(book, journal, acct, c, t, shares, close_t, to_int(prm[SCALE_REASONS + 1 + i]), mode)
    if fired:
        p.partial_taken = 1
    return fired


@loop_kernel(inline="always")
def trail_level_nb(
    bars: Bars, prm: np.ndarray, peak: float, entry: float, t: int, j: int
) -> float:  # pragma: no cover - compiled
    """Level of a profit-tiered trail for ``peak``: the first tier with ``peak / entry - 1 >=
    min_profit`` gives ``value * peak`` or ``peak - value * ATR_t`` (ATR computed only then); NaN when
    no tier applies or the ATR is undefined."""
    profit = peak / entry - 1.0
    for i in range(to_int(prm[TRAIL_TIERS])):
        base = TRAIL_TIERS + 1 + 3 * i
        if profit >= prm[base]:
            value = prm[base + 2]
            if prm[base + 1] != TIER_ATR:
                return float(value * peak)
            return float(
                peak - value * mean_at_nb(bars, to_int(prm[TRAIL_ATR_PERIOD]), True, t, j, bars.scratch)
            )
    return math.nan


@loop_kernel(inline="always")
def raise_trail_nb(book: Book, c: int, r: int, level: float) -> None:  # pragma: no cover - compiled
    """``trail = max(trail, level)`` where NaN is undefined: trails never move down."""
    if not np.isnan(level) and (np.isnan(book.trail[c, r]) or level > book.trail[c, r]):
        book.trail[c, r] = level


@loop_kernel(inline="always")
def update_resting_trails_nb(
    bars: Bars, rules: RuleTable, book: Book, c: int, t: int
) -> None:  # pragma: no cover
    """Recompute resting trails (``basis='resting'``) from peak_high through t and ATR_t so they rest
    from the next session: at every close where the position stays open, and right after an entry
    filled at the close."""
    p = book.pos[c]
    s = p.sleeve
    for r in range(rules.n_rules[s]):
        prm = rules.params[s, r]
        if rules.kind[s, r] != RULE_TRAIL or prm[TRAIL_BASIS] != TRAIL_RESTING:
            continue
        if prm[P_AFTER_PARTIAL] != 0.0 and p.partial_taken == 0:
            continue
        raise_trail_nb(book, c, r, trail_level_nb(bars, prm, p.peak_high, p.entry, t, p.symbol))
