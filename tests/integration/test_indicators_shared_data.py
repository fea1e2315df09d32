"""Indicators on the shared real data, checked against pandas and TA-Lib per symbol.

Reference recipe: per symbol drop the sessions without a bar, compute on the compressed series,
scatter back to the panel's sessions. Our kernels must agree everywhere (NaN pattern included).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from trading_playbook.core import indicators as ind
from trading_playbook.core.panel import Panel, bars_to_panel
from trading_playbook.testing import shared_data_path

DATA = shared_data_path(Path(__file__).parent) or Path("shared/data/sp500_daily.parquet")

pytestmark = pytest.mark.skipif(not DATA.exists(), reason="shared data not present")


@pytest.fixture(scope="module")
def panel() -> Panel:
    return bars_to_panel(pd.read_parquet(DATA))


def _subset(panel: Panel) -> np.ndarray:
    """Every 8th symbol plus every symbol with a gap in its bars (pandas per group is slow)."""
    avail = panel.available
    first = avail.argmax(axis=0)
    last = avail.shape[0] - 1 - avail[::-1].argmax(axis=0)
    gappy = avail.sum(axis=0) < (last - first + 1)
    return np.flatnonzero(gappy | (np.arange(panel.n_symbols) % 8 == 0))


@pytest.fixture(scope="module")
def long_bars(panel: Panel) -> pd.DataFrame:
    """The subset's bars in layout order (symbol after symbol); ``attrs`` keep the layout."""
    cols = _subset(panel)
    layout = ind.BarLayout.from_available(panel.available[:, cols])
    frame = pd.DataFrame(
        {
            "col": layout.cols,
            "high": layout.compress(panel.high[:, cols]),
            "low": layout.compress(panel.low[:, cols]),
            "close": layout.compress(panel.close[:, cols]),
            "volume": layout.compress(panel.volume[:, cols]),
        }
    )
    frame.attrs["layout"] = layout
    frame.attrs["cols"] = cols
    return frame


def _scatter(frame: pd.DataFrame, series: pd.Series) -> np.ndarray:
    layout: ind.BarLayout = frame.attrs["layout"]
    return layout.expand(series.to_numpy(dtype=np.float64))


def _assert_same_subset(frame: pd.DataFrame, ours: np.ndarray, ref: pd.Series, rtol: float = 1e-9) -> None:
    _assert_same(ours[:, frame.attrs["cols"]], _scatter(frame, ref), rtol=rtol)


def _assert_same(ours: np.ndarray, ref: np.ndarray, rtol: float = 1e-9) -> None:
    assert ours.shape == ref.shape
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(ref))
    np.testing.assert_allclose(ours, ref, rtol=rtol, atol=1e-9, equal_nan=True)


@pytest.mark.parametrize("n", [5, 20, 50])
def test_sma_matches_pandas_rolling_mean(panel: Panel, long_bars: pd.DataFrame, n: int) -> None:
    ref = long_bars.groupby("col")["close"].transform(lambda s: s.rolling(n).mean())
    _assert_same_subset(long_bars, ind.sma(panel.close, n, panel.available), ref)


def test_ema_matches_pandas_ewm_seeded_by_sma(panel: Panel, long_bars: pd.DataFrame) -> None:
    n = 10

    def ref_ema(s: pd.Series) -> pd.Series:
        # pandas' ewm seeds with the first value; seed with SMA_n at the n-th bar as RULES says
        out = pd.Series(np.nan, index=s.index)
        if len(s) < n:
            return out
        seeded = s.iloc[n - 1 :].copy()
        seeded.iloc[0] = s.iloc[:n].mean()
        out.iloc[n - 1 :] = seeded.ewm(alpha=2 / (n + 1), adjust=False).mean().to_numpy()
        return out

    ref = long_bars.groupby("col")["close"].transform(ref_ema)
    _assert_same_subset(long_bars, ind.ema(panel.close, n, panel.available), ref)


def test_rolling_max_min_match_pandas(panel: Panel, long_bars: pd.DataFrame) -> None:
    grouped = long_bars.groupby("col")
    ref_max = grouped["high"].transform(lambda s: s.rolling(252, min_periods=1).max())
    ours_max = ind.rolling_max(panel.high, 252, panel.available, min_periods=1)
    _assert_same_subset(long_bars, ours_max, ref_max, rtol=0)
    ref_min = grouped["low"].transform(lambda s: s.shift(1).rolling(30, min_periods=30).min())
    ours_min = ind.rolling_min(panel.low, 30, panel.available, include_current=False)
    _assert_same_subset(long_bars, ours_min, ref_min, rtol=0)


def test_avg_volume_before_and_previous_bar_match_pandas(panel: Panel, long_bars: pd.DataFrame) -> None:
    grouped = long_bars.groupby("col")
    ref = grouped["volume"].transform(lambda s: s.rolling(20).mean().shift(1))
    _assert_same_subset(long_bars, ind.avg_volume_before(panel.volume, panel.available, 20), ref)
    ref_prev = grouped["close"].shift(1)
    _assert_same_subset(long_bars, ind.previous_bar(panel.close, panel.available), ref_prev, rtol=0)


def test_true_range_and_atr_match_pandas(panel: Panel, long_bars: pd.DataFrame) -> None:
    prev_close = long_bars.groupby("col")["close"].shift(1)
    hl = long_bars["high"] - long_bars["low"]
    tr = pd.concat(
        [hl, (long_bars["high"] - prev_close).abs(), (long_bars["low"] - prev_close).abs()], axis=1
    )
    ref_tr = tr.max(axis=1)  # skipna: first bar -> H - L
    _assert_same_subset(
        long_bars, ind.true_range(panel.high, panel.low, panel.close, panel.available), ref_tr
    )
    ref_atr = ref_tr.groupby(long_bars["col"]).transform(lambda s: s.rolling(10).mean())
    ours_atr = ind.atr(panel.high, panel.low, panel.close, panel.available, n=10)
    _assert_same_subset(long_bars, ours_atr, ref_atr)


def test_against_talib_where_it_defines_the_same_thing(panel: Panel) -> None:
    talib = pytest.importorskip("talib")
    available = panel.available
    ours = {
        "sma": ind.sma(panel.close, 20, available),
        "ema": ind.ema(panel.close, 10, available),
        "trange": ind.true_range(panel.high, panel.low, panel.close, available),
        "rsi": ind.rsi(panel.close, 14, available),
        "max": ind.donchian(panel.high, panel.low, 20, available)[0],
        "min": ind.donchian(panel.high, panel.low, 20, available)[1],
    }
    for j in range(0, panel.n_symbols, 3):  # a third of the symbols keeps it quick
        rows = np.flatnonzero(available[:, j])
        high, low, close = (np.ascontiguousarray(a[rows, j]) for a in (panel.high, panel.low, panel.close))
        ref = {
            "sma": talib.SMA(close, 20),
            "ema": talib.EMA(close, 10),
            "rsi": talib.RSI(close, 14),
            "max": talib.MAX(high, 20),
            "min": talib.MIN(low, 20),
        }
        trange = talib.TRANGE(high, low, close)
        trange[0] = high[0] - low[0]  # TA-Lib leaves the first bar undefined; RULES says H - L
        ref["trange"] = trange
        for key, expected in ref.items():
            got = ours[key][rows, j]
            # TA-Lib's MAX/MIN/SMA/EMA start at bar n like ours; compare where both are defined
            np.testing.assert_array_equal(
                np.isnan(got), np.isnan(expected), err_msg=f"{key} {panel.symbols[j]}"
            )
            np.testing.assert_allclose(got, expected, rtol=1e-8, atol=1e-8, equal_nan=True, err_msg=key)
