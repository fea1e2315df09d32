"""Research on the real engine with synthetic data: trial metrics, CLI optimize / walk-forward, resume."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from trading_playbook.cli import app
from trading_playbook.testing import shared_data_path

CONFIG = """
[data]
source = "synthetic"
synthetic_symbols = 12
start = "2012-01-01"
end = "2018-12-31"

[scanner]
name = "daily_breakout"
preset = "relaxed"

[exit]
name = "smart_exits"

[portfolio]
max_positions = 4
"""


@pytest.fixture(scope="module")
def config_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cfg") / "synthetic.toml"
    path.write_text(CONFIG)
    return path


def test_trial_metrics_agree_with_core_metrics(config_path: Path) -> None:
    from trading_playbook.config import load_config
    from trading_playbook.core.metrics import compute_metrics
    from trading_playbook.engine import load_data, run_backtest
    from trading_playbook.research.trial import trial_metrics

    cfg = load_config(config_path)
    result = run_backtest(cfg, workspace=load_data(cfg), metrics=False)
    ours = trial_metrics(result)
    theirs = compute_metrics(result, n_bootstrap=0)
    assert ours["trades"] > 30
    for key in ours:
        if key in theirs and isinstance(theirs[key], int | float):
            assert ours[key] == pytest.approx(theirs[key], rel=1e-12, abs=1e-15), key
        elif key in theirs and theirs[key] is None:
            assert math.isnan(ours[key]), key


def test_cli_optimize_then_resume(config_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "opt"
    args = [
        "optimize",
        str(config_path),
        "--param",
        "scanner.min_volume_ratio=0.8:1.2:0.4",
        "--param",
        "exit.time_stop=10,17",
        "--min-trades",
        "5",
        "--out",
        str(out),
        "--workers",
        "1",
    ]
    first = CliRunner().invoke(app, args)
    assert first.exit_code == 0, first.output
    for name in ("trials.csv", "trials.parquet", "best.toml", "heatmap.svg", "report.md", "summary.json"):
        assert (out / name).exists(), name
    summary = json.loads((out / "summary.json").read_text())
    assert summary["trials"] == 4 and summary["trials_run"] == 4
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 0, again.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["trials_run"] == 0 and summary["trials_resumed"] == 4


def test_cli_unknown_param_key_fails_before_running(config_path: Path, tmp_path: Path) -> None:
    from trading_playbook.core.errors import ConfigError

    result = CliRunner().invoke(
        app, ["optimize", str(config_path), "--param", "portfolio.max_postions=3,5", "--out", str(tmp_path)]
    )
    assert result.exit_code != 0
    assert isinstance(result.exception, ConfigError)


def test_cli_walk_forward(config_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "wf"
    result = CliRunner().invoke(
        app,
        [
            "walk-forward",
            str(config_path),
            "--train",
            "3y",
            "--test",
            "1y",
            "--param",
            "exit.time_stop=10,17",
            "--min-trades",
            "5",
            "--out",
            str(out),
            "--workers",
            "1",
        ],
    )
    assert result.exit_code == 0, result.output
    folds = (out / "folds.csv").read_text().splitlines()
    assert len(folds) == 1 + 4  # tests 2015, 2016, 2017, 2018
    doc = json.loads((out / "oos" / "result.json").read_text())
    assert doc["equity"][0]["date"].startswith("2015-01")
    assert doc["equity"][-1]["date"].startswith("2018-12")
    assert "Walk-forward efficiency" in (out / "walk_forward.md").read_text()


def test_optimize_with_sleeves(tmp_path: Path) -> None:
    from trading_playbook.config import parse_config
    from trading_playbook.engine import load_data
    from trading_playbook.research.executors import LocalExecutor
    from trading_playbook.research.optimize import OptimizeSettings, optimize
    from trading_playbook.research.params import parse_params
    from trading_playbook.research.store import TrialStore

    cfg = parse_config(
        {
            "data": {
                "source": "synthetic",
                "synthetic_symbols": 10,
                "start": "2014-01-01",
                "end": "2016-12-31",
            },
            "sleeves": [
                {
                    "name": "smart",
                    "scanner": {"name": "daily_breakout", "preset": "relaxed"},
                    "exit": {"name": "smart_exits"},
                },
                {
                    "name": "scaled",
                    "scanner": {"name": "daily_breakout", "preset": "relaxed"},
                    "exit": {"name": "scaled_exits"},
                },
            ],
        }
    )
    specs = parse_params(["sleeves.smart.exit.time_stop=10,17", "sleeves.scaled.exit.time_stop=12,20"])
    with TrialStore(tmp_path / "t.sqlite") as store:
        result = optimize(
            cfg,
            specs,
            OptimizeSettings(min_trades=1),
            store=store,
            executor=LocalExecutor(1),
            workspace=load_data(cfg),
        )
    assert len(result.table) == 4
    assert result.table["status"].eq("ok").all()
    # The sleeve parameters really change the runs.
    assert result.table["m.trades"].nunique() > 1 or result.table["objective"].nunique() > 1


SHARED = shared_data_path(Path(__file__).parent) or Path("shared/data/sp500_daily.parquet")


@pytest.mark.skipif(not SHARED.exists(), reason="shared real data not present")
def test_optimize_and_walk_forward_on_the_shared_real_data(tmp_path: Path) -> None:
    config = tmp_path / "sp500.toml"
    config.write_text(
        f'[data]\nsource = "file"\npath = "{SHARED.resolve().as_posix()}"\nadjustment = "split"\n'
        'start = "2016-01-01"\nend = "2020-12-31"\n'
        '[scanner]\nname = "daily_breakout"\npreset = "moderate"\n[portfolio]\nmax_positions = 10\n'
    )
    out = tmp_path / "opt"
    result = CliRunner().invoke(
        app, ["optimize", str(config), "-p", "exit.time_stop=10,17", "--out", str(out), "--workers", "1"]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["trials"] == 2 and summary["eligible"] == 2  # hundreds of trades a year on 504 symbols
    assert summary["best_metrics"]["trades"] > 100
    wf = tmp_path / "wf"
    result = CliRunner().invoke(
        app,
        [
            "walk-forward",
            str(config),
            "--train",
            "3y",
            "--test",
            "1y",
            "-p",
            "exit.time_stop=10,17",
            "--out",
            str(wf),
            "--workers",
            "1",
        ],
    )
    assert result.exit_code == 0, result.output
    doc = json.loads((wf / "oos" / "result.json").read_text())
    # Folds test 2019 and 2020; the stitched curve covers exactly those sessions.
    assert doc["equity"][0]["date"] == "2019-01-02" and doc["equity"][-1]["date"] == "2020-12-31"
    # The stitched result is judged like a backtest: buy-and-hold benchmark and survivorship warning.
    assert "equal_weight" in doc["metrics"]["benchmarks"]
    assert any("survivorship" in w for w in doc["metrics"]["validation"]["warnings"])


def test_walk_forward_with_sleeves_stitches_attribution(tmp_path: Path) -> None:
    import numpy as np

    from trading_playbook.config import parse_config
    from trading_playbook.research.executors import LocalExecutor
    from trading_playbook.research.optimize import OptimizeSettings
    from trading_playbook.research.params import parse_params
    from trading_playbook.research.store import TrialStore
    from trading_playbook.research.walkforward import WalkForwardSettings, walk_forward

    relaxed = {"name": "daily_breakout", "preset": "relaxed"}
    cfg = parse_config(
        {
            "data": {
                "source": "synthetic",
                "synthetic_symbols": 10,
                "start": "2012-01-01",
                "end": "2016-12-31",
            },
            "sleeves": [
                {"name": "smart", "scanner": relaxed, "exit": {"name": "smart_exits"}},
                {"name": "scaled", "scanner": relaxed, "exit": {"name": "scaled_exits"}},
            ],
        }
    )
    with TrialStore(tmp_path / "t.sqlite") as store:
        result = walk_forward(
            cfg,
            parse_params(["sleeves.smart.exit.time_stop=10,17"]),
            WalkForwardSettings(train="3y", test="1y", optimize=OptimizeSettings(min_trades=1)),
            store=store,
            executor=LocalExecutor(1),
        )
    assert len(result.folds) == 2
    curve = result.stitched.equity
    assert set(curve.sleeve_equity) == {"smart", "scaled"}
    # Equal weights sum to 1: the sleeves' attributed equity adds up to the portfolio's at every session.
    np.testing.assert_allclose(
        curve.sleeve_equity["smart"] + curve.sleeve_equity["scaled"], curve.equity, rtol=1e-9
    )
    assert {t.sleeve for t in result.stitched.trades} == {"smart", "scaled"}
