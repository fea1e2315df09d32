"""Random panels for scanner tests: trending random walks with tight stretches and random gaps."""

from __future__ import annotations

import numpy as np

from trading_playbook.core.panel import Panel


def random_walks(
    rng: np.random.Generator, n_sessions: int, n_symbols: int, gap_rate: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``close, high, low, volume, available`` (T, N) arrays; bases and breakouts occur in them."""
    shape = (n_sessions, n_symbols)
    steps = rng.normal(0.002, 0.015, shape) * rng.choice([0.2, 1.0], shape, p=[0.4, 0.6])
    close = 20.0 * np.exp(np.cumsum(steps, axis=0))
    high = close * (1 + rng.uniform(0, 0.02, shape))
    low = close * (1 - rng.uniform(0, 0.02, shape))
    volume = rng.integers(0, 3, shape) * rng.uniform(500, 1500, shape)
    available = rng.random(shape) >= gap_rate
    return close, high, low, volume, available


def walk_panel(
    close: np.ndarray,
    high: np.ndarray,
    low: np.ndarray,
    volume: np.ndarray,
    available: np.ndarray,
    raw_scale: float = 1.0,
) -> Panel:
    """The panel of :func:`random_walks` arrays (NaN where no bar; raw close = close * raw_scale)."""
    nan = np.where(available, 1.0, np.nan)
    sessions = np.datetime64("2010-01-04") + np.arange(close.shape[0]).astype("timedelta64[D]")
    return Panel(
        sessions=sessions,
        symbols=tuple(f"S{i:02d}" for i in range(close.shape[1])),
        open=close * nan,
        high=high * nan,
        low=low * nan,
        close=close * nan,
        volume=volume * nan,
        raw_close=close * nan * raw_scale,
        available=available,
    )
