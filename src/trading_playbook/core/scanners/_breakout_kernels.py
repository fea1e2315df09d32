"""Numba kernels of the ``daily_breakout`` scanner (RULES section 3): features, thresholds, ranking.

The panel is (T, N) row-major, so every kernel walks it session by session (rows read sequentially),
keeping per-symbol state. A symbol's bars are numbered ``p = 0, 1, ...`` in session order (its own
bars, sessions without a bar skipped: RULES section 8). The symbols are split into chunks of
consecutive symbols; each phase is one kernel call per chunk. The chunk kernels release the GIL
(``nogil``), so the scanner runs the chunks on Python threads: one compiled form serves one thread or
many (no ``parallel=True`` twin to compile), and chunks share nothing, so any split gives identical
results.

1. :func:`prepare_chunk_nb` (features, threshold-independent): SMA20, SMA50, the volume average (each
   the plain mean of its window, summed oldest first as
   :func:`~trading_playbook.core._indicator_kernels.window_mean_nb`, over ring buffers of each symbol's
   recent bars), the rolling high (exact whatever the algorithm) and RS; it keeps only the bars passing the trend rule (``close > SMA20 > SMA50``, the
   one condition without a threshold): the *candidates*, in session order then symbol order.
2. :func:`scan_chunk_nb` (thresholds): the other five conditions and the base search over the
   candidates, reading the base window from the panel rows just before the candidate's session.
3. :func:`rank_hits_nb`: the rank order (session ascending, then score desc, volume_ratio desc,
   symbol ascending): a stable insertion sort within each session; the scanner gathers the setup
   columns in that order with numpy.

The kernels allocate nothing (the scanner passes every array in, numpy-allocated): numba compiling
its array allocators for them cost seconds on a first run (issue 9, point 9).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from trading_playbook.core._jit import njit  # numba's; also: cache keys cover the kernels' other files
from trading_playbook.core.scanners._trend_sums import (
    RESEED,
    UNIT_ROUNDOFF,
    VOLUME_SUM_LIMIT,
    exact_volume,
    positive_finite,
)

__all__ = ["chunk_scratch", "prepare_chunk_nb", "rank_hits_nb", "scan_chunk_nb"]

TREND_FAST = 20  # SMA windows of the trend rule (RULES section 3, not parameters)
TREND_SLOW = 50


@njit(cache=True, error_model="numpy", nogil=True)
def prepare_chunk_nb(
    chunk: int,
    close: np.ndarray,
    raw_close: np.ndarray,
    high: np.ndarray,
    volume: np.ndarray,
    available: np.ndarray,
    symbol_bounds: np.ndarray,
    capacity_bounds: np.ndarray,
    high_lookback: int,
    volume_lookback: int,
    rs_lookback: int,
    n_candidates: np.ndarray,
    c_session: np.ndarray,
    c_symbol: np.ndarray,
    c_pos: np.ndarray,
    c_values: np.ndarray,
    rings: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    counters: np.ndarray,
    running: np.ndarray,
) -> None:  # pragma: no cover - numba
    """Candidates of the symbols ``symbol_bounds[chunk]:symbol_bounds[chunk + 1]``, session by session.

    Reads the row-major panel row by row (sequentially) and keeps each symbol's running state: ring
    buffers of its recent closes and volumes, running sums of the closes of the SMA windows with an
    error bound that decides the trend rule exactly (:mod:`._trend_sums`; a window is summed afresh,
    :func:`_ring_mean_nb`, only when a comparison is too close to call), the exact running sum of
    the volume average (summed afresh when a volume is not exactly summable), and the block maxima of
    the rolling high (van Herk/Gil-Werman: the max of the window is the max of the suffix of the
    previous block and the prefix of the current one, blocks of ``high_lookback`` own bars).
    Candidates go to ``capacity_bounds[chunk]:`` in session order, then symbol order;
    ``n_candidates[chunk]`` counts them. ``rings``, ``counters`` and ``running`` are the chunk's state,
    from :func:`chunk_scratch`.
    """
    n_sessions = close.shape[0]
    lo = symbol_bounds[chunk]
    hi = symbol_bounds[chunk + 1]
    ring_size = max(TREND_SLOW + 1, rs_lookback + 1)
    volume_size = volume_lookback + 1
    closes, volumes, highs, suffix = rings
    n_bars = counters[0]
    slot = counters[1]  # n_bars % ring_size
    volume_slot = counters[2]  # n_bars % volume_size
    high_slot = counters[3]  # n_bars % high_lookback
    last_bad_close = counters[4]  # last bar number whose close is not positive and finite (-1: none)
    last_inexact_volume = counters[5]  # last bar number whose volume is not exactly summable (-1: none)
    prefix_max = running[0]
    fast_sum, fast_err, slow_sum, slow_err = running[1], running[2], running[3], running[4]
    volume_sum = running[5]
    limit = VOLUME_SUM_LIMIT / (volume_lookback + 1)  # window + the newest: sums below 2^45 are exact
    q = capacity_bounds[chunk]
    for t in range(n_sessions):
        for j in range(lo, hi):
            if not available[t, j]:
                continue
            b = j - lo
            p = n_bars[b]
            n_bars[b] = p + 1
            c = close[t, j]
            k = slot[b]
            closes[k, b] = c
            slot[b] = 0 if k + 1 == ring_size else k + 1
            # running sums of the SMA windows' closes and bounds on their error (._trend_sums);
            # a close that is not positive and finite counts 0 and sends its windows to the plain sum
            good = positive_finite(c)
            if not good:
                last_bad_close[b] = p
            new = c if good else 0.0
            back = k - TREND_FAST
            old = closes[back + ring_size if back < 0 else back, b] if p >= TREND_FAST else 0.0
            first = fast_sum[b] + new
            fast = first - (old if positive_finite(old) else 0.0)
            fast_e = fast_err[b] + 4.0 * UNIT_ROUNDOFF * (abs(first) + abs(fast))
            back = k - TREND_SLOW
            old = closes[back + ring_size if back < 0 else back, b] if p >= TREND_SLOW else 0.0
            first = slow_sum[b] + new
            slow = first - (old if positive_finite(old) else 0.0)
            slow_e = slow_err[b] + 4.0 * UNIT_ROUNDOFF * (abs(first) + abs(slow))
            if fast_e > fast * RESEED:
                fast = _good_sum_nb(closes, b, k, min(p + 1, TREND_FAST))
                fast_e = 4.0 * TREND_FAST * UNIT_ROUNDOFF * fast
            if slow_e > slow * RESEED:
                slow = _good_sum_nb(closes, b, k, min(p + 1, TREND_SLOW))
                slow_e = 4.0 * TREND_SLOW * UNIT_ROUNDOFF * slow
            fast_sum[b], fast_err[b], slow_sum[b], slow_err[b] = fast, fast_e, slow, slow_e
            trend = False  # SMA50 undefined (fewer than 50 bars): the rule is false
            if p + 1 >= TREND_SLOW:
                too_close = last_bad_close[b] > p - TREND_SLOW
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
                    if c > fast_mean + fast_margin:
                        if fast_mean - fast_margin > slow_mean + slow_margin:
                            trend = True
                        elif not fast_mean + fast_margin <= slow_mean - slow_margin:
                            too_close = True
                    elif not c <= fast_mean - fast_margin:
                        too_close = True
                if too_close:  # the plain means themselves
                    sma_fast = _ring_mean_nb(closes, b, k, p, np.int64(TREND_FAST))
                    sma_slow = _ring_mean_nb(closes, b, k, p, np.int64(TREND_SLOW))
                    trend = c > sma_fast and sma_fast > sma_slow
            v = volume[t, j]
            kv = volume_slot[b]
            volumes[kv, b] = v
            volume_slot[b] = 0 if kv + 1 == volume_size else kv + 1
            # the volume average of the bars before p: the running sum is the plain sum while every
            # volume of the window is exactly summable; otherwise summed afresh for a candidate (the
            # value of another bar is never read)
            avg = np.nan
            if p >= volume_lookback:
                if last_inexact_volume[b] < p - volume_lookback:
                    avg = volume_sum[b] / volume_lookback
                elif trend:
                    before = kv - 1 if kv > 0 else volume_size - 1
                    avg = _ring_mean_nb(volumes, b, before, p - 1, volume_lookback)
            exact = exact_volume(v, limit)
            if not exact:
                last_inexact_volume[b] = p
            leaving = 0.0
            if p >= volume_lookback:
                old = volumes[kv + 1 if kv + 1 < volume_size else 0, b]  # bar p - volume_lookback
                leaving = old if exact_volume(old, limit) else 0.0
            volume_sum[b] = (volume_sum[b] + (v if exact else 0.0)) - leaving
            h = high[t, j]
            s = high_slot[b]
            high_slot[b] = 0 if s + 1 == high_lookback else s + 1
            highs[b, s] = h
            top = prefix_max[b]
            top = h if (s == 0 or h > top) else top
            prefix_max[b] = top
            if s == high_lookback - 1:  # block complete: its suffix maxima serve the next block
                m = h
                suffix[b, s] = m
                for i in range(s - 1, -1, -1):
                    if highs[b, i] > m:
                        m = highs[b, i]
                    suffix[b, i] = m
            elif p >= high_lookback:
                older = suffix[b, s + 1]
                top = older if older > top else top  # a select, not a branch to mispredict
            # written for every bar, kept (q advanced) only for a candidate: no branch to mispredict
            c_session[q] = t
            c_symbol[q] = j
            c_pos[q] = p
            c_values[q, 0] = c
            c_values[q, 1] = raw_close[t, j]
            c_values[q, 2] = v
            c_values[q, 3] = avg
            c_values[q, 4] = top
            back = k - rs_lookback
            prev = closes[back + ring_size if back < 0 else back, b]
            c_values[q, 5] = c / prev - 1.0 if p >= rs_lookback else np.nan
            q += 1 if trend else 0
    n_candidates[chunk] = q - capacity_bounds[chunk]


@njit(cache=True, error_model="numpy", nogil=True)
def _good_sum_nb(closes: np.ndarray, b: int, k: int, n: int) -> float:  # pragma: no cover - numba
    """The sum of the positive finite values among column ``b``'s last ``n`` ring values (newest at
    ``closes[k, b]``), oldest first: a running sum summed afresh."""
    size = closes.shape[0]
    m = k - n + 1
    if m < 0:
        m += size
    total = 0.0
    for _ in range(n):
        x = closes[m, b]
        total += x if positive_finite(x) else 0.0
        m += 1
        if m == size:
            m = 0
    return total


def chunk_scratch(
    width: int, high_lookback: int, volume_lookback: int, rs_lookback: int
) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray], np.ndarray, np.ndarray]:
    """The state :func:`prepare_chunk_nb` keeps for a chunk of ``width`` symbols (column ``b`` each).

    Ring buffers of their recent closes and volumes (symbols with the same history length share rows,
    so neighbours read the same cache lines), of their recent highs and the suffix maxima of the
    rolling high (one row per symbol: a block's suffix maxima are computed along one row); the bar
    counters, ring slots and the last bar numbers of values the running sums do not cover
    (``counters``: bars, close slot, volume slot, high slot, last bad close, last inexact volume);
    the rolling high's prefix maximum, the SMA windows' running sums and error bounds and the volume
    sum (``running``). Allocated by numpy, not in the kernel: numba compiling its allocators cost
    seconds on a first run.
    """
    ring_size = max(TREND_SLOW + 1, rs_lookback + 1)
    closes = np.ones((ring_size, width))  # read (and discarded) before a symbol has rs_lookback bars
    volumes = np.empty((volume_lookback + 1, width))
    highs = np.empty((width, high_lookback))
    suffix = np.empty((width, high_lookback))
    counters = np.zeros((6, width), dtype=np.int64)
    counters[4:] = -1
    running = np.zeros((6, width))
    return (closes, volumes, highs, suffix), counters, running


@njit(cache=True, error_model="numpy")
def _ring_mean_nb(
    ring: np.ndarray, b: int, k: int, p: int, n: int | np.integer[Any]
) -> float:  # pragma: no cover - numba
    """The plain mean of symbol column ``b``'s last ``n`` bars, the newest (bar number ``p``) in
    ``ring[k, b]``: summed oldest first, as
    :func:`~trading_playbook.core._indicator_kernels.window_mean_nb` (RULES section 8); NaN before
    ``n`` bars or when the window holds a NaN."""
    if p + 1 < n:
        return np.nan
    size = ring.shape[0]
    m = k - n + 1
    if m < 0:
        m += size
    total = 0.0
    for _ in range(n):
        x = ring[m, b]
        if np.isnan(x):
            return np.nan
        total += x
        m += 1
        if m == size:
            m = 0
    return float(total / n)


@njit(cache=True, error_model="numpy", nogil=True)
def scan_chunk_nb(
    chunk: int,
    high: np.ndarray,
    low: np.ndarray,
    available: np.ndarray,
    capacity_bounds: np.ndarray,
    n_candidates: np.ndarray,
    c_session: np.ndarray,
    c_symbol: np.ndarray,
    c_pos: np.ndarray,
    c_values: np.ndarray,
    thresholds: np.ndarray,
    bounds: np.ndarray,
    hit: np.ndarray,
    days: np.ndarray,
    base_high: np.ndarray,
    base_width: np.ndarray,
    h_values: np.ndarray,
    h_index: np.ndarray,
    n_hits: np.ndarray,
) -> None:  # pragma: no cover - numba
    """The chunk's candidates passing the five threshold conditions and the base search.

    ``thresholds`` = (min_price, max_distance_from_high, min_volume_ratio, max_base_width);
    ``bounds`` = (min_history, min_base_days, max_base_days). Hits go to ``capacity_bounds[chunk]:``
    (candidate ``hit[r]``, base ``days[r]``, ``base_high[r]``, ``base_width[r]``), ``n_hits[chunk]``
    counts them. Comparisons are literal and written so that a NaN makes the condition false. The base
    window "the L bars before t" walks the panel's rows up from ``t - 1``, skipping sessions without a
    bar of the symbol; candidates come in session order, so those rows are still in cache. The base
    search runs only for candidates closing above the high of the shortest base (a longer base only
    has a higher high, so this is a necessary condition).
    """
    min_price, max_distance, min_volume_ratio, max_width = (
        thresholds[0], thresholds[1], thresholds[2], thresholds[3],
    )  # fmt: skip
    first = max(bounds[0], 1) - 1
    min_base_days = bounds[1]
    max_base_days = bounds[2]
    start = capacity_bounds[chunk]
    r = start
    for q in range(start, start + n_candidates[chunk]):
        p = c_pos[q]
        c = c_values[q, 0]
        top = c_values[q, 4]
        avg = c_values[q, 3]
        # the cheap conditions combined without short-circuits: one branch instead of four
        cheap = (
            (p >= first)
            & (c_values[q, 1] >= min_price)
            & ((top - c) / top <= max_distance)
            & (avg > 0.0)
            & (c_values[q, 2] >= min_volume_ratio * avg)
        )
        if not cheap:
            continue
        longest = min(max_base_days, p)  # never before the symbol's first bar
        if longest < min_base_days:
            continue
        j = c_symbol[q]
        row = c_session[q] - 1
        while not available[row, j]:
            row -= 1
        hi = high[row, j]
        lo = low[row, j]
        if not c > hi:  # the close must top every high of the base: stop at the first that it does not
            continue
        for _ in range(min_base_days - 1):
            row -= 1
            while not available[row, j]:
                row -= 1
            hi = max(hi, high[row, j])
            lo = min(lo, low[row, j])
            if not c > hi:
                break
        if not c > hi:
            continue
        width = (hi - lo) / hi
        if not width <= max_width:
            continue
        length = min_base_days
        while length < longest:
            row -= 1
            while not available[row, j]:
                row -= 1
            new_hi = max(hi, high[row, j])
            new_lo = min(lo, low[row, j])
            new_width = (new_hi - new_lo) / new_hi
            if not new_width <= max_width:
                break
            hi, lo, width = new_hi, new_lo, new_width
            length += 1
        if not c > hi:
            continue
        hit[r] = q
        days[r] = length
        base_high[r] = hi
        base_width[r] = width
        h_values[r, 0] = c
        h_values[r, 1] = (top - c) / top
        h_values[r, 2] = c_values[q, 2] / avg
        h_values[r, 3] = c_values[q, 5]
        h_index[r, 0] = c_session[q]
        h_index[r, 1] = j
        r += 1
    n_hits[chunk] = r - start


@njit(cache=True, error_model="numpy")
def _score_nb(
    distance: float, volume_ratio: float, days: int, width: float, rs: float
) -> float:  # pragma: no cover
    """The score table of :mod:`._breakout_score` for a setup (trend always holds: 1.5 points)."""
    near = 1.5 if distance <= 0.15 else (0.75 if distance <= 0.25 else 0.0)
    vol = 2.0 if volume_ratio >= 2.0 else (1.0 if volume_ratio >= 1.2 else 0.0)
    length = 1.5 if 15 <= days <= 60 else (0.75 if 7 <= days <= 90 else 0.0)
    tight = 1.5 if width <= 0.05 else (1.0 if width <= 0.08 else (0.5 if width <= 0.12 else 0.0))
    strength = 2.0 if rs >= 0.15 else (1.0 if rs >= 0.10 else 0.0)
    total = 1.5 + near + vol + length + tight + strength
    return min(total, 10.0)


@njit(cache=True, error_model="numpy")
def rank_hits_nb(
    capacity_bounds: np.ndarray,
    n_hits: np.ndarray,
    days: np.ndarray,
    base_width: np.ndarray,
    h_values: np.ndarray,
    h_index: np.ndarray,
    n_sessions: int,
    pointer: np.ndarray,
    source: np.ndarray,
    score: np.ndarray,
    volume_ratio: np.ndarray,
) -> None:  # pragma: no cover - numba
    """The hits in rank order (session ascending, then score desc, volume_ratio desc, symbol
    ascending): ``source[row]`` is the hit at ``row``, with its ``score`` and ``volume_ratio``.

    Hit ``r`` has ``h_index[r]`` = (session, symbol) and ``h_values[r]`` = (close, distance from the
    high, volume ratio, RS). Each chunk's hits are in session order, then symbol order, and chunks hold
    ascending symbol ranges: taking each session's hits chunk after chunk lists its symbols in ascending
    order; a stable insertion sort by (score desc, volume_ratio desc) then gives the rank order.
    ``pointer`` (each chunk's next hit) starts at ``capacity_bounds[:-1]``; the outputs hold
    ``n_hits.sum()`` rows.
    """
    n_chunks = n_hits.shape[0]
    row = 0
    for t in range(n_sessions):
        first = row
        for chunk in range(n_chunks):
            end = capacity_bounds[chunk] + n_hits[chunk]
            r = pointer[chunk]
            while r < end and h_index[r, 0] == t:
                ratio = h_values[r, 2]
                s = _score_nb(h_values[r, 1], ratio, days[r], base_width[r], h_values[r, 3])
                # insertion: after every earlier row of the session ranking at least as high
                b = row
                while b > first and (s > score[b - 1] or (s == score[b - 1] and ratio > volume_ratio[b - 1])):
                    source[b] = source[b - 1]
                    score[b] = score[b - 1]
                    volume_ratio[b] = volume_ratio[b - 1]
                    b -= 1
                source[b] = r
                score[b] = s
                volume_ratio[b] = ratio
                row += 1
                r += 1
            pointer[chunk] = r
