"""Overfitting statistics tied to the number of trials (pure; numpy and scipy only).

- :func:`deflated_sharpe_ratio`: Bailey, D. H. and Lopez de Prado, M. (2014), "The Deflated Sharpe
  Ratio: Correcting for Selection Bias, Backtest Overfitting and Non-Normality", Journal of Portfolio
  Management 40(5). The probability that the best trial's true Sharpe ratio is above the Sharpe ratio
  the best of ``N`` skill-less trials would show by luck.
- :func:`probability_of_backtest_overfitting`: Bailey, D. H., Borwein, J., Lopez de Prado, M. and
  Zhu, Q. J. (2017), "The Probability of Backtest Overfitting", Journal of Computational Finance 20(4)
  (working paper 2015), by combinatorially symmetric cross-validation (CSCV).

All Sharpe ratios here are **per observation** (daily returns -> daily Sharpe), never annualised:
the formulas are written for them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import combinations
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from trading_playbook.core.errors import SimulationError

__all__ = [
    "EULER_GAMMA",
    "DeflatedSharpe",
    "PBOResult",
    "deflated_sharpe_ratio",
    "expected_max_sharpe",
    "probabilistic_sharpe_ratio",
    "probability_of_backtest_overfitting",
    "sharpe_per_period",
]

#: The Euler-Mascheroni constant (gamma in the expected-maximum formula).
EULER_GAMMA = 0.5772156649015329

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class DeflatedSharpe:
    """The deflated Sharpe ratio of the best trial and what went into it (per-period units)."""

    dsr: float  # probability in [0, 1]; >= 0.95 is the usual bar
    sharpe: float  # best trial's per-period Sharpe ratio
    expected_max_sharpe: float  # SR0: expected best Sharpe of n_trials skill-less trials
    n_trials: int
    sharpe_variance: float  # variance of the trials' per-period Sharpe ratios
    n_obs: int
    skewness: float
    kurtosis: float  # non-excess (a normal distribution has 3)


@dataclass(frozen=True)
class PBOResult:
    """Probability of backtest overfitting by CSCV and its by-products."""

    pbo: float  # share of splits whose in-sample best ranks at or below the out-of-sample median
    logits: FloatArray  # one lambda per split
    n_splits: int  # C(S, S/2)
    n_blocks: int  # S
    performance_degradation: float  # slope of OOS vs IS metric of the selected trial (negative: decay)
    prob_oos_loss: float  # share of splits where the selected trial's OOS metric is below 0


def _special() -> Any:
    """``scipy.special``, imported on first use (0.3 s of CPU; ``scipy.stats`` would cost 1.6 s, paid
    by every sweep's parent between its last trial and its report). ``ndtr``/``ndtri`` are exactly
    what ``scipy.stats.norm.cdf``/``ppf`` compute for the standard normal."""
    from scipy import special

    return special


def _skew_kurtosis(returns: FloatArray) -> tuple[float, float]:
    """Biased skewness and non-excess kurtosis, as ``scipy.stats.skew(bias=True)`` and
    ``kurtosis(fisher=False, bias=True)`` compute them, operation for operation (a test checks the
    results are bit-identical): central moments by exponentiation by squares, NaN for a series whose
    variance is below scipy's precision floor."""
    mean = float(returns.mean())
    centred = returns - mean
    squared = centred**2
    m2 = float(squared.mean())
    m3 = float((squared * centred).mean())
    m4 = float((squared**2).mean())
    if m2 <= (np.finfo(np.float64).eps * mean) ** 2:
        return math.nan, math.nan
    return m3 / m2**1.5, m4 / m2**2


def sharpe_per_period(returns: npt.ArrayLike, *, axis: int = 0) -> FloatArray | float:
    """Mean over sample standard deviation (ddof=1) of per-period returns; 0 when the deviation is 0."""
    arr = np.asarray(returns, dtype=np.float64)
    mean = arr.mean(axis=axis)
    std = arr.std(axis=axis, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(std > 0, mean / np.where(std > 0, std, 1.0), 0.0)
    if out.ndim == 0:
        return float(out)
    return np.asarray(out, dtype=np.float64)


def expected_max_sharpe(n_trials: int, sharpe_variance: float) -> float:
    """Expected maximum Sharpe ratio of ``n_trials`` skill-less trials (true Sharpe 0).

    ``SR0 = sqrt(V) * ((1 - gamma) * Z^-1(1 - 1/N) + gamma * Z^-1(1 - 1/(N e)))`` (Bailey and Lopez de
    Prado 2014, eq. 2, from the False Strategy theorem); ``Z^-1`` is the standard normal quantile and
    ``gamma`` the Euler-Mascheroni constant. With a single trial nothing was selected: ``SR0 = 0``.

    Examples
    --------
    The paper's example: N = 100, V = 0.5 / 250 (annual variance 1/2 in daily units):
    ``sqrt(0.002) * (0.4228 * 2.3263 + 0.5772 * 2.6796) = 0.04472 * 2.5305 = 0.1132``.

    >>> round(expected_max_sharpe(100, 0.5 / 250), 4)
    0.1132
    """
    if n_trials < 1:
        raise SimulationError(f"expected_max_sharpe needs at least one trial, got {n_trials}")
    if sharpe_variance < 0:
        raise SimulationError(f"the variance of trial Sharpe ratios cannot be negative ({sharpe_variance})")
    if n_trials == 1:
        return 0.0
    special = _special()
    q1 = special.ndtri(1.0 - 1.0 / n_trials)
    q2 = special.ndtri(1.0 - 1.0 / (n_trials * math.e))
    return float(math.sqrt(sharpe_variance) * ((1.0 - EULER_GAMMA) * q1 + EULER_GAMMA * q2))


def probabilistic_sharpe_ratio(
    sharpe: float, benchmark_sharpe: float, n_obs: int, skewness: float, kurtosis: float
) -> float:
    """Probability that the true Sharpe ratio exceeds ``benchmark_sharpe`` (Bailey and Lopez de Prado 2012).

    ``PSR = Z((SR - SR*) * sqrt(T - 1) / sqrt(1 - g3 * SR + (g4 - 1) / 4 * SR^2))`` with the observed
    per-period ``SR``, ``T`` observations, skewness ``g3`` and non-excess kurtosis ``g4``.
    """
    if n_obs < 2:
        raise SimulationError(f"the probabilistic Sharpe ratio needs at least 2 returns, got {n_obs}")
    denom_sq = 1.0 - skewness * sharpe + (kurtosis - 1.0) / 4.0 * sharpe**2
    if denom_sq <= 0:
        # Degenerate higher moments (e.g. a near-constant series): fall back to normal moments.
        denom_sq = 1.0 + sharpe**2 / 2.0
    z = (sharpe - benchmark_sharpe) * math.sqrt(n_obs - 1) / math.sqrt(denom_sq)
    return float(_special().ndtr(z))


def deflated_sharpe_ratio(best_returns: npt.ArrayLike, trial_sharpes: npt.ArrayLike) -> DeflatedSharpe:
    """Deflated Sharpe ratio of the best trial.

    Parameters
    ----------
    best_returns : array_like
        Per-period (daily) returns of the selected trial, T values.
    trial_sharpes : array_like
        Per-period Sharpe ratios of **every** trial tried (the selected one included); their count is
        the number of trials N and their variance V feeds :func:`expected_max_sharpe`.

    Returns
    -------
    DeflatedSharpe
        ``dsr = PSR(SR0)`` with the best trial's skewness and kurtosis.
    """
    returns = np.asarray(best_returns, dtype=np.float64)
    returns = returns[np.isfinite(returns)]
    sharpes = np.asarray(trial_sharpes, dtype=np.float64)
    sharpes = sharpes[np.isfinite(sharpes)]
    if sharpes.size == 0:
        raise SimulationError("the deflated Sharpe ratio needs the Sharpe ratio of at least one trial")
    if returns.size < 2:
        raise SimulationError("the deflated Sharpe ratio needs at least 2 returns of the best trial")
    n_trials = int(sharpes.size)
    variance = float(sharpes.var(ddof=1)) if n_trials > 1 else 0.0
    sr0 = expected_max_sharpe(n_trials, variance)
    sharpe = float(sharpe_per_period(returns))
    if returns.std() > 0:
        skewness, kurtosis = _skew_kurtosis(returns)
    else:
        skewness, kurtosis = 0.0, 3.0
    dsr = probabilistic_sharpe_ratio(sharpe, sr0, int(returns.size), skewness, kurtosis)
    return DeflatedSharpe(
        dsr=dsr,
        sharpe=sharpe,
        expected_max_sharpe=sr0,
        n_trials=n_trials,
        sharpe_variance=variance,
        n_obs=int(returns.size),
        skewness=skewness,
        kurtosis=kurtosis,
    )


def probability_of_backtest_overfitting(
    returns: npt.ArrayLike,
    *,
    n_blocks: int = 16,
    metric: Literal["sharpe", "mean"] = "sharpe",
) -> PBOResult:
    """Probability of backtest overfitting by combinatorially symmetric cross-validation.

    Parameters
    ----------
    returns : array_like, shape (T, N)
        Per-period returns, one column per trial, rows aligned in time.
    n_blocks : int
        S, even: the rows are cut into S contiguous blocks of equal size (the first ``T mod S`` rows
        are dropped so every block has ``T // S`` rows).
    metric : {"sharpe", "mean"}
        Performance measured on each half: per-period Sharpe ratio (the paper's choice) or mean.

    Returns
    -------
    PBOResult
        For every one of the C(S, S/2) ways to pick S/2 blocks as the in-sample half (the rest is the
        out-of-sample half): ``n*`` = the trial with the best in-sample metric (first on ties); its
        out-of-sample relative rank ``w = rank / (N + 1)`` (rank 1 = worst, ties averaged); logit
        ``lambda = ln(w / (1 - w))``. ``pbo`` is the share of ``lambda <= 0``: how often the in-sample
        winner is at or below the median out of sample.
    """
    matrix = np.asarray(returns, dtype=np.float64)
    if matrix.ndim != 2:
        raise SimulationError(f"PBO needs a (T sessions x N trials) matrix, got shape {matrix.shape}")
    n_obs, n_trials = matrix.shape
    if n_trials < 2:
        raise SimulationError("PBO needs at least 2 trials to choose between")
    if n_blocks < 2 or n_blocks % 2:
        raise SimulationError(f"PBO n_blocks must be an even number >= 2, got {n_blocks}")
    if n_obs < 2 * n_blocks:
        raise SimulationError(f"PBO with {n_blocks} blocks needs at least {2 * n_blocks} rows, got {n_obs}")
    if metric not in ("sharpe", "mean"):
        raise SimulationError(f"PBO metric must be 'sharpe' or 'mean', got {metric!r}")
    if not np.isfinite(matrix).all():
        raise SimulationError("PBO returns matrix contains NaN or infinite values; fill them (0 = flat)")
    block_len = n_obs // n_blocks
    blocks = matrix[n_obs - block_len * n_blocks :].reshape(n_blocks, block_len, n_trials)
    # Every half is a union of blocks, so its mean and variance follow from per-block sums: one
    # (splits x blocks) @ (blocks x trials) product instead of re-reading the returns per split.
    block_sum = blocks.sum(axis=1)
    block_sumsq = (blocks * blocks).sum(axis=1)
    train_masks = np.zeros((math.comb(n_blocks, n_blocks // 2), n_blocks), dtype=np.float64)
    for row, chosen in enumerate(combinations(range(n_blocks), n_blocks // 2)):
        train_masks[row, list(chosen)] = 1.0
    half_len = block_len * (n_blocks // 2)
    perf_in = _half_metric(train_masks @ block_sum, train_masks @ block_sumsq, half_len, metric)
    test_masks = 1.0 - train_masks
    perf_out = _half_metric(test_masks @ block_sum, test_masks @ block_sumsq, half_len, metric)
    rows = np.arange(train_masks.shape[0])
    best = np.argmax(perf_in, axis=1)  # first trial on ties
    best_out = perf_out[rows, best]
    # Average rank (1 = worst) of the selected trial among the out-of-sample metrics.
    below = (perf_out < best_out[:, None]).sum(axis=1)
    equal = (perf_out == best_out[:, None]).sum(axis=1)
    rank = below + (equal + 1) / 2.0
    omega = rank / (n_trials + 1)
    logit_arr = np.log(omega / (1.0 - omega))
    slope = _slope(perf_in[rows, best], best_out)
    return PBOResult(
        pbo=float(np.mean(logit_arr <= 0.0)),
        logits=logit_arr,
        n_splits=int(rows.size),
        n_blocks=n_blocks,
        performance_degradation=slope,
        prob_oos_loss=float(np.mean(best_out < 0.0)),
    )


def _half_metric(total: FloatArray, total_sq: FloatArray, n: int, metric: str) -> FloatArray:
    mean = total / n
    if metric == "mean":
        return mean
    if metric != "sharpe":
        raise SimulationError(f"PBO metric must be 'sharpe' or 'mean', got {metric!r}")
    # var = max(total_sq - total * mean, 0) / (n - 1), in place: the arrays are (splits x trials),
    # 12870 x 500 for a 500-trial sweep, and every temporary is another 51 MB pass. ``total`` and
    # ``total_sq`` are the caller's fresh products; the operations are the plain formula's, in its
    # order, so the figures are the same bit for bit (tested).
    var = np.subtract(total_sq, np.multiply(total, mean, out=total), out=total_sq)
    np.maximum(var, 0.0, out=var)
    np.divide(var, n - 1, out=var)
    # A flat half (zero deviation) has Sharpe 0, as in sharpe_per_period. Relative tolerance: the
    # one-pass variance of a constant series is rounding noise (~1e-16 * mean^2), not risk.
    floor = np.multiply(np.multiply(1e-12, mean, out=total), mean, out=total)
    flat = var <= floor
    np.copyto(var, 1.0, where=flat)
    sharpe = np.divide(mean, np.sqrt(var, out=var), out=mean)
    np.copyto(sharpe, 0.0, where=flat)
    return sharpe


def _slope(x: FloatArray, y: FloatArray) -> float:
    if x.size < 2 or float(np.ptp(x)) == 0.0:
        return 0.0
    return float(np.polyfit(x, y, 1)[0])
