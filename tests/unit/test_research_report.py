"""Optimisation report files: ranked CSV/Parquet, best TOML, heatmap, summary JSON, Markdown."""

from __future__ import annotations

import json
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path

import pandas as pd
from _research_toy import FakeConfig, ToyJob

from trading_playbook.research.executors import LocalExecutor
from trading_playbook.research.optimize import OptimizeSettings, optimize
from trading_playbook.research.params import parse_params
from trading_playbook.research.report import markdown_table, write_optimize_report
from trading_playbook.research.store import TrialStore


def _result(tmp_path: Path, params: list[str]):  # type: ignore[no-untyped-def]
    with TrialStore(tmp_path / "trials.sqlite") as store:
        return optimize(
            FakeConfig(),
            parse_params(params),
            OptimizeSettings(),
            store=store,
            executor=LocalExecutor(1),
            job=ToyJob(),
        )


def test_two_parameter_grid_writes_every_file(tmp_path: Path) -> None:
    result = _result(tmp_path, ["a.x=1:5:1", "exit.y=0:1:0.25"])
    written = write_optimize_report(result, tmp_path / "out")
    assert set(written) == {"csv", "parquet", "toml", "heatmap", "json", "md"}
    csv = pd.read_csv(written["csv"])
    parquet = pd.read_parquet(written["parquet"])
    assert list(csv["rank"]) == list(range(1, 26)) and len(parquet) == 25
    assert (csv.iloc[0]["a.x"], csv.iloc[0]["exit.y"]) == (3, 0.5)
    best = tomllib.loads(written["toml"].read_text())
    assert best == {"a": {"x": 3}, "exit": {"y": 0.5}}  # the None 'name' is left out
    heatmap = ET.fromstring(written["heatmap"].read_text())
    assert heatmap.tag == "{http://www.w3.org/2000/svg}svg" and written["heatmap"].name == "heatmap.svg"
    summary = json.loads(written["json"].read_text())
    assert summary["best_params"] == {"a.x": 3, "exit.y": 0.5}
    assert 0.0 <= summary["deflated_sharpe"]["dsr"] <= 1.0 and 0.0 <= summary["pbo"]["pbo"] <= 1.0
    text = written["md"].read_text()
    assert "Deflated Sharpe ratio" in text and "Probability of backtest overfitting" in text
    assert "![objective heatmap](heatmap.svg)" in text


def test_single_parameter_has_no_heatmap(tmp_path: Path) -> None:
    result = _result(tmp_path, ["a.x=1:5:1"])
    written = write_optimize_report(result, tmp_path / "out")
    assert "heatmap" not in written and not (tmp_path / "out" / "heatmap.svg").exists()


def test_markdown_table() -> None:
    frame = pd.DataFrame({"a": [1, 2], "b": [0.5, float("nan")]})
    assert markdown_table(frame) == "| a | b |\n|---|---|\n| 1 | 0.5 |\n| 2 |  |\n"
