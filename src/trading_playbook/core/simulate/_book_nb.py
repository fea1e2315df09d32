"""Fills and the book of positions: what ``_Simulation.buy`` / ``sell`` do in the reference engine.

Arithmetic follows the reference engine's contract (``core/simulate/reference.py``) operation by
operation: fills with slippage, the entry cash check, commissions, and the trade and fill records.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from trading_playbook.core._builtins_nb import to_int  # int() compiles apart
from trading_playbook.core._jit import loop_kernel  # also: cache keys cover the kernels' other files
from trading_playbook.core.simulate._records import (
    B_ORDER,
    J_FILLS,
    J_TRADES,
    SALE_AT_CLOSE,
    SALE_DROP,
    Book,
    Journal,
)


@loop_kernel(inline="always")
def commission_nb(shares: int, acct: Any) -> float:  # pragma: no cover - compiled
    """Commission of one fill: ``max(minimum, per_order + per_share * shares)``; 0 for 0 shares."""
    if shares <= 0:
        return 0.0
    fee = acct.per_order + acct.per_share * shares
    if acct.minimum > fee:
        return float(acct.minimum)
    return float(fee)


@loop_kernel()
def affordable_shares_nb(shares: int, price: float, acct: Any) -> int:  # pragma: no cover - compiled
    """Shares an order can buy at ``price``: all of them if cash pays for them plus costs, else what
    cash allows, ``floor((cash - per_order) / (price + per_share))`` (RULES section 8), reduced while
    a minimum commission still makes it unaffordable."""
    if shares <= 0:
        return 0
    if shares * price + commission_nb(shares, acct) <= acct.cash:
        return shares
    allowed = to_int(np.floor((acct.cash - acct.per_order) / (price + acct.per_share)))
    if allowed > shares:
        allowed = shares
    while allowed > 0 and allowed * price + commission_nb(allowed, acct) > acct.cash:
        allowed -= 1
    if allowed < 0:
        return 0
    return allowed


@loop_kernel(inline="always")
def touch_nb(p: Any, high_t: float, low_t: float) -> None:  # pragma: no cover - compiled
    """Extend a position's MFE/MAE extremes with one full bar."""
    if high_t > p.max_high:
        p.max_high = high_t
    if low_t < p.min_low:
        p.min_low = low_t


@loop_kernel(inline="always")
def snapshot_nb(book: Book) -> int:  # pragma: no cover - compiled
    """Copy the open slots (opening order) so a step can close positions while walking them."""
    n = to_int(book.counts[B_ORDER])
    for o in range(n):
        book.snapshot[o] = book.order[o]
    return n


@loop_kernel(inline="always")
def buy_nb(
    book: Book,
    journal: Journal,
    acct: Any,
    s: int,
    j: int,
    t: int,
    shares: int,
    raw_price: float,
    hard_stop: float,
) -> int:  # pragma: no cover - compiled
    """Fill an entry of ``shares`` of symbol ``j`` for sleeve ``s`` at ``raw_price`` (slippage added)
    against the cash left. Returns the position's slot, or -1 when cash allows 0 shares (no trade)."""
    fill = raw_price * acct.buy
    shares = affordable_shares_nb(shares, fill, acct)
    if shares <= 0:
        return -1
    fee = commission_nb(shares, acct)
    acct.cash = acct.cash - (shares * fill + fee)
    c = 0
    while book.pos[c].active == 1:
        c += 1
    p = book.pos[c]
    p.active = 1
    p.sleeve = s
    p.symbol = j
    p.entry_session = t
    p.orig_shares = shares
    p.held = shares
    p.pending = 0
    p.pq_n = 0
    p.partial_taken = 0
    p.trade = journal.counts[J_TRADES]
    p.entry = fill
    p.initial_stop = fill * (1.0 - hard_stop)
    p.peak_close = fill
    p.peak_high = -np.inf
    p.last_close = np.nan
    p.max_high = -np.inf
    p.min_low = np.inf
    p.exit_value = 0.0
    p.commission = fee
    book.trail[c, :] = np.nan
    book.levels[c, :] = 0
    book.held[s, j] = True
    book.open_count[s] += 1
    book.order[book.counts[B_ORDER]] = c
    book.counts[B_ORDER] += 1
    rec = journal.trades[journal.counts[J_TRADES]]
    rec.sleeve = s
    rec.symbol = j
    rec.entry_session = t
    rec.exit_session = -1
    rec.entry_price = fill
    rec.initial_stop = p.initial_stop
    rec.shares = shares
    rec.entry_commission = fee
    rec.closed = 0
    journal.counts[J_TRADES] += 1
    return c


@loop_kernel(inline="always")
def sell_nb(
    book: Book,
    journal: Journal,
    acct: Any,
    c: int,
    t: int,
    shares: int,
    raw_price: float,
    reason: int | np.integer[Any],
) -> None:  # pragma: no cover - compiled
    """One exit fill of ``shares`` of slot ``c`` at ``raw_price`` (slippage taken off); 0 shares: nothing.

    Closes the position (trade record, slot, realised pnl) when no share is left.
    """
    if shares <= 0:
        return
    p = book.pos[c]
    fill = raw_price * acct.sell
    fee = commission_nb(shares, acct)
    acct.cash = acct.cash + (shares * fill - fee)
    p.exit_value += shares * fill
    p.commission += fee
    p.held -= shares
    rec = journal.fills[journal.counts[J_FILLS]]
    rec.trade = p.trade
    rec.session = t
    rec.shares = shares
    rec.price = fill
    rec.reason = reason
    rec.commission = fee
    journal.counts[J_FILLS] += 1
    if p.held > 0:
        return
    _close_nb(book, journal, c, t)


@loop_kernel(inline="always")
def _close_nb(book: Book, journal: Journal, c: int, t: int) -> None:  # pragma: no cover - compiled
    """The final fill of slot ``c`` happened: close its trade record and free the slot."""
    p = book.pos[c]
    s = p.sleeve
    entry_value = p.orig_shares * p.entry
    book.realised[s] += (p.exit_value - entry_value) - p.commission
    trade = journal.trades[p.trade]
    trade.exit_session = t
    trade.max_high = p.max_high
    trade.min_low = p.min_low
    trade.closed = 1
    book.held[s, p.symbol] = False
    book.open_count[s] -= 1
    p.active = 0
    n = book.counts[B_ORDER]
    k = 0
    while book.order[k] != c:
        k += 1
    for m in range(k, n - 1):
        book.order[m] = book.order[m + 1]
    book.counts[B_ORDER] = n - 1


@loop_kernel(inline="always")
def queue_or_sell_nb(
    book: Book,
    journal: Journal,
    acct: Any,
    c: int,
    t: int,
    shares: int,
    price: float,
    reason: int,
    mode: int,
) -> None:  # pragma: no cover - compiled
    """A sale decided at the close: fill it now (``SALE_AT_CLOSE``), queue it for the symbol's next
    open (``SALE_QUEUE``), or drop it (``SALE_DROP``: a forced END_OF_DATA / END_OF_TEST sale follows)."""
    if mode == SALE_AT_CLOSE:
        sell_nb(book, journal, acct, c, t, shares, price, reason)
        return
    if mode == SALE_DROP or shares <= 0:
        return
    p = book.pos[c]
    q = p.pq_n
    book.pq_shares[c, q] = shares
    book.pq_reason[c, q] = reason
    p.pq_n = q + 1
    p.pending += shares
