"""`playbook runs ls|show|compare` and `playbook report ID` through the real CLI app (typer runner)."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from trading_playbook.cli import app
from trading_playbook.core.errors import PlaybookError
from trading_playbook.core.metrics import compute_metrics
from trading_playbook.history import record_run
from trading_playbook.reports import write_run
from trading_playbook.reports.samples import hand_worked_run, random_run


@pytest.fixture
def home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("PLAYBOOK_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("COLUMNS", "160")
    return tmp_path


def _recorded(home: Path, run, name: str) -> str:
    run = dataclasses.replace(run, metrics=compute_metrics(run))
    out = home / name
    write_run(run, out, formats=("json",))
    return record_run(run, out)


def test_ls_on_an_empty_registry(home: Path) -> None:
    result = CliRunner().invoke(app, ["runs", "ls"])
    assert result.exit_code == 0
    assert "No recorded runs yet" in result.output


def test_ls_show_compare(home: Path) -> None:
    a = _recorded(home, hand_worked_run(), "a")
    b = _recorded(home, random_run(n_sessions=300, n_trades=40), "b")
    runner = CliRunner()
    listing = runner.invoke(app, ["runs", "ls"])
    assert listing.exit_code == 0, listing.output
    assert a in listing.output and b in listing.output and "+21.0%" in listing.output
    assert listing.output.index(b) < listing.output.index(a)  # newest first
    show = runner.invoke(app, ["runs", "show", a[-6:]])
    assert show.exit_code == 0, show.output
    assert "Verdict:" in show.output and "INSUFFICIENT" in show.output and "+21.0%" in show.output
    shown = runner.invoke(app, ["runs", "show", a, "--json"])
    assert json.loads(shown.output)["trades"] == 3
    table = runner.invoke(app, ["runs", "compare", a, b])
    assert table.exit_code == 0 and "PRELIMINARY" in table.output and "INSUFFICIENT" in table.output
    as_csv = runner.invoke(app, ["runs", "compare", a, b, "--csv"])
    rows = list(csv.reader(io.StringIO(as_csv.output)))
    assert rows[0] == ["metric", a, b]
    by_metric = {r[0]: r[1:] for r in rows[1:]}
    assert by_metric["trades"] == ["3", "40"]
    assert float(by_metric["total_return"][0]) == pytest.approx(0.21)


def test_report_rerenders_from_the_stored_result(home: Path) -> None:
    run_id = _recorded(home, hand_worked_run(), "orig")
    original = (home / "orig" / "result.json").read_bytes()
    (home / "orig" / "result.json").unlink()  # the registry, not the folder, is the source
    target = home / "again"
    result = CliRunner().invoke(app, ["report", run_id, "--out", str(target)])
    assert result.exit_code == 0, result.output
    assert (target / "result.json").read_bytes() == original
    for name in ("trades.csv", "report.md", "report.html", "charts/equity.svg"):
        assert (target / name).is_file(), name
    default = CliRunner().invoke(app, ["report", run_id])  # back into the run's own folder
    assert default.exit_code == 0 and (home / "orig" / "result.json").read_bytes() == original


def test_unknown_run_is_a_playbook_error(home: Path) -> None:
    result = CliRunner().invoke(app, ["runs", "show", "nope"])
    assert result.exit_code != 0
    assert isinstance(result.exception, PlaybookError)
    assert "playbook runs ls" in str(result.exception)
