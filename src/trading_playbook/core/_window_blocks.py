"""Moving sums and extremes of one series, a block of consecutive windows at a time (numba, SIMD).

The windows ending ``e0 .. e0 + w - 1`` of one symbol's bars ``x`` are computed together: for each bar
of the window, oldest first, every window's accumulator takes the bar, ``acc[c] = acc[c] + x[first +
i + c]`` for ``c`` = 0 .. w-1. That is a loop over contiguous values with no dependence between its
iterations, which LLVM vectorises (four windows per AVX2 instruction) with plenty of independent
chains; several bars are taken per pass so that ``acc`` is loaded and stored once per eight bars.
Each accumulator still sees its own window's bars in window order, so the results are those of the
one-window-at-a-time kernels bit for bit:

- :func:`sma_block_nb`: ``((0 + x_first) + x_next) + ...`` then ``/ n``, RULES section 8's plain mean
  (:func:`~trading_playbook.core._indicator_kernels.window_mean_nb`); a window holding a NaN is NaN.
- :func:`extreme_block_nb`: the running ``v if v >= held else held`` from the oldest bar, i.e. the
  latest of equal maxima (the monotonic deque of ``_extreme_segment_nb`` keeps the latest too, which
  matters only for -0.0 against 0.0). Values must not be NaN (the caller hands those to the deque).

The kernels take scratch arrays (``acc``) so that they allocate nothing. They are
:func:`~trading_playbook.core._jit.callee_kernel` s: their code lives in their callers'
(``_indicator_kernels.window_set_nb``), so importing them costs no cache object and they add no
compile of their own; tests call them through a small ``@njit`` function.
"""

from __future__ import annotations

import numpy as np

from trading_playbook.core._jit import callee_kernel  # code compiled into, cached with, its callers

__all__ = ["BLOCK", "EXTREME_BLOCK_MAX_N", "extreme_block_nb", "has_nan_nb", "sma_block_nb"]

BLOCK = 64  # windows per block: their accumulators (512 bytes) stay in L1
EXTREME_BLOCK_MAX_N = 28  # longer max/min windows are cheaper with the O(1)-a-bar deque


@callee_kernel()
def sma_block_nb(x: np.ndarray, out: np.ndarray, acc: np.ndarray, m: int, n: int) -> None:  # pragma: no cover
    """The plain mean of the last ``n`` bars of ``x[:m]`` at each bar, into ``out[:m]`` (NaN before
    ``n`` bars): ``sma_segment_nb(x, out, 0, m, n)`` bit for bit, with SIMD additions."""
    for k in range(min(n - 1, m)):
        out[k] = np.nan
    e0 = n - 1
    while e0 < m:
        w = min(acc.shape[0], m - e0)
        for c in range(w):
            acc[c] = 0.0
        q = e0 - n + 1
        stop = q + n
        while q + 8 <= stop:
            _add8_nb(acc, x, q, w)
            q += 8
        if q + 4 <= stop:
            _add4_nb(acc, x, q, w)
            q += 4
        while q < stop:
            a = x[q : q + w]  # a slice: the loop indexes from 0, plain contiguous loads for LLVM
            for c in range(w):
                acc[c] += a[c]
            q += 1
        o = out[e0 : e0 + w]
        for c in range(w):
            o[c] = acc[c] / n
        e0 += w


@callee_kernel()
def _add8_nb(acc: np.ndarray, x: np.ndarray, q: int, w: int) -> None:  # pragma: no cover - numba
    """``acc[c]`` plus bars ``q .. q+7`` after ``c``, in that order (eight additions per load/store)."""
    r0 = x[q : q + w]
    r1 = x[q + 1 : q + 1 + w]
    r2 = x[q + 2 : q + 2 + w]
    r3 = x[q + 3 : q + 3 + w]
    r4 = x[q + 4 : q + 4 + w]
    r5 = x[q + 5 : q + 5 + w]
    r6 = x[q + 6 : q + 6 + w]
    r7 = x[q + 7 : q + 7 + w]
    for c in range(w):
        acc[c] = (((((((acc[c] + r0[c]) + r1[c]) + r2[c]) + r3[c]) + r4[c]) + r5[c]) + r6[c]) + r7[c]


@callee_kernel()
def _add4_nb(acc: np.ndarray, x: np.ndarray, q: int, w: int) -> None:  # pragma: no cover - numba
    """``acc[c]`` plus bars ``q .. q+3`` after ``c``, in that order."""
    r0 = x[q : q + w]
    r1 = x[q + 1 : q + 1 + w]
    r2 = x[q + 2 : q + 2 + w]
    r3 = x[q + 3 : q + 3 + w]
    for c in range(w):
        acc[c] = (((acc[c] + r0[c]) + r1[c]) + r2[c]) + r3[c]


@callee_kernel()
def has_nan_nb(x: np.ndarray, m: int) -> bool:  # pragma: no cover - numba
    """Whether ``x[:m]`` holds a NaN (a branch-free scan)."""
    seen = False
    for k in range(m):
        seen |= x[k] != x[k]
    return seen


@callee_kernel()
def extreme_block_nb(
    x: np.ndarray, out: np.ndarray, acc: np.ndarray, m: int, n: int, sign: float
) -> None:  # pragma: no cover - numba
    """Max (``sign`` 1) or min (-1) of the last up-to-``n`` bars of ``x[:m]`` at each bar, into
    ``out[:m]``: ``_extreme_segment_nb(x, out, dq, 0, m, n, sign)`` bit for bit when ``x[:m]`` holds
    no NaN.

    The comparisons run on ``sign * value`` (a negation is exact), so one loop serves both; of equal
    values the latest is kept (``v >= held``).
    """
    if m > 0:  # the windows still short of n bars: a running extreme from the first bar
        held = sign * x[0]
        out[0] = x[0]
        for k in range(1, min(n - 1, m)):
            v = sign * x[k]
            if v >= held:
                held = v
            out[k] = sign * held
    e0 = n - 1
    while e0 < m:
        w = min(acc.shape[0], m - e0)
        q = e0 - n + 1
        stop = q + n
        if n >= 4:  # the first four bars start the accumulators, so n = 4 + 8k takes k + 1 passes
            _extreme4_nb(acc, x, q, w, sign, True)
            q += 4
        else:
            a = x[q : q + w]
            for c in range(w):
                acc[c] = sign * a[c]
            q += 1
        while q + 8 <= stop:
            _extreme8_nb(acc, x, q, w, sign)
            q += 8
        if q + 4 <= stop:
            _extreme4_nb(acc, x, q, w, sign, False)
            q += 4
        while q < stop:
            a = x[q : q + w]
            for c in range(w):
                v = sign * a[c]
                held = acc[c]
                acc[c] = v if v >= held else held
            q += 1
        o = out[e0 : e0 + w]
        for c in range(w):
            o[c] = sign * acc[c]
        e0 += w


@callee_kernel()
def _extreme8_nb(acc: np.ndarray, x: np.ndarray, q: int, w: int, sign: float) -> None:  # pragma: no cover
    """``acc[c]`` (signed) takes bars ``q .. q+7`` after ``c`` in that order, the latest on ties."""
    r0 = x[q : q + w]
    r1 = x[q + 1 : q + 1 + w]
    r2 = x[q + 2 : q + 2 + w]
    r3 = x[q + 3 : q + 3 + w]
    r4 = x[q + 4 : q + 4 + w]
    r5 = x[q + 5 : q + 5 + w]
    r6 = x[q + 6 : q + 6 + w]
    r7 = x[q + 7 : q + 7 + w]
    for c in range(w):
        h = acc[c]
        v = sign * r0[c]
        h = v if v >= h else h
        v = sign * r1[c]
        h = v if v >= h else h
        v = sign * r2[c]
        h = v if v >= h else h
        v = sign * r3[c]
        h = v if v >= h else h
        v = sign * r4[c]
        h = v if v >= h else h
        v = sign * r5[c]
        h = v if v >= h else h
        v = sign * r6[c]
        h = v if v >= h else h
        v = sign * r7[c]
        acc[c] = v if v >= h else h


@callee_kernel()
def _extreme4_nb(
    acc: np.ndarray, x: np.ndarray, q: int, w: int, sign: float, first: bool
) -> None:  # pragma: no cover - numba
    """``acc[c]`` (signed) takes bars ``q .. q+3`` after ``c`` in that order, the latest on ties;
    ``first``: bar ``q`` starts the accumulator instead."""
    r0 = x[q : q + w]
    r1 = x[q + 1 : q + 1 + w]
    r2 = x[q + 2 : q + 2 + w]
    r3 = x[q + 3 : q + 3 + w]
    if first:
        for c in range(w):
            h = sign * r0[c]
            v = sign * r1[c]
            h = v if v >= h else h
            v = sign * r2[c]
            h = v if v >= h else h
            v = sign * r3[c]
            acc[c] = v if v >= h else h
        return
    for c in range(w):
        h = acc[c]
        v = sign * r0[c]
        h = v if v >= h else h
        v = sign * r1[c]
        h = v if v >= h else h
        v = sign * r2[c]
        h = v if v >= h else h
        v = sign * r3[c]
        acc[c] = v if v >= h else h
