"""Each symbol's bars and the indicators the exit rules read, computed at the bars they are read.

The session loop reads SMA, ATR and previous-bar values only at the bars of the positions it holds, so
it computes each there from the few bars it depends on: the plain mean of the window, summed oldest
first (:func:`~trading_playbook.core._window_mean.window_mean_nb`), exactly as
:mod:`trading_playbook.core.indicators` computes it over the whole panel (RULES section 8).
``tests/regression/test_kernels_indicators.py`` proves them bit-identical at every bar of the real data.
Windows count the symbol's own bars: sessions without a bar are skipped.
"""

from __future__ import annotations

from typing import Any, cast

import numpy as np

from trading_playbook.core._builtins_nb import to_int  # int() compiles apart
from trading_playbook.core._jit import loop_kernel, njit  # also: cache keys cover the kernels' other files
from trading_playbook.core._window_mean import window_mean_nb
from trading_playbook.core.simulate._records import Bars

# window_mean_nb itself, compiled into the session loop's code only: the plain @njit kernel would
# also be compiled on its own (machine code, wrappers, a cache entry) for this one call on a first run
_window_mean_in_loop = loop_kernel(error_model="python")(cast(Any, window_mean_nb).py_func)

# the last index built, with its own copy of the mask (a sweep's trials index the same mask each time)
_LAST_INDEX: list[tuple[np.ndarray, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]] = []


def bar_index(available: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Each symbol's first and last bar (-1: none) and its gaps (sessions without a bar between its
    first and last bar), ``gap_rows[gap_ptr[j]:gap_ptr[j + 1]]`` ascending.

    The arrays are allocated here (``gap_rows`` at its largest, every missing bar, then cut): the
    kernel allocating them compiled numba's array allocators, seconds on a first run. The last index
    is kept with a private copy of its mask and returned for an equal mask (compared by content, a
    fifth of the cost of building it): every trial of a sweep runs on the same panel. Its arrays are
    shared: read them, never write them.
    """
    available = np.ascontiguousarray(available, dtype=np.bool_)
    last = _LAST_INDEX[0] if _LAST_INDEX else None
    if last is not None and last[0].shape == available.shape and np.array_equal(last[0], available):
        return last[1]
    n_cols = available.shape[1]
    first = np.empty(n_cols, dtype=np.int64)
    last_bar = np.empty(n_cols, dtype=np.int64)
    gap_ptr = np.empty(n_cols + 1, dtype=np.int64)
    gap_rows = np.empty(available.size - np.count_nonzero(available), dtype=np.int64)
    bar_index_nb(available, first, last_bar, gap_ptr, gap_rows)
    index = (first, last_bar, gap_ptr, gap_rows[: gap_ptr[n_cols]].copy())
    _LAST_INDEX[:] = [(available.copy(), index)]
    return index


@njit(cache=True, error_model="numpy")
def bar_index_nb(
    available: np.ndarray, first: np.ndarray, last: np.ndarray, gap_ptr: np.ndarray, gap_rows: np.ndarray
) -> None:  # pragma: no cover - compiled
    """:func:`bar_index` into the arrays given (``gap_rows`` holds at least every gap)."""
    n_rows, n_cols = available.shape
    gap_ptr[0] = 0
    for j in range(n_cols):
        first[j] = -1
        last[j] = -1
        gap_ptr[j + 1] = 0  # the symbol's gap count, until the running sum below
    for t in range(n_rows):
        for j in range(n_cols):
            if available[t, j]:
                if first[j] < 0:
                    first[j] = t
                elif t - last[j] > 1:
                    gap_ptr[j + 1] += t - last[j] - 1
                last[j] = t
    for j in range(n_cols):
        gap_ptr[j + 1] += gap_ptr[j]
    for j in range(n_cols):
        g = gap_ptr[j]
        if first[j] < 0 or g == gap_ptr[j + 1]:
            continue
        for t in range(first[j] + 1, last[j]):
            if not available[t, j]:
                gap_rows[g] = t
                g += 1


@loop_kernel(inline="always")
def bars_before_nb(bars: Bars, t: int, j: int) -> int:  # pragma: no cover - compiled
    """How many bars symbol ``j`` has before session ``t`` (``t`` holds a bar of it)."""
    lo = bars.gap_ptr[j]
    hi = bars.gap_ptr[j + 1]
    g = lo
    while g < hi and bars.gap_rows[g] < t:
        g += 1
    return to_int(t - bars.first_bar[j] - (g - lo))


@loop_kernel(inline="always")
def mean_at_nb(
    bars: Bars, n: int, true_range: bool, t: int, j: int, vals: np.ndarray
) -> float:  # pragma: no cover
    """``indicators.sma(close, n, available)[t, j]`` (``true_range``: ``indicators.atr(high, low,
    close, available, n)[t, j]``): the plain mean of symbol ``j``'s last ``n`` bars through ``t``.

    ``vals`` is a float scratch of at least ``n`` values.
    """
    if not bars.available[t, j]:
        return np.nan
    k = bars_before_nb(bars, t, j)
    if k + 1 < n:
        return np.nan
    close, available = bars.close, bars.available
    i = n - 1  # vals[i] is bar number k - (n - 1 - i), walking back from t
    u = t
    while i >= 0:
        if available[u, j]:
            v = close[u, j]
            if true_range:
                v = bars.high[u, j] - bars.low[u, j]
                if k - (n - 1 - i) > 0:  # not the symbol's first bar: the previous bar's close
                    w = u - 1
                    while not available[w, j]:
                        w -= 1
                    up = abs(bars.high[u, j] - close[w, j])
                    down = abs(bars.low[u, j] - close[w, j])
                    if up > v:
                        v = up
                    if down > v:
                        v = down
            vals[i] = v
            i -= 1
        u -= 1
    return float(_window_mean_in_loop(vals, 0, n))


@loop_kernel(inline="always")
def previous_at_nb(x: np.ndarray, available: np.ndarray, t: int, j: int) -> float:  # pragma: no cover
    """``indicators.previous_bar(x, available)[t, j]``: the value at the symbol's bar before ``t``."""
    if not available[t, j]:
        return np.nan
    u = t - 1
    while u >= 0:
        if available[u, j]:
            return float(x[u, j])
        u -= 1
    return np.nan


@njit(cache=True, error_model="numpy")
def means_at_nb(
    bars: Bars, n: int, true_range: bool, session: np.ndarray, symbol: np.ndarray
) -> np.ndarray:  # pragma: no cover - compiled
    """:func:`mean_at_nb` at each ``(session[i], symbol[i])`` bar (the setups' ATR of the atr_target
    sizer); NaN where there is no bar."""
    vals = np.zeros(max(n, 1))
    out = np.empty(session.shape[0])
    for i in range(session.shape[0]):
        out[i] = mean_at_nb(bars, n, true_range, session[i], symbol[i], vals)
    return out
