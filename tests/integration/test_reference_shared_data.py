"""The reference engine on the shared S&P 500 data with the real breakout scanner.

Loads 80 symbols (the whole 1999-2021 history) once per module. Checks the accounting invariants on
a full run of every built-in exit, that the per-date scanner protocol and the vectorised scan give
the same simulation, and that cutting the data after a session changes nothing before it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from trading_playbook.core.exits.spec import NAMED_EXITS, named_exit
from trading_playbook.core.panel import Panel, bars_to_panel
from trading_playbook.core.simulate.reference import run_reference
from trading_playbook.core.simulate.settings import PortfolioSettings, SleeveSpec
from trading_playbook.core.sizing import PercentEquitySizer
from trading_playbook.testing import shared_data_path

DATA = shared_data_path(Path(__file__).parent) or Path("shared/data/sp500_daily.parquet")
pytestmark = pytest.mark.skipif(not DATA.exists(), reason="shared data not available")


@pytest.fixture(scope="module")
def panel() -> Panel:
    symbols = pd.read_parquet(DATA, columns=["symbol"])["symbol"].astype(str).unique()
    chosen = sorted(symbols)[::6][:80]
    bars = pd.read_parquet(DATA, filters=[("symbol", "in", chosen)])
    return bars_to_panel(bars)


def scanner(preset: str = "moderate"):
    from trading_playbook.core.scanners.daily_breakout import DailyBreakoutScanner

    return DailyBreakoutScanner(preset=preset)


@dataclass
class PerDateOnly:
    """Hides the vectorised ``scan`` so the engine must call ``scan_for_setups`` every session."""

    inner: object

    def scan_for_setups(self, date, data):
        return self.inner.scan_for_setups(date, data)


def sleeve(exit_name: str, scan=None, max_positions: int = 5) -> SleeveSpec:
    return SleeveSpec(
        name="main",
        scanner=scan or scanner(),
        exit=named_exit(exit_name),
        sizer=PercentEquitySizer(),
        max_positions=max_positions,
    )


@pytest.mark.parametrize("exit_name", sorted(NAMED_EXITS))
def test_full_run_invariants(panel: Panel, exit_name: str) -> None:
    settings = PortfolioSettings(commission_per_share=0.005, commission_min=1.0)
    end = panel.n_sessions - 1
    trades, curve = run_reference(panel, [sleeve(exit_name)], settings, start=60, end=end)
    assert len(trades) > 50
    assert np.all(curve.cash >= 0.0)
    assert curve.positions[-1] == 0 and np.all(curve.positions <= 5)
    assert math.isclose(sum(t.pnl for t in trades), curve.equity[-1] - 100_000, rel_tol=1e-9, abs_tol=1e-6)
    keys = [(t.entry_date, t.symbol) for t in trades]
    assert keys == sorted(keys)
    assert all(t.exit_date >= t.entry_date and t.shares > 0 for t in trades)
    reasons = {t.exit_reason for t in trades}
    assert reasons <= {
        "HARD_STOP", "BREAKEVEN_STOP", "TRAILING_STOP", "MA_BREAK", "LOWER_CLOSE", "LOWER_HIGH",
        "EMA_BREAK", "TIME_STOP", "STOP_LOSS", "TARGET", "SCALE_1", "SCALE_2", "SCALE_3",
        "PROFIT_TAKE_25", "END_OF_DATA", "END_OF_TEST",
    }  # fmt: skip


def test_per_date_protocol_equals_vectorised_scan(panel: Panel) -> None:
    start = panel.session_index("2008-01-01")
    end = panel.session_index("2008-12-31", side="right")
    cut = panel.truncate(end)
    settings = PortfolioSettings(exit_fill="next_open")
    vectorised = run_reference(cut, [sleeve("scaled_exits")], settings, start=start, end=end)
    per_date = run_reference(
        cut, [sleeve("scaled_exits", PerDateOnly(scanner()))], settings, start=start, end=end
    )
    assert len(vectorised[0]) > 5
    assert vectorised[0] == per_date[0]
    np.testing.assert_array_equal(vectorised[1].equity, per_date[1].equity)


def test_truncation_changes_nothing_before_the_cut(panel: Panel) -> None:
    end = panel.n_sessions - 1
    avail = panel.available
    # a cut where every listed symbol that trades later has a bar (END_OF_DATA is then the same)
    candidates = [
        t
        for t in range(3000, 3200)
        if np.all(avail[t] | ~(avail[:t].any(axis=0) & avail[t + 1 :].any(axis=0)))
    ]
    cut = candidates[0]
    full = run_reference(panel, [sleeve("smart_exits")], PortfolioSettings(), start=60, end=end)
    part = run_reference(panel.truncate(cut), [sleeve("smart_exits")], PortfolioSettings(), start=60, end=cut)
    day = panel.sessions[cut].astype(object)
    before_full = [t for t in full[0] if t.exit_date < day]
    assert len(before_full) > 100
    assert before_full == [t for t in part[0] if t.exit_date < day]
    n = cut - 60
    np.testing.assert_array_equal(full[1].equity[:n], part[1].equity[:n])
