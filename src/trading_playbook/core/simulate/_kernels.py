"""Numba kernels of the fast engine: the whole session loop of RULES section 4 in one compiled call.

Everything here takes arrays and scalars only. :mod:`trading_playbook.core.simulate.fast` encodes the
sleeves (exit rule programs, sizers, setups) into the arrays below, runs :func:`simulate_nb` and decodes
its structured records into :class:`~trading_playbook.core.types.Trade` objects.

Encoding
--------
Exit rules: ``rule_kind[s, r]`` (the ``RULE_*`` codes) and ``rule_params[s, r, :]`` (the ``P_*`` columns),
``n_rules[s]`` rules for sleeve ``s``, interpreted in order exactly as ``core.exits.spec`` documents.
Sizers: ``sizer_kind[s]`` (the ``SIZER_*`` codes) and ``sizer_params[s, :]``.
Setups: every sleeve's setups concatenated, ``setup_ptr[s, t]:setup_ptr[s, t + 1]`` are the rows of sleeve
``s`` at session ``t`` in rank order.

State
-----
Open positions live in a pool of ``sum(max_positions)`` slots (open + pending entries never exceed a
sleeve's ``max_positions``): ``pos_i`` / ``pos_f`` hold the integer / float state columns ``I_*`` / ``F_*``,
``trail[c, r]`` the trail of rule ``r`` (NaN = undefined), ``levels[c, r]`` a bit mask of the scale-out
levels taken, ``pq_shares`` / ``pq_reason`` the exits queued for the next open (``exit_fill='next_open'``).

Arithmetic follows the reference engine's contract (``core/simulate/reference.py``) operation by
operation, so both engines take every literal comparison of RULES section 8 the same way.
"""

from __future__ import annotations

import numpy as np
from numba import njit

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

P_AFTER_PARTIAL = 0  # every rule: 1.0 = inactive until a partial was taken on an earlier session
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
N_F = 7

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
                return value * peak
            return peak - value * atr_value
    return np.nan


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


# ---------------------------------------------------------------- the kernel
@njit(cache=True)
def simulate_nb(
    open_: np.ndarray,
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    available: np.ndarray,
    last_bar: np.ndarray,
    sma_stack: np.ndarray,
    ema_stack: np.ndarray,
    atr_stack: np.ndarray,
    prev_close: np.ndarray,
    prev_high: np.ndarray,
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
    sizer_atr: np.ndarray,
    setup_ptr: np.ndarray,
    setup_symbol: np.ndarray,
    setup_reference: np.ndarray,
    setup_stop: np.ndarray,
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
):  # type: ignore[no-untyped-def]  # pragma: no cover - compiled
    """Run the session loop over sessions ``start..end`` (inclusive) of the panel arrays.

    Returns ``(trades, n_trades, fills, n_fills, equity, cash, positions, exposure, sleeve_equity)``;
    the curves have one row per session ``start..end``, ``sleeve_equity`` is (sleeves, sessions).
    """
    n_symbols = open_.shape[1]
    n_sleeves = rule_kind.shape[0]
    max_r = rule_kind.shape[1]
    capacity = 0
    for s in range(n_sleeves):
        capacity += max_positions[s]

    pos_i = np.zeros((capacity, N_I), dtype=np.int64)
    pos_f = np.zeros((capacity, N_F), dtype=np.float64)
    trail = np.full((capacity, max_r), np.nan)
    levels = np.zeros((capacity, max_r), dtype=np.int64)
    pq_shares = np.zeros((capacity, queue_capacity), dtype=np.int64)
    pq_reason = np.zeros((capacity, queue_capacity), dtype=np.int64)

    # pending entries, in the order they were queued (sleeve by sleeve, rank order)
    pe_sleeve = np.zeros(capacity, dtype=np.int64)
    pe_symbol = np.zeros(capacity, dtype=np.int64)
    pe_shares = np.zeros(capacity, dtype=np.int64)
    n_pe = 0

    held = np.zeros((n_sleeves, n_symbols), dtype=np.bool_)  # held or pending entry, per sleeve
    open_count = np.zeros(n_sleeves, dtype=np.int64)
    pending_count = np.zeros(n_sleeves, dtype=np.int64)
    sleeve_flow = np.zeros(n_sleeves)  # cash flows of each sleeve (sells - buys - commissions)

    trades = np.zeros(trade_capacity, dtype=trade_dt)
    fills = np.zeros(fill_capacity, dtype=fill_dt)
    n_trades = 0
    n_fills = 0

    n_out = end - start + 1
    equity_out = np.zeros(n_out)
    cash_out = np.zeros(n_out)
    positions_out = np.zeros(n_out, dtype=np.int64)
    exposure_out = np.zeros(n_out)
    sleeve_out = np.zeros((n_sleeves, n_out))

    cash = starting_capital
    sell_factor = 1.0 - slippage
    buy_factor = 1.0 + slippage

    for t in range(start, end + 1):
        last = t == end

        # ---- 1. open: pending exits (every sleeve), then pending entries in queue order
        for c in range(capacity):
            if pos_i[c, I_ACTIVE] == 0 or pos_i[c, I_PQ_N] == 0:
                continue
            j = pos_i[c, I_SYMBOL]
            if not available[t, j]:
                continue  # waits for the symbol's next bar
            _touch_nb(pos_f, c, high[t, j], low[t, j])
            price = open_[t, j] * sell_factor
            for q in range(pos_i[c, I_PQ_N]):
                cash, n_fills = _sell_nb(
                    pos_i,
                    pos_f,
                    trades,
                    fills,
                    n_fills,
                    sleeve_flow,
                    c,
                    t,
                    pq_shares[c, q],
                    price,
                    pq_reason[c, q],
                    cash,
                    per_share,
                    per_order,
                    commission_min,
                )
            pos_i[c, I_PQ_N] = 0
            pos_i[c, I_PENDING] = 0
            if pos_i[c, I_HELD] == 0:
                _close_slot_nb(pos_i, pos_f, trades, held, open_count, c, t)

        for k in range(n_pe):
            s = pe_sleeve[k]
            j = pe_symbol[k]
            pending_count[s] -= 1
            held[s, j] = False
            if not available[t, j]:
                continue  # no bar at the next open: cancelled
            price = open_[t, j] * buy_factor
            shares = affordable_shares_nb(pe_shares[k], cash, price, per_share, per_order, commission_min)
            if shares <= 0:
                continue
            cash, n_trades, n_fills, _ = _open_nb(
                pos_i,
                pos_f,
                trail,
                levels,
                trades,
                fills,
                n_trades,
                n_fills,
                sleeve_flow,
                held,
                open_count,
                s,
                j,
                t,
                shares,
                price,
                hard_stop[s],
                high[t, j],
                low[t, j],
                cash,
                per_share,
                per_order,
                commission_min,
            )
        n_pe = 0

        # ---- 2. intraday resting stops
        for c in range(capacity):
            if pos_i[c, I_ACTIVE] == 0:
                continue
            j = pos_i[c, I_SYMBOL]
            if not available[t, j]:
                continue
            _touch_nb(pos_f, c, high[t, j], low[t, j])
            s = pos_i[c, I_SLEEVE]
            level, reason = _resting_level_nb(
                rule_kind[s], rule_params[s], n_rules[s], pos_i, pos_f, trail, c, t
            )
            if reason != 0 and low[t, j] <= level:
                fill_at = open_[t, j] if open_[t, j] < level else level
                cash, n_fills = _sell_nb(
                    pos_i,
                    pos_f,
                    trades,
                    fills,
                    n_fills,
                    sleeve_flow,
                    c,
                    t,
                    pos_i[c, I_HELD],
                    fill_at * sell_factor,
                    reason,
                    cash,
                    per_share,
                    per_order,
                    commission_min,
                )
                _close_slot_nb(pos_i, pos_f, trades, held, open_count, c, t)

        # ---- 3. close rules, END_OF_DATA, END_OF_TEST
        for c in range(capacity):
            if pos_i[c, I_ACTIVE] == 0:
                continue
            j = pos_i[c, I_SYMBOL]
            if not available[t, j]:
                continue
            s = pos_i[c, I_SLEEVE]
            pos_f[c, F_LAST_CLOSE] = close[t, j]
            final = last or last_bar[j] == t
            queue = exit_at_next_open and not final
            cash, n_fills = _close_rules_nb(
                rule_kind[s],
                rule_params[s],
                n_rules[s],
                pos_i,
                pos_f,
                trail,
                levels,
                pq_shares,
                pq_reason,
                trades,
                fills,
                n_fills,
                sleeve_flow,
                c,
                t,
                j,
                close,
                high,
                sma_stack,
                ema_stack,
                atr_stack,
                prev_close,
                prev_high,
                queue,
                cash,
                sell_factor,
                per_share,
                per_order,
                commission_min,
            )
            if pos_i[c, I_HELD] > 0 and final:
                reason = REASON_END_OF_TEST if last else REASON_END_OF_DATA
                pos_i[c, I_PQ_N] = 0
                pos_i[c, I_PENDING] = 0
                cash, n_fills = _sell_nb(
                    pos_i,
                    pos_f,
                    trades,
                    fills,
                    n_fills,
                    sleeve_flow,
                    c,
                    t,
                    pos_i[c, I_HELD],
                    close[t, j] * sell_factor,
                    reason,
                    cash,
                    per_share,
                    per_order,
                    commission_min,
                )
            if pos_i[c, I_HELD] == 0:
                _close_slot_nb(pos_i, pos_f, trades, held, open_count, c, t)

        # ---- 4. mark (the decision values of the scan)
        market = 0.0
        for c in range(capacity):
            if pos_i[c, I_ACTIVE] == 1:
                market += pos_i[c, I_HELD] * pos_f[c, F_LAST_CLOSE]
        decision_equity = cash + market
        decision_cash = cash

        # ---- 5. scan and queue (or fill at the close); no scan on the last session
        if not last:
            for s in range(n_sleeves):
                free = max_positions[s] - open_count[s] - pending_count[s]
                if free <= 0:
                    continue
                sleeve_equity = decision_equity * weight[s]
                sleeve_cash = decision_cash * weight[s]
                for row in range(setup_ptr[s, t], setup_ptr[s, t + 1]):
                    if free <= 0:
                        break
                    j = setup_symbol[row]
                    if held[s, j]:
                        continue
                    shares = size_setup_nb(
                        sizer_kind[s],
                        sizer_params[s],
                        sleeve_equity,
                        sleeve_cash,
                        setup_reference[row],
                        setup_stop[row],
                        sizer_atr[row],
                    )
                    if shares <= 0:
                        continue  # sized to 0: takes no slot
                    free -= 1
                    if not entry_at_close:
                        pe_sleeve[n_pe] = s
                        pe_symbol[n_pe] = j
                        pe_shares[n_pe] = shares
                        n_pe += 1
                        pending_count[s] += 1
                        held[s, j] = True
                        continue
                    price = close[t, j] * buy_factor
                    shares = affordable_shares_nb(shares, cash, price, per_share, per_order, commission_min)
                    if shares <= 0:
                        continue  # the slot was used for this evening
                    cash, n_trades, n_fills, c_new = _open_nb(
                        pos_i,
                        pos_f,
                        trail,
                        levels,
                        trades,
                        fills,
                        n_trades,
                        n_fills,
                        sleeve_flow,
                        held,
                        open_count,
                        s,
                        j,
                        t,
                        shares,
                        price,
                        hard_stop[s],
                        high[t, j],
                        low[t, j],
                        cash,
                        per_share,
                        per_order,
                        commission_min,
                    )
                    pos_f[c_new, F_LAST_CLOSE] = close[t, j]
                    _update_resting_trails_nb(
                        rule_kind[s], rule_params[s], n_rules[s], pos_i, pos_f, trail, c_new, t, j, atr_stack
                    )

        # ---- the equity row, after every fill of the session
        row_i = t - start
        market = 0.0
        n_open = 0
        for s in range(n_sleeves):
            sleeve_out[s, row_i] = weight[s] * starting_capital + sleeve_flow[s]
        for c in range(capacity):
            if pos_i[c, I_ACTIVE] == 1:
                value = pos_i[c, I_HELD] * pos_f[c, F_LAST_CLOSE]
                market += value
                n_open += 1
                sleeve_out[pos_i[c, I_SLEEVE], row_i] += value
        equity_out[row_i] = cash + market
        cash_out[row_i] = cash
        positions_out[row_i] = n_open
        exposure_out[row_i] = market / equity_out[row_i] if equity_out[row_i] != 0.0 else 0.0

    return (
        trades,
        n_trades,
        fills,
        n_fills,
        equity_out,
        cash_out,
        positions_out,
        exposure_out,
        sleeve_out,
    )


# ---------------------------------------------------------------- steps of the loop
@njit(cache=True)
def _touch_nb(pos_f: np.ndarray, c: int, high_t: float, low_t: float) -> None:  # pragma: no cover
    """Extend the MFE/MAE extremes with one full bar."""
    if high_t > pos_f[c, F_MAX_HIGH]:
        pos_f[c, F_MAX_HIGH] = high_t
    if low_t < pos_f[c, F_MIN_LOW]:
        pos_f[c, F_MIN_LOW] = low_t


@njit(cache=True)
def _open_nb(
    pos_i,
    pos_f,
    trail,
    levels,
    trades,
    fills,
    n_trades,
    n_fills,
    sleeve_flow,
    held,
    open_count,
    s,
    j,
    t,
    shares,
    price,
    hard_stop,
    high_t,
    low_t,
    cash,
    per_share,
    per_order,
    commission_min,
):  # type: ignore[no-untyped-def]  # pragma: no cover
    """Open a position of ``shares`` at fill ``price`` in a free slot; returns (cash, n_trades, n_fills)."""
    c = 0
    while pos_i[c, I_ACTIVE] == 1:
        c += 1
    fee = commission_nb(shares, per_share, per_order, commission_min)
    cost = shares * price
    cash = cash - cost - fee
    sleeve_flow[s] = sleeve_flow[s] - cost - fee
    for col in range(N_I):
        pos_i[c, col] = 0
    pos_i[c, I_ACTIVE] = 1
    pos_i[c, I_SLEEVE] = s
    pos_i[c, I_SYMBOL] = j
    pos_i[c, I_ENTRY_SESSION] = t
    pos_i[c, I_ORIG_SHARES] = shares
    pos_i[c, I_HELD] = shares
    pos_i[c, I_PARTIAL_SESSION] = -1
    pos_i[c, I_TRADE] = n_trades
    pos_f[c, F_ENTRY] = price
    pos_f[c, F_INITIAL_STOP] = price * (1.0 - hard_stop)
    pos_f[c, F_PEAK_CLOSE] = price
    pos_f[c, F_PEAK_HIGH] = high_t
    pos_f[c, F_LAST_CLOSE] = np.nan
    pos_f[c, F_MAX_HIGH] = high_t
    pos_f[c, F_MIN_LOW] = low_t
    for r in range(trail.shape[1]):
        trail[c, r] = np.nan
        levels[c, r] = 0
    held[s, j] = True
    open_count[s] += 1

    rec = trades[n_trades]
    rec["sleeve"] = s
    rec["symbol"] = j
    rec["entry_session"] = t
    rec["exit_session"] = -1
    rec["entry_price"] = price
    rec["initial_stop"] = pos_f[c, F_INITIAL_STOP]
    rec["shares"] = shares
    rec["entry_commission"] = fee
    rec["closed"] = 0
    return cash, n_trades + 1, n_fills, c


@njit(cache=True)
def _sell_nb(
    pos_i,
    pos_f,
    trades,
    fills,
    n_fills,
    sleeve_flow,
    c,
    t,
    shares,
    price,
    reason,
    cash,
    per_share,
    per_order,
    commission_min,
):  # type: ignore[no-untyped-def]  # pragma: no cover
    """Sell ``shares`` of slot ``c`` at fill ``price`` (slippage applied); record the fill."""
    fee = commission_nb(shares, per_share, per_order, commission_min)
    proceeds = shares * price
    cash = cash + proceeds - fee
    s = pos_i[c, I_SLEEVE]
    sleeve_flow[s] = sleeve_flow[s] + proceeds - fee
    pos_i[c, I_HELD] -= shares
    rec = fills[n_fills]
    rec["trade"] = pos_i[c, I_TRADE]
    rec["session"] = t
    rec["shares"] = shares
    rec["price"] = price
    rec["reason"] = reason
    rec["commission"] = fee
    return cash, n_fills + 1


@njit(cache=True)
def _close_slot_nb(pos_i, pos_f, trades, held, open_count, c, t):  # type: ignore[no-untyped-def]  # pragma: no cover
    """Free slot ``c`` after its final fill at session ``t``; write the trade's closing fields."""
    if pos_i[c, I_ACTIVE] == 0:
        return
    rec = trades[pos_i[c, I_TRADE]]
    rec["exit_session"] = t
    rec["max_high"] = pos_f[c, F_MAX_HIGH]
    rec["min_low"] = pos_f[c, F_MIN_LOW]
    rec["closed"] = 1
    s = pos_i[c, I_SLEEVE]
    held[s, pos_i[c, I_SYMBOL]] = False
    open_count[s] -= 1
    pos_i[c, I_ACTIVE] = 0


@njit(cache=True)
def _resting_level_nb(kinds, params, n, pos_i, pos_f, trail, c, t):  # type: ignore[no-untyped-def]  # pragma: no cover
    """Highest resting stop level of slot ``c`` at session ``t`` and its reason (0: none rests).

    Ties go to the rule listed first (strictly higher levels replace).
    """
    level = np.nan
    reason = 0
    entry = pos_f[c, F_ENTRY]
    taken = pos_i[c, I_PARTIAL_TAKEN]
    taken_at = pos_i[c, I_PARTIAL_SESSION]
    for r in range(n):
        kind = kinds[r]
        value = np.nan
        why = 0
        if kind == RULE_HARD_STOP:
            value = entry * (1.0 - params[r, P_A])
            why = REASON_HARD_STOP
        elif kind == RULE_BREAKEVEN:
            if taken == 1 and taken_at < t:
                value = entry
                why = REASON_BREAKEVEN_STOP
        elif kind == RULE_TRAIL:
            if (
                params[r, P_A] == 1.0
                and t > pos_i[c, I_ENTRY_SESSION]
                and rule_active_nb(params[r], taken, taken_at, t)
            ):
                value = trail[c, r]
                why = REASON_TRAILING_STOP
        if why != 0 and not np.isnan(value) and (reason == 0 or value > level):
            level = value
            reason = why
    return level, reason


@njit(cache=True)
def _close_rules_nb(
    kinds,
    params,
    n,
    pos_i,
    pos_f,
    trail,
    levels,
    pq_shares,
    pq_reason,
    trades,
    fills,
    n_fills,
    sleeve_flow,
    c,
    t,
    j,
    close,
    high,
    sma_stack,
    ema_stack,
    atr_stack,
    prev_close,
    prev_high,
    queue,
    cash,
    sell_factor,
    per_share,
    per_order,
    commission_min,
):  # type: ignore[no-untyped-def]  # pragma: no cover
    """Step 3 for slot ``c``: update the peaks, run the rules in order, fill or queue the exit."""
    entry = pos_f[c, F_ENTRY]
    close_t = close[t, j]
    high_t = high[t, j]
    new_peak = close_t > pos_f[c, F_PEAK_CLOSE]
    if new_peak:
        pos_f[c, F_PEAK_CLOSE] = close_t
    if high_t > pos_f[c, F_PEAK_HIGH]:
        pos_f[c, F_PEAK_HIGH] = high_t
    peak_close = pos_f[c, F_PEAK_CLOSE]
    peak_high = pos_f[c, F_PEAK_HIGH]
    taken = pos_i[c, I_PARTIAL_TAKEN]
    taken_at = pos_i[c, I_PARTIAL_SESSION]
    sessions_held = t - pos_i[c, I_ENTRY_SESSION]
    exit_reason = 0

    for r in range(n):
        kind = kinds[r]
        p = params[r]
        if kind == RULE_HARD_STOP or kind == RULE_BREAKEVEN:
            continue
        if not rule_active_nb(p, taken, taken_at, t):
            continue
        if kind == RULE_SCALE_OUT:
            fired = False
            profit = close_t / entry - 1.0
            n_levels = int(p[P_B])
            for i in range(n_levels):
                if (levels[c, r] >> i) & 1:
                    continue
                if profit >= p[P_LEVELS + i]:
                    levels[c, r] |= 1 << i
                    fired = True
                    remaining = pos_i[c, I_HELD] - pos_i[c, I_PENDING]
                    shares = int(np.floor(p[P_A] * pos_i[c, I_ORIG_SHARES]))
                    if shares > remaining:
                        shares = remaining
                    if shares <= 0:
                        continue  # a level selling 0 shares still counts as taken
                    why = int(p[P_LEVELS + MAX_LEVELS + i])
                    if queue:
                        q = pos_i[c, I_PQ_N]
                        pq_shares[c, q] = shares
                        pq_reason[c, q] = why
                        pos_i[c, I_PQ_N] = q + 1
                        pos_i[c, I_PENDING] += shares
                    else:
                        cash, n_fills = _sell_nb(
                            pos_i,
                            pos_f,
                            trades,
                            fills,
                            n_fills,
                            sleeve_flow,
                            c,
                            t,
                            shares,
                            close_t * sell_factor,
                            why,
                            cash,
                            per_share,
                            per_order,
                            commission_min,
                        )
            if fired:
                if taken == 0:
                    pos_i[c, I_PARTIAL_TAKEN] = 1
                    pos_i[c, I_PARTIAL_SESSION] = t
                return cash, n_fills  # nothing else happens at this close
            continue
        if kind == RULE_TRAIL:
            if p[P_A] == 1.0:
                continue  # resting trails are recomputed after the rules
            if new_peak or p[P_B] == 1.0:
                atr_value = np.nan
                if p[P_D] >= 0:
                    atr_value = atr_stack[int(p[P_D]), t, j]
                level = trail_level_nb(p, peak_close, entry, atr_value)
                if not np.isnan(level) and (np.isnan(trail[c, r]) or level > trail[c, r]):
                    trail[c, r] = level
            armed = np.isnan(p[P_C]) or peak_close > entry * (1.0 + p[P_C])
            if armed and close_t < trail[c, r]:
                exit_reason = REASON_TRAILING_STOP
                break
        elif kind == RULE_MA_BREAK:
            if not close_t < sma_stack[int(p[P_A]), t, j]:
                continue
            if not np.isnan(p[P_B]) and not close_t / entry - 1.0 < p[P_B]:
                continue
            if not np.isnan(p[P_C]) and not peak_high > entry * (1.0 + p[P_C]):
                continue
            exit_reason = REASON_MA_BREAK
            break
        elif kind == RULE_LOWER_CLOSE:
            if peak_close > entry * (1.0 + p[P_A]) and close_t < prev_close[t, j]:
                exit_reason = REASON_LOWER_CLOSE
                break
        elif kind == RULE_LOWER_HIGH:
            if peak_high > entry * (1.0 + p[P_A]) and high_t < prev_high[t, j]:
                exit_reason = REASON_LOWER_HIGH
                break
        elif kind == RULE_EMA_BREAK:
            if close_t < ema_stack[int(p[P_A]), t, j]:
                exit_reason = REASON_EMA_BREAK
                break
        elif kind == RULE_TIME_STOP:
            if sessions_held >= p[P_A]:
                exit_reason = REASON_TIME_STOP
                break
        elif kind == RULE_STOP_LOSS:
            if close_t <= entry * (1.0 - p[P_A]):
                exit_reason = REASON_STOP_LOSS
                break
        elif kind == RULE_TARGET:
            if close_t >= entry * (1.0 + p[P_A]):
                exit_reason = REASON_TARGET
                break

    if exit_reason != 0:
        remaining = pos_i[c, I_HELD] - pos_i[c, I_PENDING]
        if queue:
            q = pos_i[c, I_PQ_N]
            pq_shares[c, q] = remaining
            pq_reason[c, q] = exit_reason
            pos_i[c, I_PQ_N] = q + 1
            pos_i[c, I_PENDING] += remaining
        else:
            cash, n_fills = _sell_nb(
                pos_i,
                pos_f,
                trades,
                fills,
                n_fills,
                sleeve_flow,
                c,
                t,
                remaining,
                close_t * sell_factor,
                exit_reason,
                cash,
                per_share,
                per_order,
                commission_min,
            )
        return cash, n_fills

    _update_resting_trails_nb(kinds, params, n, pos_i, pos_f, trail, c, t, j, atr_stack)
    return cash, n_fills


@njit(cache=True)
def _update_resting_trails_nb(kinds, params, n, pos_i, pos_f, trail, c, t, j, atr_stack):  # type: ignore[no-untyped-def]  # pragma: no cover
    """Recompute resting trails (``basis='resting'``) from peak_high through t and ATR_t, for the next
    session; every close where the position stays open, and right after an entry at the close."""
    entry = pos_f[c, F_ENTRY]
    for r in range(n):
        p = params[r]
        if kinds[r] != RULE_TRAIL or p[P_A] != 1.0:
            continue
        if p[P_AFTER_PARTIAL] != 0.0 and pos_i[c, I_PARTIAL_TAKEN] == 0:
            continue
        atr_value = np.nan
        if p[P_D] >= 0:
            atr_value = atr_stack[int(p[P_D]), t, j]
        level = trail_level_nb(p, pos_f[c, F_PEAK_HIGH], entry, atr_value)
        if not np.isnan(level) and (np.isnan(trail[c, r]) or level > trail[c, r]):
            trail[c, r] = level
