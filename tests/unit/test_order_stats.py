"""``core._order_stats``: ``np.median`` and ``np.percentile`` bit for bit, without ``numpy.ma`` (issue 14)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from trading_playbook.core._order_stats import median, percentiles

SPECIAL = [np.nan, -np.nan, np.inf, -np.inf, 0.0, -0.0, 5e-324, 1.7976931348623157e308, 1.0, 2.0]


def _same(ours: object, numpys: object) -> None:
    assert type(ours) is type(numpys)
    assert np.asarray(ours).tobytes() == np.asarray(numpys).tobytes()


@settings(max_examples=400, deadline=None)
@given(
    arrays(
        np.float64,
        st.integers(1, 40),
        elements=st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.sampled_from(SPECIAL)),
    )
)
def test_the_median_of_floats_is_numpys(values: np.ndarray) -> None:
    _same(median(values), np.median(values))


@given(arrays(np.float32, st.integers(1, 12), elements=st.floats(width=32, allow_nan=True)))
def test_float32_too(values: np.ndarray) -> None:
    _same(median(values), np.median(values))


def test_what_it_does_not_take_is_numpys_median() -> None:
    for values in (np.arange(7), np.array([]), np.ones((2, 3)), [1.0, 3.0], np.ma.masked_array([1.0, 2.0])):
        with np.errstate(all="ignore"):
            _same(median(values), np.median(values))  # type: ignore[arg-type]


def test_sessions_held_and_a_nan_among_them() -> None:
    held = np.array([3.0, 9.0, 1.0, 4.0])
    _same(median(held), np.median(held))
    assert median(held) == 3.5
    _same(median(np.array([1.0, np.nan, 2.0])), np.median(np.array([1.0, np.nan, 2.0])))


def test_it_imports_no_numpy_ma() -> None:
    code = (
        "import sys, numpy as np\n"
        "from trading_playbook.core._order_stats import median, percentiles\n"
        "median(np.array([1.0, 2.0, np.nan]))\n"
        "print('numpy.ma' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


FLOATS = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.sampled_from(SPECIAL))
PERCENTS = st.lists(
    st.one_of(st.sampled_from([0.0, 2.5, 50.0, 97.5, 100.0]), st.floats(0.0, 100.0)), min_size=1, max_size=4
)


@settings(max_examples=400, deadline=None)
@given(arrays(np.float64, st.integers(1, 300), elements=FLOATS), PERCENTS)
def test_percentiles_are_numpys(values: np.ndarray, q: list[float]) -> None:
    _same(percentiles(values, q), np.percentile(values, q))


@settings(max_examples=300, deadline=None)
@given(arrays(np.float64, st.integers(1, 2500), elements=st.floats(-1e6, 1e6)))
def test_the_bootstrap_intervals_are_numpys(means: np.ndarray) -> None:
    # what the metrics ask: the 2.5 and 97.5 percentiles of finite resampled means
    _same(percentiles(means, [2.5, 97.5]), np.percentile(means, [2.5, 97.5]))


def test_what_percentiles_does_not_take_is_numpys() -> None:
    _same(percentiles(np.arange(9), [10.0, 90.0]), np.percentile(np.arange(9), [10.0, 90.0]))
    _same(percentiles(np.ones((2, 3)), [50.0]), np.percentile(np.ones((2, 3)), [50.0]))
    with pytest.raises(ValueError):
        percentiles(np.arange(3.0), [101.0])
