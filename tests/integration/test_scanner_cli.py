"""`playbook scan CONFIG --date D` end to end on a small hand-made Parquet file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from trading_playbook.cli import app


@pytest.fixture()
def config(tmp_path: Path) -> Path:
    # AAA: the baseline breakout of tests/unit/test_scanner_breakout_handmade.py (setup on the last
    # session: close 105 over a 14-bar base at 101, score 7.75); ZZZ: flat, never a setup.
    n = 60
    dates = pd.bdate_range("2020-01-01", periods=n)
    close = np.r_[np.full(45, 90.0), np.full(14, 100.0), 105.0]
    high = np.r_[np.full(45, 90.0), np.full(14, 101.0), 106.0]
    low = np.r_[np.full(45, 60.0), np.full(14, 95.0), 100.0]
    frames = [
        pd.DataFrame(
            {
                "symbol": "AAA",
                "date": dates,
                "open": close,
                "high": high,
                "low": low,
                "close": close,
                "volume": np.r_[np.full(n - 1, 1000), 1200],
            }
        ),
        pd.DataFrame(
            {
                "symbol": "ZZZ",
                "date": dates,
                "open": 50.0,
                "high": 50.0,
                "low": 50.0,
                "close": 50.0,
                "volume": 1000,
            }
        ),
    ]
    data = tmp_path / "bars.parquet"
    pd.concat(frames, ignore_index=True).to_parquet(data)
    cfg = tmp_path / "scan.toml"
    cfg.write_text(f'[data]\nsource = "file"\npath = "{data}"\n\n[scanner]\nname = "daily_breakout"\n')
    return cfg


def test_scan_prints_ranked_table_and_json(config: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["scan", str(config), "--date", "2020-03-24"])
    assert result.exit_code == 0, result.output
    assert "AAA" in result.output and "7.75" in result.output and "ZZZ" not in result.output
    result = runner.invoke(app, ["scan", str(config), "--date", "2020-03-24", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [(r["rank"], r["symbol"], r["score"], r["base_days"]) for r in rows] == [(1, "AAA", 7.75, 14)]
    assert rows[0]["session"] == "2020-03-24" and rows[0]["base_high"] == 101.0
    # the session before has no setup
    result = runner.invoke(app, ["scan", str(config), "--date", "2020-03-23", "--json"])
    assert result.exit_code == 0 and json.loads(result.output) == []


def test_scan_rejects_a_date_that_is_not_a_session(config: Path) -> None:
    result = CliRunner().invoke(app, ["scan", str(config), "--date", "2020-03-21"])
    assert result.exit_code != 0
    assert "nearest sessions are previous 2020-03-20 and next 2020-03-23" in str(result.exception)
