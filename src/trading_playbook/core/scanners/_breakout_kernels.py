"""Numba kernel of the ``daily_breakout`` threshold phase (RULES section 3).

Works on the bar layout of :class:`trading_playbook.core.indicators.BarLayout`: symbol ``j``'s bars are
``offsets[j]:offsets[j + 1]`` of every flat array, in session order, so "the L bars t-L..t-1" of a
symbol are simply the L flat positions before ``k``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["breakout_nb"]


@njit(cache=True)
def breakout_nb(
    offsets: np.ndarray,
    close: np.ndarray,
    raw_close: np.ndarray,
    high: np.ndarray,
    low: np.ndarray,
    volume: np.ndarray,
    sma_fast: np.ndarray,
    sma_slow: np.ndarray,
    high_max: np.ndarray,
    avg_volume: np.ndarray,
    min_price: float,
    min_history: int,
    max_distance_from_high: float,
    min_volume_ratio: float,
    min_base_days: int,
    max_base_days: int,
    max_base_width: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:  # pragma: no cover - numba
    """Bars passing all six conditions: ``(bar, base_days, base_high, base_width)``, in layout order.

    Comparisons are literal and written so that a NaN makes the condition false. The cheap conditions
    run first; the base search runs only for bars that pass them and that close above the high of the
    shortest base (a longer base only has a higher high, so this is a necessary condition).
    """
    n_bars = close.shape[0]
    hit = np.empty(n_bars, dtype=np.int64)
    days = np.empty(n_bars, dtype=np.int64)
    base_high = np.empty(n_bars)
    base_width = np.empty(n_bars)
    count = 0
    for j in range(offsets.shape[0] - 1):
        start, stop = offsets[j], offsets[j + 1]
        for k in range(start + max(min_history, 1) - 1, stop):
            c = close[k]
            if not raw_close[k] >= min_price:
                continue
            if not (c > sma_fast[k] and sma_fast[k] > sma_slow[k]):
                continue
            top = high_max[k]
            if not (top - c) / top <= max_distance_from_high:
                continue
            avg = avg_volume[k]
            if not (avg > 0.0 and volume[k] >= min_volume_ratio * avg):
                continue
            longest = min(max_base_days, k - start)  # never before the symbol's first bar
            if longest < min_base_days:
                continue
            hi = high[k - 1]
            lo = low[k - 1]
            for i in range(k - min_base_days, k - 1):
                hi = max(hi, high[i])
                lo = min(lo, low[i])
            if not c > hi:
                continue
            width = (hi - lo) / hi
            if not width <= max_base_width:
                continue
            length = min_base_days
            while length < longest:
                i = k - length - 1
                new_hi = max(hi, high[i])
                new_lo = min(lo, low[i])
                new_width = (new_hi - new_lo) / new_hi
                if not new_width <= max_base_width:
                    break
                hi, lo, width = new_hi, new_lo, new_width
                length += 1
            if not c > hi:
                continue
            hit[count] = k
            days[count] = length
            base_high[count] = hi
            base_width[count] = width
            count += 1
    return hit[:count], days[:count], base_high[:count], base_width[:count]
