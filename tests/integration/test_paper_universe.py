"""A paper account in a point-in-time universe trades exactly as the backtest does (issue 15).

The account steps session by session through the event-driven engine (data loaded by the config,
membership riding on the panel); its closed trades must equal the backtest's, UNIVERSE_EXIT sales
included. Real journal, real data (a slice of the shared S&P 500 file), a membership file written here.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from _paper_data import subset_file, subset_symbols, write_config
from typer.testing import CliRunner

from trading_playbook.cli import app
from trading_playbook.config import load_config
from trading_playbook.engine import run_backtest
from trading_playbook.paper.account import step_account

runner = CliRunner()


def membership_file(path: Path) -> Path:
    """Stays of 25 to 80 days for each symbol of the slice, with gaps between them (seeded)."""
    rng = np.random.default_rng(15)
    lines = ["ticker,start_date,end_date"]
    for symbol in subset_symbols():
        day = np.datetime64("2005-01-03") + np.timedelta64(int(rng.integers(0, 60)), "D")
        while day < np.datetime64("2008-06-30"):
            end = day + np.timedelta64(int(rng.integers(25, 80)), "D")
            lines.append(f"{symbol},{day},{end}")
            day = end + np.timedelta64(int(rng.integers(5, 40)), "D")
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("policy", ["exit", "hold"])
def test_a_paper_account_in_a_universe_equals_the_backtest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, policy: str
) -> None:
    monkeypatch.setenv("PLAYBOOK_HOME", str(tmp_path / "home"))
    data = subset_file(str(tmp_path.parent / "paper-data"))
    members = membership_file(tmp_path / "members.csv")
    extra = f'[universe]\nmembership = "members.csv"\npolicy = "{policy}"\n'
    config = write_config(tmp_path / "cfg.toml", data, exit_name="scaled_exits", max_positions=6, extra=extra)
    assert members.parent == config.parent  # the path is relative to the config's folder
    result = runner.invoke(app, ["paper", "init", str(config), "--account", "pit", "--start", "2007-01-02"])
    assert result.exit_code == 0, result.output
    for until in ("2007-02-15", "2007-04-02", "2007-06-29"):  # several steps, one process
        step_account("pit", until=until)
    history = json.loads(runner.invoke(app, ["paper", "history", "--account", "pit", "--json"]).output)
    backtest = run_backtest(load_config(config), start="2007-01-02", end="2007-07-31", metrics=False)
    closed = [t.to_dict() for t in backtest.trades if t.exit_date.isoformat() <= "2007-06-29"]
    assert history["trades"] == json.loads(json.dumps(closed))
    reasons = {t["exit_reason"] for t in closed}
    assert ("UNIVERSE_EXIT" in reasons) == (policy == "exit")
    assert len(closed) > 20
