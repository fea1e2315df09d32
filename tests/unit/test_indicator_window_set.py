"""The streaming window indicators (``indicators.window_set``) equal the bar-layout kernels bit for bit.

The reference here is the bar-layout path the indicators used before (compress each symbol's bars,
run ``_indicator_kernels.sma_nb`` / ``rolling_max_nb`` / ``previous_nb``, expand), on random panels
with gaps (sessions without a bar, late listings, delistings) and widths that are not multiples of
the kernel's eight symbols. ``rolling_max_nb``, ``rolling_min_nb`` and ``previous_nb`` are no longer
used by the package; their former code is kept here as the reference.
"""

from __future__ import annotations

import numpy as np
import pytest
from numba import njit

from trading_playbook.core import _indicator_kernels as _k
from trading_playbook.core import indicators as ind
from trading_playbook.core.errors import ConfigError


# the former bar-layout kernels (moved here from core._indicator_kernels when window_set replaced them)
@njit
def _rolling_extreme_nb(x: np.ndarray, offsets: np.ndarray, n: int, sign: float) -> np.ndarray:
    out = np.empty(x.shape[0])
    dq = np.empty(x.shape[0], dtype=np.int64)
    for j in range(offsets.shape[0] - 1):
        _k._extreme_segment_nb(x, out, dq, offsets[j], offsets[j + 1], n, sign)
    return out


def rolling_max_nb(x: np.ndarray, offsets: np.ndarray, n: int) -> np.ndarray:
    return _rolling_extreme_nb(x, offsets, n, 1.0)


def rolling_min_nb(x: np.ndarray, offsets: np.ndarray, n: int) -> np.ndarray:
    return _rolling_extreme_nb(x, offsets, n, -1.0)


@njit
def previous_nb(x: np.ndarray, offsets: np.ndarray, lag: int) -> np.ndarray:
    out = np.full(x.shape[0], np.nan)
    for j in range(offsets.shape[0] - 1):
        for k in range(offsets[j] + lag, offsets[j + 1]):
            out[k] = x[k - lag]
    return out


def _panel(t: int, n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    available = rng.random((t, n)) > 0.15  # scattered gaps
    for j in range(n):  # late listings and early delistings
        if rng.random() < 0.3:
            available[: rng.integers(0, t), j] = False
        if rng.random() < 0.2:
            available[rng.integers(0, t) :, j] = False
    price = np.round(np.exp(np.cumsum(rng.normal(0, 0.02, (t, n)), axis=0)) * 50, 2)  # cents: ties
    volume = np.round(rng.lognormal(13, 0.5, (t, n)))
    price[~available] = np.nan
    volume[~available] = np.nan
    return available, price, volume


def _layout_reference(
    kind: str, x: np.ndarray, available: np.ndarray, n: int, lag: int, need: int
) -> np.ndarray:
    layout = ind.BarLayout.from_available(available)
    flat = layout.compress(x)
    if kind == "mean":
        out = _k.sma_nb(flat, layout.offsets, n)
    elif kind == "last":
        out = flat
    else:
        out = (rolling_max_nb if kind == "max" else rolling_min_nb)(flat, layout.offsets, n)
        count = np.minimum(layout.position + 1 - lag, n)
        out = np.where(count >= need, out if lag == 0 else previous_nb(out, layout.offsets, 1), np.nan)
        return layout.expand(out)
    if lag:
        out = previous_nb(out, layout.offsets, lag)
    return layout.expand(out)


def _same(a: np.ndarray, b: np.ndarray) -> None:
    np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
    finite = ~np.isnan(a)
    assert a[finite].tobytes() == b[finite].tobytes()  # bitwise, not approximately


@pytest.mark.parametrize(("t", "n", "seed"), [(300, 1, 0), (400, 13, 1), (700, 37, 2), (620, 420, 3)])
def test_a_set_equals_the_layout_kernels_bitwise(t: int, n: int, seed: int) -> None:
    available, price, volume = _panel(t, n, seed)
    high = price * 1.01
    windows = {
        "sma50": ind.Window("mean", price, 50),
        "sma5": ind.Window("mean", price, 5),
        "avg_volume": ind.Window("mean", volume, 20, lag=1),
        "prev_high": ind.Window("max", high, 20, lag=1),
        "high20": ind.Window("max", high, 20, need=1),
        "low7": ind.Window("min", price, 7, need=3),
        "prev_low": ind.Window("min", price, 10, lag=1, need=4),
        "previous": ind.Window("last", price, 1, lag=1),
    }
    got = ind.window_set(available, windows)  # 3 inputs in one pass (620 x 420: two threads)
    for name, w in windows.items():
        need = w.n if w.need is None else w.need
        _same(got[name], _layout_reference(w.kind, w.values, available, w.n, w.lag, need))
    # the public one-indicator functions are the same windows
    _same(ind.sma(price, 50, available), got["sma50"])
    _same(ind.avg_volume_before(volume, available, 20), got["avg_volume"])
    _same(ind.rolling_max(high, 20, available, include_current=False), got["prev_high"])
    _same(ind.rolling_max(high, 20, available, min_periods=1), got["high20"])
    _same(ind.rolling_min(price, 7, available, min_periods=3), got["low7"])
    _same(ind.previous_bar(price, available), got["previous"])


def test_more_than_three_inputs_take_several_passes_with_the_same_values() -> None:
    available, price, volume = _panel(250, 11, 5)
    arrays = [price, volume, price * 1.01, price * 0.99, volume * 2]
    windows = {f"m{i}": ind.Window("mean", x, 9 + i) for i, x in enumerate(arrays)}
    got = ind.window_set(available, windows)
    for i, x in enumerate(arrays):
        _same(got[f"m{i}"], _layout_reference("mean", x, available, 9 + i, 0, 9 + i))


def test_a_mean_over_a_nan_value_is_nan_and_sma_stays_a_plain_mean() -> None:
    available = np.ones((6, 1), dtype=bool)
    x = np.array([[0.1], [0.2], [np.nan], [0.3], [0.4], [0.7]])
    out = ind.sma(x, 2, available)[:, 0]
    assert np.isnan(out[[0, 2, 3]]).all() and out[1] == (0.0 + 0.1 + 0.2) / 2
    assert out[4] == (0.0 + 0.3 + 0.4) / 2 and out[5] == (0.0 + 0.4 + 0.7) / 2


def test_bad_windows_are_refused() -> None:
    available, price, _ = _panel(60, 3, 7)
    with pytest.raises(ConfigError, match="need \\(5\\) cannot exceed"):
        ind.window_set(available, {"x": ind.Window("max", price, 3, need=5)})
    with pytest.raises(ConfigError, match="unknown kind"):
        ind.window_set(available, {"x": ind.Window("median", price, 3)})  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="does not match the panel"):
        ind.window_set(available, {"x": ind.Window("mean", price[:, :2], 3)})
    with pytest.raises(ConfigError, match="lag"):
        ind.window_set(available, {"x": ind.Window("mean", price, 3, lag=-1)})
