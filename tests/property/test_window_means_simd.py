"""The block kernels (``_window_blocks``: SIMD across a block of consecutive windows, behind
``indicators.window_set`` and so ``sma``, ``avg_volume_before``, ``rolling_max`` / ``rolling_min``)
give the one-window-at-a-time values bit for bit: every mean equals ``window_mean_nb`` of the symbol's
own window (RULES section 8's plain mean) and every max/min the monotonic deque's
(``_extreme_segment_nb``: the latest of equal values, which tells -0.0 from 0.0), on random panels with sessions without a bar, late
listings, symbols with fewer bars than the window, NaN and infinite values on available bars, signed
zeros, values that do not sum exactly (thirds, cents, large magnitudes), lags, widths that are not a
multiple of the kernel's eight symbols, and series long enough to cross its blocks of 64 windows."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numba import njit

from trading_playbook.core import _indicator_kernels as _k
from trading_playbook.core import _window_blocks as _wb
from trading_playbook.core import indicators

VALUES = st.sampled_from(
    [
        0.1,
        0.2,
        0.3,
        1 / 3,
        2 / 3,
        10.01,
        10.02,
        99.99,
        1e15 + 1.0,
        3e-7,
        -0.0,
        0.0,
        7.0,
        np.nan,
        np.inf,
        -np.inf,
    ]
)


@njit
def _sma_block(x: np.ndarray, out: np.ndarray, acc: np.ndarray, m: int, n: int) -> None:
    _wb.sma_block_nb(x, out, acc, m, n)  # a callee kernel: called from a kernel


@njit
def _extreme_block(x: np.ndarray, out: np.ndarray, acc: np.ndarray, m: int, n: int, sign: float) -> None:
    _wb.extreme_block_nb(x, out, acc, m, n, sign)


def _same(a: np.ndarray, b: np.ndarray) -> None:
    np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
    finite = ~np.isnan(a)
    assert a[finite].tobytes() == b[finite].tobytes()  # bitwise, signed zeros included


def _expected_extreme(
    values: np.ndarray, available: np.ndarray, n: int, lag: int, need: int, sign: float
) -> np.ndarray:
    """The deque (``sign`` 0: the last value) over each symbol's own bars, NaN while the window holds
    fewer than ``need`` bars."""
    out = np.full(values.shape, np.nan)
    for j in range(values.shape[1]):
        rows = np.flatnonzero(available[:, j])
        own = np.ascontiguousarray(values[rows, j])
        deque = own.copy()  # sign 0: the window's last value
        if sign:
            _k._extreme_segment_nb(
                own, deque, np.empty(own.shape[0], dtype=np.int64), 0, own.shape[0], n, sign
            )
        for k, t in enumerate(rows):
            if k >= lag and min(k + 1 - lag, n) >= need:
                out[t, j] = deque[k - lag]
    return out


def _expected(values: np.ndarray, available: np.ndarray, n: int, lag: int) -> np.ndarray:
    """``window_mean_nb`` over each symbol's own bars, the window ending ``lag`` bars before t."""
    out = np.full(values.shape, np.nan)
    for j in range(values.shape[1]):
        rows = np.flatnonzero(available[:, j])
        own = np.ascontiguousarray(values[rows, j])
        for k, t in enumerate(rows):
            end = k - lag  # the window's last own bar
            if end - n + 1 >= 0:
                out[t, j] = _k.window_mean_nb(own, end - n + 1, n)
    return out


@st.composite
def panels(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, int, int]:
    t = draw(st.integers(1, 160))
    n_symbols = draw(st.integers(1, 19))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    available = rng.random((t, n_symbols)) > draw(st.sampled_from([0.0, 0.1, 0.5]))
    for j in range(n_symbols):  # late listings, early delistings, symbols with a handful of bars
        if rng.random() < 0.3:
            available[: rng.integers(0, t + 1), j] = False
        if rng.random() < 0.2:
            available[rng.integers(0, t + 1) :, j] = False
    base = np.round(rng.lognormal(3, 1, (t, n_symbols)), 2)
    special = draw(st.lists(VALUES, min_size=0, max_size=12))
    for v in special:  # sprinkle the awkward values onto random cells (available or not)
        base[rng.integers(0, t), rng.integers(0, n_symbols)] = v
    values = np.where(available, base, np.nan)
    n = draw(st.integers(1, 90))
    lag = draw(st.integers(0, 3))
    return values, available, n, lag


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(panels())
def test_window_set_means_are_window_mean_nb_bitwise(case: tuple[np.ndarray, np.ndarray, int, int]) -> None:
    values, available, n, lag = case
    got = indicators.window_set(available, {"m": indicators.Window("mean", values, n, lag=lag)})["m"]
    _same(got, _expected(values, available, n, lag))


@settings(max_examples=60, deadline=None)
@given(
    st.integers(0, 400),
    st.integers(1, 120),
    st.integers(0, 2**32 - 1),
    st.lists(VALUES, max_size=6),
)
def test_sma_block_equals_sma_segment_bitwise(m: int, n: int, seed: int, special: list[float]) -> None:
    rng = np.random.default_rng(seed)
    x = np.round(rng.lognormal(2, 2, m), 2)
    for v in special:
        if m:
            x[rng.integers(0, m)] = v
    expected = np.empty(m)
    _k.sma_segment_nb(x, expected, 0, m, n)
    got = np.full(m + 3, 123.0)  # only out[:m] is written
    _sma_block(x, got, np.empty(_wb.BLOCK), m, n)
    _same(got[:m], expected)
    assert (got[m:] == 123.0).all()


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(panels(), st.sampled_from(["max", "min", "last"]), st.data())
def test_window_set_max_min_last_are_the_per_window_values_bitwise(
    case: tuple[np.ndarray, np.ndarray, int, int], kind: str, data: st.DataObject
) -> None:
    values, available, n, lag = case
    n = data.draw(st.sampled_from([n, min(n, _wb.EXTREME_BLOCK_MAX_N), 4, 12, 20]))  # mostly blocks
    need = data.draw(st.integers(1, n))
    if data.draw(st.booleans()):  # mostly no NaN on an available bar: the block path
        values = np.where(available & np.isnan(values), 0.5, values)
    window = indicators.Window(kind, values, n, lag=lag, need=need)  # type: ignore[arg-type]
    got = indicators.window_set(available, {"x": window})["x"]
    sign = {"max": 1.0, "min": -1.0, "last": 0.0}[kind]
    _same(got, _expected_extreme(values, available, n, lag, need, sign))


@settings(max_examples=80, deadline=None)
@given(
    st.integers(0, 300),
    st.integers(1, _wb.EXTREME_BLOCK_MAX_N),
    st.sampled_from([1.0, -1.0]),
    st.integers(0, 2**32 - 1),
    st.lists(st.sampled_from([0.0, -0.0, 1 / 3, 7.0, np.inf, -np.inf]), max_size=40),
)
def test_extreme_block_equals_the_deque_bitwise(
    m: int, n: int, sign: float, seed: int, special: list[float]
) -> None:
    rng = np.random.default_rng(seed)
    # zeros of both signs among values on the far side: the extreme is often a tie of zeros, decided
    # by the latest one
    x = rng.choice(np.array([0.0, -0.0, -sign, -2 * sign, -sign / 3]), m, p=[0.1, 0.1, 0.3, 0.3, 0.2])
    for v in special:
        if m:
            x[rng.integers(0, m)] = v
    expected = np.empty(m)
    _k._extreme_segment_nb(x, expected, np.empty(m, dtype=np.int64), 0, m, n, sign)
    got = np.full(m + 2, 123.0)
    _extreme_block(x, got, np.empty(_wb.BLOCK), m, n, sign)
    assert got[:m].tobytes() == expected.tobytes()  # bitwise, the sign of every zero included
    assert (got[m:] == 123.0).all()
