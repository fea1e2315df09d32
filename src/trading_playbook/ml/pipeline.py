"""The whole pipeline behind ``playbook ml train``: dataset, purged training, saved models, report."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from trading_playbook.config import PlaybookConfig
from trading_playbook.core.errors import ConfigError
from trading_playbook.ml import require_ml
from trading_playbook.ml.dataset import Dataset, build_dataset, ml_settings, write_dataset
from trading_playbook.ml.evaluate import fold_metrics, rule_score_summary
from trading_playbook.ml.report import build_report, write_report
from trading_playbook.ml.store import save_models
from trading_playbook.ml.train import TrainResult, train_walk_forward

__all__ = ["check_dataset", "train_and_report"]


def check_dataset(dataset: Dataset, cfg: PlaybookConfig, workspace: Any) -> None:
    """A saved dataset must come from this config and this data; otherwise a one-line error."""
    if dataset.meta.get("config_hash") != cfg.config_hash:
        raise ConfigError(
            f"the dataset was built from config {dataset.meta.get('config_hash')}, not this one "
            f"({cfg.config_hash}); rebuild it with 'playbook ml dataset' or leave out --dataset"
        )
    if dataset.meta.get("data_fingerprint") != workspace.panel.fingerprint:
        raise ConfigError("the dataset was built from other data (fingerprint differs); rebuild it")


def train_and_report(
    cfg: PlaybookConfig,
    workspace: Any,
    out: str | Path,
    *,
    train: str,
    test: str,
    step: str | None = None,
    anchored: bool = False,
    start: str | None = None,
    end: str | None = None,
    models: tuple[str, ...] | None = None,
    dataset: Dataset | None = None,
    portfolio: bool = True,
    engine: str = "fast",
    progress: Callable[[str], None] | None = None,
) -> tuple[dict[str, Any], list[Path]]:
    """Run the pipeline; returns the report document and the files written under ``out``."""
    require_ml()
    say = progress or (lambda message: None)
    root = Path(out)
    ml = ml_settings(cfg)
    if dataset is None:
        say("labelling every setup")
        dataset = build_dataset(cfg, workspace, start=start, end=end)
    else:
        check_dataset(dataset, cfg, workspace)
    written = write_dataset(dataset, root / "dataset")
    say(f"training on purged folds ({len(dataset.frame)} setups)")
    result = train_walk_forward(
        dataset,
        workspace.panel.sessions,
        ml,
        train=train,
        test=test,
        step=step,
        anchored=anchored,
        start=start,
        end=end,
        models=models,
    )
    if not result.models:
        reasons = "; ".join(f"fold {s['fold']}: {s['reason']}" for s in result.skipped) or "no fold fits"
        raise ConfigError(f"no model could be trained ({reasons}); widen --train or the data range")
    models_dir = root / "models"
    meta = {**dataset.meta, "embargo": ml.embargo}
    written.append(save_models(result, models_dir, meta))
    say("scoring the test windows")
    folds = fold_metrics(dataset, result)
    oos_rows = np.unique(result.predictions["row"].to_numpy(dtype=np.int64))
    rule = rule_score_summary(dataset.frame.iloc[oos_rows])
    port = None
    if portfolio:
        say("portfolio backtests (rule score, random order, learned variants)")
        start_at, end_at = _portfolio_span(result)
        kinds = list(result.settings["models"])
        from trading_playbook.ml.backtests import compare_portfolios

        port = compare_portfolios(cfg, workspace, ml, models_dir, kinds, start_at, end_at, engine=engine)
    doc = build_report(
        meta=dataset.meta,
        settings=result.settings,
        folds=folds,
        models=_model_rows(result),
        skipped=result.skipped,
        rule_score=rule,
        portfolio=port,
        filter_quantiles=list(ml.filter_quantiles),
    )
    written += write_report(doc, root)
    return doc, written


def _portfolio_span(result: TrainResult) -> tuple[str, str]:
    """From the first test window every kind has a model for, to the last test window's end."""
    firsts = []
    for kind in result.settings["models"]:
        mine = [m.fold.test_start for m in result.models if m.kind == kind]
        firsts.append(min(mine))
    return max(firsts), max(m.fold.test_end for m in result.models)


def _model_rows(result: TrainResult) -> list[dict[str, Any]]:
    return [
        {
            "kind": m.kind,
            "fold": m.fold.index,
            "test_start": m.fold.test_start,
            "test_end": m.fold.test_end,
            "purge_boundary": m.fold.purge_boundary,
            "training_cutoff": m.training_cutoff,
            "n_train": m.n_train,
            "n_purged": m.n_purged,
            "n_test": m.n_test,
            "params": m.params,
            "thresholds": m.thresholds,
        }
        for m in result.models
    ]
