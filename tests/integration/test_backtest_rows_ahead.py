"""``playbook backtest`` builds the document's rows while the metrics' bootstrap draws on its threads
(``cli/backtest.py::_RowsAhead``, ``compute_metrics(meanwhile=...)``, ``reports.prepare_rows``).

The files are the bytes the command writes without building the rows ahead; an error raised while
building them is the one-line message the command printed when the reports built them; the metrics
are the same with and without work beside the bootstrap, which runs once and raises through.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import pytest

from trading_playbook.cli import main
from trading_playbook.core.errors import PlaybookError
from trading_playbook.core.metrics import compute_metrics
from trading_playbook.reports import json_result, prepare_rows
from trading_playbook.reports.samples import random_run

CONFIG = (
    '[data]\nsource = "synthetic"\nsynthetic_symbols = 8\nstart = "2012-01-01"\nend = "2016-12-31"\n'
    '[scanner]\nname = "daily_breakout"\npreset = "relaxed"\n'
)


def _backtest(tmp: Path, name: str, monkeypatch: pytest.MonkeyPatch, capsys) -> tuple[int | None, str]:
    (tmp / "c.toml").write_text(CONFIG)
    monkeypatch.setenv("PLAYBOOK_HOME", str(tmp / "home"))
    monkeypatch.setenv("COLUMNS", "250")
    argv = [
        "playbook",
        "backtest",
        str(tmp / "c.toml"),
        "--out",
        str(tmp / name),
        "--no-record",
        "--no-charts",
    ]
    monkeypatch.setattr(sys, "argv", argv)
    code: int | None = 0
    try:
        main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else None if exc.code is None else 1
    out, err = capsys.readouterr()
    return code, " ".join((out + err).split())


def _files(folder: Path) -> dict[str, bytes]:
    files = {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}
    files["result.json"] = b"\n".join(
        line for line in files["result.json"].split(b"\n") if b'"created_at"' not in line
    )
    files["report.md"] = b"\n".join(
        line for line in files["report.md"].split(b"\n") if b"Generated " not in line
    )
    return files


def test_rows_built_ahead_write_the_same_files(tmp_path: Path, monkeypatch, capsys) -> None:
    import trading_playbook.cli.backtest as command

    built: list[object] = []
    original = command._RowsAhead.build

    def spy(self, result):  # type: ignore[no-untyped-def]
        original(self, result)
        built.append(self.prepared)

    monkeypatch.setattr(command._RowsAhead, "build", spy)
    assert _backtest(tmp_path, "ahead", monkeypatch, capsys)[0] in (0, None)
    assert len(built) == 1 and built[0] is not None and built[0].taken  # built once, and used
    monkeypatch.setattr(command._RowsAhead, "build", lambda self, result: None)  # the reports build them
    assert _backtest(tmp_path, "after", monkeypatch, capsys)[0] in (0, None)
    assert _files(tmp_path / "ahead") == _files(tmp_path / "after")


def test_an_error_building_the_rows_ahead_is_the_message_the_reports_gave(
    tmp_path: Path, monkeypatch, capsys
) -> None:
    def fail(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise PlaybookError("cannot build the rows of trade 3: fix the run")

    import trading_playbook.cli.backtest as command

    with monkeypatch.context() as patch:  # as before: the reports build the rows, and fail
        patch.setattr(command._RowsAhead, "build", lambda self, result: None)
        patch.setattr(json_result, "prepare_rows", fail)
        code_late, late = _backtest(tmp_path, "late", monkeypatch, capsys)
    monkeypatch.setattr("trading_playbook.reports.prepare_rows", fail)  # where the command builds them
    code_ahead, ahead = _backtest(tmp_path, "ahead", monkeypatch, capsys)
    assert code_late == code_ahead == 1
    assert "cannot build the rows of trade 3: fix the run" in ahead
    assert "Traceback" not in ahead and "Traceback" not in late
    assert ahead.split("cannot build")[1] == late.split("cannot build")[1]
    assert not (tmp_path / "ahead" / "result.json").exists()


def test_metrics_are_the_same_with_work_beside_the_bootstrap() -> None:
    run = random_run(n_sessions=400, n_trades=600)  # 600 x 2000 draws: the bootstrap's threads
    calls: list[int] = []
    beside = compute_metrics(run, seed=7, meanwhile=lambda: calls.append(1))
    assert calls == [1]
    assert beside == compute_metrics(run, seed=7)
    with pytest.raises(RuntimeError, match="beside"):
        compute_metrics(run, seed=7, meanwhile=lambda: (_ for _ in ()).throw(RuntimeError("beside")))


def test_prepared_rows_serve_one_document_of_their_own_run() -> None:
    run = random_run(n_sessions=50, n_trades=20)
    rows = prepare_rows(run)
    other = dataclasses.replace(run, trades=list(run.trades))  # equal trades, another list
    first = json_result.result_document(other, created_at="t", rows=rows)
    assert not rows.taken and first["trades"] is not rows.tables["trades"].rows
    doc = json_result.result_document(run, created_at="t", rows=rows)
    assert rows.taken and doc["trades"] is rows.tables["trades"].rows
    again = json_result.result_document(run, created_at="t", rows=rows)  # a second document: its own lists
    assert again["trades"] is not doc["trades"] and again["trades"] == doc["trades"] == first["trades"]


def test_with_charts_the_rows_are_built_ahead_too(tmp_path: Path, monkeypatch, capsys) -> None:
    # (no chart worker waits for the metrics any more: the charts are SVG drawn by the command)
    import trading_playbook.cli.backtest as command

    built: list[object] = []
    monkeypatch.setattr(command._RowsAhead, "build", lambda self, result: built.append(result))
    (tmp_path / "c.toml").write_text(CONFIG)
    monkeypatch.setenv("PLAYBOOK_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(
        sys,
        "argv",
        ["playbook", "backtest", str(tmp_path / "c.toml"), "--out", str(tmp_path / "o"), "--no-record"],
    )
    try:
        main()
    except SystemExit as exc:
        assert not exc.code
    capsys.readouterr()
    assert (tmp_path / "o" / "charts" / "equity.svg").is_file()
    assert len(built) == 1  # beside the bootstrap (recorded only here: the reports built the rows)
