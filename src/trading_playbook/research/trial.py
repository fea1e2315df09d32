"""One backtest trial: the job every worker of an optimisation runs, and the metrics it keeps.

:class:`BacktestJob` is what the executors ship once per worker: the base configuration and,
optionally, the already loaded workspace (the panel). On the worker, :meth:`BacktestJob.setup` keeps one
``Workspace`` for every trial it runs, so the panel is loaded once and the workspace's memo caches
(indicators, scanner features, setups keyed by the scanner parameters) serve every later trial that
shares them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from trading_playbook.core.types import RunResult
from trading_playbook.research.executors import TrialOutcome, TrialTask

__all__ = ["BacktestJob", "daily_returns", "flat_metrics"]


@dataclass(frozen=True)
class BacktestJob:
    """Run ``config.with_overrides(params)`` on the worker's workspace over the task's window.

    Parameters
    ----------
    config : PlaybookConfig
        The base configuration (frozen pydantic; picklable).
    workspace : Workspace, optional
        Data loaded by the parent, shipped once per worker. ``None``: each worker loads it itself from
        the config's ``[data]`` (e.g. a cluster whose workers see the same files).
    engine : str
        ``"fast"`` or ``"reference"``.
    token : str
        Identity of the job on the workers (a new token makes workers rebuild their state).
    """

    config: Any
    workspace: Any = None
    engine: str = "fast"
    token: str = ""

    def setup(self) -> Any:
        """The worker's workspace: the shipped one, else loaded from the config once."""
        if self.workspace is not None:
            return self.workspace
        from trading_playbook.engine import load_data

        return load_data(self.config)

    def run(self, state: Any, task: TrialTask) -> TrialOutcome:
        """Backtest one parameter set; keep flat metrics and the daily returns."""
        result = self.backtest(state, task.params, start=task.start, end=task.end)
        returns, dates = daily_returns(result)
        return TrialOutcome(
            index=task.index,
            params=task.params,
            metrics=flat_metrics(result.metrics),
            returns=returns,
            dates=dates,
        )

    def backtest(
        self, state: Any, params: dict[str, Any], *, start: str | None = None, end: str | None = None
    ) -> RunResult:
        """The full :class:`RunResult` of one parameter set (used for walk-forward test windows)."""
        from trading_playbook.engine import run_backtest

        cfg = self.config.with_overrides(params) if params else self.config
        result: RunResult = run_backtest(cfg, workspace=state, start=start, end=end, engine=self.engine)
        return result


def daily_returns(result: RunResult) -> tuple[np.ndarray, np.ndarray]:
    """Daily returns of a run's equity, the first against the starting capital (as core.metrics).

    Returns
    -------
    (returns, dates) : float64[S], datetime64[D][S]
    """
    equity = np.asarray(result.equity.equity, dtype=np.float64)
    dates = np.asarray(result.equity.dates).astype("datetime64[D]")
    if equity.size == 0:
        return np.zeros(0), dates
    previous = np.concatenate(([float(result.starting_capital)], equity[:-1]))
    return equity / previous - 1.0, dates


def flat_metrics(metrics: dict[str, Any]) -> dict[str, float]:
    """The headline numeric metrics (ints and floats at the top level); ``None`` becomes NaN."""
    out: dict[str, float] = {}
    for key, value in metrics.items():
        if isinstance(value, bool):
            continue
        if value is None:
            out[key] = math.nan
        elif isinstance(value, int | float | np.integer | np.floating):
            out[key] = float(value)
    return out
