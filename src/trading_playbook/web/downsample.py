"""Server-side downsampling of long series: no chart ships more points than a screen can show.

A 21-year daily equity curve has ~5,400 points; a chart is ~1,000 pixels wide. :func:`m4_indices` keeps,
in each of ``buckets`` equal slices of the series, the first, last, lowest and highest point (the M4
scheme of Jugel et al., VLDB 2014): the drawn line is the same at pixel resolution and every extreme
survives (a drawdown's trough is never smoothed away).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["MAX_POINTS", "downsample", "m4_indices"]

#: Target points per series (4 per bucket x 500 buckets: about two per pixel on a wide screen).
MAX_POINTS = 2000


def m4_indices(values: np.ndarray, max_points: int = MAX_POINTS) -> np.ndarray:
    """Sorted indices to keep: all of them when the series is short, else first/last/min/max per bucket.

    NaN values are ignored when choosing a bucket's min and max (a bucket of only NaN keeps its ends).
    """
    n = int(values.shape[0])
    if n <= max_points:
        return np.arange(n)
    buckets = max(1, max_points // 4)
    edges = np.linspace(0, n, buckets + 1).astype(np.int64)
    low = np.where(np.isnan(values), np.inf, values)
    high = np.where(np.isnan(values), -np.inf, values)
    keep = np.empty((buckets, 4), dtype=np.int64)
    for b in range(buckets):  # 500 slices: a Python loop costs well under a millisecond
        lo, hi = int(edges[b]), int(edges[b + 1])
        keep[b] = (lo, hi - 1, lo + int(np.argmin(low[lo:hi])), lo + int(np.argmax(high[lo:hi])))
    return np.unique(keep)


def downsample(x: Sequence[Any], *ys: Sequence[Any], max_points: int = MAX_POINTS) -> tuple[list[Any], ...]:
    """``x`` and each ``y`` at the indices :func:`m4_indices` picks from the first ``y``.

    Returns plain lists (JSON-ready); ``None`` in a ``y`` stays ``None``.
    """
    if not ys:
        raise ValueError("downsample needs at least one y series")
    first = np.array([np.nan if v is None else v for v in ys[0]], dtype=np.float64)
    idx = m4_indices(first, max_points)
    if len(idx) == len(x):
        return (list(x), *(list(y) for y in ys))
    picks = idx.tolist()
    return ([x[i] for i in picks], *([y[i] for i in picks] for y in ys))
