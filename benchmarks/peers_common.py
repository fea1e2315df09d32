"""Shared pieces of the peer benchmark: the comparable rule, the data, subsets and timing records.

The comparable rule (issue 4, section 6) that every peer implements, on split-adjusted prices
(RULES section 1) taken from one :class:`trading_playbook.core.panel.Panel`, so every engine sees
identical numbers:

- entry signal at the close of session t when ``close_t > max(high over t-20..t-1)`` (20-day
  breakout), ``close_t > SMA50_t`` (trend) and ``volume_t > 1.5 * mean(volume over t-20..t-1)``;
- exit on an 8 % stop from the entry fill (intraday, a gap below the stop fills at the open) or at
  the close once the position has been held ``time_stop`` sessions;
- 100,000 starting capital, at most 10 positions of 10 % of equity each (where the peer can express
  it; each peer module documents what it does instead).

This module only uses numpy and pandas; it copies no code from the peers.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from trading_playbook.core.panel import Panel, bars_to_panel

# backtesting.py draws a tqdm progress bar per run; tqdm reads this when it is first imported
os.environ.setdefault("TQDM_DISABLE", "1")

__all__ = [
    "DATA_PATH",
    "ComparableRule",
    "PeerTiming",
    "entry_signals",
    "load_panel",
    "pick_subset",
    "symbol_frame",
]

DATA_PATH = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "sp500_daily.parquet"


@dataclass(frozen=True)
class ComparableRule:
    """Parameters of the comparable rule (same defaults in every peer)."""

    breakout: int = 20
    trend_sma: int = 50
    volume_window: int = 20
    volume_ratio: float = 1.5
    stop: float = 0.08
    time_stop: int = 17
    starting_capital: float = 100_000.0
    max_positions: int = 10


@dataclass
class PeerTiming:
    """One timed figure of the benchmark table."""

    engine: str
    what: str
    seconds: float
    n_symbols: int
    trades: int | None = None
    extrapolated_from: int | None = None  # symbols actually timed when the figure is extrapolated
    measured_seconds: float | None = None  # the time actually measured on the subset
    note: str = ""


def load_panel(path: Path = DATA_PATH, n_symbols: int | None = None) -> tuple[Panel, float]:
    """The split-adjusted panel of the shared data (optionally the first ``n_symbols`` of a spread
    subset) and the seconds it took to read and align."""
    start = time.perf_counter()
    bars = pd.read_parquet(path)
    panel = bars_to_panel(bars, "split")
    if n_symbols is not None and n_symbols < panel.n_symbols:
        panel = panel.select(pick_subset(panel.symbols, n_symbols))
    return panel, time.perf_counter() - start


def pick_subset(symbols: tuple[str, ...] | list[str], n: int) -> list[str]:
    """``n`` symbols spread evenly over the sorted list (deterministic, representative of the whole)."""
    symbols = list(symbols)
    if n >= len(symbols):
        return symbols
    idx = np.linspace(0, len(symbols) - 1, n).round().astype(np.int64)
    return [symbols[i] for i in np.unique(idx)]


def symbol_frame(panel: Panel, symbol: str) -> pd.DataFrame:
    """One symbol's adjusted bars with capitalised OHLCV columns (the layout backtesting.py wants)."""
    bars = panel.bars(symbol)
    return pd.DataFrame(
        {
            "Open": bars["open"],
            "High": bars["high"],
            "Low": bars["low"],
            "Close": bars["close"],
            "Volume": bars["volume"],
        },
        index=bars.index,
    )


def entry_signals(
    close: np.ndarray, high: np.ndarray, volume: np.ndarray, rule: ComparableRule
) -> np.ndarray:
    """Plain numpy/pandas entry signal of the rule on (T, N) arrays; used to cross-check the peers."""
    c = pd.DataFrame(close)
    prev_high = pd.DataFrame(high).rolling(rule.breakout).max().shift(1)
    sma = c.rolling(rule.trend_sma).mean()
    avg_vol = pd.DataFrame(volume).rolling(rule.volume_window).mean().shift(1)
    with np.errstate(invalid="ignore"):
        sig = (c > prev_high) & (c > sma) & (pd.DataFrame(volume) > rule.volume_ratio * avg_vol)
    return sig.to_numpy()
