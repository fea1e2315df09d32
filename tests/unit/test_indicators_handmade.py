"""Indicators on tiny hand-made panels; expected values worked out by hand in the comments."""

from __future__ import annotations

import numpy as np
import pytest

from trading_playbook.core import indicators as ind
from trading_playbook.core.errors import ConfigError

NAN = np.nan

# One symbol with a gap at session 2 (no bar), closes 1, 2, -, 4, 8, 16.
CLOSE = np.array([[1.0], [2.0], [NAN], [4.0], [8.0], [16.0]])
AVAIL = np.isfinite(CLOSE)


def col(a: np.ndarray) -> list[float]:
    return [round(float(v), 10) if np.isfinite(v) else -1.0 for v in a[:, 0]]


def test_sma_skips_sessions_without_bar() -> None:
    # windows of 2 own bars: (1,2)=1.5, gap -> NaN, (2,4)=3, (4,8)=6, (8,16)=12
    assert col(ind.sma(CLOSE, 2, AVAIL)) == [-1, 1.5, -1, 3.0, 6.0, 12.0]
    # 3 bars: (1,2,4)=7/3, (2,4,8)=14/3, (4,8,16)=28/3
    assert col(ind.sma(CLOSE, 3, AVAIL)) == [
        -1,
        -1,
        -1,
        round(7 / 3, 10),
        round(14 / 3, 10),
        round(28 / 3, 10),
    ]


def test_ema_seeded_by_sma_then_recursive() -> None:
    # n=2, alpha=2/3; seed at 2nd bar = (1+2)/2 = 1.5; then 2/3*4 + 1/3*1.5 = 3.1666..;
    # 2/3*8 + 1/3*3.1666.. = 6.3888..; 2/3*16 + 1/3*6.3888.. = 12.7962..
    e3 = 2 / 3 * 4 + 1 / 3 * 1.5
    e4 = 2 / 3 * 8 + 1 / 3 * e3
    e5 = 2 / 3 * 16 + 1 / 3 * e4
    assert col(ind.ema(CLOSE, 2, AVAIL)) == [-1, 1.5, -1, round(e3, 10), round(e4, 10), round(e5, 10)]


def test_true_range_and_simple_atr() -> None:
    high = np.array([[10.0], [12.0], [NAN], [11.0]])
    low = np.array([[9.0], [11.0], [NAN], [7.0]])
    close = np.array([[9.5], [11.5], [NAN], [8.0]])
    avail = np.isfinite(close)
    # bar 0: H-L = 1; bar 1: max(1, |12-9.5|=2.5, |11-9.5|=1.5) = 2.5;
    # bar 3 (prev bar = session 1, close 11.5): max(4, |11-11.5|=.5, |7-11.5|=4.5) = 4.5
    assert col(ind.true_range(high, low, close, avail)) == [1.0, 2.5, -1, 4.5]
    # ATR2 simple mean: (1+2.5)/2 = 1.75, (2.5+4.5)/2 = 3.5 (Wilder would give other numbers)
    assert col(ind.atr(high, low, close, avail, n=2)) == [-1, 1.75, -1, 3.5]


def test_rolling_max_min_windows_and_min_periods() -> None:
    x = np.array([[3.0], [1.0], [NAN], [2.0], [5.0], [4.0]])
    av = np.isfinite(x)
    # last 2 own bars incl. t: (3,1)=3, (1,2)=2, (2,5)=5, (5,4)=5
    assert col(ind.rolling_max(x, 2, av)) == [-1, 3.0, -1, 2.0, 5.0, 5.0]
    # min_periods=1: first bar alone = 3
    assert col(ind.rolling_max(x, 2, av, min_periods=1)) == [3.0, 3.0, -1, 2.0, 5.0, 5.0]
    # excluding t: the 2 bars before: bar1 has 1 earlier bar (<2) -> NaN; bar3: (3,1)=1 min; bar4: (1,2)=1; bar5: (2,5)=2
    assert col(ind.rolling_min(x, 2, av, include_current=False)) == [-1, -1, -1, 1.0, 1.0, 2.0]
    with pytest.raises(ConfigError, match="min_periods"):
        ind.rolling_max(x, 2, av, min_periods=3)


def test_avg_volume_before_excludes_today() -> None:
    vol = np.array([[100.0], [200.0], [NAN], [300.0], [1000.0]])
    av = np.isfinite(vol)
    # n=2: bar3 averages bars 0,1 = 150; bar4 averages bars 1,3 = 250; fewer than 2 earlier -> NaN
    assert col(ind.avg_volume_before(vol, av, n=2)) == [-1, -1, -1, 150.0, 250.0]


def test_previous_bar_reaches_over_the_gap() -> None:
    assert col(ind.previous_bar(CLOSE, AVAIL)) == [-1, 1.0, -1, 2.0, 4.0, 8.0]


def test_rsi_by_hand_and_flat_series() -> None:
    x = np.array([[10.0], [11.0], [10.0], [12.0], [12.0]])
    av = np.isfinite(x)
    # n=2: changes +1, -1, +2, 0. Seed at bar 2: gain (1+0)/2 = .5, loss (0+1)/2 = .5 -> 50
    # bar 3: gain (.5*1+2)/2 = 1.25, loss (.5*1+0)/2 = .25 -> 100*1.25/1.5 = 83.333..
    # bar 4: gain 1.25/2 = .625, loss .125 -> 100*.625/.75 = 83.333..
    assert col(ind.rsi(x, 2, av)) == [-1, -1, 50.0, round(250 / 3, 10), round(250 / 3, 10)]
    flat = np.full((4, 1), 5.0)
    assert col(ind.rsi(flat, 2, np.ones((4, 1), bool)))[2:] == [50.0, 50.0]


def test_donchian_is_max_high_min_low_including_today() -> None:
    high = np.array([[2.0, 5.0], [3.0, NAN], [1.0, 4.0]])
    low = high - 1.0
    av = np.isfinite(high)
    upper, lower = ind.donchian(high, low, 2, av)
    # symbol 0: (2,3)=3 / (3,1)=3; symbol 1 bars 5,4 -> 5 at session 2
    assert upper[1, 0] == 3.0 and upper[2, 0] == 3.0 and upper[2, 1] == 5.0
    assert lower[2, 0] == 0.0 and np.isnan(upper[1, 1]) and lower[2, 1] == 3.0


def test_sma_nan_value_poisons_only_its_windows() -> None:
    x = np.array([[1.0], [NAN], [3.0], [5.0], [7.0]])
    av = np.ones((5, 1), bool)  # a bar exists but its value is NaN
    # n=2: (1,nan) nan, (nan,3) nan, (3,5)=4, (5,7)=6
    assert col(ind.sma(x, 2, av)) == [-1, -1, -1, 4.0, 6.0]


def test_bad_window_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="positive integer"):
        ind.sma(CLOSE, 0, AVAIL)
    with pytest.raises(ConfigError, match="does not match"):
        ind.sma(CLOSE, 2, np.ones((3, 1), bool))


# A constructed tie (RULES section 8: moving averages are plain means of their window). At bar 5 the
# close 11.65 equals its SMA5 exactly when the window is summed: ((((0 + 11.72) + 11.93) + 11.81) +
# 11.14) + 11.65 = 58.25, / 5 = 11.65. A running sum (the sum of bars 0..4, + 11.65 - 10.33) rounds to
# 58.25000000000001 and gives 11.650000000000002, above the close: `close < SMA5` would then fire.
TIE_CLOSES = [10.33, 11.72, 11.93, 11.81, 11.14, 11.65]


def test_sma_is_the_plain_mean_of_its_window_on_a_tie() -> None:
    x = np.array(TIE_CLOSES)[:, None]
    running = ((((((10.33 + 11.72) + 11.93) + 11.81) + 11.14) + 11.65) - 10.33) / 5
    assert running > 11.65  # the running sum's answer (why the exact tie matters)
    sma5 = ind.sma(x, 5, np.isfinite(x))[:, 0]
    assert sma5[5] == 11.65 == x[5, 0]
    assert not x[5, 0] < sma5[5]  # MA_BREAK's literal test does not fire
    # ATR and the average volume are means of their windows too (the same arithmetic)
    volume = x * 1000.0
    avg = ind.avg_volume_before(np.vstack([volume, [[0.0]]]), np.ones((7, 1), dtype=bool), n=5)[:, 0]
    assert avg[6] == sum(float(v) for v in volume[1:6, 0]) / 5


def test_a_layout_is_reused_only_for_an_equal_mask() -> None:
    from trading_playbook.core.indicators import BarLayout

    mask = np.array([[True, False], [True, True], [False, True]])
    first = BarLayout.from_available(mask)
    assert BarLayout.from_available(mask.copy()) is first  # same content: the kept layout
    mask[2, 0] = True  # changed in place: a new layout, not the stale one
    second = BarLayout.from_available(mask)
    assert second is not first
    assert second.offsets.tolist() == [0, 3, 5] and first.offsets.tolist() == [0, 2, 4]


def test_sma_sums_each_window_like_window_mean_nb() -> None:
    # sma_nb sums four windows side by side: each value must still be window_mean_nb's, bit for bit
    from trading_playbook.core import _indicator_kernels as k

    rng = np.random.default_rng(11)
    for _ in range(20):
        lengths = rng.integers(0, 30, size=int(rng.integers(1, 5)))
        offsets = np.concatenate(([0], np.cumsum(lengths))).astype(np.int64)
        x = rng.normal(100.0, 30.0, size=int(offsets[-1])) * 10.0 ** int(rng.integers(-3, 9))
        x[rng.random(x.size) < 0.05] = np.nan
        x[rng.random(x.size) < 0.02] = np.inf
        for n in (1, 2, 3, 4, 5, 7, 20):
            expected = np.full(x.size, np.nan)
            for j in range(offsets.size - 1):
                for i in range(int(offsets[j]) + n - 1, int(offsets[j + 1])):
                    expected[i] = k.window_mean_nb(x, i - n + 1, n)
            assert np.array_equal(k.sma_nb(x, offsets, n), expected, equal_nan=True), n
