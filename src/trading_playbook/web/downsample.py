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

__all__ = ["MAX_POINTS", "downsample", "json_floats", "m4_indices"]

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
    bucket = np.repeat(np.arange(buckets), np.diff(edges))
    low = np.where(np.isnan(values), np.inf, values)
    high = np.where(np.isnan(values), np.inf, -values)
    # sorted by (bucket, value), each bucket's run starts at its edge: its first entry is the extreme
    # (lexsort is stable, so ties keep the earliest session)
    lowest = np.lexsort((low, bucket))[edges[:-1]]
    highest = np.lexsort((high, bucket))[edges[:-1]]
    return np.unique(np.concatenate((edges[:-1], edges[1:] - 1, lowest, highest)))


def downsample(
    x: Sequence[Any], y: Any, max_points: int = MAX_POINTS
) -> tuple[list[Any], list[float | None]]:
    """``x`` and ``y`` at the indices :func:`m4_indices` picks from ``y``, as JSON-ready lists.

    ``y`` is anything ``np.asarray(..., float)`` takes (``None`` becomes NaN); NaN and infinities come
    back as ``None`` (a gap in a Plotly line).
    """
    values = np.asarray(y, dtype=np.float64)
    if values.shape[0] != len(x):
        raise ValueError(f"x has {len(x)} points but y has {values.shape[0]}")
    idx = m4_indices(values, max_points)
    if len(idx) == len(x):
        return list(x), json_floats(values)
    return [x[i] for i in idx.tolist()], json_floats(values[idx])


def json_floats(values: np.ndarray) -> list[float | None]:
    """A float array as a list with NaN/inf as ``None`` (valid JSON)."""
    out: list[float | None] = values.tolist()
    for i in np.flatnonzero(~np.isfinite(values)).tolist():
        out[i] = None
    return out
