"""``playbook optimize`` and ``playbook walk-forward``: parameter search and walk-forward validation."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

__all__ = ["register"]

ParamOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--param",
        "-p",
        help="KEY=START:STOP:STEP (inclusive range) or KEY=V1,V2,... e.g. scanner.min_volume_ratio=0.8:1.6:0.2, "
        "exit.time_stop=10,17,25. Repeat for several parameters.",
    ),
]
MethodOpt = Annotated[str, typer.Option("--method", help="grid | random | tpe (optuna).")]
TrialsOpt = Annotated[
    int | None, typer.Option("--trials", help="Number of trials (random/tpe: default 50; grid: all).")
]
ObjectiveOpt = Annotated[
    str,
    typer.Option(
        "--objective", help="Metric to maximise: sharpe | cagr | calmar | expectancy (or any metric)."
    ),
]
MinTradesOpt = Annotated[int, typer.Option("--min-trades", help="Trials with fewer trades are ineligible.")]
ExecutorOpt = Annotated[str, typer.Option("--executor", help="local (processes on this machine) | dask.")]
SchedulerOpt = Annotated[
    str | None, typer.Option("--scheduler", help="Dask scheduler address, e.g. tcp://10.0.0.5:8786.")
]
WorkersOpt = Annotated[int | None, typer.Option("--workers", help="Local worker processes (default: CPUs).")]
SeedOpt = Annotated[int, typer.Option("--seed", help="Seed of random and TPE sampling.")]
EngineOpt = Annotated[str, typer.Option("--engine", help="fast | reference.")]


def register(app: typer.Typer) -> None:
    """Add ``optimize`` and ``walk-forward`` to the root app."""
    app.command("optimize")(optimize_command)
    app.command("walk-forward")(walk_forward_command)


def optimize_command(
    config: Annotated[Path, typer.Argument(help="Playbook TOML configuration.", exists=True, dir_okay=False)],
    param: ParamOpt = None,
    method: MethodOpt = "grid",
    trials: TrialsOpt = None,
    objective: ObjectiveOpt = "sharpe",
    min_trades: MinTradesOpt = 30,
    start: Annotated[str | None, typer.Option("--start", help="Backtest window start (ISO date).")] = None,
    end: Annotated[str | None, typer.Option("--end", help="Backtest window end (ISO date).")] = None,
    out: Annotated[
        Path, typer.Option("--out", help="Output directory (also holds the resumable trial store).")
    ] = Path("optimize-out"),
    executor: ExecutorOpt = "local",
    scheduler: SchedulerOpt = None,
    workers: WorkersOpt = None,
    seed: SeedOpt = 0,
    engine: EngineOpt = "fast",
) -> None:
    """Search parameters (grid, random or TPE) in parallel; rank trials; report DSR and PBO.

    Rerunning the same command with the same --out resumes an interrupted run.
    """
    from trading_playbook.config import load_config
    from trading_playbook.research.optimize import OptimizeSettings, optimize, validate_overrides
    from trading_playbook.research.params import parse_params
    from trading_playbook.research.report import write_optimize_report

    cfg = load_config(config)
    specs = parse_params(param or [])
    validate_overrides(cfg, specs)  # before any data is loaded
    settings = OptimizeSettings(
        method=method,  # type: ignore[arg-type]  # validated by OptimizeSettings
        trials=trials,
        objective=objective,
        min_trades=min_trades,
        seed=seed,
        start=start,
        end=end,
    )
    console = _console()
    window = (start, end)
    with _research_run(cfg, console, out, executor, workers, scheduler, engine, window) as (
        workspace,
        store,
        pool,
        update,
    ):
        result = optimize(
            cfg,
            specs,
            settings,
            store=store,
            executor=pool,
            workspace=workspace,
            engine=engine,
            progress=lambda done, total: update("trials", done, total),
        )
    written = write_optimize_report(result, out)
    research_id = _record("optimize", out, written)
    _print_optimize_summary(console, result, written)
    console.print(f"recorded as research output {research_id} (playbook serve shows it)")


def walk_forward_command(
    config: Annotated[Path, typer.Argument(help="Playbook TOML configuration.", exists=True, dir_okay=False)],
    train: Annotated[str, typer.Option("--train", help="Training window: 3y, 18m, 26w, 90d.")] = "3y",
    test: Annotated[str, typer.Option("--test", help="Test window.")] = "1y",
    step: Annotated[str | None, typer.Option("--step", help="Step between folds (default: --test).")] = None,
    anchored: Annotated[
        bool, typer.Option("--anchored", help="Expanding training windows from the start.")
    ] = False,
    param: ParamOpt = None,
    method: MethodOpt = "grid",
    trials: TrialsOpt = None,
    objective: ObjectiveOpt = "sharpe",
    min_trades: MinTradesOpt = 30,
    start: Annotated[str | None, typer.Option("--start", help="First training session (ISO date).")] = None,
    end: Annotated[str | None, typer.Option("--end", help="Last test session (ISO date).")] = None,
    out: Annotated[Path, typer.Option("--out", help="Output directory.")] = Path("walk-forward-out"),
    executor: ExecutorOpt = "local",
    scheduler: SchedulerOpt = None,
    workers: WorkersOpt = None,
    seed: SeedOpt = 0,
    engine: EngineOpt = "fast",
) -> None:
    """Optimise on each training window, trade the winner on the next test window, stitch the results."""
    from trading_playbook.config import load_config
    from trading_playbook.research.optimize import OptimizeSettings, validate_overrides
    from trading_playbook.research.params import parse_params
    from trading_playbook.research.report import write_walkforward_report
    from trading_playbook.research.walkforward import WalkForwardSettings, parse_duration, walk_forward

    cfg = load_config(config)
    specs = parse_params(param or [])
    validate_overrides(cfg, specs)  # before any data is loaded
    for duration in (train, test, step):
        if duration is not None:
            parse_duration(duration)
    settings = WalkForwardSettings(
        train=train,
        test=test,
        step=step,
        anchored=anchored,
        start=start,
        end=end,
        optimize=OptimizeSettings(
            method=method,  # type: ignore[arg-type]  # validated by OptimizeSettings
            trials=trials,
            objective=objective,
            min_trades=min_trades,
            seed=seed,
        ),
    )
    console = _console()
    window = (start, end)
    with _research_run(cfg, console, out, executor, workers, scheduler, engine, window) as (
        workspace,
        store,
        pool,
        update,
    ):
        result = walk_forward(
            cfg,
            specs,
            settings,
            store=store,
            workspace=workspace,
            executor=pool,
            engine=engine,
            progress=update,
        )
    written = write_walkforward_report(result, out)
    research_id = _record("walk-forward", out, written)
    m = result.stitched.metrics
    wfe = result.efficiency
    console.print(
        f"[bold]{len(result.folds)} folds[/] in {result.seconds:.1f} s; stitched out of sample: "
        f"CAGR {_pct(m.get('cagr'))}, Sharpe {_num(m.get('sharpe'))}, max drawdown {_pct(m.get('max_drawdown'))}, "
        f"{m.get('trades', 0)} trades; walk-forward efficiency {'n/a' if wfe is None else f'{wfe:.2f}'}"
    )
    console.print(f"report: {written['md']}   backtest-format OOS report: {out / 'oos'}")
    console.print(f"recorded as research output {research_id} (playbook serve shows it)")


# --------------------------------------------------------------------------------------------- helpers


def _record(kind: str, out: Path, written: dict[str, Path]) -> str:
    """Record the output folder in the run registry (its ``summary.json`` is the headline)."""
    import json

    from trading_playbook.history import record_research

    return record_research(kind, out, json.loads(written["json"].read_text()))


def _console() -> Any:
    from rich.console import Console

    return Console(stderr=True)


@contextmanager
def _research_run(
    cfg: Any,
    console: Any,
    out: Path,
    executor: str,
    workers: int | None,
    scheduler: str | None,
    engine: str,
    window: tuple[str | None, str | None],
) -> Iterator[tuple[Any, Any, Any, Callable[[str, int, int], None]]]:
    """Data loaded once, the resumable trial store, the executor and a progress callback.

    Yields ``(workspace, store, pool, update)`` where ``update(label, done, total)`` advances the
    progress bar of ``label`` (one bar per label: "trials", or one per walk-forward fold). Ctrl-C
    stops the workers and says how many trials are saved for a resume (exit code 130).
    """
    from trading_playbook.research.executors import make_executor
    from trading_playbook.research.store import TrialStore

    workspace = _load_workspace(cfg, console)
    _first_call_probe(cfg, workspace, engine, window)
    with TrialStore(out / "trials.sqlite") as store:
        pool = make_executor(executor, workers=workers, scheduler=scheduler)
        try:
            with _ProgressBars(console) as (progress, task_for):

                def update(label: str, done: int, total: int) -> None:
                    progress.update(task_for(label), completed=done, total=total)

                yield workspace, store, pool, update
        except KeyboardInterrupt:
            pool.abort()
            console.print(
                f"[yellow]interrupted:[/] {store.count()} trials saved in {out / 'trials.sqlite'}; rerun the "
                "same command to resume",
                soft_wrap=True,
            )
            raise typer.Exit(130) from None
        finally:
            pool.close()


def _load_workspace(cfg: Any, console: Any) -> Any:
    from trading_playbook.engine import load_data

    started = time.perf_counter()
    with console.status("loading data"):
        workspace = load_data(cfg)
    console.print(f"data loaded in {time.perf_counter() - started:.1f} s")
    return workspace


def _first_call_probe(cfg: Any, workspace: Any, engine: str, window: tuple[str | None, str | None]) -> None:
    """Run the base configuration over the window's last sessions here, before any worker starts.

    With a cold numba cache this compiles the engine once, in this process, saying so (the workers
    then load it from the cache instead of each compiling it, silently); with a warm cache it costs a
    fraction of a second, and the base scanner's setups it computes are shipped to the workers.
    """
    from trading_playbook.cli._compile import compile_notice
    from trading_playbook.core.errors import PlaybookError
    from trading_playbook.engine import run_backtest
    from trading_playbook.engine import window as session_window

    panel = workspace.panel
    try:
        lo, hi = session_window(panel, *cfg.window(*window))
        start = panel.sessions[max(lo, hi - 20)]
        with compile_notice():
            run_backtest(
                cfg, workspace=workspace, start=start, end=panel.sessions[hi], engine=engine, metrics=False
            )
    except PlaybookError:
        pass  # the trials report what is wrong with their own parameters


class _ProgressBars:
    """A rich progress bar with ETA; ``task_for(label)`` makes one bar per label (one per fold)."""

    def __init__(self, console: Any) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=console,
        )
        self._tasks: dict[str, Any] = {}

    def task_for(self, label: str) -> Any:
        if label not in self._tasks:
            self._tasks[label] = self._progress.add_task(label, total=None)
        return self._tasks[label]

    def __enter__(self) -> tuple[Any, Any]:
        self._progress.start()
        return self._progress, self.task_for

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()


def _print_optimize_summary(console: Any, result: Any, written: dict[str, Path]) -> None:
    table = result.table
    eligible = int(table["eligible"].sum()) if not table.empty else 0
    console.print(
        f"[bold]{len(table)} trials[/] ({eligible} eligible; {result.trials_run} run, "
        f"{result.trials_resumed} resumed) in {result.seconds:.1f} s"
    )
    if result.best_params is not None:
        best = ", ".join(f"{k}={v}" for k, v in result.best_params.items())
        console.print(f"best {result.settings.objective} = {table['objective'].iloc[0]:.4g}: {best}")
    if result.dsr is not None:
        console.print(f"deflated Sharpe ratio {result.dsr.dsr:.3f} over {result.dsr.n_trials} trials")
    if result.pbo is not None:
        console.print(
            f"probability of backtest overfitting {result.pbo.pbo:.3f} ({result.pbo.n_splits} splits)"
        )
    for note in result.notes:
        console.print(f"[yellow]note:[/] {note}")
    console.print(f"report: {written['md']}")


def _pct(value: Any) -> str:
    return "n/a" if value is None else f"{100 * float(value):.1f}%"


def _num(value: Any) -> str:
    return "n/a" if value is None else f"{float(value):.2f}"
