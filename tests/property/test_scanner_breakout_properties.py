"""Properties of daily_breakout on random panels: the two implementations agree at every session, and
cutting the data after session k changes no setup at or before k (no lookahead)."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trading_playbook.core.panel import Panel
from trading_playbook.core.scanners import DailyBreakoutScanner
from trading_playbook.testing import random_walks, walk_panel

FIELDS = ("reference_price", "base_high", "base_width", "volume_ratio", "distance_from_high", "rs")


def random_panel(seed: int, n_sessions: int, n_symbols: int, gap_rate: float) -> Panel:
    """Trending random walks with tight stretches (so bases and breakouts occur), random gaps."""
    rng = np.random.default_rng(seed)
    close, high, low, volume, available = random_walks(rng, n_sessions, n_symbols, gap_rate)
    available[-1, 0] = True  # the last session exists
    return walk_panel(close, high, low, volume, available, raw_scale=rng.choice([0.4, 1.0]))


scanners = st.builds(
    DailyBreakoutScanner,
    st.sampled_from(["default", "moderate", "relaxed", "very_relaxed"]),
    min_price=st.sampled_from([0.0, 10.0]),
    min_base_days=st.integers(1, 8),
    max_base_days=st.integers(8, 90),
    min_volume_ratio=st.sampled_from([0.0, 0.5, 1.0]),
    high_lookback=st.integers(20, 120),
    min_history=st.integers(1, 60),
    volume_lookback=st.integers(1, 25),
    rs_lookback=st.integers(1, 60),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    scanner=scanners,
    seed=st.integers(0, 2**32 - 1),
    n_sessions=st.integers(50, 260),
    n_symbols=st.integers(1, 3),
    gap_rate=st.sampled_from([0.0, 0.1, 0.3, 0.6]),
)
def test_per_date_equals_vectorised_and_no_lookahead(
    scanner: DailyBreakoutScanner, seed: int, n_sessions: int, n_symbols: int, gap_rate: float
) -> None:
    panel = random_panel(seed, n_sessions, n_symbols, gap_rate)
    table = scanner.scan(panel)
    for t in range(panel.n_sessions):
        per_date = scanner.scan_for_setups(panel.sessions[t], panel)
        vectorised = table.to_setups(table.session_slice(t), panel.sessions, panel.symbols)
        assert [(s.symbol, s.base_days, s.score) for s in per_date] == [
            (s.symbol, s.base_days, s.score) for s in vectorised
        ]
        for a, b in zip(per_date, vectorised, strict=True):
            np.testing.assert_allclose(
                [getattr(a, f) for f in FIELDS], [getattr(b, f) for f in FIELDS], rtol=1e-10, equal_nan=True
            )
    cut_at = n_sessions // 2
    cut = scanner.scan(panel.truncate(cut_at))
    keep = table.session_idx <= cut_at
    np.testing.assert_array_equal(cut.session_idx, table.session_idx[keep])
    np.testing.assert_array_equal(cut.symbol_idx, table.symbol_idx[keep])
    np.testing.assert_array_equal(cut.score, table.score[keep])


def test_random_panels_do_produce_setups() -> None:
    # guards the property above against being vacuous: the generator yields breakouts
    scanner = DailyBreakoutScanner("very_relaxed", min_history=30, volume_lookback=10)
    total = sum(len(scanner.scan(random_panel(seed, 100, 3, 0.1))) for seed in range(20))
    assert total >= 20
