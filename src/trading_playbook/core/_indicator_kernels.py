"""Numba kernels behind :mod:`trading_playbook.core.indicators`.

Every kernel works on the *bar layout*: one flat array holding each symbol's own bars one symbol
after the other (``x[offsets[j]:offsets[j + 1]]`` are symbol ``j``'s bars in session order). Sessions
without a bar are not in the flat array at all, so "the last n sessions" of RULES section 8 is simply
"the last n elements of the symbol's segment". All kernels are O(bars) and take arrays and scalars only.
"""

from __future__ import annotations

import numpy as np

from trading_playbook.core._jit import njit  # numba's; also: cache keys cover the kernels' other files
from trading_playbook.core._window_blocks import (
    BLOCK,
    EXTREME_BLOCK_MAX_N,
    extreme_block_nb,
    has_nan_nb,
    sma_block_nb,
)
from trading_playbook.core._window_mean import window_mean_nb

__all__ = [
    "ema_nb",
    "rsi_nb",
    "sma_nb",
    "sma_segment_nb",
    "true_range_nb",
    "window_mean_nb",
]


@njit(cache=True)
def sma_nb(x: np.ndarray, offsets: np.ndarray, n: int) -> np.ndarray:  # pragma: no cover - numba
    """Mean of the last ``n`` bars including the current one; NaN until ``n`` bars exist.

    Each window is summed afresh (:func:`window_mean_nb`), so the value is the plain mean of the
    window whatever came before it (RULES section 8).
    """
    out = np.empty(x.shape[0])
    for j in range(offsets.shape[0] - 1):
        sma_segment_nb(x, out, offsets[j], offsets[j + 1], n)
    return out


@njit(cache=True)
def sma_segment_nb(
    x: np.ndarray, out: np.ndarray, start: int, stop: int, n: int
) -> None:  # pragma: no cover - numba
    """:func:`sma_nb` over one symbol's bars ``x[start:stop]``, written to ``out[start:stop]``.

    Every position is written (NaN where undefined), so ``out`` may be an uninitialised scratch buffer.

    Four consecutive windows are summed side by side: each sum still adds its own window oldest value
    first, exactly as :func:`window_mean_nb` (so the values are bitwise the same), but the four
    independent chains of additions keep the processor's adders busy (about three times faster than
    one window after the other). A window holding a NaN sums to NaN, as :func:`window_mean_nb` returns.
    """
    k = start
    while k < stop and k - start + 1 < n:
        out[k] = np.nan
        k += 1
    while k + 3 < stop:
        first = k - n + 1
        s0 = 0.0
        s1 = 0.0
        s2 = 0.0
        s3 = 0.0
        for i in range(first, first + n):
            s0 += x[i]
            s1 += x[i + 1]
            s2 += x[i + 2]
            s3 += x[i + 3]
        out[k] = s0 / n
        out[k + 1] = s1 / n
        out[k + 2] = s2 / n
        out[k + 3] = s3 / n
        k += 4
    while k < stop:
        out[k] = window_mean_nb(x, k - n + 1, n)
        k += 1


@njit(cache=True)
def ema_nb(x: np.ndarray, offsets: np.ndarray, n: int) -> np.ndarray:  # pragma: no cover - numba
    """EMA with alpha 2/(n+1), seeded by the SMA of the first ``n`` bars (at bar n), then recursive."""
    out = np.full(x.shape[0], np.nan)
    alpha = 2.0 / (n + 1.0)
    for j in range(offsets.shape[0] - 1):
        start, stop = offsets[j], offsets[j + 1]
        if stop - start < n:
            continue
        seed = 0.0
        for i in range(start, start + n):
            seed += x[i]
        prev = seed / n
        out[start + n - 1] = prev
        for k in range(start + n, stop):
            prev = alpha * x[k] + (1.0 - alpha) * prev
            out[k] = prev
    return out


@njit(cache=True)
def true_range_nb(
    high: np.ndarray, low: np.ndarray, close: np.ndarray, offsets: np.ndarray
) -> np.ndarray:  # pragma: no cover - numba
    """``max(H - L, |H - C_prev|, |L - C_prev|)``; ``H - L`` on the symbol's first bar."""
    out = np.empty(high.shape[0])
    for j in range(offsets.shape[0] - 1):
        start, stop = offsets[j], offsets[j + 1]
        for k in range(start, stop):
            rng = high[k] - low[k]
            if k > start:
                prev = close[k - 1]
                up = abs(high[k] - prev)
                down = abs(low[k] - prev)
                if up > rng:
                    rng = up
                if down > rng:
                    rng = down
            out[k] = rng
    return out


@njit(cache=True)
def rsi_nb(x: np.ndarray, offsets: np.ndarray, n: int) -> np.ndarray:  # pragma: no cover - numba
    """Wilder's RSI (as TA-Lib): seed = simple means of the first ``n`` gains/losses, then
    ``avg = (avg * (n - 1) + change) / n``; ``100 * gain / (gain + loss)``, 50 when both are 0."""
    out = np.full(x.shape[0], np.nan)
    for j in range(offsets.shape[0] - 1):
        start, stop = offsets[j], offsets[j + 1]
        if stop - start <= n:
            continue
        gain = 0.0
        loss = 0.0
        for k in range(start + 1, start + n + 1):
            d = x[k] - x[k - 1]
            if d > 0:
                gain += d
            else:
                loss -= d
        gain /= n
        loss /= n
        for k in range(start + n, stop):
            if k > start + n:
                d = x[k] - x[k - 1]
                up = d if d > 0 else 0.0
                down = -d if d < 0 else 0.0
                gain = (gain * (n - 1) + up) / n
                loss = (loss * (n - 1) + down) / n
            total = gain + loss
            out[k] = 50.0 if total == 0.0 else 100.0 * gain / total
    return out


_BLOCK = 8  # columns per pass: one 64-byte cache line of float64 in a row-major panel


@njit(cache=True)
def layout_nb(available: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # pragma: no cover - numba
    """``(offsets, rows, cols)`` of the bar layout of a (T, N) bool mask, symbol after symbol."""
    n_sessions, n_symbols = available.shape
    counts = np.zeros(n_symbols, dtype=np.int64)
    for t in range(n_sessions):
        for j in range(n_symbols):
            if available[t, j]:
                counts[j] += 1
    offsets = np.zeros(n_symbols + 1, dtype=np.int64)
    for j in range(n_symbols):
        offsets[j + 1] = offsets[j] + counts[j]
    rows = np.empty(offsets[n_symbols], dtype=np.int64)
    cols = np.empty(offsets[n_symbols], dtype=np.int64)
    fill = offsets[:-1].copy()
    for t in range(n_sessions):
        for j in range(n_symbols):
            if available[t, j]:
                rows[fill[j]] = t
                cols[fill[j]] = j
                fill[j] += 1
    return offsets, rows, cols


@njit(cache=True)
def compress_nb(
    values: np.ndarray, available: np.ndarray, offsets: np.ndarray
) -> np.ndarray:  # pragma: no cover
    """Values of a (T, N) array at the bars, in layout order (reads the panel in column blocks)."""
    n_sessions, n_symbols = values.shape
    out = np.empty(offsets[n_symbols])
    for lo in range(0, n_symbols, _BLOCK):
        hi = min(lo + _BLOCK, n_symbols)
        fill = offsets[lo:hi].copy()
        for t in range(n_sessions):
            for j in range(lo, hi):
                if available[t, j]:
                    out[fill[j - lo]] = values[t, j]
                    fill[j - lo] += 1
    return out


@njit(cache=True)
def expand_nb(
    flat: np.ndarray, available: np.ndarray, offsets: np.ndarray, fill_value: float
) -> np.ndarray:  # pragma: no cover
    """Inverse of :func:`compress_nb`: a (T, N) array, ``fill_value`` where there is no bar."""
    n_sessions, n_symbols = available.shape
    out = np.full((n_sessions, n_symbols), fill_value)
    for lo in range(0, n_symbols, _BLOCK):
        hi = min(lo + _BLOCK, n_symbols)
        pos = offsets[lo:hi].copy()
        for t in range(n_sessions):
            for j in range(lo, hi):
                if available[t, j]:
                    out[t, j] = flat[pos[j - lo]]
                    pos[j - lo] += 1
    return out


# kinds of a window indicator of :func:`window_set_nb` (one row of its ``specs``)
MEAN, MAX, MIN, LAST = 0, 1, 2, 3
# columns of a spec row: kind, input (0..2), window n, lag (bars between the window's end and t), the
# fewest bars the window may hold (else NaN)
S_KIND, S_INPUT, S_N, S_LAG, S_NEED = 0, 1, 2, 3, 4


@njit(cache=True, error_model="numpy", nogil=True)
def window_set_nb(
    x0: np.ndarray,
    x1: np.ndarray,
    x2: np.ndarray,
    available: np.ndarray,
    specs: np.ndarray,
    out: np.ndarray,
    col_lo: int,
    col_hi: int,
) -> None:  # pragma: no cover - numba
    """Every window indicator of ``specs`` over the (T, N) inputs ``x0, x1, x2``, columns
    ``col_lo:col_hi``, written to ``out[s]`` (T, N) in one streaming pass over the panel.

    Spec ``s`` looks at the symbol's own bars: its window is the last ``n`` bars ending ``lag`` bars
    before the current one (``lag`` 0: up to and including t) and holds ``min(n, bars so far - lag)``
    bars; with fewer than ``need`` it is NaN, and so is every output at a session without a bar.
    ``MEAN``: the plain mean of a full window (:func:`sma_block_nb`, bitwise); ``MAX`` / ``MIN``:
    the extreme of its bars (:func:`extreme_block_nb`, or :func:`_extreme_segment_nb` for long windows
    and series holding a NaN); ``LAST``: the window's last value.

    Eight symbols at a time (one 64-byte line of a panel row): their bars are gathered down their
    columns, 256 sessions at a time so that the lines touched stay in the L1/L2 caches, into a small
    symbol-major tile (each symbol's bars contiguous, as in the bar layout, eight symbols' worth);
    every window is computed on the tile with the per-symbol kernels, and the results are written
    back the same way. The panel is read from memory once and each output written once.
    """
    n_sessions = available.shape[0]
    n_specs = specs.shape[0]
    line = 8
    rows = 256  # sessions per pass down a line's columns: their cache lines stay in L1/L2
    tile = np.empty((3, line, n_sessions))
    result = np.empty((n_specs, line, n_sessions))
    dq = np.empty(n_sessions, dtype=np.int64)
    acc = np.empty(BLOCK)
    bars = np.zeros(line, dtype=np.int64)
    used = np.zeros(3, dtype=np.bool_)
    for s in range(n_specs):
        used[specs[s, S_INPUT]] = True
    for lo in range(col_lo, col_hi, line):
        width = min(lo + line, col_hi) - lo
        bars[:] = 0
        for t0 in range(0, n_sessions, rows):  # gather each symbol's bars into its row of the tile
            t1 = min(t0 + rows, n_sessions)
            for b in range(width):
                j = lo + b
                m = bars[b]
                for t in range(t0, t1):
                    if available[t, j]:
                        if used[0]:
                            tile[0, b, m] = x0[t, j]
                        if used[1]:
                            tile[1, b, m] = x1[t, j]
                        if used[2]:
                            tile[2, b, m] = x2[t, j]
                        m += 1
                bars[b] = m
        for s in range(n_specs):
            for b in range(width):
                _window_segment_nb(tile[specs[s, S_INPUT], b], result[s, b], dq, acc, bars[b], specs[s])
        bars[:] = 0
        for t0 in range(0, n_sessions, rows):  # scatter the results back down the columns
            t1 = min(t0 + rows, n_sessions)
            for b in range(width):
                j = lo + b
                for s in range(n_specs):
                    k = bars[b]
                    for t in range(t0, t1):
                        if available[t, j]:
                            out[s, t, j] = result[s, b, k]
                            k += 1
                        else:
                            out[s, t, j] = np.nan
                bars[b] = k


@njit(cache=True, error_model="numpy", nogil=True)
def _window_segment_nb(
    x: np.ndarray, out: np.ndarray, dq: np.ndarray, acc: np.ndarray, m: int, spec: np.ndarray
) -> None:  # pragma: no cover - numba
    """One spec of :func:`window_set_nb` over one symbol's ``m`` bars ``x[:m]`` into ``out[:m]``.

    The window ending ``lag`` bars before bar ``k`` is the window at bar ``k - lag`` of ``x[:m - lag]``:
    the kernels write straight into ``out[lag:]``, and the first bars, whose window holds fewer than
    ``need`` bars (``min(k + 1 - lag, n) < need``, i.e. ``k < lag + need - 1``), are NaN.
    """
    kind = spec[S_KIND]
    n = spec[S_N]
    lag = min(spec[S_LAG], m)
    need = spec[S_NEED]
    shifted = out[lag:]
    if kind == MEAN:  # NaN before a full window (need plays no part)
        sma_block_nb(x, shifted, acc, m - lag, n)
        head = lag
    else:
        head = min(lag + need - 1, m)
        if kind == LAST:
            for k in range(head, m):
                out[k] = x[k - lag]
        elif n > EXTREME_BLOCK_MAX_N or has_nan_nb(x, m - lag):
            _extreme_segment_nb(x, shifted, dq, 0, m - lag, n, 1.0 if kind == MAX else -1.0)
        else:  # a short window over values without NaN: the block scan, the same values
            extreme_block_nb(x, shifted, acc, m - lag, n, 1.0 if kind == MAX else -1.0)
    for k in range(head):
        out[k] = np.nan


@njit(cache=True, error_model="numpy", nogil=True)
def _extreme_segment_nb(
    x: np.ndarray, out: np.ndarray, dq: np.ndarray, start: int, stop: int, n: int, sign: float
) -> None:  # pragma: no cover - numba
    """Max (sign 1) or min (sign -1) of the last up-to-``n`` bars of ``x[start:stop]`` including the
    current one, into ``out[start:stop]``: a monotonic deque of bar positions (``dq``: scratch of at
    least ``stop - start``), O(bars) whatever ``n`` is; of equal values the latest is kept."""
    head = 0  # the deque lives in dq[head:tail]
    tail = 0
    for k in range(start, stop):
        v = sign * x[k]
        while tail > head and sign * x[dq[tail - 1]] <= v:
            tail -= 1
        dq[tail] = k
        tail += 1
        while dq[head] <= k - n:
            head += 1
        out[k] = x[dq[head]]
