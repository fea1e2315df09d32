"""``np.median`` and ``np.percentile`` of a 1-D float array, the same values, without ``numpy.ma``
(issue 14).

numpy's median checks its float result for NaN through ``np.ma.isMaskedArray``
(``numpy.lib._utils_impl._median_nancheck``), and its percentile removes duplicate partition indices
with ``np.unique``, which asks ``np.ma.is_masked``. ``np.ma`` is an attribute numpy 2 imports on first
access: the metrics' median holding period and bootstrap intervals imported ``numpy.ma`` (about 15-25
ms of bytecode and class creation) into every backtest, for arrays that cannot be masked.
:func:`median` and :func:`percentiles` run numpy's own steps for a plain 1-D float array (numpy 2's
``_median`` and the ``linear`` method of ``_quantile``: the same order statistics, the same ufunc calls
on them in the same order, the same NaN rule) and hand anything else to numpy. Tests compare them with
numpy bit for bit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["median", "percentiles"]


def _plain_floats(values: Any) -> bool:
    return type(values) is np.ndarray and values.ndim == 1 and values.dtype.kind == "f" and values.size > 0


def median(values: np.ndarray) -> Any:
    """``np.median(values)``: the same numpy scalar, bit for bit."""
    if not _plain_floats(values):
        return np.median(values)
    size = values.shape[0]
    half = size // 2
    even = size % 2 == 0
    # numpy's partition indices: the middle one or two, and the last (where a NaN sorts)
    part = np.partition(values, [half - 1, half, -1] if even else [half, -1])
    result = np.mean(part[half - 1 : half + 1] if even else part[half : half + 1], axis=0)
    last = part[-1]
    return last if np.isnan(last) else result


def percentiles(values: np.ndarray, q: Sequence[float]) -> Any:
    """``np.percentile(values, q)`` for a list of percents ``q`` (the default ``linear`` method): the
    same float array, bit for bit."""
    quantiles = np.true_divide(q, 100)
    if not _plain_floats(values) or quantiles.ndim != 1 or not ((quantiles >= 0) & (quantiles <= 1)).all():
        return np.percentile(values, q)
    arr = values.flatten()  # numpy partitions a copy
    count = arr.shape[0]
    virtual = np.asanyarray((count - 1) * quantiles)
    previous = np.floor(virtual)
    following = np.add(previous, 1)
    above = virtual >= count - 1  # past the last value: the last value (q in [0, 1]: none below 0)
    previous[above] = -1
    following[above] = -1
    previous = previous.astype(np.intp)
    following = following.astype(np.intp)
    # the values at these positions are the same order statistics whatever else the partition moved
    arr.partition(sorted({0, -1, *previous.tolist(), *following.tolist()}))
    gamma = np.asanyarray(virtual - previous, dtype=virtual.dtype)
    low, high = arr[previous], arr[following]
    diff = high - low  # numpy's _lerp
    result = np.add(low, diff * gamma)
    np.subtract(
        high, diff * (1 - gamma), out=result, where=gamma >= 0.5, casting="unsafe", dtype=type(result.dtype)
    )
    if np.isnan(arr[-1]):  # a NaN sorts last: every percentile is NaN, numpy's own NaN
        np.copyto(result, arr[-1], where=np.isnan(arr[-1]))
    return result
