"""A simulated paper account stepped one session per process start matches the backtest exactly.

20 ``playbook paper step --account demo --until D`` processes, one per session, each loading the
data, cutting it after D (nothing later exists for it), restoring the account from its journal and
processing that one session. The account's equity rows, closed trades and open positions must equal
the backtest's (issue 10; ``benchmarks/paper_process_steps.py`` does the same over two years of the
full shared data on demand).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from _paper_data import subset_file, write_config

from trading_playbook.config import load_config
from trading_playbook.engine import load_data, run_backtest
from trading_playbook.paper import queries
from trading_playbook.paper.account import init_account
from trading_playbook.paper.drift import compute_drift

PLAYBOOK = [sys.executable, "-c", "from trading_playbook.cli import main; main()"]
STARTS = 20


def test_one_session_per_process_start(tmp_path: Path) -> None:
    home = tmp_path / "home"
    data = subset_file(str(tmp_path.parent / "paper-data"))
    config = write_config(tmp_path / "cfg.toml", data, max_positions=6)
    cfg = load_config(config)
    workspace = load_data(cfg)
    sessions = [str(d) for d in workspace.panel.sessions.astype("datetime64[D]")]
    first = sessions.index("2006-09-01")
    days = sessions[first : first + STARTS + 1]
    init_account(config, "demo", home=home, start=days[0])
    env = {**os.environ, "PLAYBOOK_HOME": str(home)}
    for day in days[:-1]:
        done = subprocess.run(
            [*PLAYBOOK, "paper", "step", "--account", "demo", "--until", day, "--json"],
            capture_output=True, text=True, env=env, check=False, timeout=300,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        stepped = json.loads(done.stdout)["sessions"]
        assert [s["date"] for s in stepped] == [day]  # exactly one session per process
    os.environ["PLAYBOOK_HOME"], previous = str(home), os.environ.get("PLAYBOOK_HOME")
    try:
        history = queries.equity_history("demo")
        trades = queries.trades("demo")
        held = queries.positions("demo")
        drift = compute_drift("demo", workspace=workspace)
    finally:
        if previous is None:
            del os.environ["PLAYBOOK_HOME"]
        else:
            os.environ["PLAYBOOK_HOME"] = previous
    # the backtest of one more session has the account's state after every session it processed
    backtest = run_backtest(
        cfg, workspace=workspace, start=days[0], end=days[-1], engine="fast", metrics=False
    )
    assert [h["date"] for h in history] == days[:-1]
    assert np.array_equal([h["equity"] for h in history], backtest.equity.equity[:-1])
    assert np.array_equal([h["cash"] for h in history], backtest.equity.cash[:-1])
    closed = [t.to_dict() for t in backtest.trades if t.exit_date.isoformat() <= days[-2]]
    assert trades == json.loads(json.dumps(closed)) and len(trades) >= 5
    still_open = [(t.symbol, t.entry_date.isoformat(), t.shares, t.entry_price) for t in backtest.trades
                  if t.entry_date.isoformat() <= days[-2] < t.exit_date.isoformat()]  # fmt: skip
    assert sorted(
        (p["symbol"], p["entry_date"], p["original_shares"], p["entry_price"]) for p in held
    ) == sorted(still_open)
    # and the backtest of exactly those sessions: zero drift
    assert drift["summary"]["zero_drift"], drift["summary"]
    assert drift["summary"]["open"] == len(held) and drift["summary"]["same"] == len(trades)
