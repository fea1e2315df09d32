"""Properties of PBO, DSR and the --param grammar (hypothesis)."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from trading_playbook.core.overfitting import (
    deflated_sharpe_ratio,
    probability_of_backtest_overfitting,
)
from trading_playbook.research.params import grid_points, parse_param, parse_params


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), n_trials=st.integers(2, 12), blocks=st.sampled_from([2, 4, 6, 8]))
def test_pbo_bounds_and_column_permutation_invariance(seed: int, n_trials: int, blocks: int) -> None:
    rng = np.random.default_rng(seed)
    matrix = rng.normal(0.0, 0.01, size=(blocks * 10, n_trials))
    result = probability_of_backtest_overfitting(matrix, n_blocks=blocks)
    assert result.n_splits == math.comb(blocks, blocks // 2)
    assert 0.0 <= result.pbo <= 1.0
    # Continuous returns have no ties: relabelling the trials cannot change any split's logit.
    permuted = probability_of_backtest_overfitting(matrix[:, rng.permutation(n_trials)], n_blocks=blocks)
    np.testing.assert_allclose(result.logits, permuted.logits, rtol=1e-12)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), n_trials=st.integers(1, 50))
def test_dsr_is_a_probability_and_falls_with_more_dispersed_trials(seed: int, n_trials: int) -> None:
    rng = np.random.default_rng(seed)
    returns = rng.normal(0.0005, 0.01, 300)
    sharpes = rng.normal(0.0, 0.02, n_trials)
    narrow = deflated_sharpe_ratio(returns, sharpes)
    wide = deflated_sharpe_ratio(returns, sharpes * 3)
    assert 0.0 <= narrow.dsr <= 1.0
    if n_trials > 1:
        assert wide.expected_max_sharpe >= narrow.expected_max_sharpe
        assert wide.dsr <= narrow.dsr + 1e-12


@settings(max_examples=60, deadline=None)
@given(
    start=st.integers(-50, 50),
    count=st.integers(1, 30),
    step=st.integers(1, 9),
    scale=st.sampled_from([1, 10, 100]),
)
def test_range_is_inclusive_evenly_spaced_and_exact(start: int, count: int, step: int, scale: int) -> None:
    stop = start + (count - 1) * step
    if scale == 1:
        text = f"exit.time_stop={start}:{stop}:{step}"
        expected = [start + i * step for i in range(count)]
    else:
        text = f"scanner.r={start / scale}:{stop / scale}:{step / scale}"
        expected = [round((start + i * step) / scale, 6) for i in range(count)]
    spec = parse_param(text)
    assert len(spec.values) == count
    assert list(spec.values) == expected


@settings(max_examples=30, deadline=None)
@given(sizes=st.lists(st.integers(1, 4), min_size=1, max_size=4))
def test_grid_size_is_the_product(sizes: list[int]) -> None:
    specs = parse_params([f"s{i}.k={','.join(str(v) for v in range(n))}" for i, n in enumerate(sizes)])
    points = grid_points(specs)
    assert len(points) == math.prod(sizes)
    assert len({tuple(p.items()) for p in points}) == len(points)


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    n=st.integers(3, 3000),
    scale=st.sampled_from([1e-4, 0.01, 1.0]),
    drift=st.sampled_from([0.0, 3e-4, 1.0]),
)
def test_dsr_moments_and_normal_are_bit_identical_to_scipy_stats(
    seed: int, n: int, scale: float, drift: float
) -> None:
    # The DSR computes its moments and normal quantiles without importing scipy.stats (1.6 s of CPU);
    # the figures must be scipy.stats' own, to the bit.
    from scipy import stats

    from trading_playbook.core.overfitting import expected_max_sharpe

    returns = np.random.default_rng(seed).standard_t(3, size=n) * scale + drift
    sharpes = np.random.default_rng(seed + 1).normal(0.0, 0.03, size=max(2, n % 700))
    got = deflated_sharpe_ratio(returns, sharpes)
    assert got.skewness == float(stats.skew(returns, bias=True))
    assert got.kurtosis == float(stats.kurtosis(returns, fisher=False, bias=True))
    q1 = stats.norm.ppf(1.0 - 1.0 / sharpes.size)
    q2 = stats.norm.ppf(1.0 - 1.0 / (sharpes.size * math.e))
    variance = float(sharpes.var(ddof=1))
    assert expected_max_sharpe(sharpes.size, variance) == float(
        math.sqrt(variance) * ((1.0 - 0.5772156649015329) * q1 + 0.5772156649015329 * q2)
    )


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(2, 400), flat_share=st.sampled_from([0.0, 0.3]))
def test_pbo_half_sharpe_in_place_equals_the_plain_formula(seed: int, n: int, flat_share: float) -> None:
    from trading_playbook.core.overfitting import _half_metric

    rng = np.random.default_rng(seed)
    values = rng.normal(0.0005, 0.01, size=(n, 7, 9)) * rng.choice([1.0, 1e-6, 1e3], size=(1, 7, 9))
    values[:, rng.random((7, 9)) < flat_share] = 0.001  # flat halves: Sharpe 0
    total, total_sq = values.sum(axis=0), (values * values).sum(axis=0)
    mean = total / n
    var = np.maximum(total_sq - total * mean, 0.0) / (n - 1)
    flat = var <= 1e-12 * mean * mean
    plain = np.where(flat, 0.0, mean / np.sqrt(np.where(flat, 1.0, var)))
    got = _half_metric(total.copy(), total_sq.copy(), n, "sharpe")
    np.testing.assert_array_equal(got, plain)
    assert (np.signbit(got) == np.signbit(plain)).all()
