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

    def with_overrides(self, overrides: dict[str, Any]) -> FakeConfig:
        return self
