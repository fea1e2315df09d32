"""Results that reproduce and a CLI that explains itself (issue 9, points 5, 6, 7, 10, 11 and 12)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from trading_playbook.cli import app

runner = CliRunner()

SYNTHETIC = (
    '[data]\nsource = "synthetic"\nsynthetic_symbols = 10\nsynthetic_seed = 3\n'
    'start = "2013-01-01"\nend = "2017-12-31"\n'
    '[scanner]\nname = "daily_breakout"\npreset = "relaxed"\n[portfolio]\nmax_positions = 4\n'
)


@pytest.fixture()
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PLAYBOOK_HOME", str(tmp_path / "home"))
    (tmp_path / "c.toml").write_text(SYNTHETIC)
    return tmp_path


def test_best_toml_reproduces_the_best_trial(home: Path) -> None:
    opt = home / "opt"
    result = runner.invoke(
        app,
        [
            "optimize", str(home / "c.toml"), "--param", "exit.time_stop=5,12", "--param",
            "scanner.min_volume_ratio=0.8,1.3", "--start", "2015-01-01", "--end", "2016-06-30",
            "--min-trades", "1", "--workers", "1", "--out", str(opt),
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    best = json.loads((opt / "summary.json").read_text())["best_metrics"]
    run = home / "best"
    again = runner.invoke(app, ["backtest", str(opt / "best.toml"), "--out", str(run), "--no-charts"])
    assert again.exit_code == 0, again.output
    doc = json.loads((run / "result.json").read_text())
    assert doc["data"]["first_session"] >= "2015-01-01" and doc["data"]["last_session"] <= "2016-06-30"
    metrics = doc["metrics"]
    assert metrics["trades"] == best["trades"] and metrics["final_equity"] == best["final_equity"]
    assert metrics["sessions"] == best["sessions"]
    assert metrics["sharpe"] == pytest.approx(best["sharpe"], rel=1e-12)


def test_reusing_out_replaces_the_previous_run_whole(home: Path) -> None:
    out = home / "run"
    first = runner.invoke(app, ["backtest", str(home / "c.toml"), "--out", str(out), "--no-record"])
    assert first.exit_code == 0, first.output
    assert (out / "report.html").is_file() and (out / "charts").is_dir()
    second = runner.invoke(
        app, ["backtest", str(home / "c.toml"), "--out", str(out), "--no-charts", "--no-record"]
    )
    assert second.exit_code == 0, second.output
    assert sorted(p.name for p in out.iterdir()) == ["equity.csv", "report.md", "result.json", "trades.csv"]
    assert [p.name for p in home.iterdir() if p.name.startswith(".run")] == []  # no staging left


def test_relative_data_paths_follow_the_config_not_the_current_folder(home: Path, monkeypatch) -> None:
    from trading_playbook.data.model import to_frame
    from trading_playbook.data.synthetic import synthetic_arrays

    project = home / "project"
    (project / "data").mkdir(parents=True)
    frame = to_frame(synthetic_arrays(5, "2014-01-01", "2016-12-31", seed=8))
    frame["symbol"] = frame["symbol"].astype(str)
    frame.to_parquet(project / "data" / "bars.parquet")
    (project / "c.toml").write_text('[data]\nsource = "file"\npath = "data/bars.parquet"\n')
    elsewhere = home / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    result = runner.invoke(app, ["backtest", "../project/c.toml", "--out", "run", "--no-charts"])
    assert result.exit_code == 0, result.output
    doc = json.loads((elsewhere / "run" / "result.json").read_text())
    assert doc["data"]["path"] == str(project / "data" / "bars.parquet")


def _leaves(group: Any, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    out = []
    for name, command in sorted(group.commands.items()):
        if hasattr(command, "commands"):
            out.extend(_leaves(command, (*prefix, name)))
        else:
            out.append(((*prefix, name), command))
    return out


def test_help_shows_bracketed_words() -> None:
    """Rich markup used to swallow "[data]" and the like from every --help."""
    checked = 0
    for path, command in _leaves(typer.main.get_command(app)):
        texts = [command.help or ""] + [getattr(p, "help", None) or "" for p in command.params]
        bracketed = [t for t in texts if "[" in t]
        if not bracketed:
            continue
        shown = " ".join(runner.invoke(app, [*path, "--help"], env={"COLUMNS": "300"}).output.split())
        for text in bracketed:
            first = " ".join(text.split()).split(". ")[0]
            assert first in shown, (path, first)
            checked += 1
    assert checked >= 3  # scan's config, the repair and allow-missing options at least


def test_strategies_lists_presets_primitives_and_plain_text() -> None:
    result = runner.invoke(app, ["strategies"], env={"COLUMNS": "300"})
    assert result.exit_code == 0
    text = result.output
    assert "min_base_days=None" not in text and "min_base_days=(preset)" in text
    assert "``" not in text
    rows = {line.split("│")[1].strip(): line for line in text.splitlines() if line.count("│") >= 4}
    assert [c.strip() for c in rows["moderate"].split("│")[2:6]] == ["7", "0.15", "1.0", "0.35"]
    for kind in ("hard_stop", "trailing_stop", "ma_break", "scale_out", "time_stop"):
        assert kind in rows, kind
    assert "[exit] rules" in text


def test_run_id_line_is_never_wrapped(home: Path) -> None:
    result = runner.invoke(
        app,
        ["backtest", str(home / "c.toml"), "--out", str(home / "r"), "--no-charts"],
        env={"COLUMNS": "30"},
    )
    assert result.exit_code == 0, result.output
    line = next(line for line in result.output.splitlines() if line.startswith("Recorded as run"))
    run_id = line.split()[3]
    assert line == f"Recorded as run {run_id} (playbook runs show {run_id})"


def _trials(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(db, timeout=5) as con:
            return int(con.execute("SELECT COUNT(*) FROM trials").fetchone()[0])
    except sqlite3.Error:
        return 0


def test_ctrl_c_stops_cleanly_and_the_rerun_resumes(home: Path) -> None:
    out = home / "opt"
    command = [
        sys.executable, "-c", "from trading_playbook.cli import main; main()", "optimize",
        str(home / "c.toml"), "--param", "exit.time_stop=3:22:1", "--param", "portfolio.max_positions=2:11:1",
        "--workers", "2", "--min-trades", "1", "--out", str(out),
    ]  # fmt: skip
    env = {**os.environ, "COLUMNS": "200"}
    child = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, start_new_session=True
    )
    deadline = time.monotonic() + 240
    while _trials(out / "trials.sqlite") == 0:
        assert child.poll() is None, child.communicate()
        assert time.monotonic() < deadline, "no trial was recorded in time"
        time.sleep(0.05)
    os.killpg(child.pid, signal.SIGINT)  # what Ctrl-C in a terminal does: the whole process group
    stdout, stderr = child.communicate(timeout=120)
    saved = _trials(out / "trials.sqlite")
    assert child.returncode == 130, stderr
    assert "Traceback" not in stdout + stderr, stderr
    assert f"interrupted: {saved} trials saved" in " ".join(stderr.split())
    assert "rerun the same command to resume" in " ".join(stderr.split())
    assert 0 < saved < 200  # 200 trials: a fast machine must not finish them all before the signal lands
    rerun = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    assert rerun.returncode == 0, rerun.stderr
    assert f"{200 - saved} run, {saved} resumed" in " ".join(rerun.stderr.split())
