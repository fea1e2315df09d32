"""The shared-data example of a point-in-time universe (issue 15): coverage as the universes README
says, the result document, the report, and the registered-universe path.

Reads ``../shared/data/sp500_daily.parquet`` and ``../shared/data/universes/`` (skipped without them).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from trading_playbook.config import load_config
from trading_playbook.engine import Workspace, load_data, run_backtest
from trading_playbook.reports import write_run
from trading_playbook.reports.json_result import result_document, validate_document
from trading_playbook.testing import shared_data_path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "sp500_pit.toml"
DATA = shared_data_path(ROOT)
UNIVERSES = DATA.parent / "universes" if DATA is not None else Path("/nonexistent")


def readme_table() -> list[tuple[str, int, int]]:
    """(date, members, members with price data) rows of the universes README's table."""
    text = (UNIVERSES / "README.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\|\s*(\d{4}-\d{2}-\d{2})\s*\|\s*(\d+)\s*\|\s*(\d+)\s*\|", text, flags=re.M)
    return [(d, int(m), int(w)) for d, m, w in rows]


@pytest.fixture(scope="module")
def workspace() -> Workspace:
    if DATA is None or not (UNIVERSES / "sp500_membership_intervals.csv").exists():
        pytest.skip("shared data or membership file not found")
    return load_data(load_config(EXAMPLE))


def test_coverage_matches_the_universes_readme(workspace: Workspace) -> None:
    table = readme_table()
    assert len(table) == 5
    covered = workspace.info["coverage"]
    for date, members, with_data in table:
        i = int(np.searchsorted(covered.sessions, np.datetime64(date)))
        assert str(covered.sessions[i]) == date
        assert (int(covered.members[i]), int(covered.with_data[i])) == (members, with_data), date
    # the reused tickers whose series has bars in stays more than a year apart are cut (e.g. TT:
    # American Standard's stay 2002-2008 and Trane Technologies' from 2020 share one price series)
    cut = {s.symbol: s.earlier for s in covered.splits}
    assert cut["TT"] == "TT@2002-05-13" and cut["AMD"] == "AMD@1996-01-02" and len(cut) == 12
    assert "TT@2002-05-13" in workspace.panel.symbols


def test_the_example_runs_and_reports_its_coverage(workspace: Workspace, tmp_path: Path) -> None:
    cfg = load_config(EXAMPLE)
    result = run_backtest(cfg, workspace=workspace, start="2000-01-03", end="2002-12-31")
    coverage = result.data["coverage"]
    assert coverage["policy"] == "exit" and coverage["sessions"]["date"][0] == "2000-01-03"
    assert coverage["sessions"]["members"][0] == 492 and coverage["sessions"]["with_data"][0] == 213
    assert coverage["sessions"]["without_data"][0] == 492 - 213
    assert 0.5 < coverage["unseen_share"] < 0.6  # about 56 % of 2000-2002's member-days are not seen
    assert result.metrics["validation"]["survivorship_warning"] is True  # measured, not guessed
    doc = result_document(result, created_at="2026-01-01T00:00:00Z")
    validate_document(doc)
    written = write_run(result, tmp_path, panel=workspace.panel, formats=("json", "md", "svg"))
    assert (tmp_path / "charts" / "coverage.svg").is_file() and "chart_coverage" in written
    report = (tmp_path / "report.md").read_text()
    assert "the run could not see" in report and "Universe coverage" in report
    assert "| 2001 |" in report.replace("  ", " ")
    for t in result.trades:  # no entry decided on a day its symbol was not a member
        decided = workspace.panel.session_index(t.entry_date) - 1
        assert workspace.panel.universe is not None
        assert workspace.panel.universe.member[decided, workspace.panel.symbol_index(t.symbol)]


def test_a_registered_universe_gives_the_same_membership(workspace: Workspace, tmp_path: Path) -> None:
    from trading_playbook.data.universe import UniverseStore, apply_universe

    UniverseStore(tmp_path).add("sp500", UNIVERSES / "sp500_membership_intervals.csv")
    raw = load_config(EXAMPLE)
    bare = workspace.panel
    _, covered, info = apply_universe(bare, membership="sp500", policy="exit", cache_dir=str(tmp_path))
    assert info["universe_fingerprint"] == workspace.info["universe_fingerprint"]
    assert raw.universe is not None and info["universe"] == "sp500"
    assert int(covered.members.sum()) == int(workspace.info["coverage"].members.sum())
