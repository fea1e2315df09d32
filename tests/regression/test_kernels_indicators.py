"""The fast engine's row-major indicator kernels are bit-identical to ``core.indicators``.

The reference engine reads ``core.indicators``; the fast engine computes the same indicators in one
row-major pass (``_kernels.sma_rows_nb`` and friends). Parity of the two engines needs the very same
floats, so this compares them with ``array_equal`` (not a tolerance) on the shared real data and on a
synthetic panel with gaps, late listings and delistings.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
from fast_fixtures import shared_panel

from trading_playbook.core import indicators
from trading_playbook.core.panel import Panel, bars_to_panel
from trading_playbook.core.simulate import _kernels as k


@functools.lru_cache(maxsize=1)
def gappy_panel() -> Panel:
    from trading_playbook.data.synthetic import synthetic_bars

    bars = synthetic_bars(n_symbols=25, start="2015-01-01", end="2017-12-31", seed=9)
    rng = np.random.default_rng(0)
    bars = bars[rng.random(len(bars)) > 0.05]  # 5 % of the bars missing
    return bars_to_panel(bars.reset_index(drop=True))


@pytest.fixture(params=["shared", "gappy"])
def panel(request: pytest.FixtureRequest) -> Panel:
    return shared_panel() if request.param == "shared" else gappy_panel()


@pytest.mark.parametrize("n", [1, 5, 10])
def test_sma_ema_atr_are_bit_identical(panel: Panel, n: int) -> None:
    p, a = panel, panel.available
    assert np.array_equal(k.sma_rows_nb(p.close, a, n), indicators.sma(p.close, n, a), equal_nan=True)
    assert np.array_equal(k.ema_rows_nb(p.close, a, n), indicators.ema(p.close, n, a), equal_nan=True)
    assert np.array_equal(
        k.atr_rows(p.high, p.low, p.close, a, n), indicators.atr(p.high, p.low, p.close, a, n), equal_nan=True
    )


def test_previous_bar_is_bit_identical(panel: Panel) -> None:
    for values in (panel.close, panel.high):
        assert np.array_equal(
            k.previous_rows_nb(values, panel.available),
            indicators.previous_bar(values, panel.available),
            equal_nan=True,
        )


def test_hand_worked_sma_with_a_gap() -> None:
    # one symbol: 1, 2, (no bar), 4, 6 -> SMA2: nan, 1.5, nan, 3, 5 (the window skips the gap)
    x = np.array([[1.0], [2.0], [np.nan], [4.0], [6.0]])
    a = np.isfinite(x)
    np.testing.assert_array_equal(k.sma_rows_nb(x, a, 2)[:, 0], [np.nan, 1.5, np.nan, 3.0, 5.0])
    # EMA2: alpha 2/3, seed (1 + 2) / 2 = 1.5; 4 -> 2/3*4 + 1/3*1.5 = 3.1666..; 6 -> 4 + 3.1666../3
    ema = k.ema_rows_nb(x, a, 2)[:, 0]
    assert np.isnan(ema[0]) and ema[1] == 1.5 and np.isnan(ema[2])
    assert ema[3] == pytest.approx(2 / 3 * 4 + 1 / 3 * 1.5)
    assert ema[4] == pytest.approx(2 / 3 * 6 + 1 / 3 * ema[3])


@pytest.mark.parametrize("n", [1, 2, 5, 10])
def test_per_bar_values_are_bit_identical(panel: Panel, n: int) -> None:
    # the loop computes SMA / ATR / previous bar at the bars it reads (mean_at_nb, previous_at_nb):
    # at every bar of the panel they must be the very floats of core.indicators
    p, a = panel, panel.available
    assert np.array_equal(
        k.means_at_every_bar_nb(p.close, p.close, p.close, a, n, False),
        indicators.sma(p.close, n, a),
        equal_nan=True,
    )
    assert np.array_equal(
        k.means_at_every_bar_nb(p.close, p.high, p.low, a, n, True),
        indicators.atr(p.high, p.low, p.close, a, n),
        equal_nan=True,
    )
    if n == 1:
        for values in (p.close, p.high):
            assert np.array_equal(
                k.previous_at_every_bar_nb(values, a), indicators.previous_bar(values, a), equal_nan=True
            )


def test_per_bar_values_with_gaps_and_nan_by_hand() -> None:
    # one symbol: no bar, 1, 2, (no bar), 4, NaN close, 6, 8 (bars 0..5 at sessions 1, 2, 4, 5, 6, 7)
    # SMA2 by bar: -, 1.5, 3, NaN (window holds the NaN), NaN, 7; previous bar: NaN, 1, 2, 4, NaN, 6
    x = np.array([[np.nan], [1.0], [2.0], [np.nan], [4.0], [np.nan], [6.0], [8.0]])
    a = np.array([[False], [True], [True], [False], [True], [True], [True], [True]])
    sma = k.means_at_every_bar_nb(x, x, x, a, 2, False)[:, 0]
    np.testing.assert_array_equal(sma, [np.nan, np.nan, 1.5, np.nan, 3.0, np.nan, np.nan, 7.0])
    prev = k.previous_at_every_bar_nb(x, a)[:, 0]
    np.testing.assert_array_equal(prev, [np.nan, np.nan, 1.0, np.nan, 2.0, 4.0, np.nan, 6.0])
    assert np.array_equal(sma, indicators.sma(x, 2, a)[:, 0], equal_nan=True)
    first, last, gap_ptr, gap_rows = k.bar_index_nb(a)
    assert (first[0], last[0], list(gap_rows[gap_ptr[0] : gap_ptr[1]])) == (1, 7, [3])


def test_setup_atr_matches_the_atr_array(panel: Panel) -> None:
    p, a = panel, panel.available
    atr = indicators.atr(p.high, p.low, p.close, a, 10)
    rng = np.random.default_rng(1)
    session = rng.integers(0, p.n_sessions, 2000)
    symbol = rng.integers(0, p.n_symbols, 2000)
    first, _, gap_ptr, gap_rows = k.bar_index_nb(a)
    got = k.setup_atr_nb(p.high, p.low, p.close, a, first, gap_ptr, gap_rows, 10, session, symbol)
    assert np.array_equal(got, atr[session, symbol], equal_nan=True)
