"""`playbook backtest` and `playbook check-lookahead` end to end, and the facade's object API."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from trading_playbook import BacktestEngine, get_exit_strategy, get_scanner, get_sizer
from trading_playbook.cli import app
from trading_playbook.config import parse_config
from trading_playbook.core.errors import SimulationError
from trading_playbook.data import synthetic_bars
from trading_playbook.engine import load_data, run_backtest
from trading_playbook.reports.json_result import dumps_canonical

CONFIG = """
[data]
source = "synthetic"
synthetic_symbols = 12
synthetic_seed = 3
start = "2014-01-01"
end = "2016-12-31"

[scanner]
name = "daily_breakout"
preset = "relaxed"

[exit]
name = "smart_exits"

[portfolio]
max_positions = 4
"""


@pytest.fixture()
def config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PLAYBOOK_HOME", str(tmp_path / "home"))
    path = tmp_path / "demo.toml"
    path.write_text(CONFIG)
    return path


def _without_timestamp(path: Path) -> dict:
    doc = json.loads(path.read_text())
    doc.pop("created_at")
    return doc


def test_backtest_writes_reports_and_is_reproducible(config_file: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    out1, out2 = tmp_path / "run1", tmp_path / "run2"
    first = runner.invoke(app, ["backtest", str(config_file), "--out", str(out1), "--no-charts"])
    assert first.exit_code == 0, first.output
    assert "Recorded as run" in first.output
    for name in ("result.json", "trades.csv", "report.md"):
        assert (out1 / name).is_file(), name
    second = runner.invoke(app, ["backtest", str(config_file), "--out", str(out2), "--no-charts"])
    assert second.exit_code == 0, second.output
    text1 = (out1 / "result.json").read_text().splitlines()
    text2 = (out2 / "result.json").read_text().splitlines()
    differing = [a for a, b in zip(text1, text2, strict=True) if a != b]
    assert len(text1) == len(text2)
    assert all("created_at" in line for line in differing), differing[:3]
    doc = _without_timestamp(out1 / "result.json")
    assert doc["schema_version"]
    assert doc["data"]["first_session"] >= "2014-01-01" and doc["data"]["last_session"] <= "2016-12-31"
    assert doc["trades"], "the synthetic universe should produce trades"
    assert doc["equity"][0]["date"] >= "2014-01-01"
    # the registry holds each run's result.json as written (packed on a thread beside the other reports)
    from trading_playbook.history import list_runs, load_document

    runs = list_runs()
    assert len(runs) == 2 and {r.out_dir for r in runs} == {str(out1.resolve()), str(out2.resolve())}
    for record in runs:
        stored = dumps_canonical(load_document(record.run_id))
        assert stored == (Path(record.out_dir) / "result.json").read_text()


def test_the_record_reads_result_json_itself_when_packing_ahead_fails(
    config_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import trading_playbook.history as history

    real = history.pack_written_document
    calls: list[Path] = []

    def first_fails(out_dir: Path) -> object:
        calls.append(out_dir)
        if len(calls) == 1:
            raise OSError("disk hiccup")
        return real(out_dir)

    monkeypatch.setattr(history, "pack_written_document", first_fails)
    out = tmp_path / "run"
    done = CliRunner().invoke(app, ["backtest", str(config_file), "--out", str(out), "--no-charts"])
    assert done.exit_code == 0, done.output
    # tried ahead in the staging folder (failed, silently), then by the record in the run's folder
    assert len(calls) == 2 and calls[0] != out and calls[1] == out
    [record] = history.list_runs()
    assert dumps_canonical(history.load_document(record.run_id)) == (out / "result.json").read_text()


def test_reference_engine_and_window_options(config_file: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    fast_out, ref_out = tmp_path / "fast", tmp_path / "ref"
    args = ["--start", "2015-01-01", "--end", "2015-12-31", "--symbols", "SYN000,SYN001,SYN002,SYN003,SYN004"]
    res = runner.invoke(app, ["backtest", str(config_file), "--out", str(fast_out), "--no-charts", *args])
    assert res.exit_code == 0, res.output
    res = runner.invoke(
        app,
        ["backtest", str(config_file), "--out", str(ref_out), "--no-charts", "--engine", "reference", *args],
    )
    assert res.exit_code == 0, res.output
    fast_doc, ref_doc = (
        _without_timestamp(fast_out / "result.json"),
        _without_timestamp(ref_out / "result.json"),
    )
    assert fast_doc["trades"] == ref_doc["trades"]
    assert fast_doc["equity"] == ref_doc["equity"]
    assert {t["symbol"] for t in fast_doc["trades"]} <= {f"SYN00{i}" for i in range(5)}
    assert fast_doc["data"]["symbols"] == 5
    assert fast_doc["equity"][0]["date"].startswith("2015-01")
    assert fast_doc["equity"][-1]["date"].startswith("2015-12")


def test_bad_window_is_a_clear_error(config_file: Path, tmp_path: Path) -> None:
    res = CliRunner().invoke(
        app, ["backtest", str(config_file), "--start", "1990-01-01", "--end", "1990-12-31"]
    )
    assert res.exit_code != 0
    assert isinstance(res.exception, SimulationError)
    assert "the data covers" in str(res.exception)


def test_check_lookahead_passes(config_file: Path) -> None:
    res = CliRunner().invoke(app, ["check-lookahead", str(config_file), "--cuts", "2"])
    assert res.exit_code == 0, res.output
    assert "PASS" in res.output.upper()


def test_run_backtest_reuses_the_workspace() -> None:
    cfg = parse_config({"data": {"source": "synthetic", "synthetic_symbols": 8}})
    ws = load_data(cfg)
    first = run_backtest(cfg, workspace=ws)
    assert len(ws.setups) == 1
    second = run_backtest(cfg.with_overrides({"exit.time_stop": 5}), workspace=ws)
    assert len(ws.setups) == 1  # an exit-only change reuses the setups
    assert first.metrics["trades"] == len(first.trades)
    assert all(t.sessions_held <= 5 or t.exit_reason != "TIME_STOP" for t in second.trades)
    assert second.config["exit"]["time_stop"] == 5


def test_object_api_matches_the_config_api() -> None:
    bars = synthetic_bars(n_symbols=6, start="2015-01-01", end="2017-12-31", seed=11)
    engine = BacktestEngine(
        scanner=get_scanner("daily_breakout", preset="relaxed"),
        exit_strategy=get_exit_strategy("scaled_exits"),
        sizer=get_sizer("percent_equity"),
        data=bars,
        starting_capital=50_000,
        max_positions=2,
    )
    result = engine.run("2016-01-01", "2017-12-31")
    reference = BacktestEngine(
        scanner=get_scanner("daily_breakout", preset="relaxed"),
        exit_strategy=get_exit_strategy("scaled_exits"),
        data=bars,
        starting_capital=50_000,
        max_positions=2,
        engine="reference",
    ).run("2016-01-01", "2017-12-31")
    assert result.trades == reference.trades
    assert str(result.equity.dates[0]) >= "2016-01-01"
    assert result.equity.equity[-1] == pytest.approx(50_000 + sum(t.pnl for t in result.trades), rel=1e-9)
    assert "sharpe" in result.metrics


def test_survivorship_is_suspected_only_when_no_symbol_drops_out() -> None:
    import numpy as np

    from trading_playbook.core.panel import Panel
    from trading_playbook.engine import survivorship_suspected

    sessions = np.arange(np.datetime64("2010-01-04"), np.datetime64("2010-01-04") + 400).astype(
        "datetime64[D]"
    )
    ones = np.ones((400, 2))
    alive = np.ones((400, 2), dtype=bool)
    panel = Panel(sessions, ("A", "B"), ones, ones, ones, ones, ones, ones, alive)
    assert survivorship_suspected(panel, 0, 399, "file")  # everything trades to the end: today's list
    assert not survivorship_suspected(panel, 0, 399, "synthetic")
    assert not survivorship_suspected(panel, 0, 200, "file")  # under a year: not judged
    delisted = alive.copy()
    delisted[300:, 1] = False  # B stops trading a hundred sessions before the end
    panel = Panel(sessions, ("A", "B"), ones, ones, ones, ones, ones, ones, delisted)
    assert not survivorship_suspected(panel, 0, 399, "file")
