"""The comparable rule in backtesting.py, which backtests one symbol at a time (its only mode).

backtesting.py is used as a library only (AGPL-3.0); no code is copied.

How the rule maps onto backtesting.py: a ``Strategy`` whose ``init`` declares the three indicators
with ``self.I`` (pandas rolling windows: previous 20-bar high, SMA50, previous 20-bar mean volume)
and whose ``next`` buys 10 % of equity when the signal holds, with ``sl`` at 8 % below the signal
close, and closes the position once ``time_stop`` sessions are held. ``trade_on_close=True`` fills
orders at the signal bar's close (as the vectorbt peer does); the stop triggers intraday on later
bars. Costs: 5 bp commission per side stands in for the 5 bp slippage. Each symbol is its own
100,000 account (the library has no multi-symbol portfolio), so there is no position limit.

Timed: ``Backtest(...)`` plus ``.run()`` (which also computes its statistics, part of its only
mode) for each symbol, summed.
"""

from __future__ import annotations

import inspect
import time
import warnings

import numpy as np
import pandas as pd
from backtesting import Backtest, Strategy
from peers_common import ComparableRule, PeerTiming, symbol_frame

from trading_playbook.core.panel import Panel

__all__ = ["BreakoutStrategy", "run_backtesting"]


def _prev_rolling_max(values: np.ndarray, window: int) -> np.ndarray:
    return pd.Series(values).rolling(window).max().shift(1).to_numpy()


def _rolling_mean(values: np.ndarray, window: int) -> np.ndarray:
    return pd.Series(values).rolling(window).mean().to_numpy()


def _prev_rolling_mean(values: np.ndarray, window: int) -> np.ndarray:
    return pd.Series(values).rolling(window).mean().shift(1).to_numpy()


class BreakoutStrategy(Strategy):  # type: ignore[misc]
    """20-day breakout with trend and volume filters, 8 % stop, time stop."""

    breakout = 20
    trend_sma = 50
    volume_window = 20
    volume_ratio = 1.5
    stop = 0.08
    time_stop = 17
    fraction = 0.1

    def init(self) -> None:
        self.prev_high = self.I(_prev_rolling_max, self.data.High, self.breakout, name="prev_high")
        self.sma = self.I(_rolling_mean, self.data.Close, self.trend_sma, name="sma")
        self.avg_volume = self.I(_prev_rolling_mean, self.data.Volume, self.volume_window, name="avg_volume")

    def next(self) -> None:
        bar = len(self.data) - 1
        if self.position:
            if bar - self.trades[0].entry_bar >= self.time_stop:
                self.position.close()
            return
        close = self.data.Close[-1]
        if (
            close > self.prev_high[-1]
            and close > self.sma[-1]
            and self.data.Volume[-1] > self.volume_ratio * self.avg_volume[-1]
        ):
            self.buy(size=self.fraction, sl=close * (1.0 - self.stop))


def run_backtesting(
    panel: Panel, symbols: list[str], rule: ComparableRule
) -> tuple[list[PeerTiming], dict[str, float]]:
    """Run every symbol of ``symbols`` (one warm-up symbol first, untimed); extrapolate to the panel.

    The extrapolation is linear in bars: measured seconds x (bars in the panel / bars timed).
    """
    params = {
        "breakout": rule.breakout,
        "trend_sma": rule.trend_sma,
        "volume_window": rule.volume_window,
        "volume_ratio": rule.volume_ratio,
        "stop": rule.stop,
        "time_stop": rule.time_stop,
        "fraction": 1.0 / rule.max_positions,
    }
    frames = {s: symbol_frame(panel, s) for s in symbols}
    trades = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _run_one(frames[symbols[0]], rule, params)  # warm-up (imports, first-call caches)
        start = time.perf_counter()
        for s in symbols:
            stats = _run_one(frames[s], rule, params)
            trades += int(stats["# Trades"])
        seconds = time.perf_counter() - start
    bars_timed = sum(len(f) for f in frames.values())
    bars_total = int(panel.available.sum())
    n = panel.n_symbols
    rows = [
        PeerTiming(
            "backtesting.py",
            f"Backtest.run per symbol, {len(symbols)} symbols",
            seconds,
            len(symbols),
            trades,
        )
    ]
    if len(symbols) < n:
        rows.append(
            PeerTiming(
                "backtesting.py",
                f"EXTRAPOLATED to {n} symbols (x bars)",
                seconds * bars_total / bars_timed,
                n,
                extrapolated_from=len(symbols),
                measured_seconds=seconds,
            )
        )
    return rows, {"trades": float(trades), "bars_timed": float(bars_timed), "bars_total": float(bars_total)}


# close trades still open at the end (backtesting.py >= 0.6 only; older versions drop them from stats)
_FINALIZE = {"finalize_trades": True} if "finalize_trades" in inspect.signature(Backtest).parameters else {}


def _run_one(frame: pd.DataFrame, rule: ComparableRule, params: dict[str, float]) -> pd.Series:
    bt = Backtest(
        frame,
        BreakoutStrategy,
        cash=rule.starting_capital,
        commission=0.0005,
        trade_on_close=True,
        **_FINALIZE,
    )
    return bt.run(**params)
