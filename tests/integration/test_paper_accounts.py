"""Paper accounts through the CLI: init, step, status, history, the lock and the config guard.

Real journal files under a temporary PLAYBOOK_HOME, real data (a slice of the shared S&P 500 file).
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from _paper_data import subset_file, write_config
from typer.testing import CliRunner

from trading_playbook.cli import app
from trading_playbook.config import load_config
from trading_playbook.core.errors import ConfigError
from trading_playbook.engine import load_data, run_backtest
from trading_playbook.paper import queries
from trading_playbook.paper.account import AccountBusy, AccountError, account_path, step_account

runner = CliRunner()
PLAYBOOK = [sys.executable, "-c", "from trading_playbook.cli import main; main()"]  # the console script


@pytest.fixture()
def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    monkeypatch.setenv("PLAYBOOK_HOME", str(tmp_path / "home"))
    data = subset_file(str(tmp_path.parent / "paper-data"))
    return tmp_path, write_config(tmp_path / "cfg.toml", data)


def invoke(*args: str) -> str:
    result = runner.invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_init_step_status_history(setup: tuple[Path, Path]) -> None:
    _, config = setup
    out = invoke("paper", "init", str(config), "--account", "demo", "--start", "2007-03-01")
    assert "first session 2007-03-01" in out and account_path("demo").is_file()
    step = json.loads(invoke("paper", "step", "--account", "demo", "--until", "2007-04-30", "--json"))
    dates = [s["date"] for s in step["sessions"]]
    assert dates[0] == "2007-03-01" and dates[-1] == "2007-04-30" and len(dates) == 42
    # what is queued for the next open is printed and equals the status' pending orders
    status = json.loads(invoke("paper", "status", "--account", "demo", "--json"))
    assert status["pending_orders"] == step["open_orders"]
    assert status["account"]["last_session"] == "2007-04-30"
    kinds = {o["kind"] for o in status["pending_orders"]}
    assert "stop" in kinds  # every open position has its resting stop
    for p in status["positions"]:
        assert p["stop"] == pytest.approx(p["entry_price"] * 0.92) and p["sessions_held"] >= 0
        assert p["unrealised_pnl"] == pytest.approx(
            p["shares"] * p["last_close"] - p["original_shares"] * p["entry_price"], abs=5.0
        )
    history = json.loads(invoke("paper", "history", "--account", "demo", "--json"))
    assert set(history) == {"trades", "fills"} and history["trades"] and history["fills"]
    assert all(f["client_order_id"].startswith("tp-demo-") for f in history["fills"])
    # trades in result.json's trade format, equal to the backtest's closed trades of the window
    cfg = load_config(config)
    backtest = run_backtest(cfg, start="2007-03-01", end="2007-05-31", engine="fast", metrics=False)
    closed = [t.to_dict() for t in backtest.trades if t.exit_date.isoformat() <= "2007-04-30"]
    assert [t["symbol"] for t in history["trades"]] == [t["symbol"] for t in closed]
    assert history["trades"] == json.loads(json.dumps(closed))
    # human output works too
    assert "Open positions" in invoke("paper", "status", "--account", "demo")
    assert "Fills of demo" in invoke("paper", "history", "--account", "demo")
    assert "demo" in invoke("paper", "status")  # without --account: every account
    assert json.loads(invoke("paper", "status", "--json"))["accounts"][0]["name"] == "demo"


def test_step_catches_up_and_then_has_nothing_to_do(setup: tuple[Path, Path]) -> None:
    _, config = setup
    invoke("paper", "init", str(config), "--account", "demo", "--start", "2008-06-20")
    first = step_account("demo")
    assert [log.date.isoformat() for log in first.logs] == ["2008-06-20", "2008-06-23", "2008-06-24",
        "2008-06-25", "2008-06-26", "2008-06-27", "2008-06-30"]  # fmt: skip
    again = step_account("demo")
    assert again.logs == [] and "no new session" in again.note
    assert again.last_processed is not None and again.last_processed.isoformat() == "2008-06-30"


def test_a_changed_config_is_refused_naming_the_keys(setup: tuple[Path, Path]) -> None:
    _, config = setup
    invoke("paper", "init", str(config), "--account", "demo", "--start", "2007-03-01")
    text = config.read_text().replace('preset = "relaxed"', 'preset = "moderate"')
    config.write_text(text.replace("max_positions = 5", "max_positions = 6"))
    with pytest.raises(ConfigError, match=r"portfolio\.max_positions, scanner\.preset; an account keeps"):
        step_account("demo")
    # init of the same name with the changed file says the same; a new name is the way
    with pytest.raises(ConfigError, match=r"scanner\.preset"):
        runner.invoke(app, ["paper", "init", str(config), "--account", "demo"], catch_exceptions=False)
    invoke("paper", "init", str(config), "--account", "demo2", "--start", "2007-03-01")


def test_errors_name_the_account_and_the_fix(setup: tuple[Path, Path]) -> None:
    _, config = setup
    with pytest.raises(AccountError, match=r"no paper account 'nope'.*playbook paper init"):
        step_account("nope")
    with pytest.raises(AccountError, match="not valid"):
        invoke("paper", "init", str(config), "--account", "bad-name")
    dividends = config.with_name("all.toml")
    dividends.write_text(config.read_text().replace("[data]", '[data]\nadjustment = "all"'))
    with pytest.raises(ConfigError, match=r'adjustment = "split" for a paper account'):
        invoke("paper", "init", str(dividends), "--account", "demo")
    invoke("paper", "init", str(config), "--account", "demo", "--start", "2007-03-01")
    with pytest.raises(AccountError, match="exists already"):
        invoke("paper", "init", str(config), "--account", "demo")
    # the CLI prints a one-line error without a traceback
    env = {**os.environ}
    done = subprocess.run(
        [*PLAYBOOK, "paper", "step", "--account", "nope"],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    assert done.returncode == 1 and "error: no paper account 'nope'" in done.stderr
    assert "Traceback" not in done.stderr


def test_journal_schema_holds_every_table(setup: tuple[Path, Path]) -> None:
    _, config = setup
    invoke("paper", "init", str(config), "--account", "demo", "--start", "2007-03-01")
    step_account("demo", until="2007-03-30")
    with sqlite3.connect(account_path("demo")) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert {
            "meta",
            "intents",
            "events",
            "sessions",
            "trades",
            "decisions",
            "broker_state",
            "log",
        } <= tables
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        # every fill's order was journaled as an intent, and no later than the fill
        orphans = conn.execute(
            "SELECT COUNT(*) FROM events e LEFT JOIN intents i USING (client_order_id) "
            "WHERE e.type = 'fill' AND (i.client_order_id IS NULL OR i.written_at > e.written_at)"
        ).fetchone()[0]
        assert orphans == 0
        outcomes = {r[0] for r in conn.execute("SELECT DISTINCT outcome FROM decisions")}
    assert "queued" in outcomes and outcomes <= {"queued", "held", "no_slot", "sized_zero", "no_cash"}
    logged = queries.decisions("demo")
    first_day = [d for d in logged if d["session"] == logged[0]["session"]]
    assert [d["rank"] for d in first_day] == list(range(1, len(first_day) + 1))


def _step_process(home: Path, *args: str, env_extra: dict[str, str] | None = None) -> subprocess.Popen[str]:
    env = {**os.environ, "PLAYBOOK_HOME": str(home), **(env_extra or {})}
    return subprocess.Popen(
        [*PLAYBOOK, "paper", "step", "--account", "demo", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip


def test_two_steps_at_once_the_second_refuses_or_waits(setup: tuple[Path, Path]) -> None:
    tmp, config = setup
    home = tmp / "home"
    invoke("paper", "init", str(config), "--account", "demo", "--start", "2007-03-01")
    # the first step pauses 8 s right after its first journal write (the broker's book), holding the lock
    first = _step_process(home, "--until", "2007-03-09", env_extra={"PLAYBOOK_PAPER_PAUSE_AFTER": "1:8"})
    deadline = time.time() + 60
    while time.time() < deadline:
        with sqlite3.connect(account_path("demo")) as conn:
            if conn.execute("SELECT COUNT(*) FROM broker_state").fetchone()[0]:
                break
        time.sleep(0.05)
    with pytest.raises(AccountBusy, match="being stepped by another process"):
        step_account("demo", until="2007-03-09")
    waiting = _step_process(home, "--until", "2007-03-09", "--wait", "60")
    assert first.wait(120) == 0 and waiting.wait(120) == 0, waiting.stderr.read() if waiting.stderr else ""
    # the waiting step found the sessions done: nothing processed twice, nothing corrupted
    assert [r["date"] for r in queries.equity_history("demo")][-1] == "2007-03-09"
    assert len(queries.equity_history("demo")) == 7
    fills = queries.fills("demo")
    assert len({f["fill_id"] for f in fills}) == len(fills)


def test_the_data_is_loaded_through_the_config(setup: tuple[Path, Path]) -> None:
    # the account's panel is the config's data (the file slice): its symbols are the positions' universe
    _, config = setup
    invoke("paper", "init", str(config), "--account", "demo", "--start", "2007-03-01")
    step_account("demo", until="2007-06-29")
    symbols = set(load_data(load_config(config)).panel.symbols)
    assert {t["symbol"] for t in queries.trades("demo")} <= symbols


def test_relative_data_paths_are_read_from_the_config_files_folder(
    setup: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    tmp, config = setup
    data = Path(load_config(config).data.path or "")
    (tmp / "project" / "data").mkdir(parents=True)
    (tmp / "project" / "data" / "bars.parquet").write_bytes(data.read_bytes())
    text = config.read_text().replace(str(data), "data/bars.parquet")
    (tmp / "project" / "cfg.toml").write_text(text)
    monkeypatch.chdir(tmp)
    invoke("paper", "init", "project/cfg.toml", "--account", "demo", "--start", "2007-03-01")
    monkeypatch.chdir(tmp / "project" / "data")  # a daemon started anywhere still finds the data
    assert len(step_account("demo", until="2007-03-09").logs) == 7


def test_an_upgrade_that_adds_config_keys_is_not_a_change_of_strategy(setup: tuple[Path, Path]) -> None:
    # an account created by an older version stored a config without a key this version has
    _, config = setup
    invoke("paper", "init", str(config), "--account", "demo", "--start", "2007-03-01")
    with sqlite3.connect(account_path("demo")) as conn:
        stored = json.loads(conn.execute("SELECT value FROM meta WHERE key = 'config'").fetchone()[0])
        del stored["report"]["bootstrap_seed"]
        conn.execute("UPDATE meta SET value = ? WHERE key = 'config'", (json.dumps(stored),))
    assert len(step_account("demo", until="2007-03-05").logs) == 3
