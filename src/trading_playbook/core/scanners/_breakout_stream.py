"""The ``daily_breakout`` scanner's feature pass (RULES section 3): one symbol's bars at a time.

The panel is (T, N) row-major. A chunk of consecutive symbols (one per thread) is processed
``GATHER_SYMBOLS`` symbols at a time in two steps:

1. *gather*: the panel's rows are read in order, :data:`GATHER_SESSIONS` rows at a time, and each bar of
   the block's symbols is appended to that symbol's row of a small scratch table (close, as-traded close, high, low, volume,
   session): the symbol's own bars ``p = 0, 1, ...`` in session order, sessions without a bar skipped
   (RULES section 8);
2. *stream*: each symbol's bars are walked in order with the symbol's state in registers: the SMA20
   and SMA50 of the trend rule as running sums with an error bound that decides ``close > SMA20 >
   SMA50`` exactly (:mod:`._trend_sums`: a window is summed afresh, oldest value first, only when a
   comparison is too close to call), the exact running sum of the volume average (summed afresh when
   a volume is not exactly summable), the rolling high (van Herk/Gil-Werman: the max of the window is
   the max of the suffix of the previous block and the prefix of the current one, blocks of
   ``high_lookback`` own bars) and RS.

The bars passing the trend rule (the one condition without a threshold) are the *candidates*. With
``evaluate`` false they are written out (symbol order, then session order) for
:func:`~._breakout_kernels.scan_chunk_nb` to apply thresholds to, possibly many times (a sweep);
with ``evaluate`` true the five threshold conditions and the base search run right there on the
gathered rows (the base window is the symbol's previous bars, contiguous in the scratch table) and
only the hits are written, in the layout ``scan_chunk_nb`` writes them. Same comparisons on the same
values as ``scan_chunk_nb`` (a comparison whose outcome is already implied may be made earlier or
not at all: the conditions are pure): the same hits bit for bit.

Each symbol's state living in registers, and its windows in one contiguous row, is what makes this
faster than streaming the panel row by row with every symbol's state in ring buffers (random accesses
into megabytes of state for every bar).

The kernels allocate nothing (numpy allocates the scratch, :func:`stream_scratch`): numba compiling
its array allocators for them cost seconds on a first run (issue 9, point 9).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from trading_playbook.core._builtins_nb import max2, min2  # the builtins compile apart
from trading_playbook.core._jit import callee_kernel, njit  # numba's; also: cache keys cover other files
from trading_playbook.core.scanners._trend_sums import (
    RESEED,
    UNIT_ROUNDOFF,
    VOLUME_SUM_LIMIT,
    exact_volume,
    positive_finite,
)

__all__ = ["GATHER_SYMBOLS", "prepare_chunk_nb", "stream_scratch"]

TREND_FAST = 20  # SMA windows of the trend rule (RULES section 3, not parameters)
TREND_SLOW = 50
# Symbols gathered at a time: a row of the panel then gives each a few bytes of a cache line read
# anyway, and the scratch table (6 values a bar) stays in the last-level cache.
GATHER_SYMBOLS = 128
# Sessions gathered at a time: the tile's rows of the block (64 x 128 symbols x 41 bytes, about
# 340 KB) stay in cache while each symbol's bars are appended to its rows of the scratch in one run
# of stores, instead of one store to each of the block's 768 rows per session (about 11 % less CPU
# for the whole kernel on the shared data; 32 to 256 measured alike)
GATHER_SESSIONS = 64


def stream_scratch(
    n_symbols: int, n_sessions: int, high_lookback: int, evaluate: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The scratch of :func:`prepare_chunk_nb` for a chunk of ``n_symbols``: ``(values, sessions,
    suffix, count)``, for up to :data:`GATHER_SYMBOLS` symbols at a time.

    ``values[f, b, p]``: field ``f`` (close, as-traded close, high, volume, low) of bar ``p`` of the
    block's symbol ``b`` (low only with ``evaluate``); ``sessions[b, p]`` its session; ``suffix`` the
    suffix maxima of the rolling high's previous block; ``count[b]`` the symbol's bars. Allocated by numpy,
    not in the kernel.
    """
    width = max(1, min(n_symbols, GATHER_SYMBOLS))
    values = np.empty((5 if evaluate else 4, width, n_sessions))
    sessions = np.empty((width, n_sessions), dtype=np.int32)
    suffix = np.empty(max(high_lookback, 1))
    count = np.zeros(width, dtype=np.int64)
    return values, sessions, suffix, count


@njit(cache=True, error_model="numpy", nogil=True)
def prepare_chunk_nb(
    chunk: int,
    close: np.ndarray,
    raw_close: np.ndarray,
    high: np.ndarray,
    low: np.ndarray,
    volume: np.ndarray,
    available: np.ndarray,
    symbol_bounds: np.ndarray,
    capacity_bounds: np.ndarray,
    lookbacks: np.ndarray,
    thresholds: np.ndarray,
    bounds: np.ndarray,
    evaluate: bool,
    n_out: np.ndarray,
    o_session: np.ndarray,
    o_symbol: np.ndarray,
    o_pos: np.ndarray,
    o_values: np.ndarray,
    o_base: np.ndarray,
    o_days: np.ndarray,
    values: np.ndarray,
    sessions: np.ndarray,
    suffix: np.ndarray,
    count: np.ndarray,
) -> None:  # pragma: no cover - numba
    """Candidates (or, with ``evaluate``, hits) of the symbols ``symbol_bounds[chunk]:symbol_bounds[
    chunk + 1]``, written from row ``capacity_bounds[chunk]`` on; ``n_out[chunk]`` counts them.

    ``lookbacks`` = (high_lookback, volume_lookback, rs_lookback); ``thresholds`` = (min_price,
    max_distance_from_high, min_volume_ratio, max_base_width); ``bounds`` = (min_history,
    min_base_days, max_base_days). A candidate row holds its session and symbol (``o_session``, ``o_symbol``), ``o_pos``
    its bar number and ``o_values`` = (close, as-traded close, volume, volume average of the bars
    before, rolling high, RS). A hit row holds its session and symbol, ``o_values[:, :4]`` =
    (close, distance from the high, volume ratio, RS), ``o_base`` = (base high, base width) and
    ``o_days`` its base length. ``values``, ``sessions``, ``suffix``, ``count``: the scratch of
    :func:`stream_scratch`.
    """
    n_sessions = close.shape[0]
    lo = symbol_bounds[chunk]
    hi = symbol_bounds[chunk + 1]
    width = sessions.shape[0]
    q = capacity_bounds[chunk]
    for j0 in range(lo, hi, width):
        j1 = min2(j0 + width, hi)
        for b in range(j1 - j0):
            count[b] = 0
        # gather: the block's bars, symbol by symbol, a tile of sessions at a time (the tile's rows
        # stay in cache while each symbol's bars of the tile are appended in one run)
        for t0 in range(0, n_sessions, GATHER_SESSIONS):
            t1 = min2(t0 + GATHER_SESSIONS, n_sessions)
            for j in range(j0, j1):
                b = j - j0
                p = count[b]
                for t in range(t0, t1):
                    if available[t, j]:
                        values[0, b, p] = close[t, j]
                        values[1, b, p] = raw_close[t, j]
                        values[2, b, p] = high[t, j]
                        values[3, b, p] = volume[t, j]
                        if evaluate:
                            values[4, b, p] = low[t, j]
                        sessions[b, p] = t
                        p += 1
                count[b] = p
        for j in range(j0, j1):
            b = j - j0
            q = _symbol_nb(
                j, count[b], values[0, b], values[1, b], values[2, b], values[3, b],
                values[4, b] if evaluate else values[0, b], sessions[b], suffix, lookbacks, thresholds,
                bounds, evaluate, q, o_session, o_symbol, o_pos, o_values, o_base, o_days,
            )  # fmt: skip
    n_out[chunk] = q - capacity_bounds[chunk]


@callee_kernel()
def _symbol_nb(
    j: int,
    n: int,
    closes: np.ndarray,
    raw: np.ndarray,
    highs: np.ndarray,
    volumes: np.ndarray,
    lows: np.ndarray,
    session: np.ndarray,
    suffix: np.ndarray,
    lookbacks: np.ndarray,
    thresholds: np.ndarray,
    bounds: np.ndarray,
    evaluate: bool,
    q: int,
    o_session: np.ndarray,
    o_symbol: np.ndarray,
    o_pos: np.ndarray,
    o_values: np.ndarray,
    o_base: np.ndarray,
    o_days: np.ndarray,
) -> int:  # pragma: no cover - numba
    """Symbol ``j``'s ``n`` bars streamed (see :func:`prepare_chunk_nb`); returns the next free row."""
    high_lookback, volume_lookback, rs_lookback = lookbacks[0], lookbacks[1], lookbacks[2]
    limit = VOLUME_SUM_LIMIT / (volume_lookback + 1)  # window + the newest: sums below 2^45 are exact
    fast_sum = fast_err = slow_sum = slow_err = volume_sum = prefix_max = 0.0
    last_bad_close = -1  # last bar number whose close is not positive and finite
    last_inexact_volume = -1  # last bar number whose volume is not exactly summable
    s = 0  # p % high_lookback
    for p in range(n):
        c = closes[p]
        # running sums of the SMA windows' closes and bounds on their error (._trend_sums);
        # a close that is not positive and finite counts 0 and sends its windows to the plain sum
        good = positive_finite(c)
        if not good:
            last_bad_close = p
        new = c if good else 0.0
        old = closes[p - TREND_FAST] if p >= TREND_FAST else 0.0
        first = fast_sum + new
        fast = first - (old if positive_finite(old) else 0.0)
        fast_e = fast_err + 4.0 * UNIT_ROUNDOFF * (abs(first) + abs(fast))
        old = closes[p - TREND_SLOW] if p >= TREND_SLOW else 0.0
        first = slow_sum + new
        slow = first - (old if positive_finite(old) else 0.0)
        slow_e = slow_err + 4.0 * UNIT_ROUNDOFF * (abs(first) + abs(slow))
        if fast_e > fast * RESEED:
            fast = _good_sum_nb(closes, p, min2(p + 1, TREND_FAST))
            fast_e = 4.0 * TREND_FAST * UNIT_ROUNDOFF * fast
        if slow_e > slow * RESEED:
            slow = _good_sum_nb(closes, p, min2(p + 1, TREND_SLOW))
            slow_e = 4.0 * TREND_SLOW * UNIT_ROUNDOFF * slow
        fast_sum, fast_err, slow_sum, slow_err = fast, fast_e, slow, slow_e
        trend = False  # SMA50 undefined (fewer than 50 bars): the rule is false
        if p + 1 >= TREND_SLOW:
            too_close = last_bad_close > p - TREND_SLOW
            if not too_close:
                # the plain means lie within these margins of the running means
                fast_mean = fast / TREND_FAST
                fast_margin = (
                    2.0 * (TREND_FAST + 3) * UNIT_ROUNDOFF * (fast + fast_e) + 2.0 * fast_e
                ) / TREND_FAST
                slow_mean = slow / TREND_SLOW
                slow_margin = (
                    2.0 * (TREND_SLOW + 3) * UNIT_ROUNDOFF * (slow + slow_e) + 2.0 * slow_e
                ) / TREND_SLOW
                # decided without branches (the comparisons go either way about as often): true
                # when both hold with their margins, too close to call when neither they nor their
                # negations do
                above = c > fast_mean + fast_margin
                rising = fast_mean - fast_margin > slow_mean + slow_margin
                falling = fast_mean + fast_margin <= slow_mean - slow_margin
                below = c <= fast_mean - fast_margin
                trend = above & rising
                too_close = (above & ~rising & ~falling) | (~above & ~below)
            if too_close:  # the plain means themselves
                sma_fast = _window_mean_nb(closes, p, np.int64(TREND_FAST))
                sma_slow = _window_mean_nb(closes, p, np.int64(TREND_SLOW))
                trend = c > sma_fast and sma_fast > sma_slow
        v = volumes[p]
        # the volume average of the bars before p: the running sum is the plain sum while every
        # volume of the window is exactly summable; otherwise summed afresh for a candidate
        avg = np.nan
        if p >= volume_lookback:
            if last_inexact_volume < p - volume_lookback:
                avg = volume_sum / volume_lookback
            elif trend:
                avg = _window_mean_nb(volumes, p - 1, volume_lookback)
        exact = exact_volume(v, limit)
        if not exact:
            last_inexact_volume = p
        leaving = 0.0
        if p >= volume_lookback:
            old = volumes[p - volume_lookback]
            leaving = old if exact_volume(old, limit) else 0.0
        volume_sum = (volume_sum + (v if exact else 0.0)) - leaving
        h = highs[p]
        top = h if (s == 0 or h > prefix_max) else prefix_max
        prefix_max = top
        if s == high_lookback - 1:  # block complete: its suffix maxima serve the next block
            m = h
            suffix[s] = m
            for i in range(s - 1, -1, -1):
                x = highs[p - s + i]
                if x > m:
                    m = x
                suffix[i] = m
        elif p >= high_lookback:
            older = suffix[s + 1]
            top = older if older > top else top  # a select, not a branch to mispredict
        s = 0 if s + 1 == high_lookback else s + 1
        rs = c / closes[p - rs_lookback] - 1.0 if p >= rs_lookback else np.nan
        if evaluate:
            if trend:
                q = _evaluate_nb(
                    j,
                    p,
                    c,
                    raw[p],
                    v,
                    avg,
                    top,
                    rs,
                    highs,
                    lows,
                    session[p],
                    thresholds,
                    bounds,
                    q,
                    o_session,
                    o_symbol,
                    o_values,
                    o_base,
                    o_days,
                )
            continue
        # written for every bar, kept (q advanced) only for a candidate: no branch to mispredict
        o_session[q] = session[p]
        o_symbol[q] = j
        o_pos[q] = p
        o_values[q, 0] = c
        o_values[q, 1] = raw[p]
        o_values[q, 2] = v
        o_values[q, 3] = avg
        o_values[q, 4] = top
        o_values[q, 5] = rs
        q += 1 if trend else 0
    return q


@njit(cache=True, error_model="numpy", nogil=True, inline="always")
def _evaluate_nb(
    j: int,
    p: int,
    c: float,
    raw_close: float,
    v: float,
    avg: float,
    top: float,
    rs: float,
    highs: np.ndarray,
    lows: np.ndarray,
    t: int,
    thresholds: np.ndarray,
    bounds: np.ndarray,
    r: int,
    o_session: np.ndarray,
    o_symbol: np.ndarray,
    o_values: np.ndarray,
    o_base: np.ndarray,
    o_days: np.ndarray,
) -> int:  # pragma: no cover - numba
    """Candidate bar ``p`` (session ``t``) of symbol ``j`` through the five threshold conditions and
    the base search of :func:`~._breakout_kernels.scan_chunk_nb` (the same comparisons; the close
    above the previous high tested with the thresholds, and a base whose high reaches the close
    given up as soon as it does; the base window is ``highs``/``lows`` just before ``p``). Writes a
    hit to row ``r``; returns the next free row."""
    min_price, max_distance, min_volume_ratio, max_width = (
        thresholds[0], thresholds[1], thresholds[2], thresholds[3],
    )  # fmt: skip
    first = max2(bounds[0], 1) - 1
    min_base_days = bounds[1]
    max_base_days = bounds[2]
    cheap = (
        (p >= first)
        & (raw_close >= min_price)
        & ((top - c) / top <= max_distance)
        & (avg > 0.0)
        & (v >= min_volume_ratio * avg)
        & (c > highs[max2(p - 1, 0)])  # the base's first test (below), here to spare a branch
    )
    if not cheap:
        return r
    longest = min2(max_base_days, p)  # never before the symbol's first bar
    if longest < min_base_days:
        return r
    k = p - 1
    hi = highs[k]
    lo = lows[k]
    if not c > hi:  # the close must top every high of the base: stop at the first that it does not
        return r
    for _ in range(min_base_days - 1):
        k -= 1
        hi = max2(hi, highs[k])
        lo = min2(lo, lows[k])
        if not c > hi:
            break
    if not c > hi:
        return r
    width = (hi - lo) / hi
    if not width <= max_width:
        return r
    length = min_base_days
    while length < longest:
        k -= 1
        new_hi = max2(hi, highs[k])
        new_lo = min2(lo, lows[k])
        new_width = (new_hi - new_lo) / new_hi
        if not new_width <= max_width:
            break
        if not c > new_hi:  # the base's high only rises as it grows: the last test fails already
            return r
        hi, lo, width = new_hi, new_lo, new_width
        length += 1
    if not c > hi:
        return r
    o_days[r] = length
    o_base[r, 0] = hi
    o_base[r, 1] = width
    o_values[r, 0] = c
    o_values[r, 1] = (top - c) / top
    o_values[r, 2] = v / avg
    o_values[r, 3] = rs
    o_session[r] = t
    o_symbol[r] = j
    return r + 1


@callee_kernel()
def _good_sum_nb(closes: np.ndarray, p: int, n: int) -> float:  # pragma: no cover - numba
    """The sum of the positive finite values among bars ``p - n + 1 .. p``, oldest first: a running
    sum summed afresh."""
    total = 0.0
    for i in range(p - n + 1, p + 1):
        x = closes[i]
        total += x if positive_finite(x) else 0.0
    return total


@callee_kernel()
def _window_mean_nb(
    values: np.ndarray, p: int, n: int | np.integer[Any]
) -> float:  # pragma: no cover - numba
    """The plain mean of bars ``p - n + 1 .. p``: summed oldest first, as
    :func:`~trading_playbook.core._indicator_kernels.window_mean_nb` (RULES section 8); NaN before
    ``n`` bars or when the window holds a NaN."""
    if p + 1 < n:
        return np.nan
    total = 0.0
    for i in range(p - n + 1, p + 1):
        x = values[i]
        if np.isnan(x):
            return np.nan
        total += x
    return float(total / n)
