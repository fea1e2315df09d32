"""Shared helpers of the fast-engine tests: the real data panel (loaded once per process), a small
vectorised breakout scanner, and comparison of two engines' results (table scanners and the shared
data path come from :mod:`trading_playbook.testing`).

Not a test module (no ``test_`` prefix); the fast-engine, parity and lookahead tests import it.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from trading_playbook.core import indicators
from trading_playbook.core.panel import Panel, bars_to_panel
from trading_playbook.core.types import EquityCurve, SetupTable, Trade
from trading_playbook.testing import TableScanner, setup_table, shared_data_path

__all__ = [
    "DATA",
    "MEMBERSHIP",
    "SimpleBreakout",
    "TableScanner",
    "breakout_setups",
    "equity_difference",
    "setup_table",
    "shared_panel",
    "trade_differences",
    "universe_window_panel",
    "window_panel",
]

DATA = shared_data_path(Path(__file__).parent) or Path("shared/data/sp500_daily.parquet")


@functools.lru_cache(maxsize=1)
def shared_panel() -> Panel:
    """The shared S&P 500 data as a split-adjusted panel (skips the test when the file is absent)."""
    if not DATA.exists():
        pytest.skip(f"shared data not found at {DATA}")
    import pandas as pd

    return bars_to_panel(pd.read_parquet(DATA), adjustment="split")


@dataclass(frozen=True)
class SimpleBreakout:
    """A small vectorised breakout scanner (close above the prior 20-bar high, over SMA20, volume up).

    Lookahead-free; used where the real DailyBreakoutScanner is not needed. Score = rounded RS bucket
    so that ties on score happen and the volume ratio / symbol tie-breaks are exercised.
    """

    lookback: int = 20
    hard_stop: float = 0.08

    def scan(self, panel: Panel) -> SetupTable:
        avail = panel.available
        close, high = panel.close, panel.high
        prior_high = indicators.rolling_max(high, self.lookback, avail, include_current=False)
        sma20 = indicators.sma(close, 20, avail)
        avg_vol = indicators.avg_volume_before(panel.volume, avail, 20)
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = panel.volume / avg_vol
            hit = avail & (close > prior_high) & (close > sma20) & (ratio >= 1.0) & (panel.raw_close >= 10.0)
        t, j = np.nonzero(hit)
        prev20 = indicators.rolling_max(close, 1, avail)  # the close itself (defined when available)
        rs = np.round(close[t, j] / sma20[t, j] - 1.0, 2)
        vr = ratio[t, j]
        order = np.lexsort((j, -vr, -rs, t))
        t, j, rs, vr = t[order], j[order], rs[order], vr[order]
        ref = prev20[t, j]
        return SetupTable(
            session_idx=t.astype(np.int64),
            symbol_idx=j.astype(np.int64),
            reference_price=ref,
            initial_stop=ref * (1.0 - self.hard_stop),
            score=rs,
            base_high=prior_high[t, j],
            base_days=np.full(t.shape[0], self.lookback, dtype=np.int64),
            base_width=np.zeros(t.shape[0]),
            volume_ratio=vr,
            distance_from_high=np.zeros(t.shape[0]),
            rs=rs,
        )


def _close(a: float, b: float, rel: float) -> bool:
    if a == b or (math.isnan(a) and math.isnan(b)):
        return True
    return abs(a - b) <= rel * max(abs(a), abs(b))


def trade_differences(left: list[Trade], right: list[Trade], rel: float = 1e-9) -> list[str]:
    """Human-readable differences between two trade lists (every field; floats within ``rel``)."""
    out: list[str] = []
    if len(left) != len(right):
        out.append(f"trade count {len(left)} != {len(right)}")
    for i, (a, b) in enumerate(zip(left, right, strict=False)):
        da, db = a.to_dict(), b.to_dict()
        for key, va in da.items():
            vb = db[key]
            if key == "partial_exits":
                same = len(va) == len(vb) and all(
                    pa["date"] == pb["date"]
                    and pa["shares"] == pb["shares"]
                    and pa["reason"] == pb["reason"]
                    and _close(pa["price"], pb["price"], rel)
                    for pa, pb in zip(va, vb, strict=True)
                )
            elif isinstance(va, float):
                same = _close(va, vb, rel)
            else:
                same = va == vb
            if not same:
                out.append(f"trade {i} ({a.symbol} {a.entry_date}): {key} {va!r} != {vb!r}")
        if len(out) > 20:
            break
    return out


def equity_difference(left: EquityCurve, right: EquityCurve) -> float:
    """Largest relative difference of equity, cash and sleeve equity (inf on shape/positions mismatch)."""
    if left.equity.shape != right.equity.shape or not np.array_equal(left.positions, right.positions):
        return math.inf
    if not np.array_equal(left.dates, right.dates):
        return math.inf
    worst = 0.0
    pairs = [(left.equity, right.equity), (left.cash, right.cash)]
    pairs += [(left.sleeve_equity[k], right.sleeve_equity[k]) for k in left.sleeve_equity]
    for a, b in pairs:
        scale = np.maximum(np.abs(a), np.abs(b))
        diff = np.abs(a - b) / np.where(scale > 0, scale, 1.0)
        worst = max(worst, float(diff.max(initial=0.0)))
    return worst


@functools.lru_cache(maxsize=8)
def window_panel(first: str, last: str) -> tuple[Panel, int, int]:
    """The shared panel cut after ``last`` and the (start, end) session indices of the window."""
    full = shared_panel()
    end = full.session_index(last, "right")
    start = full.session_index(first, "left")
    return full.truncate(end), start, end


@functools.lru_cache(maxsize=16)
def breakout_setups(preset: str, first: str, last: str) -> tuple[object, SetupTable]:
    """The DailyBreakoutScanner of ``preset`` and its setups on the window panel (computed once)."""
    from trading_playbook.core.scanners import DailyBreakoutScanner

    scanner = DailyBreakoutScanner(preset)
    panel, _, _ = window_panel(first, last)
    return scanner, scanner.scan(panel)


MEMBERSHIP = DATA.parent / "universes" / "sp500_membership_intervals.csv"


@functools.lru_cache(maxsize=4)
def universe_window_panel(first: str, last: str, policy: str) -> tuple[Panel, int, int]:
    """:func:`window_panel` traded in the shared S&P 500 point-in-time universe (``policy``)."""
    from trading_playbook.core.universe import apply_membership
    from trading_playbook.data.universe import read_membership

    panel, start, end = window_panel(first, last)
    if not MEMBERSHIP.exists():
        pytest.skip(f"shared membership file not found at {MEMBERSHIP}")
    traded, _ = apply_membership(panel, read_membership(MEMBERSHIP), policy=policy)
    return traded, start, end
