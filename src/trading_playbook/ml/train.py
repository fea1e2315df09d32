"""Purged walk-forward training: per fold and model kind, tune inside the training fold, fit, predict
the test window out of sample.

Each fold keeps only training labels that exit before its purge boundary (:mod:`.folds`), checks it
again right before fitting (:func:`~trading_playbook.ml.folds.check_purged`), tunes on inner purged
splits, refits on the whole training fold and records the training cutoff, the tuned parameters, the
filter thresholds (quantiles of the model's predictions on its own training rows, so known at the
cutoff) and the out-of-sample predictions of the test window.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from trading_playbook.ml.dataset import Dataset
from trading_playbook.ml.folds import (
    PurgedFold,
    check_purged,
    evaluation_mask,
    inner_splits,
    purged_folds,
    training_mask,
)
from trading_playbook.ml.models import fit_model, predict, tune
from trading_playbook.ml.settings import MLConfig

__all__ = ["FoldModel", "TrainResult", "target_values", "train_walk_forward"]


@dataclass
class FoldModel:
    """One fitted model of one fold."""

    fold: PurgedFold
    kind: str
    params: dict[str, Any]
    training_cutoff: str
    n_train: int
    n_purged: int
    n_test: int
    thresholds: dict[str, float]
    tuning: list[dict[str, Any]]
    model: Any = field(repr=False)


@dataclass
class TrainResult:
    """Every fold's models, the out-of-sample predictions and the folds left out (with why)."""

    folds: list[PurgedFold]
    models: list[FoldModel]
    predictions: pd.DataFrame  # columns: row (dataset position), fold, kind, prediction
    skipped: list[dict[str, Any]]
    settings: dict[str, Any]


def target_values(frame: pd.DataFrame, target: str) -> np.ndarray:
    """The learning target of each row: 1.0/0.0 for ``win``, the R-multiple for ``r_multiple``."""
    column = "win" if target == "win" else "r_multiple"
    return frame[column].to_numpy(dtype=np.float64)


def train_walk_forward(
    dataset: Dataset,
    sessions: np.ndarray,
    ml: MLConfig,
    *,
    train: str,
    test: str,
    step: str | None = None,
    anchored: bool = False,
    start: str | None = None,
    end: str | None = None,
    models: tuple[str, ...] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> TrainResult:
    """Train every model kind on every purged fold; see the module docstring."""
    frame = dataset.frame
    kinds = models or ml.models
    folds = purged_folds(
        sessions,
        train=train,
        test=test,
        embargo=ml.embargo,
        step=step,
        anchored=anchored,
        start=start or dataset.meta.get("start"),
        end=end or dataset.meta.get("end"),
    )
    X_all = frame[dataset.features].to_numpy(dtype=np.float64)
    y_all = target_values(frame, ml.target)
    fitted: list[FoldModel] = []
    predictions: list[pd.DataFrame] = []
    skipped: list[dict[str, Any]] = []
    for done, fold in enumerate(folds):
        in_window = training_mask_window(frame, fold)
        train_rows = np.flatnonzero(training_mask(frame, fold))
        test_rows = np.flatnonzero(evaluation_mask(frame, fold))
        reason = _skip_reason(y_all[train_rows], test_rows, ml)
        if reason:
            skipped.append({"fold": fold.index, "test_start": fold.test_start, "reason": reason})
            continue
        cutoff = check_purged(frame.iloc[train_rows], fold)
        splits = inner_splits(frame.iloc[train_rows], sessions, ml.inner_splits, ml.embargo)
        X, y = X_all[train_rows], y_all[train_rows]
        for kind in kinds:
            best, table = tune(kind, ml.target, X, y, splits, ml.seed)
            model = fit_model(kind, ml.target, best, X, y, ml.seed)
            own = predict(model, X, ml.target)
            thresholds = {str(q): float(np.quantile(own, q)) for q in ml.filter_quantiles}
            fitted.append(
                FoldModel(
                    fold=fold,
                    kind=kind,
                    params=best,
                    training_cutoff=str(cutoff),
                    n_train=int(train_rows.size),
                    n_purged=int(in_window - train_rows.size),
                    n_test=int(test_rows.size),
                    thresholds=thresholds,
                    tuning=table,
                    model=model,
                )
            )
            predictions.append(
                pd.DataFrame(
                    {
                        "row": test_rows,
                        "fold": fold.index,
                        "kind": kind,
                        "prediction": predict(model, X_all[test_rows], ml.target),
                    }
                )
            )
        if progress is not None:
            progress(done + 1, len(folds))
    preds = (
        pd.concat(predictions, ignore_index=True)
        if predictions
        else pd.DataFrame({"row": [], "fold": [], "kind": [], "prediction": []})
    )
    settings = {
        "train": train,
        "test": test,
        "step": step,
        "anchored": anchored,
        "embargo": ml.embargo,
        "inner_splits": ml.inner_splits,
        "target": ml.target,
        "models": list(kinds),
        "seed": ml.seed,
    }
    return TrainResult(folds=folds, models=fitted, predictions=preds, skipped=skipped, settings=settings)


def training_mask_window(frame: pd.DataFrame, fold: PurgedFold) -> int:
    """Traded rows signalled inside the training window, before purging (for the purge count)."""
    signal = frame["signal_date"].to_numpy(dtype="datetime64[ns]").astype("datetime64[D]")
    inside = (signal >= np.datetime64(fold.train_start)) & (signal <= np.datetime64(fold.train_end))
    return int(np.count_nonzero(inside & frame["traded"].to_numpy(dtype=bool)))


def _skip_reason(y_train: np.ndarray, test_rows: np.ndarray, ml: MLConfig) -> str:
    if y_train.size < ml.min_train_samples:
        return f"{y_train.size} training samples after purging (< min_train_samples {ml.min_train_samples})"
    if ml.target == "win" and np.unique(y_train).size < 2:
        return "the training labels are all wins or all losses"
    if test_rows.size == 0:
        return "no setup in the test window"
    return ""
