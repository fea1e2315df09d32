"""The comparable rule in vectorbt: signals over the (T x N) panel, then ``Portfolio.from_signals``.

vectorbt is used as a library only (its licence is Apache 2.0 with Commons Clause); no code is copied.

How the rule maps onto vectorbt:

- Signals: vectorbt's numba rolling accessors (``df.vbt.rolling_max``, ``df.vbt.rolling_mean``,
  ``df.vbt.fshift``) on the adjusted close/high/volume frames; one boolean (T x N) entry frame.
- Simulation: one ``Portfolio.from_signals`` call over all symbols with ``cash_sharing=True`` and
  ``group_by=True`` (one portfolio), entries filled at the signal close (``price`` = close), the 8 %
  stop as ``sl_stop=0.08`` checked on the later bars' open/high/low (a gap below the stop fills at
  the open, like RULES section 4), ``stop_entry_price=FillPrice``, 5 bp slippage, whole shares.
- The time stop: vectorbt's open-source ``from_signals`` has no holding-period stop, so a small
  numba ``signal_func_nb`` (its documented extension point) remembers each column's entry row and
  signals the exit at the close once ``time_stop`` sessions are held.
- Max positions: ``from_signals`` has no concurrent-position limit, so the same callback counts the
  positions it opened and signals no entry while ``max_positions`` are held (a slot freed by a stop
  is seen one bar later). Sizing: ``from_signals`` cannot size by a fraction of equity, so each entry
  buys a fixed value of ``starting_capital / max_positions`` (10,000). Ranking among same-day
  signals is column (symbol) order, vectorbt's default call sequence.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import vectorbt as vbt
from numba import njit
from peers_common import ComparableRule
from vectorbt.portfolio.enums import StopEntryPrice, StopExitPrice

from trading_playbook.core.panel import Panel

__all__ = ["VectorbtRunner", "vectorbt_entries", "vectorbt_portfolio"]

SLIPPAGE = 0.0005  # 5 basis points, the project default


@njit(cache=True)
def time_stop_signal_nb(c, entries, entry_row, held, n_open, time_stop, max_positions):  # type: ignore[no-untyped-def]
    """vectorbt signal callback: entries capped at ``max_positions``; exit after ``time_stop`` sessions.

    While flat, ``entry_row[col]`` follows the current row, so once a position exists it holds the
    row of the entry fill (the fill is at that row's close). ``held``/``n_open`` count the positions
    this callback opened; a position closed by the stop (vectorbt does not call back on a stop bar),
    by the time stop or never filled (cash short) frees its slot the next time its column is seen.
    """
    if c.position_now == 0:
        if held[c.col]:
            held[c.col] = False
            n_open[0] -= 1
        entry_row[c.col] = c.i
        if entries[c.i, c.col] and n_open[0] < max_positions:
            held[c.col] = True
            n_open[0] += 1
            return True, False, False, False
        return False, False, False, False
    return False, c.i - entry_row[c.col] >= time_stop, False, False


def _frames(panel: Panel) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    index = pd.DatetimeIndex(panel.sessions.astype("datetime64[ns]"), name="date")
    columns = pd.Index(panel.symbols, name="symbol")

    def frame(values: np.ndarray) -> pd.DataFrame:
        return pd.DataFrame(values, index=index, columns=columns, copy=False)

    return frame(panel.open), frame(panel.high), frame(panel.low), frame(panel.close), frame(panel.volume)


def vectorbt_entries(
    high: pd.DataFrame, close: pd.DataFrame, volume: pd.DataFrame, rule: ComparableRule
) -> pd.DataFrame:
    """The entry signal frame computed with vectorbt's accessors."""
    prev_high = high.vbt.rolling_max(rule.breakout).vbt.fshift(1)
    sma = close.vbt.rolling_mean(rule.trend_sma)
    avg_volume = volume.vbt.rolling_mean(rule.volume_window).vbt.fshift(1)
    with np.errstate(invalid="ignore"):
        return (close > prev_high) & (close > sma) & (volume > rule.volume_ratio * avg_volume)


def vectorbt_portfolio(
    open_: pd.DataFrame,
    high: pd.DataFrame,
    low: pd.DataFrame,
    close: pd.DataFrame,
    entries: pd.DataFrame,
    rule: ComparableRule,
) -> vbt.Portfolio:
    """``Portfolio.from_signals`` of the comparable rule over all columns as one cash-sharing group."""
    n_cols = close.shape[1]
    entry_row = np.zeros(n_cols, dtype=np.int64)
    held = np.zeros(n_cols, dtype=np.bool_)
    n_open = np.zeros(1, dtype=np.int64)
    return vbt.Portfolio.from_signals(
        close,
        signal_func_nb=time_stop_signal_nb,
        signal_args=(entries.to_numpy(), entry_row, held, n_open, rule.time_stop, rule.max_positions),
        open=open_,
        high=high,
        low=low,
        sl_stop=rule.stop,
        stop_entry_price=StopEntryPrice.FillPrice,
        stop_exit_price=StopExitPrice.StopMarket,
        size=rule.starting_capital / rule.max_positions,
        size_type="value",
        size_granularity=1.0,
        slippage=SLIPPAGE,
        init_cash=rule.starting_capital,
        cash_sharing=True,
        group_by=True,
        freq="1D",
    )


class VectorbtRunner:
    """The timed steps on one panel: ``run()`` computes the signals and the portfolio once.

    The first ``run()`` compiles vectorbt's and our callback's numba code; the benchmark discards it.
    """

    engine = "vectorbt"
    steps = (
        ("signals", "signals (rolling max/mean accessors, warm)"),
        ("from_signals", "Portfolio.from_signals (warm)"),
    )
    total_label = "signals + from_signals (warm)"

    def __init__(self, panel: Panel, rule: ComparableRule) -> None:
        self.rule = rule
        self.n_symbols = panel.n_symbols
        self.open, self.high, self.low, self.close, self.volume = _frames(panel)
        self.entries: pd.DataFrame | None = None
        self.portfolio: vbt.Portfolio | None = None

    def run(self) -> dict[str, float]:
        c0, t0 = time.process_time(), time.perf_counter()
        self.entries = vectorbt_entries(self.high, self.close, self.volume, self.rule)
        t1 = time.perf_counter()
        self.portfolio = vectorbt_portfolio(
            self.open, self.high, self.low, self.close, self.entries, self.rule
        )
        t2, c2 = time.perf_counter(), time.process_time()
        return {"signals": t1 - t0, "from_signals": t2 - t1, "cpu": c2 - c0}

    def trades(self) -> int:
        assert self.portfolio is not None
        return int(self.portfolio.trades.count())

    def sanity(self) -> dict[str, float]:
        """A few figures of the last portfolio (not timed)."""
        assert self.portfolio is not None and self.entries is not None
        return {
            "signals": float(self.entries.to_numpy().sum()),
            "trades": float(self.trades()),
            "final_value": float(self.portfolio.final_value()),
        }
