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

__all__ = [
    "TRIAL_METRICS",
    "BacktestJob",
    "daily_returns",
    "flat_metrics",
    "headline_metrics",
    "trial_metrics",
]

PERIODS_PER_YEAR = 252

#: The metrics every trial records (:func:`trial_metrics`): what ``--objective`` can name.
TRIAL_METRICS = (
    "sessions",
    "final_equity",
    "total_return",
    "cagr",
    "annual_volatility",
    "sharpe",
    "sortino",
    "max_drawdown",
    "calmar",
    "exposure",
    "trades",
    "win_rate",
    "expectancy",
    "expectancy_pct",
    "expectancy_r",
    "profit_factor",
)


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
        """Backtest one parameter set; keep flat metrics and the daily returns.

        Trials skip the engine's full metrics (bootstrap intervals, benchmarks, monthly tables):
        :func:`trial_metrics` computes the headline figures ranking needs, with the same conventions
        as ``core.metrics.compute_metrics`` (a test checks they agree). On the fast engine a trial
        reads them off the kernel's records (:func:`~trading_playbook.engine.run_trial`) without
        building ``Trade`` objects: the same numbers, tested equal to the full run's.
        """
        risk_free = float(getattr(getattr(self.config, "report", None), "risk_free_rate", 0.0) or 0.0)
        run: Any = self.trial_run(state, task.params, start=task.start, end=task.end)
        if run is None:
            result = self.backtest(state, task.params, start=task.start, end=task.end, metrics=False)
            metrics = trial_metrics(result, risk_free_rate=risk_free)
            run = result
        else:
            metrics = headline_metrics(
                run.equity,
                run.starting_capital,
                run.pnl,
                run.pnl_pct,
                run.r_multiple,
                risk_free_rate=risk_free,
            )
        returns, dates = daily_returns(run)
        return TrialOutcome(
            index=task.index, params=task.params, metrics=metrics, returns=returns, dates=dates
        )

    def trial_run(
        self, state: Any, params: dict[str, Any], *, start: str | None = None, end: str | None = None
    ) -> Any:
        """The fast engine's :class:`~trading_playbook.engine.TrialRun` of one parameter set, or None
        (the reference engine, or a sleeve without a vectorised scanner: use :meth:`backtest`)."""
        if self.engine != "fast":
            return None
        from trading_playbook.engine import run_trial

        cfg = self.config.with_overrides(params) if params else self.config
        return run_trial(cfg, workspace=state, start=start, end=end)

    def backtest(
        self,
        state: Any,
        params: dict[str, Any],
        *,
        start: str | None = None,
        end: str | None = None,
        metrics: bool = True,
    ) -> RunResult:
        """The full :class:`RunResult` of one parameter set (used for walk-forward test windows)."""
        from trading_playbook.engine import run_backtest

        cfg = self.config.with_overrides(params) if params else self.config
        result: RunResult = run_backtest(
            cfg, workspace=state, start=start, end=end, engine=self.engine, metrics=metrics
        )
        return result


def daily_returns(result: Any) -> tuple[np.ndarray, np.ndarray]:
    """Daily returns of a run's equity, the first against the starting capital (as core.metrics).

    ``result`` is a :class:`RunResult` or a :class:`~trading_playbook.engine.TrialRun` (both have
    ``equity`` and ``starting_capital``).

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


def trial_metrics(result: RunResult, *, risk_free_rate: float = 0.0) -> dict[str, float]:
    """Headline metrics of a trial's :class:`RunResult` (:func:`headline_metrics` of its equity and
    its trades' pnl, pnl_pct and R multiple)."""
    return headline_metrics(
        result.equity,
        float(result.starting_capital),
        np.array([t.pnl for t in result.trades], dtype=np.float64),
        np.array([t.pnl_pct for t in result.trades], dtype=np.float64),
        np.array([t.r_multiple for t in result.trades], dtype=np.float64),
        risk_free_rate=risk_free_rate,
    )


def headline_metrics(
    equity_curve: Any,
    starting_capital: float,
    pnl: np.ndarray,
    pct: np.ndarray,
    r_mult: np.ndarray,
    *,
    risk_free_rate: float = 0.0,
) -> dict[str, float]:
    """Headline metrics of a trial, as ``core.metrics.compute_metrics`` defines them (NaN = undefined).

    Equity: ``total_return``, ``cagr`` (years = sessions / 252), ``annual_volatility``, ``sharpe`` and
    ``sortino`` (annual simple risk-free rate / 252 per session), ``max_drawdown`` (the starting capital
    is the first peak), ``calmar``, ``exposure``, ``final_equity``. Trades (``pnl``, ``pct``,
    ``r_mult`` in the trades' order): ``trades``, ``win_rate``, ``expectancy`` (mean pnl),
    ``expectancy_pct``, ``expectancy_r``, ``profit_factor``.
    """
    start = float(starting_capital)
    equity = np.asarray(equity_curve.equity, dtype=np.float64)
    n = equity.size
    returns = equity / np.concatenate(([start], equity[:-1])) - 1.0 if n else np.zeros(0)
    excess = returns - risk_free_rate / PERIODS_PER_YEAR
    years = n / PERIODS_PER_YEAR
    growth = float(equity[-1]) / start if n else 1.0
    nan = math.nan
    sd = float(np.std(excess, ddof=1)) if n > 1 else 0.0
    downside = (
        math.sqrt(float(np.mean(np.minimum(excess, 0.0) ** 2))) * math.sqrt(PERIODS_PER_YEAR)
        if n > 1
        else 0.0
    )
    cagr = _cagr(growth, years)
    values = np.concatenate(([start], equity))
    max_dd = float(np.min(values / np.maximum.accumulate(values) - 1.0)) if n else nan
    gross_win, gross_loss = float(pnl[pnl > 0].sum()), float(-pnl[pnl < 0].sum())
    exposure = np.asarray(equity_curve.exposure, dtype=np.float64)
    return {
        "sessions": float(n),
        "final_equity": float(equity[-1]) if n else start,
        "total_return": growth - 1.0 if n else nan,
        "cagr": cagr,
        "annual_volatility": sd * math.sqrt(PERIODS_PER_YEAR) if n > 1 else nan,
        "sharpe": float(np.mean(excess)) / sd * math.sqrt(PERIODS_PER_YEAR) if sd > 0 else nan,
        "sortino": float(np.mean(excess)) * PERIODS_PER_YEAR / downside if downside > 0 else nan,
        "max_drawdown": max_dd,
        "calmar": cagr / abs(max_dd) if math.isfinite(cagr) and max_dd and math.isfinite(max_dd) else nan,
        "exposure": float(np.nanmean(exposure)) if exposure.size else nan,
        "trades": float(pnl.size),
        "win_rate": float(np.mean(pnl > 0)) if pnl.size else nan,
        "expectancy": float(np.mean(pnl)) if pnl.size else nan,
        "expectancy_pct": float(np.mean(pct)) if pct.size else nan,
        "expectancy_r": float(np.mean(r_mult)) if r_mult.size else nan,
        "profit_factor": gross_win / gross_loss if gross_loss > 0 else nan,
    }


def _cagr(growth: float, years: float) -> float:
    if years <= 0 or not growth > 0:
        return math.nan
    try:
        return float(growth ** (1.0 / years) - 1.0)
    except OverflowError:
        return math.nan
