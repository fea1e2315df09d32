"""A toy trial job for the research executors' tests (no engine, deterministic, cheap)."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from trading_playbook.research.executors import TrialOutcome, TrialTask


@dataclass(frozen=True)
class ToyJob:
    """Objective ``-(x - 3)^2 - (y - 0.5)^2``; x == 1 has only 5 trades; returns seeded by the params."""

    token: str = "toy"
    payload: Any = None  # stands in for the shared data shipped once per worker

    def setup(self) -> dict[str, Any]:
        return {"pid": os.getpid(), "state_id": int.from_bytes(os.urandom(4), "little"), "runs": 0}

    def run(self, state: dict[str, Any], task: TrialTask) -> TrialOutcome:
        state["runs"] += 1
        x = float(task.params.get("a.x", 0))
        y = float(task.params.get("exit.y", 0))
        seed = int(hashlib.sha256(json.dumps(task.params, sort_keys=True).encode()).hexdigest()[:8], 16)
        returns = np.random.default_rng(seed).normal(0.001 - 0.0002 * (x - 3) ** 2, 0.01, 200)
        dates = np.arange(np.datetime64("2020-01-01"), np.datetime64("2020-01-01") + 200)
        if self.payload is not None:
            returns = returns + 0.0 * float(np.sum(self.payload[:1]))
        metrics = {
            "sharpe": -((x - 3) ** 2) - (y - 0.5) ** 2,
            "trades": 5.0 if x == 1 else 50.0,
            "state_id": float(state["state_id"]),
            "pid": float(state["pid"]),
        }
        return TrialOutcome(
            index=task.index, params=task.params, metrics=metrics, returns=returns, dates=dates
        )


class FakeConfig:
    """Just enough of PlaybookConfig for optimize(): a hash and overrides."""

    config_hash = "fakecfg"

    def __init__(self, overrides: dict[str, Any] | None = None) -> None:
        self.overrides = dict(overrides or {})

    def with_overrides(self, overrides: dict[str, Any]) -> FakeConfig:
        return type(self)({**self.overrides, **overrides})

    def portable_dict(self) -> dict[str, Any]:
        """As ``PlaybookConfig.portable_dict`` (the toy has no paths to make absolute)."""
        return self.to_dict()

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": None}
        for key, value in self.overrides.items():
            section, _, name = key.partition(".")
            out.setdefault(section, {})[name] = value
        return out


@dataclass(frozen=True)
class ToyWorkspace:
    """Stands in for the engine's Workspace: only its sessions are read by walk-forward."""

    sessions: np.ndarray


def toy_sessions(start: str = "2010-01-01", end: str = "2016-12-31") -> np.ndarray:
    import pandas as pd

    return pd.bdate_range(start, end).values.astype("datetime64[D]")


@dataclass(frozen=True)
class ToyBacktestJob:
    """Equity grows by ``0.0004 * x`` a session before 2013, ``0.0004 * (6 - x)`` after: the best
    in-sample x flips, so walk-forward has something to find. Every run has 40 trades."""

    token: str = "toy-bt"

    def setup(self) -> Any:
        return None

    def run(self, state: Any, task: TrialTask) -> TrialOutcome:
        from trading_playbook.research.trial import daily_returns, flat_metrics

        result = self.backtest(state, task.params, start=task.start, end=task.end)
        returns, dates = daily_returns(result)
        return TrialOutcome(task.index, task.params, flat_metrics(result.metrics), returns, dates)

    def backtest(self, state: Any, params: dict[str, Any], *, start: str | None, end: str | None) -> Any:
        from trading_playbook.core.metrics import compute_metrics
        from trading_playbook.core.types import EquityCurve, RunResult

        capital = float(params.get("portfolio.starting_capital", 100_000.0))
        x = float(params.get("scanner.x", 3))
        dates = toy_sessions()
        dates = dates[(dates >= np.datetime64(start)) & (dates <= np.datetime64(end))]
        rate = np.where(dates < np.datetime64("2013-01-01"), 0.0004 * x, 0.0004 * (6 - x))
        wiggle = 0.002 * np.sin(np.arange(dates.size) * (1.0 + x))
        equity = capital * np.cumprod(1.0 + rate + wiggle)
        curve = EquityCurve(
            dates, equity, equity.copy(), np.zeros(dates.size, np.int64), np.zeros(dates.size)
        )
        result = RunResult([], curve, {}, {"source": "toy"}, capital)
        metrics = compute_metrics(result, n_bootstrap=0)
        metrics["trades"] = 40
        return RunResult([], curve, {}, {"source": "toy"}, capital, metrics=metrics)


class WalkConfig(FakeConfig):
    """FakeConfig plus what walk_forward reads."""

    class data:
        start = "2010-01-01"
        end = None

    class portfolio:
        starting_capital = 100_000.0

    class report:
        risk_free_rate = 0.0

    def window(self, start=None, end=None):
        """As ``PlaybookConfig.window``: explicit dates, else ``[data]`` (the toy has no ``[backtest]``)."""
        return (start if start is not None else self.data.start, end if end is not None else self.data.end)
