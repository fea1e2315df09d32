"""`playbook backtest CONFIG` and `playbook check-lookahead CONFIG`."""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

__all__ = ["register"]

ConfigArg = Annotated[Path, typer.Argument(help="A TOML config file (see examples/).", show_default=False)]
StartOpt = Annotated[
    str | None, typer.Option("--start", help="First session (YYYY-MM-DD); default [data] start.")
]
EndOpt = Annotated[str | None, typer.Option("--end", help="Last session (YYYY-MM-DD); default [data] end.")]
SymbolsOpt = Annotated[
    str | None, typer.Option("--symbols", help="Comma-separated symbols restricting the universe.")
]
EngineOpt = Annotated[
    str, typer.Option("--engine", help="fast (numba, default) or reference (plain Python).")
]
RepairOpt = Annotated[
    bool,
    typer.Option(
        "--repair",
        help='Repair bad bars (drop or fix them, each change reported) instead of rejecting them; same as [data] validation = "repair".',
    ),
]
AllowMissingOpt = Annotated[
    bool,
    typer.Option(
        "--allow-missing",
        help="Run on a cached source that lost symbols (quarantined, interrupted ingest) instead of refusing; the missing ones are listed in result.json and the report. Same as [data] allow_missing = true.",
    ),
]


def _symbols(text: str | None) -> list[str] | None:
    if not text:
        return None
    return [s.strip().upper() for s in text.split(",") if s.strip()]


def _default_out(config: Path) -> Path:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    return Path("runs") / f"{config.stem}-{stamp}"


ChunkedOpt = Annotated[
    bool,
    typer.Option(
        "--chunked",
        help='Build and scan the data in blocks of symbols and keep only the prices the simulation reads (a universe bigger than memory; fast engine). Same as [data] mode = "chunked".',
    ),
]


def _load_config(
    config: Path, repair: bool = False, allow_missing: bool = False, chunked: bool = False
) -> Any:
    """The config with the command-line data options applied."""
    from trading_playbook._early_load import backtest_config

    return backtest_config(config, repair, allow_missing, chunked)


def backtest(
    config: ConfigArg,
    start: StartOpt = None,
    end: EndOpt = None,
    symbols: SymbolsOpt = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Output folder; default runs/<config>-<timestamp>. A previous run there is replaced.",
        ),
    ] = None,
    engine: EngineOpt = "fast",
    record: Annotated[
        bool, typer.Option("--record/--no-record", help="Record the run in the run registry.")
    ] = True,
    charts: Annotated[
        bool,
        typer.Option("--charts/--no-charts", help="Render the SVG charts (charts/*.svg) and report.html."),
    ] = True,
    repair: RepairOpt = False,
    allow_missing: AllowMissingOpt = False,
    chunked: ChunkedOpt = False,
    timings: Annotated[
        bool,
        typer.Option(
            "--timings",
            help="Print how long each phase took: import, config, runtime (numba's), kernels (loaded from numba's cache while the data is read), load, setups, simulation, metrics, each report, charts, record.",
        ),
    ] = False,
) -> None:
    """Run a backtest and write result.json, trades.csv, report.md, report.html and charts."""
    from trading_playbook import _early_load

    early = _early_load.take_early()  # the data read in a thread while the command imported
    try:
        _backtest(
            config,
            start,
            end,
            symbols,
            out,
            engine,
            record,
            charts,
            repair,
            allow_missing,
            chunked,
            timings,
            early,
        )
    except BaseException:
        if early is not None:
            early.cancel()
        raise


def _backtest(
    config: Path,
    start: str | None,
    end: str | None,
    symbols: str | None,
    out: Path | None,
    engine: str,
    record: bool,
    charts: bool,
    repair: bool,
    allow_missing: bool,
    chunked: bool,
    timings: bool,
    early: Any = None,
) -> None:
    """:func:`backtest`'s run; ``charts``: draw the charts (and report.html);
    ``early``: the data load started when the process started (``trading_playbook._early_load``)."""
    from trading_playbook._gc import collector_off, collector_paused

    with collector_paused():  # numba, the engine, the data layer: their objects never become garbage
        from rich.console import Console

        from trading_playbook._clock import process_age
        from trading_playbook.cli._compile import compile_notice, simulation_warmup
        from trading_playbook.cli._output import print_data_notes, skip_unseen_highlighting
        from trading_playbook.engine import import_run_modules, load_data, run_backtest, window
        from trading_playbook.reports import write_run
        from trading_playbook.reports.folder import check_out_dir, fresh_run_folder

        import_run_modules(engine)  # so that the phases below time work, not imports
    phases: dict[str, float] = {"import": process_age()}  # process start to here: interpreter + imports
    # no ":name:" codes (their table costs an import), no highlighting nobody sees
    console = skip_unseen_highlighting(Console(stderr=True, emoji=False))
    t0 = time.perf_counter()
    cfg = _load_config(config, repair, allow_missing, chunked)
    out_dir = check_out_dir(out if out is not None else _default_out(config))
    phases["config"] = time.perf_counter() - t0
    t1 = time.perf_counter()
    _initialize_runtime(cfg, engine)
    phases["runtime"] = time.perf_counter() - t1
    # the collector is off for the run and its reports (trades, rows: objects that live to the end);
    # what they leave alive is then frozen, so no collection walks it afterwards
    with (
        collector_off(keep=True) as collector,
        _resumed_on_compile(collector),
        compile_notice(),
        simulation_warmup(engine == "fast", while_waiting=_while_compiling),
    ):
        from trading_playbook._kernel_preload import backtest_kernels, load_beside, load_cached

        kernels = backtest_kernels(cfg, engine)
        if early is not None and not early.done():  # the data is still being read: load the kernels meanwhile
            t1 = time.perf_counter()
            load_cached(kernels, stop=early.done)
            phases["kernels"] = time.perf_counter() - t1
        with _status(console, "Loading data…"):
            workspace = load_data(
                cfg, progress=False, symbols=_symbols(symbols), chunked_ok=engine == "fast", early=early
            )
        rows = _RowsAhead()  # the report's rows, built while the metrics' bootstrap draws
        beside = rows.build
        loading = load_beside(kernels)  # those still to load, on a thread while the scan runs
        try:
            with _status(console, f"Simulating ({engine} engine)…"):
                result = run_backtest(
                    cfg, workspace=workspace, start=start, end=end, engine=engine, beside_metrics=beside
                )
        finally:
            if loading is not None:
                loading.join()
                phases["kernels.beside"] = loading.seconds
    phases.update({k: result.timings.get(k, 0.0) for k in ("load", "setups", "simulation", "metrics")})
    if rows.seconds is not None:  # (inside the metrics' time: shown on its own line)
        phases["metrics"] -= rows.seconds
        phases["report.rows"] = rows.seconds
    if "load.thread" in workspace.timings:  # read beside the imports: ``load`` is the wait for it
        phases["load.thread"] = workspace.timings["load.thread"]
    print_data_notes(console, result.data.get("repairs", []), result.data.get("warnings", []))
    if result.data.get("coverage"):
        from trading_playbook.reports.coverage import coverage_statement

        console.print(f"[yellow]{escape(coverage_statement(result.data['coverage']))}[/]", soft_wrap=True)
    for line in result.data.get("incomplete", []):
        console.print(
            f"[yellow]incomplete data (allowed):[/] {escape(line)}", highlight=False, soft_wrap=True
        )
    formats = ("json", "csv", "md", "html", "svg") if charts else ("json", "csv", "md")
    packing = _PackAhead()  # result.json compressed for the registry while the other reports are written
    with collector_off(keep=True), _status(console, "Writing reports…"), fresh_run_folder(out_dir) as staging:
        lo, hi = window(workspace.panel, result.data["first_session"], result.data["last_session"])
        benchmark = workspace.benchmark(cfg, lo, hi)  # the one the metrics used
        written = write_run(
            result,
            staging,
            panel=workspace.panel,
            formats=formats,
            benchmark=benchmark,
            timings=phases,
            rows=rows.prepared,
            after_json=packing.start if record else None,
        )
    written = {kind: out_dir / path.relative_to(staging) for kind, path in written.items()}
    run_id = None
    if record:
        from trading_playbook.history import record_run

        t1 = time.perf_counter()
        result.timings.update({k: v for k, v in phases.items() if k not in result.timings})
        run_id = record_run(result, out_dir, packed=packing.take())
        phases["record"] = time.perf_counter() - t1
    _print_summary(result, out_dir, written, run_id, time.perf_counter() - t0)
    if timings:
        phases["total"] = process_age()
        _print_timings(phases)


class _RowsAhead:
    """The document's trade and equity rows (:func:`~trading_playbook.reports.prepare_rows`), built
    by :meth:`build` while the metrics' bootstrap draws on its own threads (it releases the GIL), so
    the draws overlap Python work the reports would do after the metrics anyway."""

    def __init__(self) -> None:
        self.prepared: Any = None
        self.seconds: float | None = None

    def build(self, result: Any) -> None:
        from trading_playbook.reports import prepare_rows

        t0 = time.perf_counter()
        self.prepared = prepare_rows(result)
        self.seconds = time.perf_counter() - t0


class _PackAhead:
    """``result.json`` compressed for the run registry (:func:`~trading_playbook.history.pack_written_document`)
    on a thread, started as soon as the file is written: zlib releases the GIL, so the ~60 ms of a 5 MB
    document overlap the CSV and Markdown reports instead of following them."""

    def __init__(self) -> None:
        self._thread: threading.Thread | None = None
        self._packed: Any = None

    def start(self, path: Path) -> None:
        from trading_playbook.history import pack_written_document

        def pack() -> None:
            with contextlib.suppress(Exception):  # the record then reads the file itself, and says why not
                self._packed = pack_written_document(path.parent)

        self._thread = threading.Thread(target=pack, name="playbook-pack-result")
        self._thread.start()

    def take(self) -> Any:
        """The packed document (None when it was not started or failed), once the thread is done."""
        if self._thread is not None:
            self._thread.join()
        return self._packed


def _status(console: Any, text: str) -> Any:
    """``console.status(text)`` (a spinner) on a terminal; nothing elsewhere (a pipe or a log file
    shows no spinner anyway, and starting one costs its imports and a refresh thread, ~15 ms)."""
    if not console.is_terminal:
        return contextlib.nullcontext()
    from rich.text import Text  # a status given as text is not parsed for ":name:" emoji codes

    return console.status(Text(text))


def _resumed_on_compile(collector: Any) -> Any:
    """While the block runs, a numba compile (a first run) turns the collector back on first: a
    compile's IR is full of reference cycles (garbage the collector must see)."""
    from numba.core.event import Listener, install_listener

    class Resume(Listener):
        def on_start(self, event: Any) -> None:
            collector.resume()

        def on_end(self, event: Any) -> None:
            pass

    return install_listener("numba:compile", Resume())


def _initialize_runtime(cfg: Any, engine: str) -> None:
    """numba's runtime, its library loaded from beside numba's cache of the run's kernels
    (:mod:`trading_playbook._nrt_cache`) instead of compiled at the first kernel's load."""
    from trading_playbook._kernel_preload import backtest_kernels, cache_folder
    from trading_playbook._nrt_cache import initialize_runtime

    initialize_runtime(cache_folder(backtest_kernels(cfg, engine)))


def _print_timings(phases: dict[str, float]) -> None:
    """The phase table of ``--timings`` (stderr, so the summary on stdout stays as it is)."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Timings (process start to exit)")
    table.add_column("phase")
    table.add_column("seconds", justify="right")
    total = phases.get("total", 0.0)
    # ``load.thread``: the data read in a thread while the command imported, beside the command's
    # own phases (not part of its time)
    beside = {
        "load.thread": "(data read in a thread during the imports)",
        "kernels.beside": "(kernels loaded in a thread during the run)",
    }
    accounted = sum(v for k, v in phases.items() if k != "total" and k not in beside)
    for name, seconds in phases.items():
        if name in beside:
            table.add_row(beside[name], f"{seconds:.3f}", style="dim")
        elif name != "total":
            table.add_row(name, f"{seconds:.3f}")
    table.add_row("other (rich output, folder swap, ...)", f"{max(0.0, total - accounted):.3f}")
    table.add_row("total", f"{total:.3f}", style="bold")
    Console(stderr=True, emoji=False).print(table)


def _while_compiling() -> None:
    """Work the command does later anyway, done while the compile worker compiles the session loop
    (the first run's other core is busy, this one idle): compile the metrics' kernels, import what
    writing the charts and report.html needs."""
    from trading_playbook.core.metrics import compile_kernels

    compile_kernels()
    import trading_playbook.reports.charts
    import trading_playbook.reports.html  # noqa: F401


def _print_summary(
    result: Any, out_dir: Path, written: dict[str, Path], run_id: str | None, seconds: float
) -> None:
    from rich.console import Console
    from rich.table import Table

    from trading_playbook.cli._output import skip_unseen_highlighting
    from trading_playbook.reports import _format as f

    m = result.metrics
    console = skip_unseen_highlighting(Console(emoji=False))
    verdict = (m.get("verdict") or "").strip()
    if verdict:
        console.print(f"[bold]{verdict}[/]")
    table = Table(title=f"Backtest {result.data.get('first_session')} → {result.data.get('last_session')}")
    table.add_column("metric")
    table.add_column("value", justify="right")
    rows = [
        ("Final equity", f.money(m.get("final_equity"))),
        ("Total return", f.pct(m.get("total_return"), signed=True)),
        ("CAGR", f.pct(m.get("cagr"), signed=True)),
        ("Sharpe", f.num(m.get("sharpe"))),
        ("Max drawdown", f.pct(m.get("max_drawdown"))),
        ("Trades", f.num(m.get("trades"), 0)),
        ("Win rate", f.pct(m.get("win_rate"), signed=False)),
        ("Sample size", str((m.get("validation") or {}).get("sample_size_status", "—"))),
    ]
    for name, value in rows:
        table.add_row(name, value)
    console.print(table)
    console.print(
        f"Wrote {len(written)} files to [bold]{escape(str(out_dir))}[/] in {seconds:.1f} s",
        highlight=False,
        soft_wrap=True,
    )
    if run_id:
        # soft_wrap: a narrow terminal or a pipe must never break the ID a user copies
        console.print(
            f"Recorded as run [bold]{run_id}[/] (playbook runs show {run_id})",
            highlight=False,
            soft_wrap=True,
        )


def check_lookahead(
    config: ConfigArg,
    start: StartOpt = None,
    end: EndOpt = None,
    symbols: SymbolsOpt = None,
    engine: EngineOpt = "fast",
    cuts: Annotated[int, typer.Option("--cuts", min=1, help="How many cut sessions T to test.")] = 4,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the random futures.")] = 0,
    repair: RepairOpt = False,
    allow_missing: AllowMissingOpt = False,
) -> None:
    """Prove no decision uses later data: cut the data after T, and replace it by a random future."""
    from rich.console import Console

    from trading_playbook.cli._compile import compile_notice
    from trading_playbook.engine import build_sleeves, load_data, portfolio_settings, simulate, window
    from trading_playbook.lookahead import check_lookahead as run_check

    console = Console()
    cfg = _load_config(config, repair, allow_missing)
    workspace = load_data(cfg, symbols=_symbols(symbols))
    panel = workspace.panel
    lo, hi = window(panel, *cfg.window(start, end))
    panel = panel.truncate(hi)
    sleeves = build_sleeves(cfg)
    settings = portfolio_settings(cfg)

    def run(p: Any) -> Any:
        return simulate(p, sleeves, settings, start=lo, end=p.n_sessions - 1, engine=engine)

    with compile_notice(), console.status(f"Running {1 + 2 * cuts} backtests…"):
        report = run_check(run, panel, n_cuts=cuts, seed=seed, start=lo)
    if cfg.universe is not None:
        console.print(
            f"point-in-time universe {escape(cfg.universe.membership)} (policy {cfg.universe.policy}): "
            "membership rides on the data of every run",
            highlight=False,
        )
    console.print(report.summary() if hasattr(report, "summary") else str(report))
    if not report.passed:
        raise typer.Exit(code=1)


def register(app: typer.Typer) -> None:
    """Add ``backtest`` and ``check-lookahead`` to the root app."""
    app.command("backtest")(backtest)
    app.command("check-lookahead")(check_lookahead)
