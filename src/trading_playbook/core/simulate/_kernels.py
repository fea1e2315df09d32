"""The fast engine's session loop (RULES section 4) compiled with numba, in the reference's steps.

:func:`simulate_nb` runs sessions ``start..end``; each session is the six steps of
``reference._Simulation.session``, one kernel each, read side by side with the reference:
:func:`open_fills_nb`, :func:`intraday_stops_nb`, :func:`close_rules_nb`, :func:`mark_nb`,
:func:`scan_nb` and :func:`record_nb`. State travels as the NamedTuples of :mod:`._records` (bars,
rule table, setups, book of positions, journal, curves) plus the account record; the exit rules are
in :mod:`._exits_nb`, fills in :mod:`._book_nb`, the indicators read at a bar in :mod:`._bars_nb`.
:mod:`trading_playbook.core.simulate.fast` encodes the inputs and decodes the journal.

The kernels allocate nothing: every array belongs to ``fast.run_fast_records``, which holds it for
the whole call, so they are compiled without numba's reference counting (``_nrt=False``; an
allocation added to one is a compile error). With it, every NamedTuple field read in a loop cost an
atomic increment and decrement, and the kernel ran 3-4x slower.

Every step walks the sleeves in config order and, within one, the positions in the order they were
opened, as the reference engine does, so cash and equity are summed in the same order; the
arithmetic follows the reference engine's contract (``core/simulate/reference.py``) operation by
operation, so both engines take every literal comparison of RULES section 8 the same way.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from trading_playbook.core._builtins_nb import to_int  # int() compiles apart
from trading_playbook.core._jit import loop_kernel  # also: cache keys cover the kernels' other files
from trading_playbook.core.simulate._book_nb import (
    buy_nb,
    sell_nb,
    snapshot_nb,
    touch_nb,
)
from trading_playbook.core.simulate._exits_nb import (
    exit_at_close_nb,
    resting_level_nb,
    update_resting_trails_nb,
)
from trading_playbook.core.simulate._records import (
    B_ENTRIES,
    B_ORDER,
    REASON_END_OF_DATA,
    REASON_END_OF_TEST,
    REASON_UNIVERSE_EXIT,
    SALE_AT_CLOSE,
    SALE_DROP,
    SALE_QUEUE,
    SIZER_FIXED_DOLLAR,
    SIZER_PERCENT_CASH,
    SIZER_PERCENT_EQUITY,
    SIZER_RISK,
    Bars,
    Book,
    Curves,
    Journal,
    RuleTable,
    SetupRows,
)


@loop_kernel(entry=True)
def simulate_nb(
    bars: Bars,
    rules: RuleTable,
    setups: SetupRows,
    book: Book,
    journal: Journal,
    account: np.ndarray,
    curves: Curves,
    start: int,
    end: int,
) -> None:  # pragma: no cover - compiled
    """Run the session loop over sessions ``start..end`` (inclusive): the journal, the book, the
    account record ``account[0]`` and the curves (one row per session) are written in place."""
    acct = account[0]
    for t in range(start, end + 1):
        prefetch_nb(bars, book, t, end)
        open_fills_nb(bars, rules, book, journal, acct, t)
        intraday_stops_nb(bars, rules, book, journal, acct, t)
        close_rules_nb(bars, rules, book, journal, acct, t, end)
        equity = mark_nb(book, acct, rules.n_rules.shape[0])
        if t < end:
            scan_nb(bars, rules, setups, book, journal, acct, t, equity, acct.cash)
        record_nb(rules, book, acct, curves, t - start)


@loop_kernel(inline="always")
def prefetch_nb(bars: Bars, book: Book, t: int, end: int) -> None:  # pragma: no cover - compiled
    """Read this session's (and the next one's) bars of every open position and pending entry up front:
    independent loads the CPU overlaps (each bar sits on its own cache line of the large (T, N) arrays,
    and waiting for them one at a time inside the steps dominated the loop)."""
    after = t + 1 if t < end else t
    warm = 0.0
    for o in range(book.counts[B_ORDER]):
        j = book.pos[book.order[o]].symbol
        warm += bars.open[t, j] + bars.high[t, j] + bars.low[t, j] + bars.close[t, j] + bars.available[t, j]
        warm += bars.open[after, j] + bars.high[after, j] + bars.low[after, j] + bars.close[after, j]
        warm += bars.available[after, j]
    for e in range(book.counts[B_ENTRIES]):
        j = book.entries[e].symbol
        warm += bars.open[t, j] + bars.high[t, j] + bars.low[t, j] + bars.close[t, j] + bars.available[t, j]
    bars.scratch[0] = warm  # kept, so the loads are not optimised away (the scratch is free here)


@loop_kernel(inline="always")
def open_fills_nb(
    bars: Bars, rules: RuleTable, book: Book, journal: Journal, acct: Any, t: int
) -> None:  # pragma: no cover - compiled
    """Step 1: pending exits of every sleeve fill at ``open_t`` (a symbol without a bar waits), then
    pending entries in queue order (no bar at ``t``: cancelled)."""
    n = snapshot_nb(book)
    for s in range(rules.n_rules.shape[0]):
        for o in range(n):
            c = book.snapshot[o]
            p = book.pos[c]
            if p.sleeve != s or p.pq_n == 0 or not bars.available[t, p.symbol]:
                continue
            j = p.symbol
            touch_nb(p, bars.high[t, j], bars.low[t, j])
            n_queued = p.pq_n
            p.pq_n = 0
            p.pending = 0
            for q in range(n_queued):
                sell_nb(
                    book, journal, acct, c, t, book.pq_shares[c, q], bars.open[t, j], book.pq_reason[c, q]
                )
    for e in range(book.counts[B_ENTRIES]):
        entry = book.entries[e]
        s = entry.sleeve
        j = entry.symbol
        book.pending_count[s] -= 1
        book.held[s, j] = False
        if bars.available[t, j]:
            buy_nb(book, journal, acct, s, j, t, entry.shares, bars.open[t, j], rules.hard_stop[s])
    book.counts[B_ENTRIES] = 0


@loop_kernel(inline="always")
def intraday_stops_nb(
    bars: Bars, rules: RuleTable, book: Book, journal: Journal, acct: Any, t: int
) -> None:  # pragma: no cover - compiled
    """Step 2: the resting stop of every position with a bar at ``t`` and no exit pending:
    ``low_t <= level`` exits at ``min(open_t, level)``."""
    n = snapshot_nb(book)
    for s in range(rules.n_rules.shape[0]):
        for o in range(n):
            c = book.snapshot[o]
            p = book.pos[c]
            if p.sleeve != s or p.pq_n > 0 or not bars.available[t, p.symbol]:
                continue
            j = p.symbol
            touch_nb(p, bars.high[t, j], bars.low[t, j])
            level, reason = resting_level_nb(rules, book, c, t)
            if reason != 0 and bars.low[t, j] <= level:
                price = bars.open[t, j] if bars.open[t, j] < level else level
                sell_nb(book, journal, acct, c, t, p.held, price, reason)


@loop_kernel()
def close_rules_nb(
    bars: Bars, rules: RuleTable, book: Book, journal: Journal, acct: Any, t: int, end: int
) -> None:  # pragma: no cover - compiled
    """Step 3: the close rules of every position with a bar at ``t`` and no exit pending; at ``end``
    (END_OF_TEST), on the last member day of a universe with policy ``exit`` (UNIVERSE_EXIT) or on a
    symbol's last bar (END_OF_DATA) what remains is sold at the close, and an exit decided for the
    next open becomes that forced exit."""
    n = snapshot_nb(book)
    for s in range(rules.n_rules.shape[0]):
        for o in range(n):
            c = book.snapshot[o]
            p = book.pos[c]
            if p.sleeve != s or p.pq_n > 0 or not bars.available[t, p.symbol]:
                continue
            j = p.symbol
            p.last_close = bars.close[t, j]
            forced = 0
            if t == end:
                forced = REASON_END_OF_TEST
            elif acct.universe_exit and bars.leaving[t, j]:
                forced = REASON_UNIVERSE_EXIT
            elif bars.last_bar[j] == t:
                forced = REASON_END_OF_DATA
            mode = SALE_AT_CLOSE
            if acct.exit_at_next_open:
                mode = SALE_DROP if forced != 0 else SALE_QUEUE
            exit_at_close_nb(bars, rules, book, journal, acct, c, t, mode)
            if forced != 0 and p.active == 1:
                p.pq_n = 0
                p.pending = 0
                sell_nb(book, journal, acct, c, t, p.held, bars.close[t, j], forced)


@loop_kernel()
def mark_nb(book: Book, acct: Any, n_sleeves: int) -> float:  # pragma: no cover - compiled
    """Step 4: ``equity = cash + sum(held * last_close)`` (sleeve by sleeve, positions in opening order),
    the equity every setup of this evening is sized from."""
    value = 0.0
    for s in range(n_sleeves):
        for o in range(book.counts[B_ORDER]):
            p = book.pos[book.order[o]]
            if p.sleeve == s:
                value += p.held * p.last_close
    return float(acct.cash + value)


@loop_kernel()
def scan_nb(
    bars: Bars,
    rules: RuleTable,
    setups: SetupRows,
    book: Book,
    journal: Journal,
    acct: Any,
    t: int,
    equity: float,
    cash: float,
) -> None:  # pragma: no cover - compiled
    """Step 5 (not at the end): per sleeve, free slots = max_positions - open - pending entries; the
    setups of session ``t`` in rank order, held symbols skipped, each sized from the marked equity and
    cash; a setup sized to 0 takes no slot. Queued for the next open, or filled at this close."""
    for s in range(rules.n_rules.shape[0]):
        free = rules.max_positions[s] - book.open_count[s] - book.pending_count[s]
        for row in range(setups.ptr[s, t], setups.ptr[s, t + 1]):
            if free <= 0:
                break
            j = setups.symbol[row]
            if book.held[s, j]:
                continue
            shares = size_setup_nb(
                rules.sizer_kind[s],
                rules.sizer_params[s],
                equity * rules.weight[s],
                cash * rules.weight[s],
                setups.reference[row],
                setups.stop[row],
                setups.atr[row],
            )
            if shares <= 0:
                continue  # sized to 0: takes no slot
            if not acct.entry_at_close:
                entry = book.entries[book.counts[B_ENTRIES]]
                entry.sleeve = s
                entry.symbol = j
                entry.shares = shares
                book.counts[B_ENTRIES] += 1
                book.pending_count[s] += 1
                book.held[s, j] = True
                free -= 1
            elif enter_at_close_nb(bars, rules, book, journal, acct, s, j, t, shares):
                free -= 1


@loop_kernel()
def enter_at_close_nb(
    bars: Bars, rules: RuleTable, book: Book, journal: Journal, acct: Any, s: int, j: int, t: int, shares: int
) -> bool:  # pragma: no cover - compiled
    """Fill an entry at this close (``entry_fill = "close"``); False when cash allows 0 shares: then
    it takes no slot and the next-ranked setup is tried (RULES 8, decided 2026-12-01)."""
    if not bars.available[t, j]:
        return True  # a setup on a symbol without a bar: no fill, its slot was used
    c = buy_nb(book, journal, acct, s, j, t, shares, bars.close[t, j], rules.hard_stop[s])
    if c < 0:
        return False
    p = book.pos[c]
    # the entry bar counts in MFE/MAE and peak_high; resting trails rest from t + 1
    p.last_close = bars.close[t, j]
    touch_nb(p, bars.high[t, j], bars.low[t, j])
    if bars.high[t, j] > p.peak_high:
        p.peak_high = bars.high[t, j]
    update_resting_trails_nb(bars, rules, book, c, t)
    if bars.last_bar[j] == t:
        sell_nb(book, journal, acct, c, t, p.held, bars.close[t, j], np.int64(REASON_END_OF_DATA))
    return True


@loop_kernel()
def record_nb(rules: RuleTable, book: Book, acct: Any, curves: Curves, row: int) -> None:  # pragma: no cover
    """Step 6: the session's equity row, after every fill of the session; each sleeve's P&L curve =
    weight * starting capital + realised + unrealised."""
    market = 0.0
    n_open = 0
    for s in range(rules.n_rules.shape[0]):
        unrealised = 0.0
        for o in range(book.counts[B_ORDER]):
            p = book.pos[book.order[o]]
            if p.sleeve != s:
                continue
            value = p.held * p.last_close
            market += value
            n_open += 1
            unrealised += (p.exit_value + value - p.orig_shares * p.entry) - p.commission
        curves.sleeve[s, row] = rules.weight[s] * acct.starting_capital + (book.realised[s] + unrealised)
    equity = acct.cash + market
    curves.equity[row] = equity
    curves.cash[row] = acct.cash
    curves.positions[row] = n_open
    curves.exposure[row] = market / equity if equity != 0.0 else 0.0


@loop_kernel()
def size_setup_nb(
    kind: int,
    params: np.ndarray,
    equity: float,
    cash: float,
    reference: float,
    reference_stop: float,
    atr_value: float,
) -> int:  # pragma: no cover
    """Shares for one setup (RULES sections 6 and 8); ``equity`` and ``cash`` already weighted by sleeve."""
    if kind == SIZER_PERCENT_EQUITY:
        value = params[0] * equity
    elif kind == SIZER_PERCENT_CASH:
        value = params[0] * cash
    elif kind == SIZER_FIXED_DOLLAR:
        value = params[0]
    elif kind == SIZER_RISK:
        per_share_risk = reference - reference_stop
        if not per_share_risk > 0.0:
            return 0
        shares_f = np.floor(params[0] * equity / per_share_risk)
        return to_int(shares_f) if shares_f > 0 else 0
    else:  # SIZER_ATR_TARGET: risk params[0] of equity per params[1] ATRs, capped at params[2] of equity
        per_share_risk = params[1] * atr_value
        if not per_share_risk > 0.0:
            return 0
        shares_f = np.floor(params[0] * equity / per_share_risk)
        cap_f = np.floor(params[2] * equity / reference)
        if cap_f < shares_f:
            shares_f = cap_f
        return to_int(shares_f) if shares_f > 0 else 0
    if not reference > 0.0:
        return 0
    shares_f = np.floor(value / reference)
    return to_int(shares_f) if shares_f > 0 else 0
