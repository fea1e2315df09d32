"""Model factories, the small hyper-parameter grids tuned inside a training fold, and prediction.

- ``logistic``: median imputation, standardisation, logistic regression (target ``win``) or ridge
  regression (target ``r_multiple``); the baseline.
- ``hgb``: scikit-learn's HistGradientBoosting (missing values handled natively).
- ``lightgbm``: LightGBM's scikit-learn estimators (needs the ``lightgbm`` package).

A classifier predicts the probability of a win; a regressor the expected R-multiple. The grid point
with the best mean inner-validation loss (log loss; squared error for R) is refitted on the whole
training fold. Every fit is seeded, single-threaded where the library allows, and deterministic.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import numpy as np

from trading_playbook.ml import require_ml, require_module

__all__ = ["GRIDS", "fit_model", "grid", "make_model", "predict", "tune"]

GRIDS: dict[str, dict[str, dict[str, list[Any]]]] = {
    "logistic": {"win": {"C": [0.01, 0.1, 1.0]}, "r_multiple": {"alpha": [1.0, 10.0, 100.0]}},
    "hgb": {
        "win": {"max_depth": [2, 3], "learning_rate": [0.05], "max_iter": [100, 200]},
        "r_multiple": {"max_depth": [2, 3], "learning_rate": [0.05], "max_iter": [100, 200]},
    },
    "lightgbm": {
        "win": {"num_leaves": [4, 8], "learning_rate": [0.05], "n_estimators": [100, 200]},
        "r_multiple": {"num_leaves": [4, 8], "learning_rate": [0.05], "n_estimators": [100, 200]},
    },
}


def grid(kind: str, target: str) -> list[dict[str, Any]]:
    """Every parameter combination tried for ``kind`` and ``target``."""
    axes = GRIDS[kind][target]
    keys = sorted(axes)
    return [dict(zip(keys, values, strict=True)) for values in itertools.product(*(axes[k] for k in keys))]


def make_model(kind: str, target: str, params: dict[str, Any], seed: int) -> Any:
    """An unfitted estimator."""
    require_ml()
    classify = target == "win"
    if kind == "logistic":
        from sklearn.impute import SimpleImputer
        from sklearn.linear_model import LogisticRegression, Ridge
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        head = LogisticRegression(max_iter=2000, **params) if classify else Ridge(**params)
        return make_pipeline(
            SimpleImputer(strategy="median", keep_empty_features=True), StandardScaler(), head
        )
    if kind == "hgb":
        from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

        cls = HistGradientBoostingClassifier if classify else HistGradientBoostingRegressor
        return cls(
            min_samples_leaf=40, l2_regularization=1.0, early_stopping=False, random_state=seed, **params
        )
    if kind == "lightgbm":
        lgb = require_module("lightgbm")
        cls = lgb.LGBMClassifier if classify else lgb.LGBMRegressor
        return cls(
            min_child_samples=40,
            reg_lambda=1.0,
            subsample=1.0,
            colsample_bytree=1.0,
            random_state=seed,
            n_jobs=1,
            verbose=-1,
            deterministic=True,
            **params,
        )
    raise ValueError(f"unknown model kind {kind!r}")


def _one_thread() -> Any:
    """A context limiting OpenMP/BLAS to one thread: these fits are small, and on a shared machine
    the thread pool's start-up and contention cost far more than the work (30x measured)."""
    return require_module("threadpoolctl").threadpool_limits(1)


def fit_model(kind: str, target: str, params: dict[str, Any], X: np.ndarray, y: np.ndarray, seed: int) -> Any:
    """A fitted estimator."""
    model = make_model(kind, target, params, seed)
    with _one_thread():
        model.fit(X, y)
    return model


def predict(model: Any, X: np.ndarray, target: str) -> np.ndarray:
    """Probability of a win (``win``) or expected R (``r_multiple``) per row."""
    if X.shape[0] == 0:
        return np.empty(0, dtype=np.float64)
    with _one_thread():
        return _predict(model, X, target)


def _predict(model: Any, X: np.ndarray, target: str) -> np.ndarray:
    if target == "win":
        proba = model.predict_proba(X)
        classes = list(model.classes_)
        if 1.0 in classes or 1 in classes:
            return np.asarray(proba[:, classes.index(1)], dtype=np.float64)
        return np.zeros(X.shape[0], dtype=np.float64)  # trained on losers only
    return np.asarray(model.predict(X), dtype=np.float64)


def _loss(target: str, y: np.ndarray, pred: np.ndarray) -> float:
    if target == "win":
        p = np.clip(pred, 1e-6, 1 - 1e-6)
        return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))
    return float(np.mean((y - pred) ** 2))


def tune(
    kind: str,
    target: str,
    X: np.ndarray,
    y: np.ndarray,
    splits: Sequence[tuple[np.ndarray, np.ndarray]],
    seed: int,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Best grid point by mean inner-validation loss, and every point's loss.

    With no usable split (too little data) the first grid point is taken and the table says so.
    """
    candidates = grid(kind, target)
    table: list[dict[str, Any]] = []
    for params in candidates:
        losses = []
        for fit, val in splits:
            if target == "win" and np.unique(y[fit]).size < 2:
                continue
            model = fit_model(kind, target, params, X[fit], y[fit], seed)
            losses.append(_loss(target, y[val], predict(model, X[val], target)))
        table.append(
            {"params": params, "loss": float(np.mean(losses)) if losses else None, "splits": len(losses)}
        )
    scored = [row for row in table if row["loss"] is not None]
    best = min(scored, key=lambda row: row["loss"])["params"] if scored else candidates[0]
    return best, table
