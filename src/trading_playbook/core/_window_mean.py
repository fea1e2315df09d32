"""The plain mean of a window, the one definition of a moving average's arithmetic (RULES section 8).

In a module of its own so that the session loop (:mod:`trading_playbook.core.simulate._bars_nb`)
takes it without importing the indicator kernels (:mod:`trading_playbook.core._indicator_kernels`
re-exports it), which a backtest does not otherwise use: about twenty numba dispatchers made at
import for nothing (issue 14).
"""

from __future__ import annotations

import numpy as np

from trading_playbook.core._jit import njit  # numba's; also: cache keys cover the kernels' other files

__all__ = ["window_mean_nb"]


@njit(cache=True)
def window_mean_nb(x: np.ndarray, first: int, n: int) -> float:  # pragma: no cover - numba
    """The plain mean of ``x[first:first + n]``: ``(((0 + x_first) + x_first+1) + ...) / n``, oldest
    value first; NaN when the window holds a NaN.

    This is the one definition of a moving average's arithmetic (RULES section 8: moving averages are
    plain means of their window). A running sum would differ in the last bit, and with literal
    comparisons a close equal to its SMA to the cent could then flip an exit. Every SMA-based value
    of both engines and of the scanner (SMA, ATR as the mean of true ranges, the average volume) sums
    its window in this order.
    """
    total = 0.0
    for i in range(first, first + n):
        v = x[i]
        if np.isnan(v):
            return np.nan
        total += v
    return total / n
