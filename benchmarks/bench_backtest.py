"""Benchmark of the portfolio engine against its peers (issue 4, section 6).

Run on demand (never part of the test suite)::

    .venv/bin/python benchmarks/bench_backtest.py                 # everything, full shared data
    .venv/bin/python benchmarks/bench_backtest.py --symbols 50 --skip-peers --repeat 3

One run, one data set: the shared S&P 500 file (504 symbols, 1999-11 to 2021-04), split-adjusted
with ``bars_to_panel(df, "split")`` so every engine sees identical prices. It prints:

1. Ours, the full pipeline (``moderate`` preset, ``smart_exits``, 10 positions, whole range): warm
   compute split into indicators + setups and simulation (best of ``--repeat`` after one warm-up,
   interleaved with the vectorbt runs), then the ``playbook backtest`` CLI end to end (spawn to
   result.json written, and to process exit): a first run with a fresh ``NUMBA_CACHE_DIR``
   (compilation included) and warm runs on the same cache, with CPU time and the peak memory
   (max RSS) of each CLI process.
2. The peers on a comparable rule (20-day breakout, SMA50 trend, 1.5x volume, 8 % stop, 17-session
   time stop; see ``peers_common``): vectorbt signals + ``Portfolio.from_signals`` (warm),
   backtesting.py one symbol at a time, backtrader on a subset extrapolated (labelled), and our fast
   engine on the same comparable rule.
3. A table (engine, what was timed, seconds, ratio to our full compute) and the issue's bars.

The peers (vectorbt, backtesting.py, backtrader) are benchmark-only dependencies, used as libraries.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _launcher import launch
from peers_common import DATA_PATH, ComparableRule, PeerTiming, load_panel, pick_subset

from trading_playbook.core.panel import Panel

REPO = Path(__file__).resolve().parents[1]
PLAYBOOK = REPO / ".venv" / "bin" / "playbook"

# the bars (section "Done when")
BAR_COMPUTE_S = 0.75
BAR_VS_VECTORBT = 2.0
BAR_CLI_WARM_S = 5.0
BAR_CLI_FIRST_S = 30.0
BAR_MEMORY_MB = 2048.0
# issue 14's bars ("Done when"): the command a user feels, the identical rule, metrics, no regression
BAR14_CLI_NO_CHARTS_S = 1.5
BAR14_CLI_REPORTS_S = 2.5
BAR14_VS_VECTORBT = 3.0
BAR14_METRICS_S = 0.1
BAR14_COMPUTE_S = 0.16


@dataclass
class CliRun:
    label: str
    seconds: float
    to_result: float | None  # seconds from spawn to result.json's modification time
    cpu_seconds: float  # user + system CPU time of the CLI process (robust to a busy machine)
    max_rss_mb: float
    returncode: int
    result_written: bool

    @property
    def bar_seconds(self) -> float:
        """The issue's measure: process start to result.json written (process exit if not found)."""
        return self.to_result if self.to_result is not None else self.seconds


# ---------------------------------------------------------------------------------------- config


def write_config(directory: Path, data_path: Path, symbols: list[str] | None) -> Path:
    """The benchmark's TOML config: full range, moderate preset, smart_exits, 10 positions."""
    lines = [
        "[data]",
        'source = "file"',
        f'path = "{data_path.resolve().as_posix()}"',
        'adjustment = "split"',
    ]
    if symbols:
        quoted = ", ".join(f'"{s}"' for s in symbols)
        lines.append(f"symbols = [{quoted}]")
    lines += [
        "",
        "[scanner]",
        'name = "daily_breakout"',
        'preset = "moderate"',
        "",
        "[exit]",
        'name = "smart_exits"',
        "",
        "[sizer]",
        'name = "percent_equity"',
        "",
        "[portfolio]",
        "starting_capital = 100000",
        "max_positions = 10",
        'entry_fill = "next_open"',
        'exit_fill = "close"',
        "slippage_bps = 5",
        "",
    ]
    path = directory / "bench_moderate_smart.toml"
    path.write_text("\n".join(lines))
    return path


# ---------------------------------------------------------------------------------------- ours


def _split_timings(timings: dict[str, float]) -> tuple[float, float]:
    """(indicators + setups, simulation) from a ``RunResult.timings`` dict.

    The facade reports ``setups_total`` (scanner features + setups, or the memo lookup) and
    ``simulation`` (``run_fast``: the exit rules' indicators, the kernel and decoding); ``load`` and
    ``metrics`` are not compute of the run.
    """
    if "simulation" in timings:
        return timings.get("setups_total", timings.get("setups", 0.0)), timings["simulation"]
    setup_keys = ("indicator", "scan", "setup", "signal", "prepare")
    ind = sum(v for k, v in timings.items() if any(s in k.lower() for s in setup_keys))
    sim = sum(v for k, v in timings.items() if "simulat" in k.lower() or "kernel" in k.lower())
    return ind, sim


class OursFacadeRunner:
    """Our full run through ``trading_playbook.engine``: data loaded once, ``run_backtest`` per run.

    Every run gets a fresh :class:`Workspace` on the loaded panel, so the scanner's features and
    setups (memoised per workspace for sweeps) are computed again each time: the timed compute is the
    whole run, indicators and setups included, not a memo lookup.
    """

    engine = "ours (fast)"
    steps = (
        ("indicators_setups", "full run: indicators + setups (warm)"),
        ("simulation", "full run: simulation (warm)"),
    )
    total_label = "full run: compute = indicators + setups + simulation"
    how = "trading_playbook.engine.run_backtest(cfg, workspace=ws, engine='fast')"

    def __init__(self, config_path: Path, panel: Panel) -> None:
        from trading_playbook.config import load_config
        from trading_playbook.engine import Workspace, load_data, run_backtest, window, with_metrics

        self._run_backtest = run_backtest
        self._window = window
        self._with_metrics = with_metrics
        self._workspace_type = Workspace
        self.cfg = load_config(config_path)
        self.workspace = load_data(self.cfg)
        self.result: Any = None
        self.n_symbols = panel.n_symbols
        ws_panel = getattr(self.workspace, "panel", None)
        self.fingerprint_match = None if ws_panel is None else ws_panel.fingerprint == panel.fingerprint

    def run(self) -> dict[str, float]:
        fresh = self._workspace_type(panel=self.workspace.panel, info=dict(self.workspace.info))
        c0, t0 = time.process_time(), time.perf_counter()
        result = self._run_backtest(self.cfg, workspace=fresh, engine="fast", metrics=False)
        t1, c1 = time.perf_counter(), time.process_time()
        timings = {str(k): float(v) for k, v in (getattr(result, "timings", None) or {}).items()}
        ind, sim = _split_timings(timings)
        panel = fresh.panel
        lo, hi = self._window(panel, self.cfg.data.start, self.cfg.data.end)
        c2, t2 = time.process_time(), time.perf_counter()
        self.result = self._with_metrics(result, self.cfg, panel, lo, hi)
        t3, c3 = time.perf_counter(), time.process_time()
        out = {"indicators_setups": ind, "simulation": sim, "call": t1 - t0, "cpu": c1 - c0}
        out |= {"metrics": t3 - t2, "metrics_cpu": c3 - c2}
        return out | {f"timings.{k}": v for k, v in timings.items()}

    def trades(self) -> int:
        return len(self.result.trades)


class OursDirectRunner:
    """Our full run from the core parts: the scanner's ``scan`` then ``run_fast`` (no facade needed)."""

    engine = "ours (fast)"
    steps = (
        ("indicators_setups", "full run: scanner.scan = indicators + setups (warm)"),
        ("simulation", "full run: run_fast = simulation (warm)"),
    )
    total_label = "full run: compute = scan + run_fast"
    how = "DailyBreakoutScanner(preset='moderate').scan(panel) + run_fast (smart_exits, 10 positions)"
    fingerprint_match = True

    def __init__(self, panel: Panel, records_only: bool = False) -> None:
        from trading_playbook.core.exits.spec import named_exit
        from trading_playbook.core.scanners.daily_breakout import DailyBreakoutScanner
        from trading_playbook.core.simulate.fast import run_fast, run_fast_records

        if records_only:  # the kernel's records, no Trade objects: like vectorbt's order records
            run_fast = run_fast_records
            self.steps = (
                ("indicators_setups", "full run, records only: scanner.scan (warm)"),
                ("simulation", "full run, records only: run_fast_records (warm)"),
            )
            self.total_label = "full run, records only: scan + run_fast_records"
        self.records_only = records_only
        from trading_playbook.core.simulate.settings import PortfolioSettings, SleeveSpec
        from trading_playbook.core.sizing import PercentEquitySizer

        self._run_fast = run_fast
        self.panel = panel
        self.n_symbols = panel.n_symbols
        self.scanner = DailyBreakoutScanner(preset="moderate")
        self.sleeve = SleeveSpec(
            name="main",
            scanner=self.scanner,
            exit=named_exit("smart_exits"),
            sizer=PercentEquitySizer(),
            max_positions=10,
        )
        self.settings = PortfolioSettings(starting_capital=100_000.0)
        self.result: Any = None

    def run(self) -> dict[str, float]:
        c0, t0 = time.process_time(), time.perf_counter()
        setups = self.scanner.scan(self.panel)
        t1 = time.perf_counter()
        end = self.panel.n_sessions - 1
        self.result = self._run_fast(
            self.panel, [self.sleeve], self.settings, start=0, end=end, setups=[setups]
        )
        t2, c2 = time.perf_counter(), time.process_time()
        return {"indicators_setups": t1 - t0, "simulation": t2 - t1, "call": t2 - t0, "cpu": c2 - c0}

    def trades(self) -> int:
        return len(self.result.trades) if self.records_only else len(self.result[0])


def ours_full_runner(config_path: Path, panel: Panel, direct: bool) -> tuple[Any | None, str]:
    """The facade runner when it exists (unless ``direct``), else the core parts, else None and why."""
    why = ""
    if not direct:
        try:
            return OursFacadeRunner(config_path, panel), ""
        except ImportError as exc:
            why = f"facade not importable ({exc})"
    try:
        return OursDirectRunner(panel), why
    except ImportError as exc:
        return None, f"{why}; core parts not importable ({exc})"


def interleave(runners: list[Any], repeat: int) -> list[dict[str, float]]:
    """One warm-up ``run()`` each, then ``repeat`` rounds running them in turn; best time per key.

    Interleaving keeps the ratios fair on a busy machine: every engine sees the same background load.
    The ``total`` key is the best per-run sum of the runner's steps (not the sum of the bests).
    """
    for runner in list(runners):
        try:
            runner.run()
        except Exception as exc:  # one engine failing (work in progress) must not hide the others
            print(
                f"  {runner.engine} ({runner.total_label}): FAILED on warm-up, left out: {type(exc).__name__}: {exc}"
            )
            runners.remove(runner)
    best: list[dict[str, float]] = [{} for _ in runners]
    for _ in range(repeat):
        for runner, out in zip(runners, best, strict=True):
            got = runner.run()
            got["total"] = sum(got[key] for key, _label in runner.steps)
            for key, value in got.items():
                out[key] = min(out.get(key, float("inf")), value)
    return best


def runner_rows(runner: Any, best: dict[str, float]) -> list[PeerTiming]:
    rows = [PeerTiming(runner.engine, label, best[key], runner.n_symbols) for key, label in runner.steps]
    cpu = f"CPU {best['cpu']:.3f} s" if "cpu" in best else ""
    rows.append(
        PeerTiming(
            runner.engine, runner.total_label, best["total"], runner.n_symbols, runner.trades(), note=cpu
        )
    )
    return rows


# ---------------------------------------------------------------------------------------- CLI


def run_cli(config_path: Path, label: str, env: dict[str, str], extra: list[str]) -> CliRun:
    """One ``playbook backtest`` process: wall time from spawn to exit, its own max RSS (wait4)."""
    work = Path(tempfile.mkdtemp(prefix="bench_cli_"))
    out = work / "out"
    log = work / "cli.log"
    command = [str(PLAYBOOK), "backtest", str(config_path), "--out", str(out), *extra]
    measured = launch(command, work, env, REPO)  # a launcher: the CLI's own rusage, not this process's
    code = int(measured["code"])
    results = list(out.rglob("result.json"))
    written = bool(results)
    to_result = results[0].stat().st_mtime - float(measured["start_epoch"]) if results else None
    if code != 0 or not written:
        tail = log.read_text(errors="replace")[-1500:]
        print(f"  [cli {label}] exit code {code}, result.json written: {written}\n{tail}")
    seconds, cpu = float(measured["seconds"]), float(measured["cpu"])
    return CliRun(label, seconds, to_result, cpu, measured["maxrss_kb"] / 1024.0, code, written)


def time_cli(config_path: Path, repeat: int, extra: list[str]) -> list[CliRun]:
    """A first run on a fresh numba cache, then ``repeat`` warm runs on that cache.

    ``PLAYBOOK_HOME`` points at a temporary folder so the runs do not enter the user's run registry.
    """
    cache = Path(tempfile.mkdtemp(prefix="bench_numba_cache_"))
    home = Path(tempfile.mkdtemp(prefix="bench_playbook_home_"))
    # a user's Python writes .pyc files: without them every run compiles ~60 modules again (~0.2 s)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(NUMBA_CACHE_DIR=str(cache), PLAYBOOK_HOME=str(home))
    runs = [run_cli(config_path, "first run, fresh NUMBA_CACHE_DIR", env, extra)]
    for i in range(repeat):
        runs.append(run_cli(config_path, f"warm run {i + 1}", env, extra))
    return runs


# ---------------------------------------------------------------------------------------- peers


def time_slow_peers(
    panel: Panel, args: argparse.Namespace, rule: ComparableRule
) -> tuple[list[PeerTiming], list[str]]:
    """backtesting.py and backtrader: long single runs (not interleaved)."""
    rows: list[PeerTiming] = []
    notes: list[str] = []

    def section(name: str, fn: Callable[[], tuple[list[PeerTiming], dict[str, float]]]) -> None:
        print(f"  {name} ...", flush=True)
        start = time.perf_counter()
        try:
            got, sanity = fn()
        except Exception as exc:  # a peer failing must not hide the other figures
            notes.append(f"{name}: FAILED ({type(exc).__name__}: {exc})")
            print(f"    failed: {type(exc).__name__}: {exc}")
            return
        rows.extend(got)
        shown = ", ".join(f"{k}={v:,.6g}" for k, v in sanity.items())
        print(f"    done in {time.perf_counter() - start:.1f} s wall (incl. warm-up); {shown}")

    from peers_backtesting import run_backtesting

    bt_symbols = pick_subset(panel.symbols, args.bt_symbols or panel.n_symbols)
    section("backtesting.py", lambda: run_backtesting(panel, bt_symbols, rule))
    from peers_backtrader import run_backtrader

    btr_symbols = pick_subset(panel.symbols, args.btr_symbols)
    section("backtrader", lambda: run_backtrader(panel, btr_symbols, rule))
    return rows, notes


# ---------------------------------------------------------------------------------------- report


def print_table(base: float | None, rows: list[PeerTiming], cli: list[CliRun]) -> None:
    """engine, what was timed, seconds, ratio to our full-run warm compute."""
    table: list[tuple[str, str, float, str]] = []
    for row in rows:
        extra = f"{row.trades} trades" if row.trades is not None else ""
        if row.extrapolated_from:
            extra = (
                f"EXTRAPOLATED from {row.measured_seconds:.2f} s measured on {row.extrapolated_from} symbols"
            )
        if row.note:
            extra = f"{extra}; {row.note}" if extra else row.note
        table.append((row.engine, row.what, row.seconds, extra))
    for run in cli:
        table.append(
            (
                "ours (CLI)",
                f"playbook backtest to result.json, {run.label}",
                run.bar_seconds,
                f"exit at {run.seconds:.2f} s; CPU {run.cpu_seconds:.2f} s; max RSS {run.max_rss_mb:,.0f} MB",
            )
        )
    width = max(len(w) for _e, w, _s, _x in table)
    print(f"\n{'engine':<15} {'what was timed':<{width}} {'seconds':>9} {'x ours':>9}  note")
    print("-" * (15 + width + 33))
    for engine, what, seconds, extra in table:
        ratio = f"{seconds / base:8.2f}x" if base else "      n/a"
        print(f"{engine:<15} {what:<{width}} {seconds:>9.3f} {ratio}  {extra}")
    if base:
        print(
            f"x ours = seconds / our full-run warm compute ({base:.3f} s); above 1 = slower than ours. "
            "In-process figures: best of the interleaved repeats after one warm-up."
        )


def print_bars(
    compute: float | None,
    vbt_total: float | None,
    cli: list[CliRun],
    cpu: dict[str, float] | None = None,
) -> None:
    """The issue's bars with PASS/FAIL on wall time (n/a when not measured); CPU time alongside."""
    cpu = cpu or {}

    def verdict(ok: bool | None) -> str:
        return "n/a " if ok is None else ("PASS" if ok else "FAIL")

    ok_runs = [r for r in cli if r.returncode == 0 and r.result_written]
    warm = [r for r in ok_runs if r.label.startswith("warm")]
    first = cli[0] if cli else None
    ratio = vbt_total / compute if (vbt_total and compute) else None
    warm_best = min(r.bar_seconds for r in warm) if warm else None
    warm_median = statistics.median(r.bar_seconds for r in warm) if warm else None
    peak = max((r.max_rss_mb for r in ok_runs), default=None)
    first_ok = None if first is None else first in ok_runs and first.bar_seconds <= BAR_CLI_FIRST_S
    print("\nThe issue's bars (issue 4, 'Done when'):")
    print(
        f"  [{verdict(None if compute is None else compute <= BAR_COMPUTE_S)}] warm compute of the full run "
        f"<= {BAR_COMPUTE_S} s: "
        + ("n/a" if compute is None else f"{compute:.3f} s")
        + (f" (CPU {cpu['ours']:.3f} s)" if "ours" in cpu else "")
    )
    print(
        f"  [{verdict(None if ratio is None else ratio >= BAR_VS_VECTORBT)}] >= {BAR_VS_VECTORBT:g}x faster than "
        "vectorbt signals + from_signals on the comparable rule: "
        + ("n/a" if ratio is None else f"{ratio:.2f}x (vectorbt {vbt_total:.3f} s / ours {compute:.3f} s)")
        + (
            f"; on CPU time {cpu['vectorbt'] / cpu['ours']:.2f}x"
            if "ours" in cpu and "vectorbt" in cpu
            else ""
        )
    )
    print(
        f"  [{verdict(None if warm_best is None else warm_best <= BAR_CLI_WARM_S)}] CLI end to end, warm numba "
        f"cache, <= {BAR_CLI_WARM_S:g} s: "
        + (
            "n/a"
            if warm_best is None
            else f"best {warm_best:.2f} s, median {warm_median:.2f} s of {len(warm)} "
            f"(CPU best {min(r.cpu_seconds for r in warm):.2f} s)"
        )
    )
    print(
        f"  [{verdict(first_ok)}] CLI first run incl. compilation <= {BAR_CLI_FIRST_S:g} s: "
        + (
            "n/a"
            if first is None
            else f"{first.bar_seconds:.2f} s to result.json, exit at {first.seconds:.2f} s, "
            f"CPU {first.cpu_seconds:.2f} s (exit code {first.returncode})"
        )
    )
    print(
        f"  [{verdict(None if peak is None else peak <= BAR_MEMORY_MB)}] peak memory (max RSS of a CLI process) "
        f"<= {BAR_MEMORY_MB:,.0f} MB: " + ("n/a" if peak is None else f"{peak:,.0f} MB")
    )


# ---------------------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--symbols", type=int, default=None, help="a spread subset of N symbols (quick run)")
    parser.add_argument("--skip-peers", action="store_true", help="no vectorbt/backtesting.py/backtrader")
    parser.add_argument("--skip-cli", action="store_true", help="do not time the playbook CLI")
    parser.add_argument(
        "--no-records-row",
        action="store_true",
        help="skip the extra 'records only' run of ours (scan + run_fast_records, no Trade objects)",
    )
    parser.add_argument("--profile", action="store_true", help="cProfile one warm full run of ours")
    parser.add_argument(
        "--direct", action="store_true", help="time our full run from scanner.scan + run_fast, not the facade"
    )
    parser.add_argument(
        "--repeat", type=int, default=5, help="timed repetitions after one warm-up (best kept)"
    )
    parser.add_argument(
        "--cli-args", default="", help="extra playbook backtest options, e.g. '--no-charts --no-record'"
    )
    parser.add_argument("--cli-repeat", type=int, default=3, help="warm CLI runs after the first one")
    parser.add_argument(
        "--bt-symbols",
        type=int,
        default=None,
        help="backtesting.py symbols (default all; fewer: extrapolated)",
    )
    parser.add_argument(
        "--btr-symbols", type=int, default=20, help="backtrader symbols in one cerebro (extrapolated)"
    )
    parser.add_argument(
        "--data", type=Path, default=DATA_PATH, help="the bar file (default the shared S&P 500 data)"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    rule = ComparableRule()
    print(f"data: {args.data.resolve()}")
    panel, load_s = load_panel(args.data, args.symbols)
    print(
        f"panel: {panel.n_symbols} symbols x {panel.n_sessions} sessions "
        f"({panel.sessions[0]} .. {panel.sessions[-1]}), {int(panel.available.sum()):,} bars, "
        f"split-adjusted; read + align {load_s:.2f} s"
    )
    print(
        f"machine: {os.cpu_count()} CPUs, python {sys.version.split()[0]}; repeat {args.repeat} (best kept)"
    )
    symbols = list(panel.symbols) if args.symbols else None
    workdir = Path(tempfile.mkdtemp(prefix="bench_backtest_"))
    config_path = write_config(workdir, args.data, symbols)
    print(f"config: {config_path}")

    print(f"load average at start: {_loadavg()}")

    print(
        "\n[1] in-process warm compute, interleaved (ours full run, ours and vectorbt on the comparable rule)"
    )
    ours_full, why = ours_full_runner(config_path, panel, args.direct)
    if ours_full is None:
        print(f"  ours full run not available: {why}")
    else:
        print(f"  ours full run via {ours_full.how}" + (f"  [{why}]" if why else ""))
        print(f"  workspace panel identical to the peers' panel: {ours_full.fingerprint_match}")
    from peers_ours import OursComparableRunner

    runners: list[Any] = [r for r in (ours_full,) if r is not None]
    if ours_full is not None and not args.no_records_row:
        runners.append(OursDirectRunner(panel, records_only=True))
    runners.append(OursComparableRunner(panel, rule))
    if not args.skip_peers:
        from peers_vectorbt import VectorbtRunner

        runners.append(VectorbtRunner(panel, rule))
    start = time.perf_counter()
    bests = interleave(runners, args.repeat)
    print(
        f"  {len(runners)} runners x (1 warm-up + {args.repeat} repeats) in {time.perf_counter() - start:.1f} s"
    )
    rows: list[PeerTiming] = []
    compute = vbt_total = None
    cpu_totals: dict[str, float] = {}
    comparable: dict[str, float] = {}
    metrics_s: dict[str, float] = {}
    for runner, best in zip(runners, bests, strict=True):
        rows.extend(runner_rows(runner, best))
        sanity = runner.sanity() if hasattr(runner, "sanity") else {"trades": float(runner.trades())}
        print(f"  {runner.engine}: " + ", ".join(f"{k}={v:,.6g}" for k, v in sanity.items()))
        if runner is ours_full:
            compute = best["total"]
            cpu_totals["ours"] = best["cpu"]
            rows.append(
                PeerTiming(runner.engine, "full run: the whole timed call", best["call"], runner.n_symbols)
            )
            if "metrics" in best:
                note = f"CPU {best['metrics_cpu']:.3f} s; not part of the compute bar"
                rows.append(
                    PeerTiming(
                        runner.engine,
                        "metrics of the run (with_metrics)",
                        best["metrics"],
                        runner.n_symbols,
                        note=note,
                    )
                )
            extra = {k[len("timings.") :]: v for k, v in best.items() if k.startswith("timings.")}
            if extra:
                print(
                    "    RunResult.timings (best of repeats): "
                    + ", ".join(f"{k}={v:.3f}" for k, v in extra.items())
                )
        if runner.engine == "vectorbt":
            vbt_total = best["total"]
            cpu_totals["vectorbt"] = best["cpu"]
        if type(runner).__name__ == "OursComparableRunner":
            comparable = {"wall": best["total"], **({"cpu": best["cpu"]} if "cpu" in best else {})}
        if runner is ours_full and "metrics" in best:
            metrics_s = {"wall": best["metrics"], "cpu": best.get("metrics_cpu", float("nan"))}

    if args.profile and ours_full is not None:
        print_profile(ours_full)

    cli: list[CliRun] = []
    if not args.skip_cli:
        extra = args.cli_args.split()
        shown = " ".join(["backtest", "CONFIG", "--out", "DIR", *extra])
        print(f"\n[2] ours: CLI end to end ({PLAYBOOK.name} {shown})")
        cli = time_cli(config_path, args.cli_repeat, extra)
        for run in cli:
            print(
                f"  {run.label}: result.json written at "
                + ("n/a" if run.to_result is None else f"{run.to_result:.2f} s")
                + f", process exit at {run.seconds:.2f} s wall, {run.cpu_seconds:.2f} s CPU, "
                f"max RSS {run.max_rss_mb:,.0f} MB, exit {run.returncode}, "
                f"result.json written: {run.result_written}"
            )

    notes: list[str] = []
    if not args.skip_peers:
        print("\n[3] slow peers on the comparable rule (one timed pass each)")
        slow, notes = time_slow_peers(panel, args, rule)
        rows.extend(slow)
    print(f"\nload average at end: {_loadavg()}")
    print(
        "comparable rule: 20-day breakout, close > SMA50, volume > 1.5x 20-day average, 8 % stop, 17-session time stop"
    )
    print_table(compute, rows, cli)
    for note in notes:
        print(f"note: {note}")
    print_bars(compute, vbt_total, cli, cpu_totals)
    print_bars_14(compute, vbt_total, comparable, metrics_s, cli, args.cli_args.split(), cpu_totals)
    return 0


def print_bars_14(
    compute: float | None,
    vbt_total: float | None,
    comparable: dict[str, float],
    metrics_s: dict[str, float],
    cli: list[CliRun],
    cli_args: list[str],
    cpu: dict[str, float],
) -> None:
    """Issue 14's bars: process start to exit of the warm CLI (``--no-charts`` or every report, by
    ``--cli-args``), the identical comparable rule against vectorbt, metrics, no compute regression."""

    def line(ok: bool | None, text: str) -> None:
        print(f"  [{'n/a ' if ok is None else ('PASS' if ok else 'FAIL')}] {text}")

    print("\nIssue 14's bars ('Done when'):")
    warm = [r for r in cli if r.returncode == 0 and r.label.startswith("warm")]
    no_charts = "--no-charts" in cli_args
    bar = BAR14_CLI_NO_CHARTS_S if no_charts else BAR14_CLI_REPORTS_S
    what = "--no-charts" if no_charts else "every report and chart"
    if warm:
        best = min(r.seconds for r in warm)
        median = statistics.median(r.seconds for r in warm)
        line(
            best <= bar,
            f"CLI process start to exit, warm caches, {what}, <= {bar:g} s: best {best:.2f} s, median "
            f"{median:.2f} s of {len(warm)} (CPU best {min(r.cpu_seconds for r in warm):.2f} s)",
        )
    else:
        line(None, f"CLI process start to exit, {what}, <= {bar:g} s: n/a")
    ratio = vbt_total / comparable["wall"] if vbt_total and comparable else None
    cpu_ratio = (
        f"; on CPU time {cpu['vectorbt'] / comparable['cpu']:.2f}x"
        if "vectorbt" in cpu and "cpu" in comparable
        else ""
    )
    line(
        None if ratio is None else ratio >= BAR14_VS_VECTORBT,
        f"identical comparable rule, signals + simulation >= {BAR14_VS_VECTORBT:g}x faster than vectorbt: "
        + (
            "n/a"
            if ratio is None
            else f"{ratio:.2f}x (vectorbt {vbt_total:.3f} s / ours {comparable['wall']:.3f} s){cpu_ratio}"
        ),
    )
    line(
        None if not metrics_s else metrics_s["wall"] <= BAR14_METRICS_S,
        f"metrics of the full run <= {BAR14_METRICS_S:g} s: "
        + ("n/a" if not metrics_s else f"{metrics_s['wall']:.3f} s (CPU {metrics_s['cpu']:.3f} s)"),
    )
    line(
        None if compute is None else compute <= BAR14_COMPUTE_S,
        f"full run's warm compute does not regress (<= {BAR14_COMPUTE_S:g} s): "
        + ("n/a" if compute is None else f"{compute:.3f} s"),
    )


def print_profile(runner: Any, top: int = 25) -> None:
    """cProfile of one warm full run: where our compute goes (functions by cumulative time)."""
    import cProfile
    import io
    import pstats

    profiler = cProfile.Profile()
    profiler.enable()
    runner.run()
    profiler.disable()
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(top)
    print("\n  cProfile of one warm full run (profiling overhead inflates Python-heavy parts):")
    for line in text.getvalue().splitlines():
        if line.strip() and not line.startswith(("   Ordered", "   List reduced")):
            print(f"    {line}")


def _loadavg() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg()) + f" (1/5/15 min, {os.cpu_count()} CPUs)"
    except OSError:
        return "n/a"


if __name__ == "__main__":
    raise SystemExit(main())
