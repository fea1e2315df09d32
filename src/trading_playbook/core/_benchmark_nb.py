"""The numba kernel of the equal-weight buy-and-hold curve of :mod:`trading_playbook.core.metrics`.

numpy needed a forward-filled copy of the (sessions x held symbols) closes, an index array as large
and a Fortran-ordered copy for the mean (about a third of the metrics time of a full shared-data run);
this kernel walks the closes once, row by row, carrying each symbol's last close.
"""

from __future__ import annotations

import numpy as np

from trading_playbook.core._jit import njit  # numba's; also: cache keys cover the kernels' other files

__all__ = ["equal_weight_growth_nb"]


@njit(cache=True, error_model="numpy")
def equal_weight_growth_nb(
    close: np.ndarray, held: np.ndarray, start: np.ndarray, last: np.ndarray, out: np.ndarray
) -> None:  # pragma: no cover - numba
    """``out[t]`` = mean over the ``held`` columns of ``last close / first close`` at row ``t`` of
    ``close``; ``start`` and ``last`` (as many as ``held``) are scratch. numpy allocates all three: numba's
    array allocators compiled for the kernel were a third of its compile on a first run.

    A missing close (NaN) keeps the symbol's last close (forward fill); every held column has a
    finite, positive first close. For each row the symbols' growths are added in column order, then
    divided by their count: the same operations, in the same order, as numpy's mean along axis 1 of a
    Fortran-ordered array, so the result is bit-identical to it.
    """
    n_rows = close.shape[0]
    n_held = held.shape[0]
    for k in range(n_held):
        start[k] = close[0, held[k]]
        last[k] = start[k]
    for t in range(n_rows):
        total = 0.0
        for k in range(n_held):
            value = close[t, held[k]]
            if not np.isnan(value):
                last[k] = value
            total += last[k] / start[k]
        out[t] = total / n_held
