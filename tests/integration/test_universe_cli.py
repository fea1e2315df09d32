"""The universe commands end to end (issue 15): register, list, show, remove; a backtest, a scan and
the lookahead check of a config naming the registered universe. Real files and cache folder, synthetic
bars (SYN000..SYN005)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from trading_playbook.cli import app

runner = CliRunner()
CONFIG = """
[data]
source = "synthetic"
synthetic_symbols = 6
start = "2014-01-01"
end = "2016-12-31"
[scanner]
name = "daily_breakout"
preset = "very_relaxed"
[portfolio]
max_positions = 4
[universe]
membership = "mini"
policy = "exit"
"""
# SYN000-SYN002 members all along; SYN003 only in 2015; SYN004 leaves mid-2015; SYN005 never
MEMBERS = """ticker,start_date,end_date
SYN000,2010-01-01,
SYN001,2010-01-01,
SYN002,2010-01-01,
SYN003,2015-01-01,2015-12-31
SYN004,2010-01-01,2015-06-30
"""


def invoke(*args: str) -> str:
    result = runner.invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture()
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PLAYBOOK_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("PLAYBOOK_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("COLUMNS", "200")
    (tmp_path / "members.csv").write_text(MEMBERS)
    (tmp_path / "cfg.toml").write_text(CONFIG)
    return tmp_path


def test_register_then_backtest_scan_and_check(folder: Path) -> None:
    out = invoke("data", "universe", "add", "mini", str(folder / "members.csv"))
    assert "registered universe mini: 5 stays of 5 tickers" in out and 'membership = "mini"' in out
    assert "mini" in invoke("data", "universe", "list")
    shown = invoke("data", "universe", "show", "mini", "--date", "2015-08-03")
    assert "4 members on 2015-08-03: SYN000 SYN001 SYN002 SYN003" in shown
    out = invoke(
        "backtest", str(folder / "cfg.toml"), "--out", str(folder / "run"), "--no-record", "--no-charts"
    )
    assert "Point-in-time universe mini (policy exit): the run could not see" in " ".join(out.split())
    doc = json.loads((folder / "run" / "result.json").read_text())
    assert doc["config"]["universe"]["membership"] == "mini" and doc["data"]["universe"] == "mini"
    sessions = doc["data"]["coverage"]["sessions"]
    assert max(sessions["members"]) == 5 and min(sessions["members"]) == 3  # 2015 H1; 2016
    for trade in doc["trades"]:
        assert trade["symbol"] != "SYN005"
        if trade["symbol"] == "SYN003":
            assert "2015-01-01" < trade["entry_date"] <= "2016-01-01"
            assert trade["exit_date"] <= "2015-12-31"
        if trade["symbol"] == "SYN004":
            assert trade["exit_date"] <= "2015-06-30"
    # the scan lists members only: SYN005 (never a member) has a setup on 2016-09-13 without a universe
    # (with SYN000 and SYN001; synthetic generator version 2)
    (folder / "plain.toml").write_text(CONFIG.split("[universe]")[0])
    plain = json.loads(invoke("scan", str(folder / "plain.toml"), "--date", "2016-09-13", "--json"))
    members = json.loads(invoke("scan", str(folder / "cfg.toml"), "--date", "2016-09-13", "--json"))
    assert "SYN005" in {row["symbol"] for row in plain}
    assert {row["symbol"] for row in members} == {r["symbol"] for r in plain} & {"SYN000", "SYN001", "SYN002"}
    check = invoke("check-lookahead", str(folder / "cfg.toml"), "--cuts", "2")
    assert "point-in-time universe mini (policy exit)" in check and "PASSED" in check
    invoke("data", "universe", "remove", "mini")
    result = runner.invoke(app, ["backtest", str(folder / "cfg.toml"), "--out", str(folder / "run2")])
    assert result.exit_code != 0
