"""Crash safety: a step killed at any journal write and run again ends exactly like an uninterrupted one.

An account (a resting trail replaced most evenings, exits queued for the next open) is stepped over
ten sessions once without interruption; its journal (orders, fills, state
snapshots, trades, decisions, the simulated broker's book) is the reference. Then, for 24 kill points
spread over every journal write of that step, a fresh account is stepped, aborted right after the
k-th write (in process, by the fault hook), and stepped again: its journal must equal the reference
and the broker must have accepted every order exactly once. Four more points are real ``kill -9``s of
a ``playbook paper step`` process (``PLAYBOOK_PAPER_FAULT_AFTER``), and one run is crashed twice.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from _paper_data import subset_file, write_config

from trading_playbook.config import load_config
from trading_playbook.engine import load_data
from trading_playbook.paper import journal as journal_module
from trading_playbook.paper.account import account_path, init_account, step_account

START, UNTIL = "2006-05-01", "2006-05-12"  # ten sessions
PLAYBOOK = [sys.executable, "-c", "from trading_playbook.cli import main; main()"]


class InjectedCrash(BaseException):
    """Raised by the fault hook: nothing in the package catches it (like a kill)."""


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("crash")
    data = subset_file(str(root.parent / "paper-data"))
    # a trail that rests at the broker (stops replaced most evenings) and exits queued for the next open
    config = write_config(
        root / "cfg.toml", data, max_positions=6, exit_name="hybrid_trailing", exit_fill="next_open"
    )
    panel = load_data(load_config(config)).panel
    home = root / "reference"
    init_account(config, "demo", home=home, start=START)
    before = journal_module.writes_so_far()
    result = step_account("demo", home=home, until=UNTIL, panel=panel)
    writes = journal_module.writes_so_far() - before
    assert len(result.logs) == 10
    return {"root": root, "config": config, "panel": panel, "reference": snapshot(home), "writes": writes}


def snapshot(home: Path) -> dict[str, Any]:
    """Everything the journal says happened (timestamps and the free-text log left out)."""
    with sqlite3.connect(account_path("demo", home)) as conn:
        out = {
            "intents": conn.execute(
                "SELECT client_order_id, intent_json FROM intents ORDER BY client_order_id"
            ).fetchall(),
            "events": conn.execute(
                "SELECT event_id, type, client_order_id, session, phase, shares, price, commission, reason, code "
                "FROM events ORDER BY event_id"
            ).fetchall(),
            "sessions": conn.execute(
                "SELECT session, equity, cash, positions, exposure, sleeve_equity_json, state_json "
                "FROM sessions ORDER BY session"
            ).fetchall(),
            "trades": conn.execute("SELECT * FROM trades ORDER BY sleeve, symbol, entry_date").fetchall(),
            "decisions": conn.execute("SELECT * FROM decisions ORDER BY session, sleeve, rank").fetchall(),
            "broker": json.loads(conn.execute("SELECT state_json FROM broker_state").fetchone()[0]),
        }
    return out


def crash_at(k: int):  # type: ignore[no-untyped-def]
    start = journal_module.writes_so_far()

    def hook(n: int) -> None:
        if n - start == k:
            raise InjectedCrash(f"killed after journal write {k}")

    return hook


def kill_points(writes: int, n: int = 24) -> list[int]:
    return sorted({int(x) for x in np.linspace(1, writes - 1, n).round()})


def fresh(world: dict[str, Any], name: str) -> Path:
    home = world["root"] / name
    init_account(world["config"], "demo", home=home, start=START)
    return home


def test_the_reference_step_has_enough_writes_to_kill(world: dict[str, Any]) -> None:
    assert world["writes"] >= 40
    assert len(kill_points(world["writes"])) >= 20
    broker = world["reference"]["broker"]
    assert broker["accepted"] == len(world["reference"]["intents"])  # each intent accepted once


@pytest.mark.parametrize("point", range(24))
def test_killed_at_a_journal_write_and_stepped_again(world: dict[str, Any], point: int) -> None:
    k = kill_points(world["writes"])[point % len(kill_points(world["writes"]))]
    home = fresh(world, f"kill-{point}")
    journal_module.set_fault_hook(crash_at(k))
    try:
        with pytest.raises(InjectedCrash):
            step_account("demo", home=home, until=UNTIL, panel=world["panel"])
    finally:
        journal_module.set_fault_hook(None)
    step_account("demo", home=home, until=UNTIL, panel=world["panel"])
    assert snapshot(home) == world["reference"], f"kill point {k} of {world['writes']}"


def test_crashed_twice(world: dict[str, Any]) -> None:
    home = fresh(world, "twice")
    for k in (world["writes"] // 3, 7):
        journal_module.set_fault_hook(crash_at(k))
        try:
            with pytest.raises(InjectedCrash):
                step_account("demo", home=home, until=UNTIL, panel=world["panel"])
        finally:
            journal_module.set_fault_hook(None)
    step_account("demo", home=home, until=UNTIL, panel=world["panel"])
    assert snapshot(home) == world["reference"]


@pytest.mark.parametrize("fraction", [0.1, 0.35, 0.6, 0.9])
def test_kill_minus_nine_of_a_step_process(world: dict[str, Any], fraction: float) -> None:
    home = fresh(world, f"sigkill-{fraction}")
    k = max(1, int(world["writes"] * fraction))
    env = {**os.environ, "PLAYBOOK_HOME": str(home), "PLAYBOOK_PAPER_FAULT_AFTER": str(k)}
    done = subprocess.run(
        [*PLAYBOOK, "paper", "step", "--account", "demo", "--until", UNTIL],
        capture_output=True, text=True, env=env, check=False, timeout=300,
    )  # fmt: skip
    assert done.returncode == -9, done.stderr  # killed by SIGKILL, mid-step
    env.pop("PLAYBOOK_PAPER_FAULT_AFTER")
    again = subprocess.run(
        [*PLAYBOOK, "paper", "step", "--account", "demo", "--until", UNTIL],
        capture_output=True, text=True, env=env, check=False, timeout=300,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert snapshot(home) == world["reference"]
