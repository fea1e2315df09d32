"""The numba kernel of the trade bootstrap of :mod:`trading_playbook.core.metrics`.

A run of the full shared data has about 10,000 trades; 2,000 resamples of them are 20 million draws.
numpy spent as long gathering and averaging the resampled values as drawing them; this kernel draws
each resample with the same ``numpy.random.Generator`` (numba reproduces its stream exactly, so the
draws are the ones ``rng.integers(0, n, size=(n_boot, n))`` gives) and sums the values as it draws
them, without the (resamples x trades) index and value arrays. ``nogil``: the metrics run two halves
of the resamples side by side, each on its own stream (:func:`trading_playbook.core.metrics`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from trading_playbook.core._jit import njit  # numba's; also: cache keys cover the kernels' other files

__all__ = ["bootstrap_trades_nb"]


@njit(cache=True, error_model="numpy", nogil=True)
def bootstrap_trades_nb(
    pnl: np.ndarray, rng: Any, means: np.ndarray, win_rates: np.ndarray
) -> None:  # pragma: no cover - numba
    """For each resample ``b`` (``means.shape[0]`` of them): ``len(pnl)`` trades drawn with replacement
    from ``rng``; ``means[b]`` = their mean P&L (summed in draw order), ``win_rates[b]`` = the share with
    ``pnl > 0``."""
    n = pnl.shape[0]
    for b in range(means.shape[0]):
        draws = rng.integers(0, n, size=n)
        total = 0.0
        wins = 0
        for i in range(n):
            value = pnl[draws[i]]
            total += value
            wins += value > 0.0
        means[b] = total / n
        win_rates[b] = wins / n
