"""The scanner's running sums with an error bound (``_trend_sums``) decide the trend rule exactly as
the plain means of RULES section 8, and its volume average is the plain mean bit for bit, on data made
to be close to call: prices from a few cent values (ties: a close equal to its SMA, SMA20 equal to
SMA50, sums whose running form differs in the last bit), long flat stretches, crashes of several
orders of magnitude (the bound grows and the sums are summed afresh), closes that are zero, NaN or
infinite on an available bar, and volumes that are not exactly summable (thirds, above 2^40, NaN)."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trading_playbook.core import indicators
from trading_playbook.core.panel import Panel
from trading_playbook.core.scanners import DailyBreakoutScanner
from trading_playbook.testing import walk_panel


def expected_and_got(panel: Panel, volume_lookback: int) -> None:
    """The candidates (trend rule) and their volume averages against core.indicators."""
    scanner = DailyBreakoutScanner(volume_lookback=volume_lookback, high_lookback=30)
    features = scanner.prepare(panel)
    av = panel.available
    fast = indicators.sma(panel.close, 20, av)
    slow = indicators.sma(panel.close, 50, av)
    avg = indicators.avg_volume_before(panel.volume, av, volume_lookback)
    with np.errstate(invalid="ignore"):
        trend = (panel.close > fast) & (fast > slow)
    q = np.concatenate(
        [
            np.arange(lo, lo + n)
            for lo, n in zip(features.capacity_bounds[:-1], features.n_candidates, strict=True)
        ]
    )
    t, j = features.session[q], features.symbol[q]
    got = sorted(zip(j.tolist(), t.tolist(), strict=True))
    assert got == sorted(zip(*np.nonzero(trend.T), strict=True))
    values = features.values[q, 3]
    assert np.array_equal(
        values.view(np.int64)[~np.isnan(values)], avg[t, j].view(np.int64)[~np.isnan(values)]
    )
    assert np.array_equal(np.isnan(values), np.isnan(avg[t, j]))


def tie_panel(
    seed: int, n_sessions: int, n_symbols: int, cents: list[float], flat: float, gap: float
) -> Panel:
    rng = np.random.default_rng(seed)
    shape = (n_sessions, n_symbols)
    close = rng.choice(np.array(cents), shape)
    # flat stretches: the close repeats (close == SMA20 == SMA50 exactly)
    repeat = rng.random(shape) < flat
    for t in range(1, n_sessions):
        close[t] = np.where(repeat[t], close[t - 1], close[t])
    close = close * np.cumprod(rng.choice([1.0, 1.0, 1.0, 1.01], shape), axis=0)  # drifts up, ties stay
    volume = rng.choice([0.0, 100.0, 1e3 / 3.0, 2.0**41, 12.5, 7.0], shape)
    available = rng.random(shape) >= gap
    return walk_panel(close, close * 1.01, close * 0.99, volume, available)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32 - 1),
    n_sessions=st.integers(50, 300),
    n_symbols=st.integers(1, 4),
    cents=st.lists(
        st.sampled_from([0.1, 0.2, 0.3, 0.7, 10.01, 10.02, 10.03, 99.99, 1234.56]), min_size=1, max_size=3
    ),
    flat=st.sampled_from([0.0, 0.5, 0.95]),
    gap=st.sampled_from([0.0, 0.1, 0.4]),
    volume_lookback=st.integers(1, 25),
)
def test_trend_decisions_and_volume_averages_equal_the_plain_means(
    seed: int,
    n_sessions: int,
    n_symbols: int,
    cents: list[float],
    flat: float,
    gap: float,
    volume_lookback: int,
) -> None:
    expected_and_got(tie_panel(seed, n_sessions, n_symbols, cents, flat, gap), volume_lookback)


def test_a_crash_over_orders_of_magnitude_and_bad_closes() -> None:
    """Prices from 5,000 down to 0.05 and back (the error bound outgrows the small sums: summed
    afresh), a zero, a NaN and an infinite close on available bars, and constant stretches."""
    n = 900
    path = np.concatenate(
        [
            np.full(120, 5000.0),
            np.geomspace(5000.0, 0.05, 200),
            np.full(150, 0.05),
            np.geomspace(0.05, 30.0, 300),
            np.full(130, 30.0),
        ]
    )
    close = np.stack([path, path[::-1], np.round(path, 2) + 0.01], axis=1)
    close[400, 0] = 0.0
    close[500, 1] = np.nan
    close[600, 2] = np.inf
    volume = np.tile(np.arange(n, dtype=np.float64)[:, None] / 3.0, (1, 3))
    volume[300:320, 1] = 2.0**45
    volume[700, 2] = np.nan
    available = np.ones((n, 3), dtype=bool)
    available[200:230, 2] = False
    panel = walk_panel(close, close * 1.01, close * 0.99, volume, available)
    expected_and_got(panel, 20)
    expected_and_got(panel, 1)


def test_alternating_prices_whose_running_sum_drifts() -> None:
    """0.1 / 0.2 / 0.3 cycles: the running sums pick up rounding at every step, while the plain means
    of the windows repeat exactly; SMA20 and SMA50 are equal to the cent on many bars."""
    cycle = np.tile([0.1, 0.2, 0.3, 0.2, 0.1], 400)
    close = np.stack([cycle, cycle + 10.0, cycle * 1000.0], axis=1)
    volume = np.ones_like(close) * 3.0
    panel = walk_panel(close, close, close, volume, np.ones(close.shape, dtype=bool))
    expected_and_got(panel, 20)


def test_long_volume_windows_of_large_volumes() -> None:
    """A 200-bar volume average of volumes near 2^40: whole numbers, but 201 of them do not sum
    exactly in float64, so the window is summed afresh; small ones keep the exact running sum."""
    rng = np.random.default_rng(7)
    n = 700
    close = 20.0 * np.exp(np.cumsum(rng.normal(0.002, 0.01, (n, 2)), axis=0))
    volume = np.stack(
        [rng.integers(2**39, 2**40, n).astype(np.float64) + 0.5, rng.integers(0, 1000, n) * 1.0], axis=1
    )
    panel = walk_panel(close, close * 1.01, close * 0.99, volume, np.ones((n, 2), dtype=bool))
    expected_and_got(panel, 200)
