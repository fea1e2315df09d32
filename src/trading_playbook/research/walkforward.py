"""Walk-forward validation: optimise on a training window, trade the winner on the next test window.

Folds (calendar offsets from the start date asked for, then snapped to sessions): fold k trains on
``[s_k, s_k + train)`` and tests on ``[s_k + train, s_k + train + test)``, with ``s_k = start + k * step``
(``step`` defaults to ``test``; ``start`` is ``--start``, else the window's start in the config, else the
first session), so ``--start 2014-01-01 --train 3y --test 1y`` tests on calendar 2017, 2018, ...;
``anchored`` keeps every training window starting at ``start`` (an expanding window). The last test
window may be shorter when the data ends.

Out-of-sample stitching: fold k's test run starts with the ending equity of fold k-1's test run (the
first with the configured starting capital), so the test equity curves join into one curve and the
trades into one list; positions still open at a test window's end close there (``END_OF_TEST``), as a
trader re-optimising at that date would. A test run's indicators use history before its start (the
warm-up), never data after its end: the engine cuts the panel at ``end``.

Walk-forward efficiency (WFE), per fold: out-of-sample CAGR / in-sample CAGR of the selected trial;
overall: the stitched out-of-sample CAGR / the mean in-sample CAGR of the selected trials. Undefined
(None) when the in-sample CAGR is not positive. Around 0.5 or more is usually read as robust.
"""

from __future__ import annotations

import itertools
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from trading_playbook.core.errors import ConfigError
from trading_playbook.core.types import EquityCurve, RunResult
from trading_playbook.research.executors import Executor, LocalExecutor
from trading_playbook.research.optimize import OptimizeResult, OptimizeSettings, make_job, optimize
from trading_playbook.research.params import ParamSpec
from trading_playbook.research.store import TrialStore

__all__ = [
    "Fold",
    "FoldResult",
    "WalkForwardResult",
    "WalkForwardSettings",
    "make_folds",
    "parse_duration",
    "walk_forward",
]

_DURATION = re.compile(r"^\s*(\d+)\s*([ymwd])\s*$", re.IGNORECASE)


def parse_duration(text: str) -> pd.DateOffset:
    """``3y``, ``18m``, ``6w`` or ``90d`` (calendar days) as a pandas ``DateOffset``."""
    match = _DURATION.match(text or "")
    if not match or int(match.group(1)) == 0:
        raise ConfigError(
            f"duration {text!r}: write a positive number and a unit y, m, w or d (e.g. 3y, 18m)"
        )
    n, unit = int(match.group(1)), match.group(2).lower()
    return {
        "y": pd.DateOffset(years=n),
        "m": pd.DateOffset(months=n),
        "w": pd.DateOffset(weeks=n),
        "d": pd.DateOffset(days=n),
    }[unit]


@dataclass(frozen=True)
class Fold:
    """One fold's windows as ISO session dates (inclusive)."""

    index: int
    train_start: str
    train_end: str
    test_start: str
    test_end: str


def make_folds(
    sessions: np.ndarray,
    *,
    train: str,
    test: str,
    step: str | None = None,
    anchored: bool = False,
    start: str | None = None,
    end: str | None = None,
) -> list[Fold]:
    """Cut the sessions into walk-forward folds (see the module docstring).

    Parameters
    ----------
    sessions : array of datetime64
        Every session of the data, ascending.
    train, test, step : str
        Durations (``3y``, ``1y``, ...); ``step`` defaults to ``test``.
    anchored : bool
        Training windows all start at ``start`` (expanding) instead of rolling.
    start, end : str, optional
        Overall range; default the first and last session.
    """
    days = pd.DatetimeIndex(np.asarray(sessions).astype("datetime64[D]").astype("datetime64[ns]"))
    if days.empty:
        raise ConfigError("walk-forward needs data: the panel has no sessions")
    train_off, test_off = parse_duration(train), parse_duration(test)
    step_off = parse_duration(step) if step else test_off
    # The calendar the user asked for: windows are offsets from the given start date itself, not from
    # the first session on or after it (a 1y test window from 2017-01-01 is 2017, whatever day the
    # data's first session falls on).
    first = pd.Timestamp(start) if start else days[0]
    last = min(pd.Timestamp(end), days[-1]) if end else days[-1]
    folds: list[Fold] = []
    for k in range(100_000):
        if anchored:
            train_from, test_from = first, first + train_off + _times(step_off, k)
        else:
            train_from = first + _times(step_off, k)
            test_from = train_from + train_off
        if test_from > last:
            break
        window = _sessions_between(days, train_from, test_from)
        tested = _sessions_between(days, test_from, min(test_from + test_off, last + pd.Timedelta(days=1)))
        if window.empty or tested.empty:
            continue
        folds.append(
            Fold(
                index=len(folds),
                train_start=_iso(window[0]),
                train_end=_iso(window[-1]),
                test_start=_iso(tested[0]),
                test_end=_iso(tested[-1]),
            )
        )
    if not folds:
        raise ConfigError(
            f"walk-forward: no fold fits between {_iso(first)} and {_iso(last)} with --train {train} "
            f"--test {test}; shorten the windows or widen the data range"
        )
    return folds


@dataclass(frozen=True)
class WalkForwardSettings:
    """Windows and the per-fold optimisation (its ``start``/``end`` are set per fold)."""

    train: str = "3y"
    test: str = "1y"
    step: str | None = None
    anchored: bool = False
    start: str | None = None
    end: str | None = None
    optimize: OptimizeSettings = field(default_factory=OptimizeSettings)


@dataclass
class FoldResult:
    """In-sample selection and out-of-sample result of one fold."""

    fold: Fold
    best_params: dict[str, Any]
    in_sample: dict[str, float]
    out_of_sample: dict[str, Any]
    optimization: OptimizeResult
    test_run: RunResult
    selected: bool  # False: no eligible trial, the base parameters were traded

    @property
    def efficiency(self) -> float | None:
        """OOS CAGR / IS CAGR (None when the IS CAGR is not positive or either is undefined)."""
        return _efficiency(self.out_of_sample.get("cagr"), self.in_sample.get("cagr"))


@dataclass
class WalkForwardResult:
    """Every fold plus the stitched out-of-sample run."""

    settings: WalkForwardSettings
    specs: list[ParamSpec]
    folds: list[FoldResult]
    stitched: RunResult
    seconds: float

    @property
    def efficiency(self) -> float | None:
        """Stitched OOS CAGR / mean IS CAGR of the selected trials."""
        is_cagr = [f.in_sample.get("cagr") for f in self.folds]
        finite = [float(c) for c in is_cagr if c is not None and math.isfinite(c)]
        mean_is = sum(finite) / len(finite) if finite else None
        return _efficiency(self.stitched.metrics.get("cagr"), mean_is)

    def fold_table(self) -> pd.DataFrame:
        """One row per fold: windows, chosen parameters, IS vs OOS headline metrics, WFE, DSR, PBO."""
        rows = []
        for f in self.folds:
            opt = f.optimization
            row: dict[str, Any] = {
                "fold": f.fold.index,
                "train_start": f.fold.train_start,
                "train_end": f.fold.train_end,
                "test_start": f.fold.test_start,
                "test_end": f.fold.test_end,
                "selected": f.selected,
            }
            row.update({s.key: f.best_params.get(s.key) for s in self.specs})
            for name in ("sharpe", "cagr", "max_drawdown", "trades"):
                row[f"is_{name}"] = _num(f.in_sample.get(name))
                row[f"oos_{name}"] = _num(f.out_of_sample.get(name))
            row["wfe"] = _num(f.efficiency)
            row["dsr"] = opt.dsr.dsr if opt.dsr else math.nan
            row["pbo"] = opt.pbo.pbo if opt.pbo else math.nan
            row["trials"] = len(opt.table)
            rows.append(row)
        return pd.DataFrame(rows)

    def parameter_stability(self) -> pd.DataFrame:
        """Per parameter: the values chosen across folds, how often the most common one was chosen,
        how often the choice changed between consecutive folds, and (numeric) the spread of the
        choices relative to the searched range."""
        rows = []
        for spec in self.specs:
            chosen = [f.best_params.get(spec.key) for f in self.folds if f.selected]
            row: dict[str, Any] = {"param": spec.key, "folds": len(chosen)}
            if chosen:
                counts = pd.Series([repr(v) for v in chosen]).value_counts()
                row["distinct"] = int(counts.size)
                row["mode"] = next(v for v in chosen if repr(v) == counts.index[0])
                row["mode_share"] = float(counts.iloc[0] / len(chosen))
                row["changes"] = int(sum(repr(a) != repr(b) for a, b in itertools.pairwise(chosen)))
                numeric = [float(v) for v in chosen if isinstance(v, int | float) and not isinstance(v, bool)]
                span = _span(spec)
                if len(numeric) == len(chosen) and span:
                    row["mean"] = float(np.mean(numeric))
                    row["std"] = float(np.std(numeric))
                    row["std_over_range"] = float(np.std(numeric)) / span
                row["values"] = ", ".join(str(v) for v in chosen)
            rows.append(row)
        return pd.DataFrame(rows)


ProgressHook = Callable[[str, int, int], None]  # (label, done, total)


def walk_forward(
    config: Any,
    specs: list[ParamSpec],
    settings: WalkForwardSettings,
    *,
    store: TrialStore,
    workspace: Any = None,
    executor: Executor | None = None,
    engine: str = "fast",
    progress: ProgressHook | None = None,
    tpe_storage: str | None = None,
    job: Any = None,
) -> WalkForwardResult:
    """Run the walk-forward (see the module docstring).

    Parameters
    ----------
    config : PlaybookConfig
        Base configuration.
    specs : list of ParamSpec
        Parameters optimised per fold (none: every fold trades the base configuration).
    settings : WalkForwardSettings
        Windows and the per-fold optimisation settings.
    store : TrialStore
        Every fold's trials are recorded (a fold's study includes its window), so an interrupted
        walk-forward resumes.
    workspace : Workspace, optional
        Loaded data; loaded here from the config when ``None``. It serves the test runs (in this
        process) and is shipped once to every worker.
    executor : Executor, optional
        Default: a :class:`LocalExecutor` (closed on return). One pool serves every fold.
    job : BacktestJob, optional
        What trials and test runs call (default: a :class:`BacktestJob` of ``config`` and
        ``workspace``); it needs ``run`` and ``backtest``.
    """
    started = time.perf_counter()
    if workspace is None:
        from trading_playbook.engine import load_data

        workspace = load_data(config)
    sessions = _workspace_sessions(workspace)
    folds = make_folds(
        sessions,
        train=settings.train,
        test=settings.test,
        step=settings.step,
        anchored=settings.anchored,
        start=config.window(settings.start)[0],
        end=config.window(None, settings.end)[1],
    )
    if job is None:
        job = make_job(config, workspace=workspace, engine=engine)
    own_executor = executor is None
    run_executor: Executor = executor if executor is not None else LocalExecutor()
    results: list[FoldResult] = []
    capital = float(config.portfolio.starting_capital)
    try:
        for fold in folds:
            label = f"fold {fold.index + 1}/{len(folds)} train {fold.train_start}..{fold.train_end}"
            opt_settings = OptimizeSettings(
                method=settings.optimize.method,
                trials=settings.optimize.trials,
                objective=settings.optimize.objective,
                min_trades=settings.optimize.min_trades,
                seed=settings.optimize.seed,
                start=fold.train_start,
                end=fold.train_end,
                pbo_blocks=settings.optimize.pbo_blocks,
            )

            def hook(done: int, total: int, label: str = label) -> None:
                if progress is not None:
                    progress(label, done, total)

            opt = optimize(
                config,
                specs,
                opt_settings,
                store=store,
                executor=run_executor,
                job=job,
                engine=engine,
                progress=hook,
                tpe_storage=tpe_storage,
            )
            selected = opt.best_params is not None
            best = dict(opt.best_params) if opt.best_params is not None else {}
            test_run = job.backtest(
                workspace,
                {**best, "portfolio.starting_capital": capital},
                start=fold.test_start,
                end=fold.test_end,
            )
            if len(test_run.equity):
                capital = float(test_run.equity.equity[-1])
            results.append(
                FoldResult(
                    fold=fold,
                    best_params=best,
                    in_sample=dict(opt.best_metrics or {}),
                    out_of_sample=dict(test_run.metrics),
                    optimization=opt,
                    test_run=test_run,
                    selected=selected,
                )
            )
    finally:
        if own_executor:
            run_executor.close()
    stitched = stitch_runs(
        [r.test_run for r in results], config, settings, results, panel=getattr(workspace, "panel", None)
    )
    return WalkForwardResult(
        settings=settings,
        specs=specs,
        folds=results,
        stitched=stitched,
        seconds=time.perf_counter() - started,
    )


def stitch_runs(
    runs: list[RunResult],
    config: Any,
    settings: WalkForwardSettings,
    folds: list[FoldResult],
    *,
    panel: Any = None,
) -> RunResult:
    """Join test runs (each started from the previous one's ending equity) into one run with metrics.

    With the run's ``panel``, metrics are those of a backtest over the stitched window
    (:func:`trading_playbook.engine.with_metrics`: buy-and-hold benchmark, survivorship warning).
    """
    from trading_playbook.core.metrics import compute_metrics

    curves = [r.equity for r in runs if len(r.equity)]
    if not curves:
        raise ConfigError("walk-forward: no test window produced any session; check the data range")
    equity = EquityCurve(
        dates=np.concatenate([c.dates for c in curves]),
        equity=np.concatenate([c.equity for c in curves]),
        cash=np.concatenate([c.cash for c in curves]),
        positions=np.concatenate([c.positions for c in curves]),
        exposure=np.concatenate([c.exposure for c in curves]),
        sleeve_equity=_stitch_sleeves(curves),
    )
    trades = [t for r in runs for t in r.trades]
    cfg = dict(config.to_dict())
    cfg["walk_forward"] = {
        "train": settings.train,
        "test": settings.test,
        "step": settings.step or settings.test,
        "anchored": settings.anchored,
        "method": settings.optimize.method,
        "objective": settings.optimize.objective,
        "folds": [
            {"test_start": f.fold.test_start, "test_end": f.fold.test_end, "params": f.best_params}
            for f in folds
        ],
    }
    first = runs[0]
    data = dict(first.data)
    data["first_session"] = str(equity.dates[0])[:10]
    data["last_session"] = str(equity.dates[-1])[:10]
    data["sessions"] = len(equity)
    stitched = RunResult(
        trades=trades,
        equity=equity,
        config=cfg,
        data=data,
        starting_capital=float(config.portfolio.starting_capital),
        engine=first.engine,
    )
    if panel is not None:
        from trading_playbook.engine import window, with_metrics

        lo, hi = window(panel, equity.dates[0], equity.dates[-1])
        return with_metrics(stitched, config, panel, lo, hi)
    metrics = compute_metrics(stitched, risk_free_rate=float(config.report.risk_free_rate))
    return RunResult(
        trades=trades,
        equity=equity,
        config=cfg,
        data=data,
        starting_capital=stitched.starting_capital,
        engine=first.engine,
        metrics=metrics,
    )


def _stitch_sleeves(curves: list[EquityCurve]) -> dict[str, np.ndarray]:
    # Each fold's sleeve curves start from weight * that fold's starting capital (the previous fold's
    # ending equity), so they join like the total; sleeves must be the same in every fold.
    names = [tuple(c.sleeve_equity) for c in curves]
    if not names[0] or any(n != names[0] for n in names):
        return {}
    return {name: np.concatenate([c.sleeve_equity[name] for c in curves]) for name in names[0]}


def _times(offset: pd.DateOffset, k: int) -> pd.DateOffset:
    kwds = {name: value * k for name, value in offset.kwds.items()}
    return pd.DateOffset(**kwds)


def _workspace_sessions(workspace: Any) -> np.ndarray:
    panel = getattr(workspace, "panel", workspace)
    return np.asarray(panel.sessions)


def _sessions_between(days: pd.DatetimeIndex, lo: pd.Timestamp, hi: pd.Timestamp) -> pd.DatetimeIndex:
    return days[(days >= lo) & (days < hi)]


def _iso(ts: pd.Timestamp) -> str:
    return ts.strftime("%Y-%m-%d")


def _num(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return math.nan
    return number


def _efficiency(oos: Any, ins: Any) -> float | None:
    try:
        oos_f, ins_f = float(oos), float(ins)
    except (TypeError, ValueError):
        return None
    if not (math.isfinite(oos_f) and math.isfinite(ins_f)) or ins_f <= 0:
        return None
    return oos_f / ins_f


def _span(spec: ParamSpec) -> float:
    numeric = [float(v) for v in spec.values if isinstance(v, int | float) and not isinstance(v, bool)]
    return (max(numeric) - min(numeric)) if len(numeric) == len(spec.values) and numeric else 0.0
