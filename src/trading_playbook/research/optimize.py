"""Parameter optimisation: grid, random or TPE search over ``--param`` specs, resumable, in parallel.

Every trial is ``config.with_overrides(params)`` backtested over the same window; its flat metrics and
daily returns are recorded in the SQLite :class:`~trading_playbook.research.store.TrialStore`. The
objective (``sharpe``, ``cagr``, ``calmar``, ``expectancy`` or any other flat metric) ranks the trials;
a trial with fewer than ``min_trades`` trades, or an undefined objective, is ineligible and ranked
after every eligible one. The result carries the deflated Sharpe ratio of the best eligible trial
(over every trial tried) and the probability of backtest overfitting over all trials' returns.
"""

from __future__ import annotations

import difflib
import math
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from trading_playbook.core.errors import ConfigError, PlaybookError
from trading_playbook.core.overfitting import (
    DeflatedSharpe,
    PBOResult,
    deflated_sharpe_ratio,
    probability_of_backtest_overfitting,
    sharpe_per_period,
)
from trading_playbook.research.executors import Executor, LocalExecutor, TrialJob, TrialTask
from trading_playbook.research.params import ParamSpec, grid_points, random_points
from trading_playbook.research.store import StoredTrial, TrialStore, trial_key
from trading_playbook.research.trial import TRIAL_METRICS, BacktestJob

__all__ = [
    "OBJECTIVES",
    "OptimizeResult",
    "OptimizeSettings",
    "ProgressCallback",
    "objective_value",
    "optimize",
    "summarize_trials",
    "validate_overrides",
]

OBJECTIVES = ("sharpe", "cagr", "calmar", "expectancy")
DEFAULT_TRIALS = 50

#: ``progress(done, total)`` after every finished trial (resumed trials count as done at the start).
ProgressCallback = Callable[[int, int], None]


@dataclass(frozen=True)
class OptimizeSettings:
    """How to search.

    Attributes
    ----------
    method : {"grid", "random", "tpe"}
        ``grid`` runs every combination (``trials`` caps it, keeping grid order); ``random`` draws
        ``trials`` distinct grid points with ``seed``; ``tpe`` asks optuna's TPE sampler for ``trials``
        points, a batch of ``workers`` at a time.
    trials : int, optional
        Number of trials (``random``/``tpe``: default 50; ``grid``: all).
    objective : str
        Flat metric to maximise.
    min_trades : int
        Fewer trades make a trial ineligible.
    start, end : str, optional
        Backtest window (ISO dates); ``None`` uses the config's.
    pbo_blocks : int
        Even number of CSCV blocks (16 as in the paper; fewer when the window is short).
    """

    method: Literal["grid", "random", "tpe"] = "grid"
    trials: int | None = None
    objective: str = "sharpe"
    min_trades: int = 30
    seed: int = 0
    start: str | None = None
    end: str | None = None
    pbo_blocks: int = 16

    def __post_init__(self) -> None:
        if self.method not in ("grid", "random", "tpe"):
            raise ConfigError(f"--method must be grid, random or tpe, got {self.method!r}")
        if self.trials is not None and self.trials < 1:
            raise ConfigError(f"--trials must be >= 1, got {self.trials}")
        if self.min_trades < 0:
            raise ConfigError(f"--min-trades must be >= 0, got {self.min_trades}")
        _check_objective(self.objective)


@dataclass
class OptimizeResult:
    """What an optimisation produced (see :func:`optimize`)."""

    study: str
    settings: OptimizeSettings
    specs: list[ParamSpec]
    table: pd.DataFrame  # ranked; one row per trial
    returns: pd.DataFrame  # sessions x trial numbers, daily returns of every ok trial
    best_params: dict[str, Any] | None
    best_metrics: dict[str, float] | None
    dsr: DeflatedSharpe | None
    pbo: PBOResult | None
    trials_run: int  # run by this call
    trials_resumed: int  # found in the store
    seconds: float
    base_config: Any = None
    notes: list[str] = field(default_factory=list)

    @property
    def best_config(self) -> Any:
        """The base configuration with the best parameters and the searched window applied.

        Running it (``playbook backtest best.toml``) reproduces the best trial: the ``--start``/
        ``--end`` window lands in ``[backtest]`` (``None`` without an eligible trial).
        """
        if self.best_params is None or self.base_config is None:
            return None
        overrides: dict[str, Any] = dict(self.best_params)
        if self.settings.start:
            overrides["backtest.start"] = self.settings.start
        if self.settings.end:
            overrides["backtest.end"] = self.settings.end
        return self.base_config.with_overrides(overrides)


def objective_value(metrics: dict[str, float], objective: str, min_trades: int) -> float | None:
    """The objective of a trial, or ``None`` when it is ineligible (too few trades, undefined)."""
    trades = metrics.get("trades", math.nan)
    if not math.isfinite(trades) or trades < min_trades:
        return None
    value = metrics.get(objective, math.nan)
    return float(value) if math.isfinite(value) else None


def optimize(
    config: Any,
    specs: list[ParamSpec],
    settings: OptimizeSettings,
    *,
    store: TrialStore,
    executor: Executor | None = None,
    job: TrialJob | None = None,
    workspace: Any = None,
    engine: str = "fast",
    progress: ProgressCallback | None = None,
    tpe_storage: str | None = None,
) -> OptimizeResult:
    """Search the parameter space and rank the trials.

    Parameters
    ----------
    config : PlaybookConfig
        Base configuration; every trial applies its parameters with ``with_overrides``.
    specs : list of ParamSpec
        Parsed ``--param`` options.
    settings : OptimizeSettings
        Method, number of trials, objective, eligibility and window.
    store : TrialStore
        Where trials are recorded; trials already there for the same study are not run again.
    executor : Executor, optional
        Default: a :class:`LocalExecutor` with one worker per CPU (closed on return).
    job : TrialJob, optional
        Default: a :class:`BacktestJob` of ``config`` and ``workspace``; pass one to reuse the workers'
        state across calls (walk-forward folds).
    workspace : Workspace, optional
        Loaded data to ship to the workers (loaded by each worker from the config when ``None``).
    tpe_storage : str, optional
        Optuna storage URL for ``tpe`` (default: ``optuna.sqlite`` next to the trial store).

    Returns
    -------
    OptimizeResult
    """
    started = time.perf_counter()
    _check_objective(settings.objective)
    validate_overrides(config, specs)
    study = store.open_study(_study_spec(config, specs, settings, engine))
    own_executor = executor is None
    run_executor: Executor = executor if executor is not None else LocalExecutor()
    run_job: TrialJob = make_job(config, workspace=workspace, engine=engine) if job is None else job
    try:
        if settings.method == "tpe":
            storage = tpe_storage or f"sqlite:///{store.path.with_name('optuna.sqlite')}"
            ran, resumed = _run_tpe(run_executor, run_job, specs, settings, store, study, storage, progress)
        else:
            points = _points(specs, settings)
            ran, resumed = _run_points(run_executor, run_job, points, settings, store, study, progress)
    finally:
        if own_executor:
            run_executor.close()
    trials = store.trials(study)
    result = summarize_trials(trials, specs, settings, study=study)
    result.trials_run, result.trials_resumed = ran, resumed
    result.seconds = time.perf_counter() - started
    result.base_config = config
    return result


def make_job(config: Any, *, workspace: Any = None, engine: str = "fast") -> BacktestJob:
    """The default :class:`BacktestJob`; its token is unique per call, so workers never mistake another
    sweep's data for this one's (walk-forward passes one job to every fold to keep the workers' state)."""
    token = f"{config.config_hash}-{engine}-{uuid.uuid4().hex[:12]}"
    return BacktestJob(config=config, workspace=workspace, engine=engine, token=token)


# --------------------------------------------------------------------------------------------- running


def _points(specs: list[ParamSpec], settings: OptimizeSettings) -> list[dict[str, Any]]:
    if settings.method == "grid":
        points = grid_points(specs)
        return points[: settings.trials] if settings.trials else points
    return random_points(specs, settings.trials or DEFAULT_TRIALS, seed=settings.seed)


def _run_points(
    executor: Executor,
    job: TrialJob,
    points: list[dict[str, Any]],
    settings: OptimizeSettings,
    store: TrialStore,
    study: str,
    progress: ProgressCallback | None,
) -> tuple[int, int]:
    done_keys = store.completed_keys(study)
    tasks: list[TrialTask] = []
    keys: dict[int, str] = {}
    for number, params in enumerate(points):
        key = trial_key(params, settings.start, settings.end)
        if key in done_keys:
            continue
        keys[number] = key
        tasks.append(TrialTask(index=number, params=params, start=settings.start, end=settings.end))
    resumed = len(points) - len(tasks)
    _report(progress, resumed, len(points))
    finished = resumed
    for outcome in executor.run(job, tasks):
        store.record(study, outcome.index, keys[outcome.index], outcome)
        finished += 1
        _report(progress, finished, len(points))
    return len(tasks), resumed


def _run_tpe(
    executor: Executor,
    job: TrialJob,
    specs: list[ParamSpec],
    settings: OptimizeSettings,
    store: TrialStore,
    study_id: str,
    storage_url: str,
    progress: ProgressCallback | None,
) -> tuple[int, int]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = optuna.storages.RDBStorage(storage_url)
    sampler = optuna.samplers.TPESampler(seed=settings.seed, constant_liar=True)
    study = optuna.create_study(
        study_name=study_id, storage=storage, direction="maximize", sampler=sampler, load_if_exists=True
    )
    total = settings.trials or DEFAULT_TRIALS
    finished_states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.FAIL)
    resumed = len(study.get_trials(deepcopy=False, states=finished_states))
    # Trials asked but never told (the previous run was interrupted) are evaluated first.
    stale = [
        optuna.trial.Trial(study, t._trial_id)
        for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))
    ]
    _report(progress, resumed, total)
    ran = 0
    finished = resumed
    while finished < total:
        batch = stale[: total - finished]
        stale = stale[len(batch) :]
        for trial in batch:
            _suggest(trial, specs)  # completes a trial interrupted between ask and suggest
        while len(batch) < min(max(1, executor.workers), total - finished):
            trial = study.ask()
            _suggest(trial, specs)
            batch.append(trial)
        done = store.completed_keys(study_id)
        by_key: dict[str, list[Any]] = {}
        tasks: list[TrialTask] = []
        for trial in batch:
            params = {s.key: _snap(s, trial.params[s.key]) for s in specs}
            key = trial_key(params, settings.start, settings.end)
            if key not in by_key and key not in done:
                tasks.append(TrialTask(trial.number, params, settings.start, settings.end))
            by_key.setdefault(key, []).append(trial)
        for outcome in executor.run(job, tasks):
            key = trial_key(outcome.params, settings.start, settings.end)
            store.record(study_id, outcome.index, key, outcome)
            ran += 1
        for key, trials in by_key.items():
            value = _stored_objective(store.trial(study_id, key), settings)
            for trial in trials:
                # A repeated point is told the recorded value without running it again.
                if value is None:
                    study.tell(trial, state=optuna.trial.TrialState.FAIL)
                else:
                    study.tell(trial, value)
                finished += 1
                _report(progress, finished, total)
    return ran, resumed


def _suggest(trial: Any, specs: list[ParamSpec]) -> None:
    for spec in specs:
        if spec.kind == "range" and spec.start is not None and spec.stop is not None and len(spec.values) > 1:
            if spec.is_integer:
                trial.suggest_int(spec.key, int(spec.start), int(spec.stop), step=int(spec.step or 1))
            else:
                trial.suggest_float(spec.key, spec.start, float(spec.values[-1]), step=spec.step)
        else:
            trial.suggest_categorical(spec.key, list(spec.values))


def _snap(spec: ParamSpec, value: Any) -> Any:
    """The spec value nearest to an optuna suggestion (float steps drift: 1.2000000000000002)."""
    if spec.kind != "range":
        return value
    return min(spec.values, key=lambda v: abs(float(v) - float(value)))


def _stored_objective(trial: StoredTrial | None, settings: OptimizeSettings) -> float | None:
    if trial is None or trial.status != "ok":
        return None
    return objective_value(trial.metrics, settings.objective, settings.min_trades)


def _report(progress: ProgressCallback | None, done: int, total: int) -> None:
    if progress is not None:
        progress(done, total)


# --------------------------------------------------------------------------------------------- summary


def summarize_trials(
    trials: Iterable[StoredTrial], specs: list[ParamSpec], settings: OptimizeSettings, *, study: str = ""
) -> OptimizeResult:
    """Rank recorded trials and compute the deflated Sharpe ratio and PBO over them."""
    trials = list(trials)
    rows = []
    for t in trials:
        value = (
            objective_value(t.metrics, settings.objective, settings.min_trades) if t.status == "ok" else None
        )
        row: dict[str, Any] = {"trial": t.number}
        row.update({s.key: t.params.get(s.key) for s in specs})
        row.update(
            {
                "objective": value if value is not None else math.nan,
                "eligible": value is not None,
                "status": t.status,
            }
        )
        row.update({f"m.{k}": v for k, v in t.metrics.items()})
        row.update({"error": t.error or "", "seconds": t.seconds})
        rows.append(row)
    table = pd.DataFrame(rows)
    if not table.empty:
        table = table.sort_values(
            ["eligible", "objective", "trial"], ascending=[False, False, True], na_position="last"
        ).reset_index(drop=True)
        table.insert(0, "rank", np.arange(1, len(table) + 1))
    returns = _returns_matrix(trials)
    best_params = best_metrics = None
    dsr = pbo = None
    notes: list[str] = []
    if not table.empty and bool(table["eligible"].iloc[0]):
        best_number = int(table["trial"].iloc[0])
        best = next(t for t in trials if t.number == best_number)
        best_params, best_metrics = dict(best.params), dict(best.metrics)
        dsr = _dsr(best, returns, notes)
    else:
        notes.append(
            f"No trial is eligible (at least {settings.min_trades} trades and a defined "
            f"{settings.objective}); lower --min-trades or widen the window."
        )
    pbo = _pbo(returns, settings.pbo_blocks, notes)
    return OptimizeResult(
        study=study,
        settings=settings,
        specs=specs,
        table=table,
        returns=returns,
        best_params=best_params,
        best_metrics=best_metrics,
        dsr=dsr,
        pbo=pbo,
        trials_run=0,
        trials_resumed=0,
        seconds=0.0,
        notes=notes,
    )


def _returns_matrix(trials: list[StoredTrial]) -> pd.DataFrame:
    columns = {
        t.number: pd.Series(t.returns, index=pd.DatetimeIndex(t.dates.astype("datetime64[ns]")))
        for t in trials
        if t.status == "ok" and t.returns.size
    }
    if not columns:
        return pd.DataFrame()
    # Trials over the same window share sessions; align defensively (a missing session = flat).
    return pd.DataFrame(columns).sort_index().fillna(0.0)


def _dsr(best: StoredTrial, returns: pd.DataFrame, notes: list[str]) -> DeflatedSharpe | None:
    if best.number not in returns.columns or len(returns) < 3:
        notes.append("Deflated Sharpe ratio not computed: the best trial has fewer than 3 daily returns.")
        return None
    sharpes = np.asarray(sharpe_per_period(returns.to_numpy(), axis=0), dtype=np.float64)
    try:
        return deflated_sharpe_ratio(returns[best.number].to_numpy(), sharpes)
    except PlaybookError as exc:
        notes.append(f"Deflated Sharpe ratio not computed: {exc}")
        return None


def _pbo(returns: pd.DataFrame, blocks: int, notes: list[str]) -> PBOResult | None:
    n_obs, n_trials = returns.shape
    if n_trials < 2:
        notes.append("PBO not computed: it needs at least 2 trials with returns.")
        return None
    # Fewer blocks when the window is short: each block needs at least a few sessions.
    usable = min(blocks, 2 * max(1, n_obs // 20))
    usable -= usable % 2
    if usable < 2:
        notes.append(f"PBO not computed: {n_obs} sessions are too few to split.")
        return None
    if usable != blocks:
        notes.append(f"PBO uses {usable} blocks instead of {blocks}: the window has {n_obs} sessions.")
    try:
        return probability_of_backtest_overfitting(returns.to_numpy(), n_blocks=usable)
    except PlaybookError as exc:
        notes.append(f"PBO not computed: {exc}")
        return None


# --------------------------------------------------------------------------------------------- checks


def _check_objective(objective: str) -> None:
    """An unknown metric fails before any trial runs (not after a whole sweep of undefined values)."""
    if objective not in TRIAL_METRICS:
        close = difflib.get_close_matches(str(objective), TRIAL_METRICS, n=1, cutoff=0.5)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise ConfigError(
            f"--objective {objective!r} is not a metric a trial records; {hint}choose one of "
            f"{', '.join(TRIAL_METRICS)} (usually {', '.join(OBJECTIVES)})"
        )


def validate_overrides(config: Any, specs: list[ParamSpec]) -> None:
    """Fail fast, before any data is loaded or worker started: every key must validate, and so must
    every listed value and both ends of a range, down to the components they build (an unknown
    preset, a type error)."""
    from trading_playbook.config import PlaybookConfig
    from trading_playbook.engine import build_sleeves

    for spec in specs:
        if spec.key.split(".")[0] in ("data", "backtest"):
            raise ConfigError(
                f"--param {spec.key}: the data and the window are the same for every trial (the data is "
                "loaded once per sweep); run one optimisation per data setting, and give the window "
                "with --start/--end"
            )
        values = spec.values if spec.kind == "list" else (spec.values[0], spec.values[-1])
        for value in {repr(v): v for v in values}.values():
            trial = config.with_overrides({spec.key: value})
            if isinstance(trial, PlaybookConfig):
                build_sleeves(trial)


def _study_spec(
    config: Any, specs: list[ParamSpec], settings: OptimizeSettings, engine: str
) -> dict[str, Any]:
    # Ranking settings (objective, min_trades) do not change what a grid or random trial computes,
    # so rerunning with another objective reuses the recorded trials; TPE's choices depend on them.
    searched = settings.method == "tpe"
    return {
        "config_hash": config.config_hash,
        "params": [str(s) for s in specs],
        "method": settings.method,
        "trials": settings.trials if settings.method != "grid" else None,
        "seed": settings.seed if settings.method != "grid" else None,
        "objective": settings.objective if searched else None,
        "min_trades": settings.min_trades if searched else None,
        "start": settings.start,
        "end": settings.end,
        "engine": engine,
        "kind": "optimize",
    }
