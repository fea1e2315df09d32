"""Nothing changes the data silently (issue 9, points 2 and 3).

Every row ``validation = "repair"`` changes is listed (symbol, date, what, before and after) in the CLI
output, in result.json ``data.repairs`` and in the report, also when the repair happened at ingest and
the backtest reads the cache; and the error that suggests ``--repair`` names options that exist.
Corporate actions the split column does not carry (KSU's spin-off paid as a 181.0 dividend on a 93.75
stock, 2000-07-13, in the shared data) are warnings naming symbol and date, in the same three places.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from trading_playbook.cli import app
from trading_playbook.core.errors import DataValidationError
from trading_playbook.data import DataRequest, load_panel
from trading_playbook.data.model import to_frame
from trading_playbook.data.synthetic import synthetic_arrays

from .data_fixtures import SHARED

runner = CliRunner()


def _output(result) -> str:
    """stdout and stderr, interleaved (the CLI prints its notes on stderr)."""
    return result.output


@pytest.fixture()
def damaged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A synthetic universe in a Parquet file with one bar whose high is below its low."""
    monkeypatch.setenv("PLAYBOOK_HOME", str(tmp_path / "home"))
    frame = to_frame(synthetic_arrays(8, "2015-01-01", "2016-12-31", seed=5))
    frame["symbol"] = frame["symbol"].astype(str)
    row = frame.index[(frame["symbol"] == "SYN002") & (frame["date"] == "2016-03-01")][0]
    frame.loc[row, "high"] = frame.loc[row, "low"] - 0.5
    frame.to_parquet(tmp_path / "bars.parquet")
    (tmp_path / "c.toml").write_text(
        '[data]\nsource = "file"\npath = "bars.parquet"\nstart = "2015-06-01"\n'
        '[scanner]\nname = "daily_breakout"\npreset = "relaxed"\n'
    )
    return tmp_path


def test_reject_hint_names_options_that_exist(damaged: Path) -> None:
    result = runner.invoke(app, ["backtest", str(damaged / "c.toml"), "--out", str(damaged / "r")])
    assert isinstance(result.exception, DataValidationError)
    text = str(result.exception)
    assert "symbol SYN002, date 2016-03-01" in text
    commands = re.findall(r"playbook ([a-z ]+?) --repair", text)
    assert commands, text
    for command in commands:  # every command the hint names accepts --repair
        helped = runner.invoke(app, [*command.split(), "--help"], env={"COLUMNS": "200"})
        assert "--repair" in helped.output, command


def test_every_repaired_row_is_in_the_output_result_and_report(damaged: Path) -> None:
    out = damaged / "run"
    result = runner.invoke(
        app, ["backtest", str(damaged / "c.toml"), "--repair", "--out", str(out), "--no-charts"]
    )
    assert result.exit_code == 0, _output(result)
    text = _output(result)
    assert "repaired 1 row(s) (high_below_low 1)" in text
    assert "high_below_low: SYN002 2016-03-01 drop row (open=" in text and "-> row dropped)" in text
    (repair,) = json.loads((out / "result.json").read_text())["data"]["repairs"]
    assert (repair["rule"], repair["symbol"], repair["date"]) == ("high_below_low", "SYN002", "2016-03-01")
    assert repair["before"].startswith("open=") and " high=" in repair["before"]
    assert repair["after"] == "row dropped"
    report = (out / "report.md").read_text()
    assert "Repaired data: validation changed or dropped 1 row(s)" in report
    assert "| SYN002 | 2016-03-01 | high_below_low |" in report


def test_repairs_made_at_ingest_reach_every_run_on_the_cache(damaged: Path) -> None:
    cache = damaged / "cache"
    ingest = runner.invoke(
        app,
        [
            "data",
            "ingest",
            str(damaged / "bars.parquet"),
            "--repair",
            "--source-name",
            "bars",
            "--cache-dir",
            str(cache),
        ],
    )
    assert ingest.exit_code == 0 and "high_below_low: SYN002 2016-03-01" in _output(ingest)
    _, info = load_panel(DataRequest(source="cache", path="bars", cache_dir=str(cache)))
    assert [(r["symbol"], r["date"], r["after"]) for r in info["repairs"]] == [
        ("SYN002", "2016-03-01", "row dropped")
    ]


def test_a_repair_that_changes_values_records_them(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "symbol": ["AAA", "AAA"],
            "date": pd.to_datetime(["2020-01-02", "2020-01-03"]),
            "open": [10.0, 10.0],
            "high": [11.0, 10.5],
            "low": [9.0, 9.5],
            "close": [10.5, 10.9],  # the close is above the high: repair widens the high
            "volume": [100.0, 100.0],
        }
    )
    frame.to_parquet(tmp_path / "x.parquet")
    _, info = load_panel(DataRequest(source="file", path=str(tmp_path / "x.parquet"), validation="repair"))
    (change,) = info["repairs"]
    assert change["before"] == "high=10.5 low=9.5" and change["after"] == "high=10.9 low=9.5"


def test_ksu_spin_off_is_a_warning_naming_symbol_and_date(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PLAYBOOK_HOME", str(tmp_path / "home"))
    config = tmp_path / "ksu.toml"
    config.write_text(
        f'[data]\nsource = "file"\npath = "{SHARED.resolve()}"\nsymbols = ["KSU", "AAPL"]\n'
        'start = "2000-03-01"\nend = "2000-12-29"\n'
        '[scanner]\nname = "daily_breakout"\npreset = "very_relaxed"\n'
    )
    out = tmp_path / "run"
    result = runner.invoke(app, ["backtest", str(config), "--out", str(out), "--no-charts"])
    assert result.exit_code == 0, _output(result)
    assert "large_dividend: KSU 2000-07-13 dividend 181 is 193 % of the previous close 93.75" in _output(
        result
    )
    warnings = json.loads((out / "result.json").read_text())["data"]["warnings"]
    ksu = [w for w in warnings if w["symbol"] == "KSU"]
    assert [(w["rule"], w["date"]) for w in ksu] == [("large_dividend", "2000-07-13")]
    assert 'adjustment = "all"' in ksu[0]["detail"]
    report = (out / "report.md").read_text()
    assert "Data warnings" in report and "| KSU | 2000-07-13 | large_dividend |" in report
    # the same bars adjusted for dividends too show no fall on that day
    panel, _ = load_panel(DataRequest(source="file", path=str(SHARED), symbols=("KSU",), adjustment="all"))
    day = panel.session_index("2000-07-13")
    assert panel.close[day, 0] / panel.close[day - 1, 0] > 0.5
