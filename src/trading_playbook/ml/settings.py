"""The ``[ml]`` table of a playbook config: features, label target, models and validation settings.

Example::

    [ml]
    features = ["atr_pct:10", "sma_slope:50:20", "close_sma:50", "breadth:50", "index_trend:200"]
    target = "win"            # or "r_multiple" (a regressor: expected R)
    models = ["logistic", "hgb"]
    embargo = 5               # sessions between the last training label and the test window
    filter_quantiles = [0.5]  # filter thresholds tried in the report (quantiles of training predictions)
    random_draws = 5          # seeded random-order baselines in the report
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["DEFAULT_FEATURES", "MODEL_KINDS", "MLConfig"]

DEFAULT_FEATURES: tuple[str, ...] = (
    "atr_pct:10",
    "sma_slope:50:20",
    "close_sma:50",
    "breadth:50",
    "index_trend:200",
)
MODEL_KINDS: tuple[str, ...] = ("logistic", "hgb", "lightgbm")


class MLConfig(BaseModel):
    """``[ml]``: how setups are labelled, which features and models, and how folds are purged."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    features: tuple[str, ...] = DEFAULT_FEATURES
    target: Literal["win", "r_multiple"] = "win"
    models: tuple[str, ...] = ("logistic", "hgb")
    embargo: int = Field(default=5, ge=0, le=252)
    inner_splits: int = Field(default=3, ge=2, le=10)
    filter_quantiles: tuple[float, ...] = (0.5,)
    random_draws: int = Field(default=5, ge=1, le=100)
    seed: int = 0
    label_notional: float | None = Field(default=None, gt=0)
    min_train_samples: int = Field(default=200, ge=10)

    @field_validator("features")
    @classmethod
    def _features(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        from trading_playbook.core.errors import ConfigError
        from trading_playbook.ml.features import parse_feature

        for spec in value:
            try:
                parse_feature(spec)
            except ConfigError as exc:
                raise ValueError(str(exc)) from None
        if len(set(value)) != len(value):
            raise ValueError(f"features are listed twice: {sorted(value)}")
        return value

    @field_validator("models")
    @classmethod
    def _models(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [m for m in value if m not in MODEL_KINDS]
        if unknown or not value:
            raise ValueError(f"models {list(value)}: choose from {', '.join(MODEL_KINDS)}")
        return value

    @field_validator("filter_quantiles")
    @classmethod
    def _quantiles(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        bad = [q for q in value if not 0.0 < q < 1.0]
        if bad:
            raise ValueError(f"filter_quantiles must be in (0, 1), got {bad}")
        return value
