"""daily_breakout on the shared real data: per-date vs vectorised agreement, and no lookahead."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from trading_playbook.core.panel import Panel, bars_to_panel
from trading_playbook.core.scanners import DailyBreakoutScanner
from trading_playbook.core.types import SetupTable
from trading_playbook.testing import shared_data_path

DATA = shared_data_path(Path(__file__).parent) or Path("shared/data/sp500_daily.parquet")

pytestmark = pytest.mark.skipif(not DATA.exists(), reason="shared data not present")

FIELDS = (
    "reference_price",
    "initial_stop",
    "base_high",
    "base_width",
    "volume_ratio",
    "distance_from_high",
    "rs",
)


@pytest.fixture(scope="module")
def panel() -> Panel:
    return bars_to_panel(pd.read_parquet(DATA))


@pytest.fixture(scope="module")
def moderate_table(panel: Panel) -> SetupTable:
    return DailyBreakoutScanner("moderate").scan(panel)


def test_per_date_agrees_with_vectorised_on_random_sessions(panel: Panel, moderate_table: SetupTable) -> None:
    scanner = DailyBreakoutScanner("moderate")
    rng = np.random.default_rng(20260123)
    random_sessions = rng.choice(np.arange(60, panel.n_sessions), size=25, replace=False)
    with_setups = rng.choice(np.unique(moderate_table.session_idx), size=15, replace=False)
    pairs = 0
    compared = 0
    for t in np.unique(np.r_[random_sessions, with_setups]):
        t = int(t)
        per_date = scanner.scan_for_setups(panel.sessions[t], panel)
        rows = moderate_table.session_slice(t)
        vectorised = moderate_table.to_setups(rows, panel.sessions, panel.symbols)
        # every (session, symbol) with a bar was evaluated by both; the setups must be the same, in order
        pairs += int(panel.available[t].sum())
        assert [s.symbol for s in per_date] == [s.symbol for s in vectorised], f"session {panel.sessions[t]}"
        for a, b in zip(per_date, vectorised, strict=True):
            assert (a.session, a.base_days, a.score) == (b.session, b.base_days, b.score)
            # the two compute means differently (np.mean vs a running sum): equal to rounding
            np.testing.assert_allclose(
                [getattr(a, f) for f in FIELDS], [getattr(b, f) for f in FIELDS], rtol=1e-12, err_msg=a.symbol
            )
            compared += 1
    assert pairs >= 200 and compared >= 50


def test_cutting_the_data_changes_no_earlier_setup(panel: Panel, moderate_table: SetupTable) -> None:
    scanner = DailyBreakoutScanner("moderate")
    for last in (1500, 3333, 5000):
        cut = scanner.scan(panel.truncate(last))
        keep = moderate_table.session_idx <= last
        assert len(cut) == int(keep.sum()) > 0
        for name in ("session_idx", "symbol_idx", "base_days", "score", *FIELDS):
            np.testing.assert_array_equal(
                getattr(cut, name), getattr(moderate_table, name)[keep], err_msg=name
            )


def test_looser_preset_is_not_a_superset_and_rows_are_ranked(
    panel: Panel, moderate_table: SetupTable
) -> None:
    # A looser width lets the base grow longer, and a longer base can have a higher base_high that the
    # close no longer clears: looser presets find more setups but not a superset (RULES 3.4 as written).
    scanner = DailyBreakoutScanner("very_relaxed")
    loose = scanner.scan(panel, scanner.prepare(panel))
    key = lambda tab: set(zip(tab.session_idx.tolist(), tab.symbol_idx.tolist(), strict=True))  # noqa: E731
    assert len(loose) > len(moderate_table) and not key(moderate_table) <= key(loose)
    tab = moderate_table
    order = np.lexsort((tab.symbol_idx, -tab.volume_ratio, -tab.score, tab.session_idx))
    np.testing.assert_array_equal(order, np.arange(len(tab)))
    assert np.all(tab.score <= 10.0) and np.all(tab.base_days >= 7) and np.all(tab.base_width <= 0.15)
    assert np.all(tab.initial_stop == tab.reference_price * (1 - 0.08))
