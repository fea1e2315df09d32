"""The report's verdict says plainly when the model does not help, and why."""

from __future__ import annotations

from typing import Any

import pytest

from trading_playbook.ml.report import summarise, verdict


def _doc(model_auc: float, rule_auc: float, best: dict[str, Any] | None) -> dict[str, Any]:
    folds = [
        {"kind": "hgb", "auc": model_auc, "brier": 0.22, "brier_base": 0.23},
        {"kind": "rule_score", "auc": rule_auc, "brier": None, "brier_base": None},
    ]
    portfolio = None
    if best is not None:
        portfolio = {
            "start": "2005-01-03",
            "end": "2020-12-31",
            "n_trials": 3,
            "rule_sharpe": 0.4,
            "random_sharpe": {"mean": 0.35, "min": 0.3, "max": 0.45},
            "best_learned": {"label": "hgb rank", "sharpe": 0.6, **best},
        }
    return {
        "settings": {"models": ["hgb"]},
        "summary": summarise(folds),
        "rule_score": {"auc": rule_auc, "n": 1000, "mean_score_winners": 5.6, "mean_score_losers": 5.5},
        "portfolio": portfolio,
    }


@pytest.mark.parametrize(
    ("model_auc", "best", "helps", "start"),
    [
        (
            0.56,
            {"beats_rule": True, "beats_every_random": True, "deflated_sharpe": 0.97},
            True,
            "The learned score helped",
        ),
        (
            0.56,
            {"beats_rule": True, "beats_every_random": True, "deflated_sharpe": 0.40},
            False,
            "The learned score does not help enough to trade",
        ),
        (
            0.56,
            {"beats_rule": True, "beats_every_random": False, "deflated_sharpe": 0.99},
            False,
            "The learned score does not help:",
        ),
        (
            0.49,
            {"beats_rule": True, "beats_every_random": True, "deflated_sharpe": 0.99},
            False,
            "The learned score does not help:",
        ),
        (0.56, None, False, "The learned score does not help:"),
    ],
)
def test_every_bar_must_be_cleared(
    model_auc: float, best: dict[str, Any] | None, helps: bool, start: str
) -> None:
    found = verdict(_doc(model_auc, 0.51, best))
    assert found["helps"] is helps
    assert found["headline"].startswith(start)
    assert any(line.startswith("Rule score: AUC 0.510") for line in found["lines"])


def test_the_rule_score_question_is_answered_plainly() -> None:
    lines = verdict(_doc(0.5, 0.50, None))["lines"]
    assert any("does not clearly separate winners from losers" in line for line in lines)
    lines = verdict(_doc(0.5, 0.60, None))["lines"]
    assert any("it separates winners from losers" in line for line in lines)
