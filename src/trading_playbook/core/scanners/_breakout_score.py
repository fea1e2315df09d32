"""The ``daily_breakout`` score table (RULES section 3), scalar and vectorised.

Points (0..10, capped), used only to rank:

======================  ==============================================================
trend                   1.5 if close > SMA20 > SMA50; else 0.5 if close > SMA20
near high (distance d)  1.5 if d <= 0.15; else 0.75 if d <= 0.25
volume ratio v          2.0 if v >= 2.0; else 1.0 if v >= 1.2
base length L*          1.5 if 15 <= L* <= 60; else 0.75 if 7 <= L* <= 90
base width w            1.5 if w <= 0.05; else 1.0 if w <= 0.08; else 0.5 if w <= 0.12
RS                      2.0 if RS >= 0.15; else 1.0 if RS >= 0.10 (undefined RS: 0)
======================  ==============================================================

Every point value is a dyadic fraction, so sums are exact and score ties are real ties.
"""

from __future__ import annotations

import numpy as np

__all__ = ["MAX_SCORE", "score_one", "score_vector"]

MAX_SCORE = 10.0


def score_one(
    close: float,
    sma_fast: float,
    sma_slow: float,
    distance: float,
    volume_ratio: float,
    base_days: int,
    base_width: float,
    rs: float,
) -> float:
    """Score of one setup (plain Python, the per-date path)."""
    points = 0.0
    if close > sma_fast and sma_fast > sma_slow:
        points += 1.5
    elif close > sma_fast:
        points += 0.5
    if distance <= 0.15:
        points += 1.5
    elif distance <= 0.25:
        points += 0.75
    if volume_ratio >= 2.0:
        points += 2.0
    elif volume_ratio >= 1.2:
        points += 1.0
    if 15 <= base_days <= 60:
        points += 1.5
    elif 7 <= base_days <= 90:
        points += 0.75
    if base_width <= 0.05:
        points += 1.5
    elif base_width <= 0.08:
        points += 1.0
    elif base_width <= 0.12:
        points += 0.5
    if rs >= 0.15:  # NaN compares false: an undefined RS scores 0
        points += 2.0
    elif rs >= 0.10:
        points += 1.0
    return min(points, MAX_SCORE)


def score_vector(
    close: np.ndarray,
    sma_fast: np.ndarray,
    sma_slow: np.ndarray,
    distance: np.ndarray,
    volume_ratio: np.ndarray,
    base_days: np.ndarray,
    base_width: np.ndarray,
    rs: np.ndarray,
) -> np.ndarray:
    """Scores of many setups at once (the vectorised path); same table as :func:`score_one`."""
    above = close > sma_fast
    trend = np.where(above & (sma_fast > sma_slow), 1.5, np.where(above, 0.5, 0.0))
    near = np.where(distance <= 0.15, 1.5, np.where(distance <= 0.25, 0.75, 0.0))
    vol = np.where(volume_ratio >= 2.0, 2.0, np.where(volume_ratio >= 1.2, 1.0, 0.0))
    length = np.where(
        (base_days >= 15) & (base_days <= 60), 1.5, np.where((base_days >= 7) & (base_days <= 90), 0.75, 0.0)
    )
    width = np.where(
        base_width <= 0.05, 1.5, np.where(base_width <= 0.08, 1.0, np.where(base_width <= 0.12, 0.5, 0.0))
    )
    with np.errstate(invalid="ignore"):
        strength = np.where(rs >= 0.15, 2.0, np.where(rs >= 0.10, 1.0, 0.0))
    total = trend + near + vol + length + width + strength
    capped: np.ndarray = np.minimum(total, MAX_SCORE).astype(np.float64)
    return capped
