"""Research at scale: parameter optimisation, walk-forward validation, overfitting statistics, executors.

Public API::

    from trading_playbook.research import (
        parse_params, OptimizeSettings, optimize, WalkForwardSettings, walk_forward,
        TrialStore, LocalExecutor, DaskExecutor, make_executor,
        write_optimize_report, write_walkforward_report,
    )

The statistics themselves are pure and live in :mod:`trading_playbook.core.overfitting`
(``deflated_sharpe_ratio``, ``probability_of_backtest_overfitting``).
"""

from __future__ import annotations

from trading_playbook.research.executors import (
    DaskExecutor,
    Executor,
    LocalExecutor,
    TrialJob,
    TrialOutcome,
    TrialTask,
    make_executor,
)
from trading_playbook.research.optimize import OptimizeResult, OptimizeSettings, optimize
from trading_playbook.research.params import ParamSpec, grid_points, parse_param, parse_params, random_points
from trading_playbook.research.store import TrialStore
from trading_playbook.research.trial import BacktestJob, trial_metrics
from trading_playbook.research.walkforward import (
    Fold,
    WalkForwardResult,
    WalkForwardSettings,
    make_folds,
    walk_forward,
)

__all__ = [
    "BacktestJob",
    "DaskExecutor",
    "Executor",
    "Fold",
    "LocalExecutor",
    "OptimizeResult",
    "OptimizeSettings",
    "ParamSpec",
    "TrialJob",
    "TrialOutcome",
    "TrialStore",
    "TrialTask",
    "WalkForwardResult",
    "WalkForwardSettings",
    "grid_points",
    "make_executor",
    "make_folds",
    "optimize",
    "parse_param",
    "parse_params",
    "random_points",
    "trial_metrics",
    "walk_forward",
    "write_optimize_report",
    "write_walkforward_report",
]


def __getattr__(name: str) -> object:
    # The report writers import the reports package (the SVG heatmap): load them only when asked.
    if name in ("write_optimize_report", "write_walkforward_report"):
        from trading_playbook.research import report

        return getattr(report, name)
    raise AttributeError(f"module 'trading_playbook.research' has no attribute {name!r}")
