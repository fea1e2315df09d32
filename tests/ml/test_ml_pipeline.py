"""The whole ML pipeline end to end on a small synthetic universe: ``ml dataset`` and ``ml train``
(purged folds, saved models with their cutoff, the report), and the ``ml_score`` scanner in both
engines, under the cutoff rule."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from trading_playbook.cli import app
from trading_playbook.config import load_config, parse_config
from trading_playbook.core.errors import SimulationError
from trading_playbook.engine import load_data, run_backtest
from trading_playbook.ml.dataset import slice_table
from trading_playbook.ml.scanner import MLScoreScanner

CONFIG = """
[data]
source = "synthetic"
synthetic_symbols = 14
synthetic_seed = 5
start = "2012-01-01"
end = "2016-12-31"

[scanner]
name = "daily_breakout"
preset = "relaxed"

[exit]
name = "smart_exits"

[portfolio]
max_positions = 4

[ml]
features = ["atr_pct:10", "sma_slope:50:10", "breadth:50", "index_trend:100"]
models = ["logistic", "hgb"]
embargo = 3
inner_splits = 2
random_draws = 2
filter_quantiles = [0.5]
min_train_samples = 50
"""


def _playbook(*args: str) -> subprocess.CompletedProcess[str]:
    code = "import sys; from trading_playbook.cli import main; sys.argv = ['playbook', *sys.argv[1:]]; main()"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("ml")
    config = root / "ml.toml"
    config.write_text(CONFIG)
    result = CliRunner().invoke(
        app, ["ml", "train", str(config), "--train", "2y", "--test", "1y", "--out", str(root / "out")]
    )
    assert result.exit_code == 0, result.output
    return config, root / "out"


def test_dataset_command_writes_every_setup_as_parquet(tmp_path: Path) -> None:
    config = tmp_path / "ml.toml"
    config.write_text(CONFIG)
    result = CliRunner().invoke(app, ["ml", "dataset", str(config), "--out", str(tmp_path / "ds")])
    assert result.exit_code == 0, result.output
    frame = pd.read_parquet(tmp_path / "ds" / "setups.parquet")
    meta = json.loads((tmp_path / "ds" / "dataset.json").read_text())
    assert len(frame) == meta["rows"] > 100
    for column in (
        *meta["features"],
        "signal_date",
        "exit_date",
        "r_multiple",
        "pnl_pct",
        "win",
        "exit_reason",
    ):
        assert column in frame.columns
    traded = frame[frame["traded"]]
    assert (traded["exit_date"] >= traded["signal_date"]).all()
    assert set(traded["win"].unique()) <= {0.0, 1.0}
    assert meta["config_hash"] == load_config(config).config_hash


def test_train_saves_each_fold_model_with_its_cutoff(trained: tuple[Path, Path]) -> None:
    config, out = trained
    manifest = json.loads((out / "models" / "manifest.json").read_text())
    cfg = load_config(config)
    assert manifest["config_hash"] == cfg.config_hash
    assert manifest["features"][:6] == [
        "score",
        "base_days",
        "base_width",
        "volume_ratio",
        "distance_from_high",
        "rs",
    ]
    assert manifest["feature_specs"] == list(cfg.ml.features)
    kinds = {m["kind"] for m in manifest["models"]}
    assert kinds == {"logistic", "hgb"}
    assert len(manifest["models"]) >= 4
    for m in manifest["models"]:
        assert m["training_cutoff"] < m["purge_boundary"] <= m["test_start"]
        assert (out / "models" / m["file"]).is_file()
        assert "0.5" in m["thresholds"]


def test_report_says_what_it_found(trained: tuple[Path, Path]) -> None:
    _, out = trained
    doc = json.loads((out / "ml_report.json").read_text())
    for name in (
        "ml_report.md",
        "ml_report.html",
        "auc_by_fold.svg",
        "calibration_hgb.svg",
        "equity.svg",
        "rule_score.svg",
    ):
        assert (out / name).stat().st_size > 0
    rows = [r for r in doc["folds"] if r["kind"] == "hgb"]
    assert rows and all(0.0 <= r["auc"] <= 1.0 and 0.0 <= r["brier"] <= 1.0 for r in rows)
    assert any(r["kind"] == "rule_score" for r in doc["folds"])
    labels = [r["label"] for r in doc["portfolio"]["runs"]]
    assert labels[:3] == ["rule score", "random #1", "random #2"]
    assert {"logistic rank", "hgb rank", "logistic filter q=0.5", "hgb filter q=0.5"} <= set(labels)
    assert doc["portfolio"]["n_trials"] == 5  # rule score + 2 models x (rank + 1 threshold)
    assert doc["verdict"]["headline"].startswith("The learned score ")
    assert isinstance(doc["verdict"]["helps"], bool)
    assert doc["rule_score"]["auc"] is not None
    md = (out / "ml_report.md").read_text()
    assert "![equity.svg](equity.svg)" in md and not list(out.glob("*.png"))
    html = (out / "ml_report.html").read_text()
    assert (out / "equity.svg").read_text() in html and "<img" not in html  # the charts inlined
    assert doc["verdict"]["headline"] in md and "Does the rule score separate winners from losers?" in md


def _ml_config(out: Path, **scanner: object) -> object:
    raw = parse_config(
        {
            "data": {
                "source": "synthetic",
                "synthetic_symbols": 14,
                "synthetic_seed": 5,
                "start": "2012-01-01",
                "end": "2016-12-31",
            },
            "portfolio": {"max_positions": 4},
            "scanner": {"name": "ml_score", "models": str(out / "models"), **scanner},
        }
    )
    return raw


def test_ml_score_runs_identically_on_both_engines(trained: tuple[Path, Path]) -> None:
    _, out = trained
    manifest = json.loads((out / "models" / "manifest.json").read_text())
    first = min(m["test_start"] for m in manifest["models"] if m["kind"] == "hgb")
    for scanner in ({"model": "hgb"}, {"model": "logistic", "mode": "filter", "quantile": 0.5}):
        cfg = _ml_config(out, **scanner)
        ws = load_data(cfg)
        fast = run_backtest(cfg, workspace=ws, start=first, metrics=False)
        ref = run_backtest(cfg, workspace=ws, start=first, engine="reference", metrics=False)
        assert len(fast.trades) > 5
        assert [t.to_dict() for t in fast.trades] == [t.to_dict() for t in ref.trades]
        np.testing.assert_allclose(fast.equity.equity, ref.equity.equity, rtol=1e-9)


def test_a_run_that_would_need_a_later_model_fails_loudly(trained: tuple[Path, Path]) -> None:
    _, out = trained
    cfg = _ml_config(out, model="hgb")
    with pytest.raises(SimulationError, match="may only use a model trained before it"):
        run_backtest(cfg, start="2013-06-03", metrics=False)
    path = out / "ml_scored.toml"
    path.write_text(  # a relative models folder is found from the config file's folder
        CONFIG.split("[scanner]")[0] + '[scanner]\nname = "ml_score"\nmodels = "models"\nmodel = "hgb"\n'
    )
    done = _playbook("backtest", str(path), "--start", "2013-06-03", "--out", str(out / "bt"))
    assert done.returncode == 1
    assert "may only use a model trained before it" in done.stderr and "Traceback" not in done.stderr


def test_a_paper_account_may_not_use_a_model_trained_after_its_sessions(
    trained: tuple[Path, Path], tmp_path: Path
) -> None:
    import datetime as dt

    from trading_playbook.paper.account import init_account, open_account, step_account

    _, out = trained
    manifest = json.loads((out / "models" / "manifest.json").read_text())
    first = dt.date.fromisoformat(min(m["test_start"] for m in manifest["models"] if m["kind"] == "hgb")[:10])
    path = out / "ml_paper.toml"
    path.write_text(
        CONFIG.split("[scanner]")[0] + '[scanner]\nname = "ml_score"\nmodels = "models"\nmodel = "hgb"\n'
    )
    home = tmp_path / "home"
    init_account(path, "early", start="2013-06-03", home=home)
    with pytest.raises(SimulationError, match="may only use a model trained before it"):
        step_account("early", until="2013-06-14", home=home)
    _, journal = open_account("early", home)
    try:  # the refused step committed nothing
        assert journal.last_session() is None
    finally:
        journal.close()
    init_account(path, "later", start=first.isoformat(), home=home)
    stepped = step_account("later", until=first + dt.timedelta(days=14), home=home)
    assert len(stepped.logs) >= 5
    with pytest.raises(SimulationError, match="may only use a model trained before it"):
        step_account("early", home=home)  # still refused, nothing half-done in between


def test_every_setup_is_scored_by_a_model_trained_before_its_session(trained: tuple[Path, Path]) -> None:
    _, out = trained
    cfg = _ml_config(out, model="hgb")
    panel = load_data(cfg).panel
    scanner = MLScoreScanner(str(out / "models"), model="hgb")
    table = scanner.base.scan(panel)
    which, pred = scanner.predictions(panel, table)
    sessions = panel.sessions.astype("datetime64[D]")[table.session_idx]
    used = which >= 0
    assert used.sum() > 50 and (~used).sum() > 0  # early setups have no usable model
    assert (scanner.cutoffs[which[used]] < sessions[used]).all()
    # ... and it is the latest such model
    later = np.minimum(which[used] + 1, len(scanner.cutoffs) - 1)
    assert ((which[used] == len(scanner.cutoffs) - 1) | (scanner.cutoffs[later] >= sessions[used])).all()
    assert np.isfinite(pred[used]).all() and np.isnan(pred[~used]).all()
    # a setup on a model's cutoff day is scored by the model before it (or none), never by that one
    for k, cutoff in enumerate(scanner.cutoffs):
        t = int(np.searchsorted(panel.sessions.astype("datetime64[D]"), cutoff))
        on_cutoff = slice_table(table, np.array([0]))
        on_cutoff = dataclasses.replace(on_cutoff, session_idx=np.array([t], dtype=np.int64))
        assert scanner.predictions(panel, on_cutoff)[0][0] == k - 1


def test_per_date_protocol_matches_the_vectorised_scan(trained: tuple[Path, Path]) -> None:
    _, out = trained
    cfg = _ml_config(out, model="logistic")
    panel = load_data(cfg).panel
    scanner = MLScoreScanner(str(out / "models"), model="logistic")
    table = scanner.scan(panel)
    dates = np.unique(table.session_idx)[::25][:6]
    for t in dates:
        expected = table.to_setups(table.session_slice(int(t)), panel.sessions, panel.symbols)
        assert scanner.scan_for_setups(panel.sessions[t], panel) == expected
    with pytest.raises(SimulationError, match="trained before it"):
        scanner.scan_for_setups(panel.sessions[300], panel)


def test_bad_ml_score_parameters_are_one_line_errors(trained: tuple[Path, Path]) -> None:
    _, out = trained
    from trading_playbook.core.errors import ConfigError

    with pytest.raises(ConfigError, match="choose one with model"):
        MLScoreScanner(str(out / "models"))
    with pytest.raises(ConfigError, match="exactly one of threshold"):
        MLScoreScanner(str(out / "models"), model="hgb", mode="filter")
    with pytest.raises(ConfigError, match=r"quantiles 0\.5"):
        MLScoreScanner(str(out / "models"), model="hgb", mode="filter", quantile=0.7)
    with pytest.raises(ConfigError, match="differs from the one"):
        MLScoreScanner(
            str(out / "models"), model="hgb", base="daily_breakout", base_params={"preset": "default"}
        )
    with pytest.raises(ConfigError, match=r"no manifest\.json"):
        MLScoreScanner(str(out))


def test_the_ml_examples_are_valid_configs() -> None:
    examples = Path(__file__).resolve().parents[2] / "examples"
    plain = load_config(examples / "sp500_ml.toml")
    assert plain.ml is not None and plain.ml.models == ("logistic", "hgb", "lightgbm")
    scored = load_config(examples / "sp500_ml_scored.toml")
    assert scored.scanner.name == "ml_score" and scored.scanner.params()["model"] == "hgb"
    assert "ml" not in parse_config({}).to_dict()  # configs without [ml] keep their hash


def test_rank_orders_by_the_prediction_and_filter_drops_setups_below_the_threshold(
    trained: tuple[Path, Path],
) -> None:
    _, out = trained
    panel = load_data(_ml_config(out, model="hgb")).panel
    ranker = MLScoreScanner(str(out / "models"), model="hgb")
    base = ranker.base.scan(panel)
    which, pred = ranker.predictions(panel, base)
    ranked = ranker.scan(panel)
    assert len(ranked) == int((which >= 0).sum())
    for t in np.unique(ranked.session_idx)[:40]:
        scores = ranked.score[ranked.session_slice(int(t))]
        assert (np.diff(scores) <= 0).all()  # best prediction first
    assert np.isin(np.round(ranked.score, 12), np.round(pred[which >= 0], 12)).all()
    filt = MLScoreScanner(str(out / "models"), model="hgb", mode="filter", quantile=0.5)
    kept = filt.scan(panel)
    limits = np.array([m.thresholds["0.5"] for m in filt.entries])
    expected = (which >= 0) & (pred >= limits[np.maximum(which, 0)])
    assert len(kept) == int(expected.sum()) and 0 < len(kept) < len(ranked)
    assert sorted(kept.score.tolist()) == sorted(base.score[expected].tolist())  # the rule score is kept
    absolute = MLScoreScanner(str(out / "models"), model="hgb", mode="filter", threshold=0.99)
    assert len(absolute.scan(panel)) == int(((which >= 0) & (pred >= 0.99)).sum())


def test_a_saved_dataset_from_another_config_is_refused(trained: tuple[Path, Path], tmp_path: Path) -> None:
    _, out = trained
    other = tmp_path / "other.toml"
    other.write_text(CONFIG.replace("embargo = 3", "embargo = 4"))
    result = CliRunner().invoke(
        app,
        [
            "ml",
            "train",
            str(other),
            "--train",
            "2y",
            "--test",
            "1y",
            "--dataset",
            str(out / "dataset"),
            "--out",
            str(tmp_path / "o"),
            "--no-portfolio",
        ],
    )
    assert result.exit_code != 0
    assert "the dataset was built from config" in str(result.exception)
