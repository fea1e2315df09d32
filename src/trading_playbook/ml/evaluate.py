"""Out-of-sample scoring metrics: per fold AUC, Brier score and calibration, for the models and for
the rule score itself (does it separate winners from losers?).

AUC is the probability that a random winner is scored above a random loser (0.5: no skill). The Brier
score is the mean squared error of a predicted win probability (lower is better); it is compared with
the Brier score of always predicting the training fold's win rate (``brier_base``). For the
``r_multiple`` target the prediction is an expected R: AUC still applies, Brier does not (None), and
the calibration compares predicted with realised mean R.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from trading_playbook.ml import require_ml
from trading_playbook.ml.dataset import Dataset
from trading_playbook.ml.folds import training_mask
from trading_playbook.ml.train import TrainResult

__all__ = ["auc", "calibration_bins", "fold_metrics", "rule_score_summary"]


def auc(win: np.ndarray, score: np.ndarray) -> float | None:
    """ROC AUC of ``score`` for ``win`` (None when only one class is present)."""
    require_ml()
    from sklearn.metrics import roc_auc_score

    y = np.asarray(win, dtype=np.float64)
    s = np.asarray(score, dtype=np.float64)
    ok = np.isfinite(y) & np.isfinite(s)
    if np.unique(y[ok]).size < 2:
        return None
    return float(roc_auc_score(y[ok], s[ok]))


def calibration_bins(outcome: np.ndarray, prediction: np.ndarray, bins: int = 10) -> list[dict[str, float]]:
    """Quantile bins of the prediction: mean prediction, mean outcome and count per bin."""
    pred = np.asarray(prediction, dtype=np.float64)
    out = np.asarray(outcome, dtype=np.float64)
    if pred.size == 0:
        return []
    edges = np.unique(np.quantile(pred, np.linspace(0.0, 1.0, bins + 1)))
    which = np.clip(np.searchsorted(edges, pred, side="right") - 1, 0, max(edges.size - 2, 0))
    rows = []
    for b in np.unique(which):
        sel = which == b
        rows.append(
            {
                "predicted": float(pred[sel].mean()),
                "observed": float(out[sel].mean()),
                "count": int(sel.sum()),
            }
        )
    return rows


def fold_metrics(dataset: Dataset, result: TrainResult) -> list[dict[str, Any]]:
    """One row per (fold, model kind) plus the rule score's row per fold (kind ``rule_score``)."""
    frame = dataset.frame
    target = result.settings["target"]
    win = frame["win"].to_numpy(dtype=np.float64)
    r = frame["r_multiple"].to_numpy(dtype=np.float64)
    rule = frame["score"].to_numpy(dtype=np.float64)
    out: list[dict[str, Any]] = []
    by_fold = {f.index: f for f in result.folds}
    for key, group in result.predictions.groupby(["fold", "kind"], sort=True):
        fold_index, kind = int(str(key[0])), str(key[1])
        rows = group["row"].to_numpy(dtype=np.int64)
        pred = group["prediction"].to_numpy(dtype=np.float64)
        fold = by_fold[int(fold_index)]
        base_rate = float(np.nanmean(win[training_mask(frame, fold)]))
        entry = _scores(win[rows], r[rows], pred, target, base_rate)
        out.append(
            {
                "fold": int(fold_index),
                "test_start": fold.test_start,
                "test_end": fold.test_end,
                "kind": kind,
                **entry,
            }
        )
        if kind == result.settings["models"][0]:
            rule_entry = _scores(win[rows], r[rows], rule[rows], "rule", base_rate)
            out.append(
                {
                    "fold": int(fold_index),
                    "test_start": fold.test_start,
                    "test_end": fold.test_end,
                    "kind": "rule_score",
                    **rule_entry,
                }
            )
    return out


def _scores(
    win: np.ndarray, r: np.ndarray, score: np.ndarray, target: str, base_rate: float
) -> dict[str, Any]:
    order = np.argsort(-score, kind="stable")
    half = order[: max(1, order.size // 2)]
    rest = order[max(1, order.size // 2) :]
    probability = target == "win"
    return {
        "n": int(win.size),
        "win_rate": float(np.mean(win)) if win.size else None,
        "auc": auc(win, score),
        "brier": float(np.mean((score - win) ** 2)) if probability else None,
        "brier_base": float(np.mean((base_rate - win) ** 2)) if probability else None,
        "mean_r_top_half": float(np.mean(r[half])) if half.size else None,
        "mean_r_bottom_half": float(np.mean(r[rest])) if rest.size else None,
        "calibration": calibration_bins(win if probability or target == "rule" else r, score),
    }


def rule_score_summary(frame: pd.DataFrame) -> dict[str, Any]:
    """The design's question on the traded setups of ``frame``: does a higher rule score mean better
    trades? AUC, mean score of winners vs losers, and win rate / mean R by score."""
    traded = frame[frame["traded"]]
    win = traded["win"].to_numpy(dtype=np.float64)
    score = traded["score"].to_numpy(dtype=np.float64)
    buckets = []
    for value, group in traded.groupby(np.floor(traded["score"]).astype(int), sort=True):
        buckets.append(
            {
                "score_from": int(str(value)),
                "count": len(group),
                "win_rate": float(group["win"].mean()),
                "mean_r": float(group["r_multiple"].mean()),
            }
        )
    return {
        "n": len(traded),
        "auc": auc(win, score),
        "mean_score_winners": float(score[win == 1].mean()) if (win == 1).any() else None,
        "mean_score_losers": float(score[win == 0].mean()) if (win == 0).any() else None,
        "by_score": buckets,
    }
