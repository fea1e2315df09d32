"""The numba kernel that writes a block of symbols' bars into the (sessions x symbols) grids of a panel.

Bars come symbol after symbol (the layout of validated data); a grid is row-major (a session's symbols
side by side). Writing each symbol's series down its column touches one cache line per bar, and numpy's
way (a symbol-major scratch series, then a transposed copy) reads one line per bar. The kernel walks
the sessions once for eight symbols at a time, one 64-byte line of a grid row, with a cursor into each
symbol's bars: every line of the grid is written once, whole, and the bars are read in order.
"""

from __future__ import annotations

import numpy as np

from trading_playbook.core._jit import njit  # numba's; cache keys cover the kernels' other files

__all__ = ["COPY", "DIVIDE", "MULTIPLY", "fill_columns_nb"]

COPY, DIVIDE, MULTIPLY = 0, 1, 2  # how a bar's value meets its scale (the split factor or the ratio)
_LINE = 8  # float64 cells in a 64-byte cache line


@njit(cache=True, error_model="numpy", nogil=True)
def fill_columns_nb(
    grid: np.ndarray,
    col0: int,
    starts: np.ndarray,
    row: np.ndarray,
    values: np.ndarray,
    scale: np.ndarray,
    op: int,
    available: np.ndarray,
    mark: bool,
) -> None:  # pragma: no cover - numba
    """``grid[t, col0 + j]`` for the block's symbols ``j``: the value of its bar at session ``t``
    (``values[k]``, divided or multiplied by ``scale[k]`` as ``op`` says), NaN where it has none.

    Symbol ``j``'s bars are ``starts[j]:starts[j + 1]``, at strictly increasing session rows
    ``row[k]``. With ``mark`` the same walk sets ``available[t, col0 + j]`` (True at a bar, else False).
    """
    n_rows = grid.shape[0]
    width = starts.shape[0] - 1
    series = np.empty((_LINE, n_rows))  # eight symbols' columns, symbol-major (in the L2 cache)
    present = np.empty((_LINE, n_rows), dtype=np.bool_)
    for lo in range(0, width, _LINE):
        hi = min(lo + _LINE, width)
        for j in range(lo, hi):
            s = j - lo
            series[s, :] = np.nan
            if mark:
                present[s, :] = False
            for k in range(starts[j], starts[j + 1]):
                v = values[k]
                if op == DIVIDE:
                    v = v / scale[k]
                elif op == MULTIPLY:
                    v = v * scale[k]
                series[s, row[k]] = v
                if mark:
                    present[s, row[k]] = True
        for t in range(n_rows):  # a grid row's eight cells: one cache line, written whole
            for j in range(lo, hi):
                grid[t, col0 + j] = series[j - lo, t]
        if mark:
            for t in range(n_rows):
                for j in range(lo, hi):
                    available[t, col0 + j] = present[j - lo, t]
