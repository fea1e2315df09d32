"""Numba kernels of the fast engine: the whole session loop of RULES section 4 in one compiled call.

Everything here takes arrays and scalars only. :mod:`trading_playbook.core.simulate.fast` encodes the
sleeves (exit rule programs, sizers, setups) into the arrays below, runs :func:`simulate_nb` and decodes
its structured records into :class:`~trading_playbook.core.types.Trade` objects.

Encoding
--------
Exit rules: ``rule_kind[s, r]`` (the ``RULE_*`` codes) and ``rule_params[s, r, :]`` (the ``P_*`` columns),
``n_rules[s]`` rules for sleeve ``s``, interpreted in order exactly as ``core.exits.spec`` documents.
Column ``P_AFTER_PARTIAL`` of every rule is 1.0 for a rule gated until a partial was taken; the others:

==============  ==============================================================================
kind            parameters
==============  ==============================================================================
hard_stop       ``P_A`` pct (rests at ``entry * (1 - pct)``)
breakeven_stop  none (rests at ``entry`` once a partial was taken)
trailing_stop   ``P_A`` basis (0 close, 1 resting), ``P_B`` update (0 new_peak, 1 every_close),
                ``P_C`` activation (NaN: none), ``P_D`` row of ``atr_periods`` (-1: none), ``P_E`` tier
                count, then (min_profit, mode ``TIER_*``, value) triples from ``P_TIERS``
ma_break        ``P_A`` row of ``sma_periods``, ``P_B`` max_profit, ``P_C`` min_peak_high_profit (NaN: none)
lower_close     ``P_A`` min_peak_profit (vs peak_close); lower_high the same vs peak_high
ema_break       ``P_A`` EMA stack row (the only indicator computed on the whole panel)
time_stop       ``P_A`` sessions
stop_loss       ``P_A`` pct; target ``P_A`` pct
scale_out       ``P_A`` fraction, ``P_B`` level count, levels from ``P_LEVELS``, their reason codes
                from ``P_LEVELS + MAX_LEVELS`` (ExitReason values, or 100+ for custom names)
==============  ==============================================================================

Sizers: ``sizer_kind[s]`` (the ``SIZER_*`` codes) and ``sizer_params[s, :]`` (percent_equity,
percent_cash, risk: fraction; fixed_dollar: amount; atr_target: risk_fraction, atr_multiple,
max_fraction), with ``setup_atr`` the ATR of each setup row for atr_target.
Setups: every sleeve's setups concatenated, ``setup_ptr[s, t]:setup_ptr[s, t + 1]`` are the rows of sleeve
``s`` at session ``t`` in rank order.

State
-----
Open positions live in a pool of ``sum(max_positions)`` slots (open + pending entries never exceed a
sleeve's ``max_positions``): ``pos_i`` / ``pos_f`` hold the integer / float state columns ``I_*`` / ``F_*``,
``trail[c, r]`` the trail of rule ``r`` (NaN = undefined), ``levels[c, r]`` a bit mask of the scale-out
levels taken, ``pq_shares`` / ``pq_reason`` the exits queued for the next open (``exit_fill='next_open'``).
``order[:n]`` lists the open slots in the order the positions were opened: every step walks the
sleeves in config order and, within one, the positions in that order, as the reference engine does,
so cash and equity are summed in the same order.

Arithmetic follows the reference engine's contract (``core/simulate/reference.py``) operation by
operation, so both engines take every literal comparison of RULES section 8 the same way.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from trading_playbook.core._indicator_kernels import window_mean_nb

# ---------------------------------------------------------------- rule kinds and parameter columns
RULE_HARD_STOP = 0
RULE_BREAKEVEN = 1
RULE_TRAIL = 2
RULE_MA_BREAK = 3
RULE_LOWER_CLOSE = 4
RULE_LOWER_HIGH = 5
RULE_EMA_BREAK = 6
RULE_TIME_STOP = 7
RULE_STOP_LOSS = 8
RULE_TARGET = 9
RULE_SCALE_OUT = 10

P_AFTER_PARTIAL = 0  # every rule: 1.0 = inactive (check and trail updates) until a partial was taken
P_A = 1  # first kind-specific parameter (pct, sessions, indicator index, fraction, basis ...)
P_B = 2
P_C = 3
P_D = 4
P_E = 5
P_TIERS = 6  # trailing stop: (min_profit, mode, value) triples from here
MAX_TIERS = 8
P_LEVELS = 6  # scale-out: levels from here, then their reason codes
MAX_LEVELS = 8
N_PARAMS = P_TIERS + 3 * MAX_TIERS

TIER_PCT = 0
TIER_ATR = 1

SIZER_PERCENT_EQUITY = 0
SIZER_PERCENT_CASH = 1
SIZER_RISK = 2
SIZER_FIXED_DOLLAR = 3
SIZER_ATR_TARGET = 4
N_SIZER_PARAMS = 4

# ExitReason codes used by the kernel itself (the rest arrive through the rule programs)
REASON_HARD_STOP = 1
REASON_BREAKEVEN_STOP = 2
REASON_TRAILING_STOP = 3
REASON_MA_BREAK = 4
REASON_LOWER_CLOSE = 5
REASON_LOWER_HIGH = 6
REASON_EMA_BREAK = 7
REASON_TIME_STOP = 8
REASON_STOP_LOSS = 9
REASON_TARGET = 10
REASON_END_OF_DATA = 15
REASON_END_OF_TEST = 16

# ---------------------------------------------------------------- position state columns
I_SLEEVE = 0
I_SYMBOL = 1
I_ENTRY_SESSION = 2
I_ORIG_SHARES = 3
I_HELD = 4  # shares held now
I_PENDING = 5  # shares already queued for sale at the next open
I_PARTIAL_TAKEN = 6
I_PARTIAL_SESSION = 7
I_TRADE = 8
I_PQ_N = 9
I_ACTIVE = 10
N_I = 11

F_ENTRY = 0
F_INITIAL_STOP = 1
F_PEAK_CLOSE = 2
F_PEAK_HIGH = 3
F_LAST_CLOSE = 4
F_MAX_HIGH = 5
F_MIN_LOW = 6
F_EXIT_VALUE = 7  # sum of shares * fill over the exit fills so far
F_COMMISSION = 8  # entry commission plus every exit fill's commission so far
N_F = 9

# account scalars (one float64 array so helpers can update them in place)
A_CASH = 0
A_PER_SHARE = 1
A_PER_ORDER = 2
A_MIN = 3
A_SELL = 4  # 1 - slippage
A_BUY = 5  # 1 + slippage
N_A = 6

# what to do with a sale decided at the close
SALE_AT_CLOSE = 0
SALE_QUEUE = 1
SALE_DROP = 2

# counters
C_TRADES = 0
C_FILLS = 1
C_ORDER = 2  # open positions in opening order: order[:n]
N_C = 3

# ---------------------------------------------------------------- output records
trade_dt = np.dtype(
    [
        ("sleeve", np.int64),
        ("symbol", np.int64),
        ("entry_session", np.int64),
        ("exit_session", np.int64),
        ("entry_price", np.float64),
        ("initial_stop", np.float64),
        ("shares", np.int64),
        ("entry_commission", np.float64),
        ("max_high", np.float64),
        ("min_low", np.float64),
        ("closed", np.int64),
    ],
    align=True,
)

fill_dt = np.dtype(
    [
        ("trade", np.int64),
        ("session", np.int64),
        ("shares", np.int64),
        ("price", np.float64),
        ("reason", np.int64),
        ("commission", np.float64),
    ],
    align=True,
)


# ---------------------------------------------------------------- small helpers
@njit(cache=True)
def commission_nb(
    shares: int, per_share: float, per_order: float, minimum: float
) -> float:  # pragma: no cover
    """Commission of one fill: ``max(minimum, per_order + per_share * shares)``; 0 for 0 shares."""
    if shares <= 0:
        return 0.0
    fee = per_order + per_share * shares
    if minimum > fee:
        return minimum
    return fee


@njit(cache=True)
def affordable_shares_nb(
    shares: int, cash: float, price: float, per_share: float, per_order: float, minimum: float
) -> int:  # pragma: no cover
    """Shares an order can buy: all of them if cash pays for them plus costs, else what cash allows.

    What cash allows is ``floor((cash - per_order) / (price + per_share))`` (RULES section 8), reduced
    further while a minimum commission still makes it unaffordable.
    """
    if shares <= 0:
        return 0
    if shares * price + commission_nb(shares, per_share, per_order, minimum) <= cash:
        return shares
    allowed = int(np.floor((cash - per_order) / (price + per_share)))
    if allowed > shares:
        allowed = shares
    while allowed > 0 and allowed * price + commission_nb(allowed, per_share, per_order, minimum) > cash:
        allowed -= 1
    if allowed < 0:
        return 0
    return allowed


@njit(cache=True)
def trail_level_nb(
    params: np.ndarray, peak: float, entry: float, atr_value: float
) -> float:  # pragma: no cover
    """Level of a profit-tiered trail for ``peak``: first tier with ``peak / entry - 1 >= min_profit``.

    NaN when no tier applies or the tier needs an undefined ATR.
    """
    profit = peak / entry - 1.0
    n_tiers = int(params[P_TIERS - 1])
    for i in range(n_tiers):
        base = P_TIERS + 3 * i
        if profit >= params[base]:
            value = params[base + 2]
            if int(params[base + 1]) == TIER_PCT:
                return float(value * peak)
            return float(peak - value * atr_value)
    return math.nan


@njit(cache=True)
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
        return int(shares_f) if shares_f > 0 else 0
    else:  # SIZER_ATR_TARGET: risk params[0] of equity per params[1] ATRs, capped at params[2] of equity
        per_share_risk = params[1] * atr_value
        if not per_share_risk > 0.0:
            return 0
        shares_f = np.floor(params[0] * equity / per_share_risk)
        cap_f = np.floor(params[2] * equity / reference)
        if cap_f < shares_f:
            shares_f = cap_f
        return int(shares_f) if shares_f > 0 else 0
    if not reference > 0.0:
        return 0
    shares_f = np.floor(value / reference)
    return int(shares_f) if shares_f > 0 else 0


@njit(cache=True)
def rule_active_nb(
    params: np.ndarray, partial_taken: int, partial_session: int, t: int
) -> bool:  # pragma: no cover
    """``after_partial`` gating: active once a partial was taken on an earlier session."""
    if params[P_AFTER_PARTIAL] == 0.0:
        return True
    return partial_taken == 1 and partial_session < t


# ---------------------------------------------------------------- indicators at one bar
# The loop reads SMA, ATR and previous-bar values only at the bars of the positions it holds, so it
# computes each of them there from the few bars it depends on: the plain mean of the window, summed
# oldest first, exactly as ``core.indicators`` (RULES section 8).
# tests/regression/test_kernels_indicators.py proves them bit-identical at every bar of the real data.


@njit(cache=True)
def bar_index_nb(
    available: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:  # pragma: no cover
    """Each symbol's first and last bar (-1: none) and its gaps (sessions without a bar between its
    first and last bar), ``gap_rows[gap_ptr[j]:gap_ptr[j + 1]]`` ascending."""
    n_rows, n_cols = available.shape
    first = np.full(n_cols, -1, dtype=np.int64)
    last = np.full(n_cols, -1, dtype=np.int64)
    n_gaps = np.zeros(n_cols, dtype=np.int64)
    for t in range(n_rows):
        for j in range(n_cols):
            if available[t, j]:
                if first[j] < 0:
                    first[j] = t
                elif t - last[j] > 1:
                    n_gaps[j] += t - last[j] - 1
                last[j] = t
    gap_ptr = np.zeros(n_cols + 1, dtype=np.int64)
    for j in range(n_cols):
        gap_ptr[j + 1] = gap_ptr[j] + n_gaps[j]
    gap_rows = np.zeros(gap_ptr[n_cols], dtype=np.int64)
    for j in range(n_cols):
        g = gap_ptr[j]
        if first[j] < 0 or n_gaps[j] == 0:
            continue
        for t in range(first[j] + 1, last[j]):
            if not available[t, j]:
                gap_rows[g] = t
                g += 1
    return first, last, gap_ptr, gap_rows


@njit(cache=True)
def bars_before_nb(
    first_bar: np.ndarray, gap_ptr: np.ndarray, gap_rows: np.ndarray, t: int, j: int
) -> int:  # pragma: no cover - compiled
    """How many bars symbol ``j`` has before session ``t`` (``t`` holds a bar of it)."""
    lo = gap_ptr[j]
    hi = gap_ptr[j + 1]
    g = lo
    while g < hi and gap_rows[g] < t:
        g += 1
    return int(t - first_bar[j] - (g - lo))


@njit(cache=True)
def mean_at_nb(
    x: np.ndarray,
    high: np.ndarray,
    low: np.ndarray,
    available: np.ndarray,
    n: int,
    true_range: bool,
    t: int,
    j: int,
    k: int,
    vals: np.ndarray,
) -> float:  # pragma: no cover - compiled
    """``indicators.sma(x, available, n)[t, j]`` (``true_range``: ``indicators.atr(high, low, x, ...)``):
    the plain mean of the symbol's last ``n`` bars through ``t``, summed oldest first
    (:func:`~trading_playbook.core._indicator_kernels.window_mean_nb`).

    ``k`` is the number of bars of symbol ``j`` before ``t``; ``vals`` a float scratch of at least
    ``n`` values.
    """
    if not available[t, j] or k + 1 < n:
        return np.nan
    i = n - 1  # vals[i] is bar number k - (n - 1 - i), walking back from t
    u = t
    while i >= 0:
        if available[u, j]:
            if true_range:
                v = high[u, j] - low[u, j]
                if k - (n - 1 - i) > 0:  # not the symbol's first bar: the previous bar's close
                    w = u - 1
                    while not available[w, j]:
                        w -= 1
                    prev = x[w, j]
                    up = abs(high[u, j] - prev)
                    down = abs(low[u, j] - prev)
                    if up > v:
                        v = up
                    if down > v:
                        v = down
                vals[i] = v
            else:
                vals[i] = x[u, j]
            i -= 1
        u -= 1
    return window_mean_nb(vals, 0, n)


@njit(cache=True)
def previous_at_nb(x: np.ndarray, available: np.ndarray, t: int, j: int) -> float:  # pragma: no cover
    """``previous_rows_nb(x, available)[t, j]``: the value at the symbol's bar before ``t``."""
    if not available[t, j]:
        return np.nan
    u = t - 1
    while u >= 0:
        if available[u, j]:
            return float(x[u, j])
        u -= 1
    return np.nan


@njit(cache=True)
def _trail_level_at_nb(
    params: np.ndarray,
    r: int,
    peak: float,
    entry: float,
    close: np.ndarray,
    high: np.ndarray,
    low: np.ndarray,
    available: np.ndarray,
    atr_periods: np.ndarray,
    first_bar: np.ndarray,
    gap_ptr: np.ndarray,
    gap_rows: np.ndarray,
    scratch: np.ndarray,
    t: int,
    j: int,
) -> float:  # pragma: no cover - compiled
    """:func:`trail_level_nb` with the rule's ATR at bar ``(t, j)``, computed only when the tier needs it."""
    profit = peak / entry - 1.0
    n_tiers = int(params[r, P_TIERS - 1])
    for i in range(n_tiers):
        base = P_TIERS + 3 * i
        if profit >= params[r, base]:
            value = params[r, base + 2]
            if int(params[r, base + 1]) == TIER_PCT:
                return float(value * peak)
            atr_value = np.nan
            if params[r, P_D] >= 0:
                k = bars_before_nb(first_bar, gap_ptr, gap_rows, t, j)
                atr_value = mean_at_nb(
                    close, high, low, available, atr_periods[int(params[r, P_D])], True, t, j, k, scratch
                )
            return float(peak - value * atr_value)
    return math.nan


@njit(cache=True)
def setup_atr_nb(
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    available: np.ndarray,
    first: np.ndarray,
    gap_ptr: np.ndarray,
    gap_rows: np.ndarray,
    n: int,
    session: np.ndarray,
    symbol: np.ndarray,
) -> np.ndarray:  # pragma: no cover - compiled
    """``atr_rows_nb(high, low, close, available, n)`` at each (session, symbol) pair (the bar index
    of :func:`bar_index_nb`)."""
    scratch = np.zeros(2 * n, dtype=np.float64)
    out = np.empty(session.shape[0])
    for i in range(session.shape[0]):
        t = session[i]
        j = symbol[i]
        out[i] = np.nan
        if available[t, j]:
            k = bars_before_nb(first, gap_ptr, gap_rows, t, j)
            out[i] = mean_at_nb(close, high, low, available, n, True, t, j, k, scratch)
    return out


@njit(cache=True)
def means_at_every_bar_nb(
    x: np.ndarray, high: np.ndarray, low: np.ndarray, available: np.ndarray, n: int, true_range: bool
) -> np.ndarray:  # pragma: no cover - compiled
    """:func:`mean_at_nb` at every cell of the panel (NaN where no bar): the per-bar path over a whole
    panel, to compare with :func:`sma_rows_nb` / :func:`atr_rows_nb`."""
    first, _, gap_ptr, gap_rows = bar_index_nb(available)
    scratch = np.zeros(2 * n, dtype=np.float64)
    out = np.full(x.shape, np.nan)
    for t in range(x.shape[0]):
        for j in range(x.shape[1]):
            if available[t, j]:
                k = bars_before_nb(first, gap_ptr, gap_rows, t, j)
                out[t, j] = mean_at_nb(x, high, low, available, n, true_range, t, j, k, scratch)
    return out


@njit(cache=True)
def previous_at_every_bar_nb(x: np.ndarray, available: np.ndarray) -> np.ndarray:  # pragma: no cover
    """:func:`previous_at_nb` at every cell of the panel (compare with :func:`previous_rows_nb`)."""
    out = np.full(x.shape, np.nan)
    for t in range(x.shape[0]):
        for j in range(x.shape[1]):
            out[t, j] = previous_at_nb(x, available, t, j)
    return out


# ---------------------------------------------------------------- the kernel
@njit(cache=True)
def simulate_nb(
    open_: np.ndarray,
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    available: np.ndarray,
    last_bar: np.ndarray,
    first_bar: np.ndarray,
    gap_ptr: np.ndarray,
    gap_rows: np.ndarray,
    sma_periods: np.ndarray,
    atr_periods: np.ndarray,
    ema_stack: np.ndarray,
    start: int,
    end: int,
    rule_kind: np.ndarray,
    rule_params: np.ndarray,
    n_rules: np.ndarray,
    max_positions: np.ndarray,
    weight: np.ndarray,
    hard_stop: np.ndarray,
    sizer_kind: np.ndarray,
    sizer_params: np.ndarray,
    setup_ptr: np.ndarray,
    setup_symbol: np.ndarray,
    setup_reference: np.ndarray,
    setup_stop: np.ndarray,
    setup_atr: np.ndarray,
    starting_capital: float,
    entry_at_close: bool,
    exit_at_next_open: bool,
    slippage: float,
    per_share: float,
    per_order: float,
    commission_min: float,
    trade_capacity: int,
    fill_capacity: int,
    queue_capacity: int,
) -> tuple[
    np.ndarray, int, np.ndarray, int, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray
]:  # pragma: no cover - compiled
    """Run the session loop over sessions ``start..end`` (inclusive) of the panel arrays.

    ``last_bar``, ``first_bar``, ``gap_ptr`` and ``gap_rows`` index each symbol's bars
    (:func:`bar_index_nb`); the rules' SMA / ATR periods are ``sma_periods`` / ``atr_periods`` (their
    values are computed at the bars read, :func:`mean_at_nb`); ``ema_stack`` holds the EMAs.

    Returns ``(trades, n_trades, fills, n_fills, equity, cash, positions, exposure, sleeve_equity)``;
    the curves have one row per session ``start..end``, ``sleeve_equity`` is (sleeves, sessions).
    """
    n_symbols = open_.shape[1]
    n_sleeves = rule_kind.shape[0]
    capacity = 0
    for s in range(n_sleeves):
        capacity += max_positions[s]

    pos_i = np.zeros((capacity, N_I), dtype=np.int64)
    pos_f = np.zeros((capacity, N_F), dtype=np.float64)
    trail = np.full((capacity, rule_kind.shape[1]), np.nan)
    levels = np.zeros((capacity, rule_kind.shape[1]), dtype=np.int64)
    pq_shares = np.zeros((capacity, queue_capacity), dtype=np.int64)
    pq_reason = np.zeros((capacity, queue_capacity), dtype=np.int64)
    order = np.zeros(capacity + 1, dtype=np.int64)
    snapshot = np.zeros(capacity + 1, dtype=np.int64)
    longest = 1
    for i in range(sma_periods.shape[0]):
        longest = max(longest, sma_periods[i])
    for i in range(atr_periods.shape[0]):
        longest = max(longest, atr_periods[i])
    scratch = np.zeros(2 * longest, dtype=np.float64)  # the bar values one SMA / ATR value reads
    bars = (first_bar, gap_ptr, gap_rows, sma_periods, atr_periods)  # 30 arguments at most: inlinable

    # pending entries in the order they were queued (sleeve by sleeve, rank order)
    pe_sleeve = np.zeros(capacity, dtype=np.int64)
    pe_symbol = np.zeros(capacity, dtype=np.int64)
    pe_shares = np.zeros(capacity, dtype=np.int64)
    n_pe = 0

    held = np.zeros((n_sleeves, n_symbols), dtype=np.bool_)  # held or pending entry, per sleeve
    open_count = np.zeros(n_sleeves, dtype=np.int64)
    pending_count = np.zeros(n_sleeves, dtype=np.int64)
    realised = np.zeros(n_sleeves)  # closed trades' pnl per sleeve, in close order

    trades = np.zeros(trade_capacity, dtype=trade_dt)
    fills = np.zeros(fill_capacity, dtype=fill_dt)
    cnt = np.zeros(N_C, dtype=np.int64)
    acct = np.zeros(N_A)
    acct[A_CASH] = starting_capital
    acct[A_PER_SHARE] = per_share
    acct[A_PER_ORDER] = per_order
    acct[A_MIN] = commission_min
    acct[A_SELL] = 1.0 - slippage
    acct[A_BUY] = 1.0 + slippage

    n_out = end - start + 1
    equity_out = np.zeros(n_out)
    cash_out = np.zeros(n_out)
    positions_out = np.zeros(n_out, dtype=np.int64)
    exposure_out = np.zeros(n_out)
    sleeve_out = np.zeros((n_sleeves, n_out))

    touched = np.zeros(1)
    for t in range(start, end + 1):
        last = t == end
        # read the bars of this session and the next of every open position and pending entry up
        # front: independent loads the CPU overlaps (each bar sits on its own cache line of the large
        # (T, N) arrays, and waiting for them one at a time inside the steps dominated the loop)
        after = t + 1 if t < end else t
        warm = 0.0
        for o in range(cnt[C_ORDER]):
            j = pos_i[order[o], I_SYMBOL]
            warm += open_[t, j] + high[t, j] + low[t, j] + close[t, j] + available[t, j]
            warm += open_[after, j] + high[after, j] + low[after, j] + close[after, j] + available[after, j]
        for e in range(n_pe):
            j = pe_symbol[e]
            warm += open_[t, j] + high[t, j] + low[t, j] + close[t, j] + available[t, j]
        touched[0] = warm  # kept, so the loads are not optimised away

        # ---- 1. open: pending exits of every sleeve, then pending entries in queue order
        n_snap = _snapshot_nb(order, cnt, snapshot)
        for s in range(n_sleeves):
            for o in range(n_snap):
                c = snapshot[o]
                if pos_i[c, I_SLEEVE] != s or pos_i[c, I_PQ_N] == 0:
                    continue
                j = pos_i[c, I_SYMBOL]
                if not available[t, j]:
                    continue  # waits for the symbol's next bar
                _touch_nb(pos_f, c, high[t, j], low[t, j])
                n_queued = pos_i[c, I_PQ_N]
                pos_i[c, I_PQ_N] = 0
                pos_i[c, I_PENDING] = 0
                for q in range(n_queued):
                    _sell_nb(
                        pos_i,
                        pos_f,
                        trades,
                        fills,
                        cnt,
                        acct,
                        realised,
                        order,
                        held,
                        open_count,
                        c,
                        t,
                        pq_shares[c, q],
                        open_[t, j],
                        pq_reason[c, q],
                    )
        for e in range(n_pe):
            s = pe_sleeve[e]
            j = pe_symbol[e]
            pending_count[s] -= 1
            held[s, j] = False
            if available[t, j]:  # no bar at the next open: cancelled
                _buy_nb(
                    pos_i,
                    pos_f,
                    trail,
                    levels,
                    trades,
                    cnt,
                    acct,
                    order,
                    held,
                    open_count,
                    s,
                    j,
                    t,
                    pe_shares[e],
                    open_[t, j],
                    hard_stop[s],
                )
        n_pe = 0

        # ---- 2. intraday resting stops (positions with a bar and no exit pending)
        n_snap = _snapshot_nb(order, cnt, snapshot)
        for s in range(n_sleeves):
            kinds_s = rule_kind[s]  # one view per sleeve and step (not per position)
            params_s = rule_params[s]
            for o in range(n_snap):
                c = snapshot[o]
                if pos_i[c, I_SLEEVE] != s or pos_i[c, I_PQ_N] > 0:
                    continue
                j = pos_i[c, I_SYMBOL]
                if not available[t, j]:
                    continue
                _touch_nb(pos_f, c, high[t, j], low[t, j])
                level, reason = _resting_level_nb(kinds_s, params_s, n_rules[s], pos_i, pos_f, trail, c, t)
                if reason != 0 and low[t, j] <= level:
                    price = open_[t, j] if open_[t, j] < level else level
                    _sell_nb(
                        pos_i,
                        pos_f,
                        trades,
                        fills,
                        cnt,
                        acct,
                        realised,
                        order,
                        held,
                        open_count,
                        c,
                        t,
                        pos_i[c, I_HELD],
                        price,
                        reason,
                    )

        # ---- 3. close rules; END_OF_DATA on a symbol's last bar, END_OF_TEST at the end
        n_snap = _snapshot_nb(order, cnt, snapshot)
        for s in range(n_sleeves):
            kinds_s = rule_kind[s]  # one view per sleeve and step (not per position)
            params_s = rule_params[s]
            for o in range(n_snap):
                c = snapshot[o]
                if pos_i[c, I_SLEEVE] != s or pos_i[c, I_PQ_N] > 0:
                    continue
                j = pos_i[c, I_SYMBOL]
                if not available[t, j]:
                    continue
                pos_f[c, F_LAST_CLOSE] = close[t, j]
                forced = 0
                if last:
                    forced = REASON_END_OF_TEST
                elif last_bar[j] == t:
                    forced = REASON_END_OF_DATA
                mode = SALE_AT_CLOSE
                if exit_at_next_open:
                    # an exit decided for the next open on a forced session becomes the forced exit
                    mode = SALE_DROP if forced != 0 else SALE_QUEUE
                _close_rules_nb(
                    kinds_s,
                    params_s,
                    n_rules[s],
                    pos_i,
                    pos_f,
                    trail,
                    levels,
                    pq_shares,
                    pq_reason,
                    trades,
                    fills,
                    cnt,
                    acct,
                    realised,
                    order,
                    held,
                    open_count,
                    c,
                    t,
                    j,
                    close,
                    high,
                    low,
                    available,
                    ema_stack,
                    bars,
                    scratch,
                    mode,
                )
                if forced != 0 and pos_i[c, I_ACTIVE] == 1:
                    pos_i[c, I_PQ_N] = 0
                    pos_i[c, I_PENDING] = 0
                    _sell_nb(
                        pos_i,
                        pos_f,
                        trades,
                        fills,
                        cnt,
                        acct,
                        realised,
                        order,
                        held,
                        open_count,
                        c,
                        t,
                        pos_i[c, I_HELD],
                        close[t, j],
                        forced,
                    )

        # ---- 4. mark: the equity and cash every setup of this evening is sized from
        decision_cash = acct[A_CASH]
        decision_equity = decision_cash + _market_value_nb(pos_i, pos_f, order, cnt, n_sleeves)

        # ---- 5. scan and queue for the next open (or fill at this close); no scan at the end
        if not last:
            for s in range(n_sleeves):
                kinds_s = rule_kind[s]  # one view per sleeve and step (not per position)
                params_s = rule_params[s]
                free = max_positions[s] - open_count[s] - pending_count[s]
                if free <= 0:
                    continue
                equity_s = decision_equity * weight[s]
                cash_s = decision_cash * weight[s]
                for row in range(setup_ptr[s, t], setup_ptr[s, t + 1]):
                    if free <= 0:
                        break
                    j = setup_symbol[row]
                    if held[s, j]:
                        continue
                    shares = size_setup_nb(
                        sizer_kind[s],
                        sizer_params[s],
                        equity_s,
                        cash_s,
                        setup_reference[row],
                        setup_stop[row],
                        setup_atr[row],
                    )
                    if shares <= 0:
                        continue  # sized to 0: takes no slot
                    if not entry_at_close:
                        pe_sleeve[n_pe] = s
                        pe_symbol[n_pe] = j
                        pe_shares[n_pe] = shares
                        n_pe += 1
                        pending_count[s] += 1
                        held[s, j] = True
                        free -= 1
                        continue
                    # entry_fill = "close": the order fills now, in rank order; the cash is known, so
                    # an entry that cash allows 0 shares takes no slot (RULES 8, decided 2026-12-01)
                    if not available[t, j]:
                        free -= 1  # a setup on a symbol without a bar: no fill (its slot was used)
                        continue
                    c = _buy_nb(
                        pos_i,
                        pos_f,
                        trail,
                        levels,
                        trades,
                        cnt,
                        acct,
                        order,
                        held,
                        open_count,
                        s,
                        j,
                        t,
                        shares,
                        close[t, j],
                        hard_stop[s],
                    )
                    if c < 0:
                        continue  # cash allows 0 shares at this close: no slot taken, try the next
                    free -= 1
                    # the entry bar counts in MFE/MAE and peak_high; resting trails rest from t + 1
                    pos_f[c, F_LAST_CLOSE] = close[t, j]
                    _touch_nb(pos_f, c, high[t, j], low[t, j])
                    if high[t, j] > pos_f[c, F_PEAK_HIGH]:
                        pos_f[c, F_PEAK_HIGH] = high[t, j]
                    _update_resting_trails_nb(
                        kinds_s,
                        params_s,
                        n_rules[s],
                        pos_i,
                        pos_f,
                        trail,
                        c,
                        t,
                        j,
                        close,
                        high,
                        low,
                        available,
                        atr_periods,
                        first_bar,
                        gap_ptr,
                        gap_rows,
                        scratch,
                    )
                    if last_bar[j] == t:
                        _sell_nb(
                            pos_i,
                            pos_f,
                            trades,
                            fills,
                            cnt,
                            acct,
                            realised,
                            order,
                            held,
                            open_count,
                            c,
                            t,
                            pos_i[c, I_HELD],
                            close[t, j],
                            REASON_END_OF_DATA,
                        )

        # ---- 6. the equity row, after every fill of the session
        row = t - start
        cash = acct[A_CASH]
        market = 0.0
        n_open = 0
        for s in range(n_sleeves):
            unrealised = 0.0
            for o in range(cnt[C_ORDER]):
                c = order[o]
                if pos_i[c, I_SLEEVE] != s:
                    continue
                value = pos_i[c, I_HELD] * pos_f[c, F_LAST_CLOSE]
                market += value
                n_open += 1
                unrealised += (
                    pos_f[c, F_EXIT_VALUE] + value - pos_i[c, I_ORIG_SHARES] * pos_f[c, F_ENTRY]
                ) - pos_f[c, F_COMMISSION]
            sleeve_out[s, row] = weight[s] * starting_capital + (realised[s] + unrealised)
        equity = cash + market
        equity_out[row] = equity
        cash_out[row] = cash
        positions_out[row] = n_open
        exposure_out[row] = market / equity if equity != 0.0 else 0.0

    return (
        trades,
        cnt[C_TRADES],
        fills,
        cnt[C_FILLS],
        equity_out,
        cash_out,
        positions_out,
        exposure_out,
        sleeve_out,
    )


# ---------------------------------------------------------------- steps of the loop
@njit(cache=True)
def _snapshot_nb(
    order: np.ndarray, cnt: np.ndarray, snapshot: np.ndarray
) -> int:  # pragma: no cover - compiled
    """Copy the open slots (opening order) so a step can close positions while walking them."""
    n = int(cnt[C_ORDER])
    for o in range(n):
        snapshot[o] = order[o]
    return n


@njit(cache=True)
def _market_value_nb(
    pos_i: np.ndarray, pos_f: np.ndarray, order: np.ndarray, cnt: np.ndarray, n_sleeves: int
) -> float:  # pragma: no cover - compiled
    """``sum(held * last_close)``, sleeve by sleeve, positions in opening order."""
    value = 0.0
    for s in range(n_sleeves):
        for o in range(cnt[C_ORDER]):
            c = order[o]
            if pos_i[c, I_SLEEVE] == s:
                value += pos_i[c, I_HELD] * pos_f[c, F_LAST_CLOSE]
    return value


@njit(cache=True)
def _touch_nb(pos_f: np.ndarray, c: int, high_t: float, low_t: float) -> None:  # pragma: no cover - compiled
    """Extend the MFE/MAE extremes with one full bar."""
    if high_t > pos_f[c, F_MAX_HIGH]:
        pos_f[c, F_MAX_HIGH] = high_t
    if low_t < pos_f[c, F_MIN_LOW]:
        pos_f[c, F_MIN_LOW] = low_t


@njit(cache=True)
def _buy_nb(
    pos_i: np.ndarray,
    pos_f: np.ndarray,
    trail: np.ndarray,
    levels: np.ndarray,
    trades: np.ndarray,
    cnt: np.ndarray,
    acct: np.ndarray,
    order: np.ndarray,
    held: np.ndarray,
    open_count: np.ndarray,
    s: int,
    j: int,
    t: int,
    shares: int,
    raw_price: float,
    hard_stop: float,
) -> int:  # pragma: no cover - compiled
    """Fill an entry of ``shares`` at ``raw_price`` (slippage added) against the cash left.

    Returns the slot of the new position, or -1 when cash allows 0 shares (no trade).
    """
    fill = raw_price * acct[A_BUY]
    shares = affordable_shares_nb(
        shares, acct[A_CASH], fill, acct[A_PER_SHARE], acct[A_PER_ORDER], acct[A_MIN]
    )
    if shares <= 0:
        return -1
    fee = commission_nb(shares, acct[A_PER_SHARE], acct[A_PER_ORDER], acct[A_MIN])
    acct[A_CASH] = acct[A_CASH] - (shares * fill + fee)
    c = 0
    while pos_i[c, I_ACTIVE] == 1:
        c += 1
    for col in range(N_I):
        pos_i[c, col] = 0
    pos_i[c, I_ACTIVE] = 1
    pos_i[c, I_SLEEVE] = s
    pos_i[c, I_SYMBOL] = j
    pos_i[c, I_ENTRY_SESSION] = t
    pos_i[c, I_ORIG_SHARES] = shares
    pos_i[c, I_HELD] = shares
    pos_i[c, I_PARTIAL_SESSION] = -1
    pos_i[c, I_TRADE] = cnt[C_TRADES]
    pos_f[c, F_ENTRY] = fill
    pos_f[c, F_INITIAL_STOP] = fill * (1.0 - hard_stop)
    pos_f[c, F_PEAK_CLOSE] = fill
    pos_f[c, F_PEAK_HIGH] = -np.inf
    pos_f[c, F_LAST_CLOSE] = np.nan
    pos_f[c, F_MAX_HIGH] = -np.inf
    pos_f[c, F_MIN_LOW] = np.inf
    pos_f[c, F_EXIT_VALUE] = 0.0
    pos_f[c, F_COMMISSION] = fee
    for r in range(trail.shape[1]):
        trail[c, r] = np.nan
        levels[c, r] = 0
    held[s, j] = True
    open_count[s] += 1
    order[cnt[C_ORDER]] = c
    cnt[C_ORDER] += 1

    rec = trades[cnt[C_TRADES]]
    rec["sleeve"] = s
    rec["symbol"] = j
    rec["entry_session"] = t
    rec["exit_session"] = -1
    rec["entry_price"] = fill
    rec["initial_stop"] = pos_f[c, F_INITIAL_STOP]
    rec["shares"] = shares
    rec["entry_commission"] = fee
    rec["closed"] = 0
    cnt[C_TRADES] += 1
    return c


@njit(cache=True)
def _sell_nb(
    pos_i: np.ndarray,
    pos_f: np.ndarray,
    trades: np.ndarray,
    fills: np.ndarray,
    cnt: np.ndarray,
    acct: np.ndarray,
    realised: np.ndarray,
    order: np.ndarray,
    held: np.ndarray,
    open_count: np.ndarray,
    c: int,
    t: int,
    shares: int,
    raw_price: float,
    reason: int,
) -> None:  # pragma: no cover - compiled
    """One exit fill of ``shares`` of slot ``c`` at ``raw_price`` (slippage taken off); 0 shares: nothing.

    Closes the position (trade record, slot, realised pnl) when no share is left.
    """
    if shares <= 0:
        return
    fill = raw_price * acct[A_SELL]
    fee = commission_nb(shares, acct[A_PER_SHARE], acct[A_PER_ORDER], acct[A_MIN])
    acct[A_CASH] = acct[A_CASH] + (shares * fill - fee)
    pos_f[c, F_EXIT_VALUE] += shares * fill
    pos_f[c, F_COMMISSION] += fee
    pos_i[c, I_HELD] -= shares
    rec = fills[cnt[C_FILLS]]
    rec["trade"] = pos_i[c, I_TRADE]
    rec["session"] = t
    rec["shares"] = shares
    rec["price"] = fill
    rec["reason"] = reason
    rec["commission"] = fee
    cnt[C_FILLS] += 1
    if pos_i[c, I_HELD] > 0:
        return
    # the final fill: close the trade and free the slot
    s = pos_i[c, I_SLEEVE]
    entry_value = pos_i[c, I_ORIG_SHARES] * pos_f[c, F_ENTRY]
    realised[s] += (pos_f[c, F_EXIT_VALUE] - entry_value) - pos_f[c, F_COMMISSION]
    trade = trades[pos_i[c, I_TRADE]]
    trade["exit_session"] = t
    trade["max_high"] = pos_f[c, F_MAX_HIGH]
    trade["min_low"] = pos_f[c, F_MIN_LOW]
    trade["closed"] = 1
    held[s, pos_i[c, I_SYMBOL]] = False
    open_count[s] -= 1
    pos_i[c, I_ACTIVE] = 0
    n = cnt[C_ORDER]
    k = 0
    while order[k] != c:
        k += 1
    for m in range(k, n - 1):
        order[m] = order[m + 1]
    cnt[C_ORDER] = n - 1


@njit(cache=True)
def _resting_level_nb(
    kinds: np.ndarray,
    params: np.ndarray,
    n: int,
    pos_i: np.ndarray,
    pos_f: np.ndarray,
    trail: np.ndarray,
    c: int,
    t: int,
) -> tuple[float, int]:  # pragma: no cover - compiled
    """Highest resting stop level of slot ``c`` at session ``t`` and its reason (0: none rests).

    Ties go to the rule listed first (only a strictly higher level replaces).
    """
    level = np.nan
    reason = 0
    entry = pos_f[c, F_ENTRY]
    taken = pos_i[c, I_PARTIAL_TAKEN]
    for r in range(n):
        kind = kinds[r]
        value = np.nan
        why = 0
        if kind == RULE_HARD_STOP:
            value = entry * (1.0 - params[r, P_A])
            why = REASON_HARD_STOP
        elif kind == RULE_BREAKEVEN and taken == 1:
            value = entry
            why = REASON_BREAKEVEN_STOP
        elif (
            kind == RULE_TRAIL
            and params[r, P_A] == 1.0
            and t > pos_i[c, I_ENTRY_SESSION]
            and (params[r, P_AFTER_PARTIAL] == 0.0 or taken == 1)
        ):
            value = trail[c, r]
            why = REASON_TRAILING_STOP
        if why != 0 and not np.isnan(value) and (reason == 0 or value > level):
            level = value
            reason = why
    return level, reason


@njit(cache=True)
def _queue_or_sell_nb(
    pos_i: np.ndarray,
    pos_f: np.ndarray,
    pq_shares: np.ndarray,
    pq_reason: np.ndarray,
    trades: np.ndarray,
    fills: np.ndarray,
    cnt: np.ndarray,
    acct: np.ndarray,
    realised: np.ndarray,
    order: np.ndarray,
    held: np.ndarray,
    open_count: np.ndarray,
    c: int,
    t: int,
    shares: int,
    price: float,
    reason: int,
    mode: int,
) -> None:  # pragma: no cover - compiled
    """A sale decided at the close: fill it now, queue it for the symbol's next open, or drop it (a
    forced END_OF_DATA / END_OF_TEST sale follows)."""
    if mode == SALE_AT_CLOSE:
        _sell_nb(
            pos_i,
            pos_f,
            trades,
            fills,
            cnt,
            acct,
            realised,
            order,
            held,
            open_count,
            c,
            t,
            shares,
            price,
            reason,
        )
        return
    if mode == SALE_DROP or shares <= 0:
        return
    q = pos_i[c, I_PQ_N]
    pq_shares[c, q] = shares
    pq_reason[c, q] = reason
    pos_i[c, I_PQ_N] = q + 1
    pos_i[c, I_PENDING] += shares


@njit(cache=True, inline="always")
def _close_rules_nb(
    kinds: np.ndarray,
    params: np.ndarray,
    n: int,
    pos_i: np.ndarray,
    pos_f: np.ndarray,
    trail: np.ndarray,
    levels: np.ndarray,
    pq_shares: np.ndarray,
    pq_reason: np.ndarray,
    trades: np.ndarray,
    fills: np.ndarray,
    cnt: np.ndarray,
    acct: np.ndarray,
    realised: np.ndarray,
    order: np.ndarray,
    held: np.ndarray,
    open_count: np.ndarray,
    c: int,
    t: int,
    j: int,
    close: np.ndarray,
    high: np.ndarray,
    low: np.ndarray,
    available: np.ndarray,
    ema_stack: np.ndarray,
    bars: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    scratch: np.ndarray,
    mode: int,
) -> None:  # pragma: no cover - compiled
    """Step 3 for slot ``c``: update the peaks, run the rules in order, fill or queue what they decide.

    ``bars`` is ``(first_bar, gap_ptr, gap_rows, sma_periods, atr_periods)``.
    """
    first_bar, gap_ptr, gap_rows, sma_periods, atr_periods = bars
    entry = pos_f[c, F_ENTRY]
    close_t = close[t, j]
    high_t = high[t, j]
    rose = close_t > pos_f[c, F_PEAK_CLOSE]
    if rose:
        pos_f[c, F_PEAK_CLOSE] = close_t
    if high_t > pos_f[c, F_PEAK_HIGH]:
        pos_f[c, F_PEAK_HIGH] = high_t
    peak_close = pos_f[c, F_PEAK_CLOSE]
    peak_high = pos_f[c, F_PEAK_HIGH]
    taken = pos_i[c, I_PARTIAL_TAKEN]
    exit_reason = 0

    for r in range(n):
        kind = kinds[r]
        if kind in (RULE_HARD_STOP, RULE_BREAKEVEN):
            continue
        if params[r, P_AFTER_PARTIAL] != 0.0 and taken == 0:
            continue
        if kind == RULE_SCALE_OUT:
            if _scale_out_nb(
                params,
                pos_i,
                pos_f,
                levels,
                pq_shares,
                pq_reason,
                trades,
                fills,
                cnt,
                acct,
                realised,
                order,
                held,
                open_count,
                c,
                r,
                t,
                close_t,
                mode,
            ):
                return  # nothing else happens at this close
            continue
        if kind == RULE_TRAIL:
            if params[r, P_A] == 1.0:
                continue  # a resting trail is checked intraday and recomputed after the rules
            if rose or params[r, P_B] == 1.0:
                level = _trail_level_at_nb(
                    params,
                    r,
                    peak_close,
                    entry,
                    close,
                    high,
                    low,
                    available,
                    atr_periods,
                    first_bar,
                    gap_ptr,
                    gap_rows,
                    scratch,
                    t,
                    j,
                )
                if not np.isnan(level) and (np.isnan(trail[c, r]) or level > trail[c, r]):
                    trail[c, r] = level
            armed = np.isnan(params[r, P_C]) or peak_close > entry * (1.0 + params[r, P_C])
            if armed and close_t < trail[c, r]:
                exit_reason = REASON_TRAILING_STOP
        elif kind == RULE_MA_BREAK:
            if (
                (np.isnan(params[r, P_B]) or close_t / entry - 1.0 < params[r, P_B])
                and (np.isnan(params[r, P_C]) or peak_high > entry * (1.0 + params[r, P_C]))
                and close_t
                < mean_at_nb(
                    close,
                    close,
                    close,
                    available,
                    sma_periods[int(params[r, P_A])],
                    False,
                    t,
                    j,
                    bars_before_nb(first_bar, gap_ptr, gap_rows, t, j),
                    scratch,
                )
            ):
                exit_reason = REASON_MA_BREAK
        elif kind == RULE_LOWER_CLOSE:
            if peak_close > entry * (1.0 + params[r, P_A]) and close_t < previous_at_nb(
                close, available, t, j
            ):
                exit_reason = REASON_LOWER_CLOSE
        elif kind == RULE_LOWER_HIGH:
            if peak_high > entry * (1.0 + params[r, P_A]) and high_t < previous_at_nb(high, available, t, j):
                exit_reason = REASON_LOWER_HIGH
        elif kind == RULE_EMA_BREAK:
            if close_t < ema_stack[int(params[r, P_A]), t, j]:
                exit_reason = REASON_EMA_BREAK
        elif kind == RULE_TIME_STOP:
            if t - pos_i[c, I_ENTRY_SESSION] >= params[r, P_A]:
                exit_reason = REASON_TIME_STOP
        elif kind == RULE_STOP_LOSS:
            if close_t <= entry * (1.0 - params[r, P_A]):
                exit_reason = REASON_STOP_LOSS
        elif kind == RULE_TARGET and close_t >= entry * (1.0 + params[r, P_A]):
            exit_reason = REASON_TARGET
        if exit_reason != 0:
            remaining = pos_i[c, I_HELD] - pos_i[c, I_PENDING]
            _queue_or_sell_nb(
                pos_i,
                pos_f,
                pq_shares,
                pq_reason,
                trades,
                fills,
                cnt,
                acct,
                realised,
                order,
                held,
                open_count,
                c,
                t,
                remaining,
                close_t,
                exit_reason,
                mode,
            )
            return

    _update_resting_trails_nb(
        kinds,
        params,
        n,
        pos_i,
        pos_f,
        trail,
        c,
        t,
        j,
        close,
        high,
        low,
        available,
        atr_periods,
        first_bar,
        gap_ptr,
        gap_rows,
        scratch,
    )


@njit(cache=True)
def _scale_out_nb(
    params: np.ndarray,
    pos_i: np.ndarray,
    pos_f: np.ndarray,
    levels: np.ndarray,
    pq_shares: np.ndarray,
    pq_reason: np.ndarray,
    trades: np.ndarray,
    fills: np.ndarray,
    cnt: np.ndarray,
    acct: np.ndarray,
    realised: np.ndarray,
    order: np.ndarray,
    held: np.ndarray,
    open_count: np.ndarray,
    c: int,
    r: int,
    t: int,
    close_t: float,
    mode: int,
) -> bool:  # pragma: no cover - compiled
    """Every level not yet taken with ``close / entry - 1 >= level`` sells ``min(floor(fraction *
    original), remaining)`` shares (0-share levels count as taken). True when any level fired."""
    profit = close_t / pos_f[c, F_ENTRY] - 1.0
    per_level = int(np.floor(params[r, P_A] * pos_i[c, I_ORIG_SHARES]))
    fired = False
    for i in range(int(params[r, P_B])):
        if (levels[c, r] >> i) & 1 or not profit >= params[r, P_LEVELS + i]:
            continue
        levels[c, r] |= 1 << i
        fired = True
        remaining = pos_i[c, I_HELD] - pos_i[c, I_PENDING]
        shares = per_level if per_level < remaining else remaining
        reason = int(params[r, P_LEVELS + MAX_LEVELS + i])
        _queue_or_sell_nb(
            pos_i,
            pos_f,
            pq_shares,
            pq_reason,
            trades,
            fills,
            cnt,
            acct,
            realised,
            order,
            held,
            open_count,
            c,
            t,
            shares,
            close_t,
            reason,
            mode,
        )
    if fired:
        pos_i[c, I_PARTIAL_TAKEN] = 1
        pos_i[c, I_PARTIAL_SESSION] = t
    return fired


@njit(cache=True, inline="always")
def _update_resting_trails_nb(
    kinds: np.ndarray,
    params: np.ndarray,
    n: int,
    pos_i: np.ndarray,
    pos_f: np.ndarray,
    trail: np.ndarray,
    c: int,
    t: int,
    j: int,
    close: np.ndarray,
    high: np.ndarray,
    low: np.ndarray,
    available: np.ndarray,
    atr_periods: np.ndarray,
    first_bar: np.ndarray,
    gap_ptr: np.ndarray,
    gap_rows: np.ndarray,
    scratch: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """Recompute resting trails (``basis='resting'``) from peak_high through t and ATR_t so they rest
    from the next session: at every close where the position stays open, and right after an entry
    filled at the close."""
    entry = pos_f[c, F_ENTRY]
    for r in range(n):
        if kinds[r] != RULE_TRAIL or params[r, P_A] != 1.0:
            continue
        if params[r, P_AFTER_PARTIAL] != 0.0 and pos_i[c, I_PARTIAL_TAKEN] == 0:
            continue
        level = _trail_level_at_nb(
            params,
            r,
            pos_f[c, F_PEAK_HIGH],
            entry,
            close,
            high,
            low,
            available,
            atr_periods,
            first_bar,
            gap_ptr,
            gap_rows,
            scratch,
            t,
            j,
        )
        if not np.isnan(level) and (np.isnan(trail[c, r]) or level > trail[c, r]):
            trail[c, r] = level


# ---------------------------------------------------------------- indicators, row-major
# The engine reads a handful of indicators at the positions it holds. These kernels compute them in
# one row-major pass over the (T, N) panel (no per-symbol re-layout), with **exactly** the operation
# sequence of ``core._indicator_kernels`` (each SMA the plain mean of its window, the EMA seeded by
# the SMA of the first n bars, true range with the previous bar's close), so the values are
# bit-identical to ``core.indicators`` (tests/regression/test_kernels_indicators.py proves it on the real
# data). Windows count each symbol's own bars; sessions without a bar are NaN.


@njit(cache=True)
def _sma_block_nb(
    x: np.ndarray,
    high: np.ndarray,
    low: np.ndarray,
    available: np.ndarray,
    n: int,
    true_range: bool,
    out: np.ndarray,
    j0: int,
    j1: int,
) -> None:  # pragma: no cover - compiled
    """``indicators.sma(x, n, available)`` of columns ``j0:j1`` into ``out`` (every cell written).

    With ``true_range`` the averaged values are the true ranges ``max(H - L, |H - C_prev|, |L - C_prev|)``
    (``x`` is then the close; ``H - L`` on a symbol's first bar), computed on the fly: the ATR. Each
    window is summed afresh from a ring of the symbol's last ``n`` values, oldest first.
    """
    n_rows = x.shape[0]
    width = j1 - j0
    ring = np.zeros((width, n))
    count = np.zeros(width, dtype=np.int64)
    prev = np.full(width, np.nan)  # true range: the symbol's previous close
    for t in range(n_rows):
        for b in range(width):
            j = j0 + b
            if not available[t, j]:
                out[t, j] = np.nan
                continue
            k = count[b]  # the bar's position in its symbol's history
            if true_range:
                v = high[t, j] - low[t, j]
                if k > 0:
                    up = abs(high[t, j] - prev[b])
                    down = abs(low[t, j] - prev[b])
                    if up > v:
                        v = up
                    if down > v:
                        v = down
                prev[b] = x[t, j]
            else:
                v = x[t, j]
            ring[b, k % n] = v
            count[b] = k + 1
            out[t, j] = np.nan
            if k + 1 >= n:
                total = 0.0
                for m in range(k + 1, k + 1 + n):  # oldest first: slot (k + 1) % n holds bar k - n + 1
                    w = ring[b, m % n]
                    if np.isnan(w):
                        total = np.nan
                        break
                    total += w
                out[t, j] = total / n


@njit(cache=True)
def _ema_block_nb(
    x: np.ndarray, available: np.ndarray, n: int, out: np.ndarray, j0: int, j1: int
) -> None:  # pragma: no cover - compiled
    """``indicators.ema(x, n, available)`` of columns ``j0:j1`` into ``out`` (every cell written)."""
    n_rows = x.shape[0]
    width = j1 - j0
    alpha = 2.0 / (n + 1.0)
    seed = np.zeros(width)
    prev = np.zeros(width)
    count = np.zeros(width, dtype=np.int64)
    for t in range(n_rows):
        for b in range(width):
            j = j0 + b
            out[t, j] = np.nan
            if not available[t, j]:
                continue
            k = count[b]
            if k < n:
                seed[b] += x[t, j]
                if k == n - 1:
                    prev[b] = seed[b] / n
                    out[t, j] = prev[b]
            else:
                prev[b] = alpha * x[t, j] + (1.0 - alpha) * prev[b]
                out[t, j] = prev[b]
            count[b] = k + 1


@njit(cache=True)
def _previous_block_nb(
    x: np.ndarray, available: np.ndarray, out: np.ndarray, j0: int, j1: int
) -> None:  # pragma: no cover - compiled
    """``indicators.previous_bar(x, available)`` of columns ``j0:j1`` into ``out``."""
    n_rows = x.shape[0]
    last = np.full(j1 - j0, np.nan)
    for t in range(n_rows):
        for b in range(j1 - j0):
            j = j0 + b
            if not available[t, j]:
                out[t, j] = np.nan
                continue
            out[t, j] = last[b]
            last[b] = x[t, j]


@njit(cache=True)
def _last_bar_block_nb(available: np.ndarray, out: np.ndarray, j0: int, j1: int) -> None:  # pragma: no cover
    """Session index of each symbol's last bar (-1 for a symbol without any), columns ``j0:j1``."""
    for j in range(j0, j1):
        out[j] = -1
    for t in range(available.shape[0]):
        for j in range(j0, j1):
            if available[t, j]:
                out[j] = t


@njit(cache=True)
def sma_rows_nb(x: np.ndarray, available: np.ndarray, n: int) -> np.ndarray:  # pragma: no cover - compiled
    """``indicators.sma(x, n, available)`` in one row-major pass."""
    out = np.empty(x.shape)
    _sma_block_nb(x, x, x, available, n, False, out, 0, x.shape[1])
    return out


@njit(cache=True)
def atr_rows_nb(
    high: np.ndarray, low: np.ndarray, close: np.ndarray, available: np.ndarray, n: int
) -> np.ndarray:  # pragma: no cover - compiled
    """``indicators.atr(high, low, close, available, n)``: simple mean of the last n true ranges."""
    out = np.empty(close.shape)
    _sma_block_nb(close, high, low, available, n, True, out, 0, close.shape[1])
    return out


def atr_rows(
    high: np.ndarray, low: np.ndarray, close: np.ndarray, available: np.ndarray, n: int
) -> np.ndarray:
    """``indicators.atr(high, low, close, available, n)`` (see :func:`atr_rows_nb`)."""
    return atr_rows_nb(high, low, close, available, n)


@njit(cache=True)
def ema_rows_nb(x: np.ndarray, available: np.ndarray, n: int) -> np.ndarray:  # pragma: no cover - compiled
    """``indicators.ema(x, n, available)``: alpha 2/(n+1), seeded by the SMA of the first n bars."""
    out = np.empty(x.shape)
    _ema_block_nb(x, available, n, out, 0, x.shape[1])
    return out


@njit(cache=True)
def previous_rows_nb(x: np.ndarray, available: np.ndarray) -> np.ndarray:  # pragma: no cover - compiled
    """``indicators.previous_bar(x, available)``: the value at the symbol's previous bar."""
    out = np.empty(x.shape)
    _previous_block_nb(x, available, out, 0, x.shape[1])
    return out


@njit(cache=True, parallel=True)
def indicator_stacks_nb(
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    available: np.ndarray,
    sma_periods: np.ndarray,
    ema_periods: np.ndarray,
    atr_periods: np.ndarray,
    sma_out: np.ndarray,
    ema_out: np.ndarray,
    atr_out: np.ndarray,
    prev_close_out: np.ndarray,
    prev_high_out: np.ndarray,
    last_bar_out: np.ndarray,
    want_prev_close: bool,
    want_prev_high: bool,
    n_blocks: int,
) -> None:  # pragma: no cover - compiled
    """Every indicator array one run reads, plus each symbol's last bar, in parallel over symbol blocks.

    ``sma_out[i]`` is the SMA of period ``sma_periods[i]`` (likewise EMA and ATR). Each block of
    columns runs the serial kernels above on its own symbols, so every value is computed with the very
    same operations as :func:`sma_rows_nb` and friends (bit-identical to ``core.indicators``); only the
    scheduling differs.
    """
    n_cols = close.shape[1]
    for blk in prange(n_blocks):
        j0 = blk * n_cols // n_blocks
        j1 = (blk + 1) * n_cols // n_blocks
        for i in range(sma_periods.shape[0]):
            _sma_block_nb(close, close, close, available, sma_periods[i], False, sma_out[i], j0, j1)
        for i in range(atr_periods.shape[0]):
            _sma_block_nb(close, high, low, available, atr_periods[i], True, atr_out[i], j0, j1)
        for i in range(ema_periods.shape[0]):
            _ema_block_nb(close, available, ema_periods[i], ema_out[i], j0, j1)
        if want_prev_close:
            _previous_block_nb(close, available, prev_close_out, j0, j1)
        if want_prev_high:
            _previous_block_nb(high, available, prev_high_out, j0, j1)
        _last_bar_block_nb(available, last_bar_out, j0, j1)
