"""The indicators the fast engine computes at the bars it reads are bit-identical to ``core.indicators``.

The reference engine reads ``core.indicators`` over the whole panel; the fast engine's kernel computes
SMA, ATR and previous-bar values only at the bars of the positions it holds (``_bars_nb``). Parity of
the two engines needs the very same floats, so this compares them with ``array_equal`` (not a
tolerance) at every bar of the shared real data and of a synthetic panel with gaps, late listings and
delistings, through the kernels the engine runs (``means_at_nb`` also gives the atr_target sizer its
ATR). The engine's EMAs are ``core.indicators.ema`` itself.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
from fast_fixtures import shared_panel
from numba import njit

from trading_playbook.core import indicators
from trading_playbook.core.panel import Panel, bars_to_panel
from trading_playbook.core.simulate._bars_nb import bar_index, means_at_nb, previous_at_nb
from trading_playbook.core.simulate._records import Bars


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


def kernel_bars(close: np.ndarray, high: np.ndarray, low: np.ndarray, available: np.ndarray) -> Bars:
    first, last, gap_ptr, gap_rows = bar_index(np.ascontiguousarray(available))
    f64 = [np.ascontiguousarray(a, dtype=np.float64) for a in (close, high, low)]
    return Bars(
        f64[0],
        f64[1],
        f64[2],
        f64[0],
        available,
        first,
        last,
        gap_ptr,
        gap_rows,
        np.zeros((1, 1, 1)),
        np.zeros(1),
        np.zeros((1, 1), dtype=np.bool_),
    )


@njit
def previous_at_many(x: np.ndarray, available: np.ndarray, t: np.ndarray, j: np.ndarray) -> np.ndarray:
    """``previous_at_nb`` at each ``(t[i], j[i])``: it is a kernel only kernels call (no Python wrapper;
    LLVM inlines it into its callers), so Python reaches it through this one."""
    out = np.empty(t.shape[0])
    for i in range(t.shape[0]):
        out[i] = previous_at_nb(x, available, t[i], j[i])
    return out


def at_every_bar(bars: Bars, n: int, true_range: bool) -> np.ndarray:
    """The kernel's per-bar mean at every bar of the panel, scattered back to (T, N) (NaN: no bar)."""
    t, j = np.nonzero(bars.available)
    out = np.full(bars.available.shape, np.nan)
    out[t, j] = means_at_nb(bars, n, true_range, t.astype(np.int64), j.astype(np.int64))
    return out


@pytest.mark.parametrize("n", [1, 2, 5, 10])
def test_per_bar_sma_and_atr_are_bit_identical(panel: Panel, n: int) -> None:
    p, a = panel, panel.available
    bars = kernel_bars(p.close, p.high, p.low, a)
    assert np.array_equal(at_every_bar(bars, n, False), indicators.sma(p.close, n, a), equal_nan=True)
    assert np.array_equal(
        at_every_bar(bars, n, True), indicators.atr(p.high, p.low, p.close, a, n), equal_nan=True
    )


def test_previous_bar_is_bit_identical(panel: Panel) -> None:
    rng = np.random.default_rng(3)
    t = rng.integers(0, panel.n_sessions, 3000)
    j = rng.integers(0, panel.n_symbols, 3000)
    for values in (panel.close, panel.high):
        expected = indicators.previous_bar(values, panel.available)[t, j]
        got = previous_at_many(values, panel.available, t.astype(np.int64), j.astype(np.int64))
        assert np.array_equal(got, expected, equal_nan=True)


def test_per_bar_values_with_gaps_and_nan_by_hand() -> None:
    # one symbol: no bar, 1, 2, (no bar), 4, NaN close, 6, 8 (bars 0..5 at sessions 1, 2, 4, 5, 6, 7)
    # SMA2 by bar: -, 1.5, 3, NaN (window holds the NaN), NaN, 7; previous bar: NaN, 1, 2, 4, NaN, 6
    x = np.array([[np.nan], [1.0], [2.0], [np.nan], [4.0], [np.nan], [6.0], [8.0]])
    a = np.array([[False], [True], [True], [False], [True], [True], [True], [True]])
    bars = kernel_bars(x, x, x, a)
    sma = at_every_bar(bars, 2, False)[:, 0]
    np.testing.assert_array_equal(sma, [np.nan, np.nan, 1.5, np.nan, 3.0, np.nan, np.nan, 7.0])
    prev = previous_at_many(x, a, np.arange(8), np.zeros(8, dtype=np.int64))
    np.testing.assert_array_equal(prev, [np.nan, np.nan, 1.0, np.nan, 2.0, 4.0, np.nan, 6.0])
    assert np.array_equal(sma, indicators.sma(x, 2, a)[:, 0], equal_nan=True)
    assert (bars.first_bar[0], bars.last_bar[0], list(bars.gap_rows[bars.gap_ptr[0] : bars.gap_ptr[1]])) == (
        1,
        7,
        [3],
    )


def test_the_sma5_tie_is_exact_in_the_kernel() -> None:
    # RULES 8: a plain mean of the window; 11.65 equals its SMA5 (see test_indicators_handmade)
    x = np.array([10.33, 11.72, 11.93, 11.81, 11.14, 11.65])[:, None]
    bars = kernel_bars(x, x, x, np.ones(x.shape, dtype=bool))
    assert at_every_bar(bars, 5, False)[5, 0] == 11.65
