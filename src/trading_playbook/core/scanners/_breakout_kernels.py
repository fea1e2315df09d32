"""Numba kernels of the ``daily_breakout`` scanner (RULES section 3): thresholds and ranking.

The features (SMA20, SMA50, volume average, rolling high, RS and the trend rule) are streamed one
symbol at a time by :mod:`._breakout_stream`. The symbols are split into chunks of consecutive
symbols, one per thread; each phase is one kernel call per chunk. The chunk kernels release the GIL
(``nogil``), so the scanner runs the chunks on Python threads: one compiled form serves one thread or
many (no ``parallel=True`` twin to compile), and chunks share nothing, so any split gives identical
results.

1. :func:`~._breakout_stream.prepare_chunk_nb` (features, threshold-independent): the *candidates*,
   the bars passing the trend rule (``close > SMA20 > SMA50``, the one condition without a
   threshold), in symbol order then session order; or, for a single scan, the hits directly.
2. :func:`scan_chunk_nb` (thresholds, for prepared features: a sweep): the other five conditions and
   the base search over the candidates, reading the base window from the panel rows just before the
   candidate's session.
3. :func:`rank_hits_nb`: the rank order (session ascending, then score desc, volume_ratio desc,
   symbol ascending): the hits bucketed by session (a counting sort, stable) and a stable insertion
   sort within each session; the scanner gathers the setup columns in that order with numpy.

The kernels allocate nothing (the scanner passes every array in, numpy-allocated): numba compiling
its array allocators for them cost seconds on a first run (issue 9, point 9).
"""

from __future__ import annotations

import numpy as np

from trading_playbook.core._builtins_nb import max2, min2  # the builtins compile apart
from trading_playbook.core._jit import callee_kernel, njit  # numba's; also: cache keys cover other files

__all__ = ["rank_hits_nb", "scan_chunk_nb"]


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
    h_session: np.ndarray,
    h_symbol: np.ndarray,
    h_values: np.ndarray,
    h_base: np.ndarray,
    h_days: np.ndarray,
    n_hits: np.ndarray,
) -> None:  # pragma: no cover - numba
    """The chunk's candidates passing the five threshold conditions and the base search.

    ``thresholds`` = (min_price, max_distance_from_high, min_volume_ratio, max_base_width);
    ``bounds`` = (min_history, min_base_days, max_base_days). Hits go to ``capacity_bounds[chunk]:``
    in the layout of :func:`~._breakout_stream.prepare_chunk_nb`'s hits (session ``h_session[r]``,
    symbol ``h_symbol[r]``, (close, distance from the high, volume ratio, RS) ``h_values[r]``,
    (base high, base width) ``h_base[r]``, base length ``h_days[r]``), in candidate order; ``n_hits[chunk]``
    counts them. Comparisons are literal and written so that a NaN makes the condition false. The base
    window "the L bars before t" walks the panel's rows up from ``t - 1``, skipping sessions without a
    bar of the symbol; candidates come in session order, so those rows are still in cache. The base
    search runs only for candidates closing above the high of the shortest base (a longer base only
    has a higher high, so this is a necessary condition).
    """
    min_price, max_distance, min_volume_ratio, max_width = (
        thresholds[0], thresholds[1], thresholds[2], thresholds[3],
    )  # fmt: skip
    first = max2(bounds[0], 1) - 1
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
        longest = min2(max_base_days, p)  # never before the symbol's first bar
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
            hi = max2(hi, high[row, j])
            lo = min2(lo, low[row, j])
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
            new_hi = max2(hi, high[row, j])
            new_lo = min2(lo, low[row, j])
            new_width = (new_hi - new_lo) / new_hi
            if not new_width <= max_width:
                break
            hi, lo, width = new_hi, new_lo, new_width
            length += 1
        if not c > hi:
            continue
        h_days[r] = length
        h_base[r, 0] = hi
        h_base[r, 1] = width
        h_values[r, 0] = c
        h_values[r, 1] = (top - c) / top
        h_values[r, 2] = c_values[q, 2] / avg
        h_values[r, 3] = c_values[q, 5]
        h_session[r] = c_session[q]
        h_symbol[r] = j
        r += 1
    n_hits[chunk] = r - start


@callee_kernel()
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
    return min2(total, 10.0)


@njit(cache=True, error_model="numpy")
def rank_hits_nb(
    capacity_bounds: np.ndarray,
    n_hits: np.ndarray,
    h_session: np.ndarray,
    h_values: np.ndarray,
    h_base: np.ndarray,
    h_days: np.ndarray,
    start: np.ndarray,
    filled: np.ndarray,
    source: np.ndarray,
    score: np.ndarray,
    volume_ratio: np.ndarray,
) -> None:  # pragma: no cover - numba
    """The hits in rank order (session ascending, then score desc, volume_ratio desc, symbol
    ascending): ``source[row]`` is the hit at ``row``, with its ``score`` and ``volume_ratio``.

    Hit ``r`` of chunk ``c`` is row ``r`` in ``capacity_bounds[c]:capacity_bounds[c] + n_hits[c]``
    (layout of :func:`scan_chunk_nb`). Each chunk's hits are in symbol order (then session order)
    and chunks hold ascending symbol ranges, so bucketing the hits by session, chunk after chunk and
    in order (a stable counting sort), lists each session's symbols in ascending order; a stable
    insertion sort by (score desc, volume_ratio desc) within the session then gives the rank order.
    ``start`` (int64, sessions + 1) and ``filled`` (int64, sessions), zeros, are scratch; the outputs hold ``n_hits.sum()`` rows.
    """
    n_chunks = n_hits.shape[0]
    for chunk in range(n_chunks):
        for r in range(capacity_bounds[chunk], capacity_bounds[chunk] + n_hits[chunk]):
            start[h_session[r] + 1] += 1
    for t in range(1, start.shape[0]):
        start[t] += start[t - 1]
    # start[t] is now the first row of session t; each session's rows fill from there
    for chunk in range(n_chunks):
        for r in range(capacity_bounds[chunk], capacity_bounds[chunk] + n_hits[chunk]):
            t = h_session[r]
            first = start[t]
            row = first + filled[t]
            filled[t] += 1
            ratio = h_values[r, 2]
            s = _score_nb(h_values[r, 1], ratio, h_days[r], h_base[r, 1], h_values[r, 3])
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
