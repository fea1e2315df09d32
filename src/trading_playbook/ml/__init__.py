"""Learned setup quality, judged out of sample (issue 16).

The pipeline, each step in its own module:

- :mod:`.features`: what is known at a setup's decision close (the setup's own fields plus the
  indicators the ``[ml] features`` list names).
- :mod:`.labels`: each setup's single trade simulated with the chosen exit rules (the reference
  engine's :class:`~trading_playbook.core.exits.rules.ExitRuleEngine` and fill arithmetic).
- :mod:`.dataset`: the labelled setup table (every setup the scanner produced), written as Parquet.
- :mod:`.folds`: purged walk-forward folds (a training label that ends on/after the test window's start
  minus an embargo is dropped) and the training cutoff of each fold.
- :mod:`.models` / :mod:`.train`: logistic regression and gradient boosting, tuned inside the training
  fold, saved with their cutoff, feature list and config hash.
- :mod:`.scanner`: the ``ml_score`` scanner component (ranks or filters a base scanner's setups with the
  model trained before each session).
- :mod:`.evaluate` / :mod:`.report`: the honest out-of-sample report.

scikit-learn (and optionally LightGBM) come with the ``ml`` extra; everything else in the package works
without them, and an ML command without them stops with a one-line message (:func:`require_ml`).
"""

from __future__ import annotations

import importlib
from types import ModuleType

from trading_playbook.core.errors import ConfigError

__all__ = ["INSTALL_HINT", "MLUnavailableError", "require_ml", "require_module"]

INSTALL_HINT = "install '.[ml]' (pip install -e '.[ml]') to use the machine-learning commands"


class MLUnavailableError(ConfigError):
    """scikit-learn or LightGBM is needed but not installed."""


def require_module(name: str) -> ModuleType:
    """Import ``name`` (``sklearn``, ``lightgbm``, ``joblib``) or raise a one-line install hint."""
    try:
        return importlib.import_module(name)
    except ImportError:
        raise MLUnavailableError(f"{name} is not installed; {INSTALL_HINT}") from None


def require_ml() -> ModuleType:
    """scikit-learn, or :class:`MLUnavailableError` with the install hint."""
    return require_module("sklearn")
