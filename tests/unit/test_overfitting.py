"""Deflated Sharpe ratio and PBO (CSCV) against worked examples from the papers' formulas."""

from __future__ import annotations

import math

import numpy as np
import pytest

from trading_playbook.core.errors import SimulationError
from trading_playbook.core.overfitting import (
    deflated_sharpe_ratio,
    expected_max_sharpe,
    probabilistic_sharpe_ratio,
    probability_of_backtest_overfitting,
    sharpe_per_period,
)


def test_expected_max_sharpe_matches_paper_example() -> None:
    # Bailey & Lopez de Prado (2014), numerical example: N = 100 trials, V[SR] = 1/2 annualised,
    # i.e. 0.5 / 250 in daily units. Z^-1(1 - 1/100) = 2.3263, Z^-1(1 - 1/(100 e)) = 2.6796:
    # SR0 = sqrt(0.002) * (0.42278 * 2.3263 + 0.57722 * 2.6796) = 0.044721 * 2.5305 = 0.11317.
    assert expected_max_sharpe(100, 0.5 / 250) == pytest.approx(0.11317, abs=1e-5)


def test_expected_max_sharpe_single_trial_is_zero_and_grows_with_trials() -> None:
    assert expected_max_sharpe(1, 0.3) == 0.0
    assert expected_max_sharpe(10, 0.01) < expected_max_sharpe(1000, 0.01)
    assert expected_max_sharpe(50, 0.0) == 0.0


def test_psr_matches_paper_example() -> None:
    # Same example: best SR 2.5 annualised -> 2.5 / sqrt(250) = 0.15811 daily, T = 1250, skew -3,
    # kurtosis 10. z = (0.15811 - 0.11317) * sqrt(1249)
    #                 / sqrt(1 + 3 * 0.15811 + 9 / 4 * 0.15811^2)
    #               = 0.044943 * 35.341 / sqrt(1.53058) = 1.58835 / 1.23717 = 1.2839;  Z(1.2839) = 0.9004.
    psr = probabilistic_sharpe_ratio(2.5 / math.sqrt(250), 0.11317, 1250, -3.0, 10.0)
    assert psr == pytest.approx(0.9004, abs=2e-4)


def test_deflated_sharpe_hand_worked_small_series() -> None:
    # Returns 0.01, -0.02, 0.03, 0.00, 0.01: mean 0.006, sample variance 1320e-6 / 4 = 330e-6,
    # SR = 0.006 / 0.018166 = 0.33029. Biased moments: m2 = 264e-6, m3 = -768e-9, m4 = 158112e-12
    # -> skew = m3 / m2^1.5 = -0.17904, kurtosis = m4 / m2^2 = 2.26860.
    # Trials' Sharpes 0.33029, 0.1, 0.0: N = 3, V = 0.028687, sqrt(V) = 0.16938;
    # SR0 = 0.16938 * (0.42278 * Z^-1(2/3) + 0.57722 * Z^-1(1 - 1/(3e)))
    #     = 0.16938 * (0.42278 * 0.43073 + 0.57722 * 1.16180) = 0.14444.
    # z = (0.33029 - 0.14444) * sqrt(4) / sqrt(1 + 0.17904 * 0.33029 + 1.2686 / 4 * 0.33029^2)
    #   = 0.37170 / 1.04582 = 0.35541;  DSR = Z(0.35541) = 0.6389.
    returns = [0.01, -0.02, 0.03, 0.0, 0.01]
    best = sharpe_per_period(returns)
    assert best == pytest.approx(0.33029, abs=1e-5)
    result = deflated_sharpe_ratio(returns, [best, 0.1, 0.0])
    assert result.n_trials == 3
    assert result.skewness == pytest.approx(-0.17904, abs=1e-5)
    assert result.kurtosis == pytest.approx(2.26860, abs=1e-5)
    assert result.expected_max_sharpe == pytest.approx(0.14444, abs=1e-4)
    assert result.dsr == pytest.approx(0.6389, abs=5e-4)


def test_more_trials_deflate_more() -> None:
    rng = np.random.default_rng(1)
    returns = rng.normal(0.001, 0.01, 1000)
    few = deflated_sharpe_ratio(returns, rng.normal(0, 0.03, 5))
    many = deflated_sharpe_ratio(returns, rng.normal(0, 0.03, 500))
    assert many.dsr < few.dsr


def test_deflated_sharpe_rejects_empty_inputs() -> None:
    with pytest.raises(SimulationError):
        deflated_sharpe_ratio([0.01], [0.1])
    with pytest.raises(SimulationError):
        deflated_sharpe_ratio([0.01, 0.02], [])


def test_pbo_hand_worked_two_blocks_mean_metric() -> None:
    # Rows (sessions) x 3 trials, S = 2 blocks of 2 rows:
    #   block 0: [1, 0, 0], [1, 0, 0]       block 1: [-1, 0, 1], [-1, 0, 1]
    # Split A (train block 0): IS means [1, 0, 0] -> best trial 0; OOS means [-1, 0, 1] -> rank 1 of 3;
    #   w = 1/4, lambda = ln(1/3) = -1.0986.
    # Split B (train block 1): IS means [-1, 0, 1] -> best trial 2; OOS means [1, 0, 0] -> trials 1 and 2
    #   tie for ranks 1-2 -> 1.5; w = 1.5/4 = 0.375, lambda = ln(0.6) = -0.5108.
    # Both logits <= 0 -> PBO = 1.
    matrix = np.array([[1, 0, 0], [1, 0, 0], [-1, 0, 1], [-1, 0, 1]], dtype=float)
    result = probability_of_backtest_overfitting(matrix, n_blocks=2, metric="mean")
    assert result.n_splits == 2
    np.testing.assert_allclose(result.logits, [math.log(1 / 3), math.log(0.6)], rtol=1e-12)
    assert result.pbo == 1.0


def test_pbo_dominant_trial_is_zero() -> None:
    # Trial 0 earns 0.02/0.01 alternately, trial 1 0.01/0.0, trial 2 -0.01/0.0: trial 0 has the best
    # Sharpe in every half and stays best out of sample: rank 3 of 3, w = 3/4, lambda = ln 3 > 0.
    # S = 4 blocks of 2 rows -> C(4, 2) = 6 splits, PBO = 0.
    pattern = np.array([[0.02, 0.01, -0.01], [0.01, 0.0, 0.0]])
    matrix = np.tile(pattern, (4, 1))
    result = probability_of_backtest_overfitting(matrix, n_blocks=4)
    assert result.n_splits == 6
    np.testing.assert_allclose(result.logits, math.log(3.0))
    assert result.pbo == 0.0


def test_pbo_noise_trials_near_one_half() -> None:
    # Skill-less trials: the in-sample winner is a coin flip out of sample -> PBO about 0.5.
    rng = np.random.default_rng(7)
    matrix = rng.normal(0.0, 0.01, size=(1600, 40))
    result = probability_of_backtest_overfitting(matrix, n_blocks=10)
    assert result.n_splits == 252
    assert 0.3 < result.pbo < 0.7


def test_pbo_drops_leading_rows_to_equal_blocks() -> None:
    matrix = np.vstack([np.full((3, 2), 99.0), np.tile([[0.02, 0.0], [0.0, 0.01]], (4, 1))])
    # 11 rows, 4 blocks of 2: the first 3 rows (the 99s) are dropped; they cannot influence the result.
    base = probability_of_backtest_overfitting(matrix[3:], n_blocks=4, metric="mean")
    trimmed = probability_of_backtest_overfitting(matrix, n_blocks=4, metric="mean")
    np.testing.assert_array_equal(base.logits, trimmed.logits)


@pytest.mark.parametrize(("shape", "blocks"), [((100, 1), 4), ((100, 3), 3), ((5, 3), 4)])
def test_pbo_rejects_bad_inputs(shape: tuple[int, int], blocks: int) -> None:
    with pytest.raises(SimulationError):
        probability_of_backtest_overfitting(np.zeros(shape), n_blocks=blocks)


def test_pbo_vectorised_equals_direct_computation() -> None:
    # The block-sum shortcut must give the same logits as recomputing each half from the returns.
    from itertools import combinations

    from scipy import stats

    rng = np.random.default_rng(3)
    matrix = rng.normal(0.0005, 0.01, size=(120, 7))
    result = probability_of_backtest_overfitting(matrix, n_blocks=6)
    blocks = matrix.reshape(6, 20, 7)
    expected = []
    for chosen in combinations(range(6), 3):
        rest = [b for b in range(6) if b not in chosen]
        train = blocks[list(chosen)].reshape(-1, 7)
        test = blocks[rest].reshape(-1, 7)
        best = int(np.argmax(sharpe_per_period(train)))
        rank = stats.rankdata(sharpe_per_period(test))[best]
        omega = rank / 8
        expected.append(math.log(omega / (1 - omega)))
    np.testing.assert_allclose(result.logits, expected, rtol=1e-9)


def test_pbo_full_size_is_fast_enough_to_run_in_reports() -> None:
    # 16 blocks -> C(16, 8) = 12870 splits over 200 trials; must not take minutes.
    matrix = np.random.default_rng(0).normal(0, 0.01, size=(5000, 200))
    result = probability_of_backtest_overfitting(matrix, n_blocks=16)
    assert result.n_splits == 12870
    assert 0.0 <= result.pbo <= 1.0
