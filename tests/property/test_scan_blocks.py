"""Scanning in blocks of symbols (issue 14) gives the whole-panel scan's setups, row for row."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trading_playbook.core.panel import Panel
from trading_playbook.core.scanners import DailyBreakoutScanner
from trading_playbook.core.scanners.chunked import merge_setups, scan_in_blocks, symbol_blocks
from trading_playbook.core.types import SetupTable
from trading_playbook.testing import random_walks, walk_panel


def _panel(seed: int, n_sessions: int, n_symbols: int, flat_volume: bool) -> Panel:
    rng = np.random.default_rng(seed)
    close, high, low, volume, available = random_walks(rng, n_sessions, n_symbols, 0.05)
    if flat_volume:  # equal volume ratios: ranking ties break on the symbol
        volume = np.where(available, 1e6, np.nan)
    available[-1, 0] = True
    return walk_panel(close, high, low, volume, available)


def assert_same(a: SetupTable, b: SetupTable) -> None:
    for name in SetupTable.__dataclass_fields__:
        left, right = getattr(a, name), getattr(b, name)
        assert left.dtype == right.dtype, name
        np.testing.assert_array_equal(left, right, err_msg=name)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    n_symbols=st.integers(1, 9),
    width=st.integers(1, 4),
    preset=st.sampled_from(["moderate", "very_relaxed"]),
    flat_volume=st.booleans(),
)
def test_blocks_equal_the_whole_panel(
    seed: int, n_symbols: int, width: int, preset: str, flat_volume: bool
) -> None:
    panel = _panel(seed, 260, n_symbols, flat_volume)
    scanner = DailyBreakoutScanner(preset, min_price=0.0, min_history=20, high_lookback=60)
    whole = scanner.scan(panel)
    assert_same(scan_in_blocks(scanner.scan, panel, width), whole)


def test_ties_break_on_the_symbol_across_blocks() -> None:
    """Equal score and volume ratio in two blocks: the lower symbol index ranks first."""
    ones = np.ones(2)
    block = SetupTable(np.array([0, 0]), np.array([0, 1]), *(ones,) * 4, np.array([5, 5]), *(ones,) * 4)
    merged = merge_setups([(3, block), (0, block)])
    assert merged.symbol_idx.tolist() == [0, 1, 3, 4]
    assert merged.session_idx.tolist() == [0, 0, 0, 0]


def test_symbol_blocks_cover_every_column_once() -> None:
    assert symbol_blocks(7, 3) == [(0, 3), (3, 6), (6, 7)]
    assert symbol_blocks(0, 3) == []
    with pytest.raises(ValueError, match="at least one symbol"):
        symbol_blocks(5, 0)


def test_no_setups_anywhere_is_an_empty_table() -> None:
    empty = merge_setups([])
    assert len(empty) == 0 and empty.symbol_idx.dtype == np.int64
