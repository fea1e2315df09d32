"""Benchmark of the portfolio engine against its peers (issue 4, section 6).

Run on demand (never part of the test suite)::

    .venv/bin/python benchmarks/bench_backtest.py                 # everything, full shared data
    .venv/bin/python benchmarks/bench_backtest.py --symbols 50 --skip-peers --repeat 3

One run, one data set: the shared S&P 500 file (504 symbols, 1999-11 to 2021-04), split-adjusted
with ``bars_to_panel(df, "split")`` so every engine sees identical prices. It prints:

1. Ours, the full pipeline (``moderate`` preset, ``smart_exits``, 10 positions, whole range): warm
   compute split into indicators + setups and simulation (best of ``--repeat`` after one warm-up),
   then the ``playbook backtest`` CLI end to end (process start to exit, result.json written): a first
   run with a fresh ``NUMBA_CACHE_DIR`` (compilation included) and warm runs on the same cache, with
   the peak memory (max RSS) of each CLI process.
2. The peers on a comparable rule (20-day breakout, SMA50 trend, 1.5x volume, 8 % stop, 17-session
   time stop; see ``peers_common``): vectorbt signals + ``Portfolio.from_signals`` (warm),
   backtesting.py one symbol at a time, backtrader on a subset extrapolated (labelled), and our fast
   engine on the same comparable rule.
3. A table (engine, what was timed, seconds, ratio to our full compute) and the issue's bars.

The peers (vectorbt, backtesting.py, backtrader) are benchmark-only dependencies, used as libraries.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

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


@dataclass
class OursFull:
    """Warm compute figures of our full pipeline."""

    how: str
    indicators_setups: float
    simulation: float
    total_call: float  # the whole timed call (run_backtest or scan + run_fast), best of N
    trades: int
    timings: dict[str, float] = field(default_factory=dict)  # best per key of RunResult.timings
    fingerprint_match: bool | None = None

    @property
    def compute(self) -> float:
        return self.indicators_setups + self.simulation


@dataclass
class CliRun:
    label: str
    seconds: float
    max_rss_mb: float
    returncode: int
    result_written: bool


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


def _best_of(repeat: int, fn: Callable[[], Any]) -> tuple[float, Any]:
    """One warm-up call, then the best wall time of ``repeat`` calls and the last result."""
    result = fn()
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def _split_timings(timings: dict[str, float]) -> tuple[float, float]:
    """(indicators + setups, simulation) from a RunResult.timings dict, by key name."""
    setup_keys = ("indicator", "scan", "setup", "signal")
    sim_keys = ("simulat", "engine", "kernel", "run_fast", "portfolio")
    ind = sum(v for k, v in timings.items() if any(s in k.lower() for s in setup_keys))
    sim = sum(v for k, v in timings.items() if any(s in k.lower() for s in sim_keys))
    return ind, sim


def time_ours_facade(config_path: Path, repeat: int, panel: Panel) -> OursFull:
    """Our full run through ``trading_playbook.engine``: load once, then run_backtest warm."""
    from trading_playbook.engine import load_data, run_backtest

    from trading_playbook.config import load_config

    cfg = load_config(config_path)
    workspace = load_data(cfg)
    runs: list[Any] = []

    def once() -> Any:
        result = run_backtest(cfg, workspace=workspace, engine="fast")
        runs.append(result)
        return result

    total, result = _best_of(repeat, once)
    keys = {k for r in runs[1:] for k in (getattr(r, "timings", None) or {})}
    best = {k: min(float(r.timings[k]) for r in runs[1:] if k in r.timings) for k in sorted(keys)}
    ind, sim = _split_timings(best)
    ws_panel = getattr(workspace, "panel", None)
    match = None if ws_panel is None else ws_panel.fingerprint == panel.fingerprint
    return OursFull(
        how="trading_playbook.engine.run_backtest(cfg, workspace=ws, engine='fast')",
        indicators_setups=ind,
        simulation=sim,
        total_call=total,
        trades=len(result.trades),
        timings=best,
        fingerprint_match=match,
    )


def time_ours_direct(repeat: int, panel: Panel) -> OursFull:
    """Our full run from the core parts (used when the facade is not importable)."""
    from trading_playbook.core.exits.spec import named_exit
    from trading_playbook.core.scanners.daily_breakout import DailyBreakoutScanner
    from trading_playbook.core.simulate.fast import run_fast
    from trading_playbook.core.simulate.settings import PortfolioSettings, SleeveSpec
    from trading_playbook.core.sizing import PercentEquitySizer

    scanner = DailyBreakoutScanner(preset="moderate")
    sleeve = SleeveSpec(
        name="main",
        scanner=scanner,
        exit=named_exit("smart_exits"),
        sizer=PercentEquitySizer(),
        max_positions=10,
    )
    settings = PortfolioSettings(starting_capital=100_000.0)
    end = panel.n_sessions - 1
    scan_s, setups = _best_of(repeat, lambda: scanner.scan(panel))
    sim_s, (trades, _curve) = _best_of(
        repeat, lambda: run_fast(panel, [sleeve], settings, start=0, end=end, setups=[setups])
    )
    return OursFull(
        how="DailyBreakoutScanner('moderate').scan + run_fast (facade not importable)",
        indicators_setups=scan_s,
        simulation=sim_s,
        total_call=scan_s + sim_s,
        trades=len(trades),
    )


def time_ours_full(config_path: Path, repeat: int, panel: Panel) -> tuple[OursFull | None, str]:
    """The facade when it exists, else the core parts, else None with the reason."""
    try:
        return time_ours_facade(config_path, repeat, panel), ""
    except ImportError as exc:
        facade_error = f"facade: {exc}"
    try:
        return time_ours_direct(repeat, panel), facade_error
    except ImportError as exc:
        return None, f"{facade_error}; core: {exc}"


# ---------------------------------------------------------------------------------------- CLI


# A small launcher process starts the CLI and reports the CLI's own rusage. Spawning the CLI straight
# from this (large) benchmark process would make Linux count the forked copy of this process in the
# child's max RSS (the pre-exec memory's high-water mark is kept across exec).
_LAUNCHER = """
import json, os, sys, time
report, argv = sys.argv[1], sys.argv[2:]
start = time.perf_counter()
pid = os.posix_spawn(argv[0], argv, os.environ)
_, status, usage = os.wait4(pid, 0)
seconds = time.perf_counter() - start
with open(report, "w") as fh:
    json.dump({"seconds": seconds, "maxrss_kb": usage.ru_maxrss, "code": os.waitstatus_to_exitcode(status)}, fh)
"""


def run_cli(config_path: Path, label: str, env: dict[str, str]) -> CliRun:
    """One ``playbook backtest`` process: wall time from spawn to exit, its own max RSS (wait4)."""
    out = Path(tempfile.mkdtemp(prefix="bench_cli_out_"))
    log = out / "cli.log"
    report = out / "launcher.json"
    command = [str(PLAYBOOK), "backtest", str(config_path), "--out", str(out)]
    with log.open("wb") as sink:
        subprocess.run(
            [sys.executable, "-c", _LAUNCHER, str(report), *command],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=REPO,
            check=False,
        )
    measured = json.loads(report.read_text())
    code = int(measured["code"])
    written = any(out.rglob("result.json"))
    if code != 0 or not written:
        tail = log.read_text(errors="replace")[-1500:]
        print(f"  [cli {label}] exit code {code}, result.json written: {written}\n{tail}")
    return CliRun(label, float(measured["seconds"]), measured["maxrss_kb"] / 1024.0, code, written)


def time_cli(config_path: Path, repeat: int) -> list[CliRun]:
    """A first run on a fresh numba cache, then ``repeat`` warm runs on that cache."""
    cache = Path(tempfile.mkdtemp(prefix="bench_numba_cache_"))
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache))
    runs = [run_cli(config_path, "first run, fresh NUMBA_CACHE_DIR", env)]
    for i in range(repeat):
        runs.append(run_cli(config_path, f"warm run {i + 1}", env))
    return runs


# ---------------------------------------------------------------------------------------- peers


def time_peers(
    panel: Panel, args: argparse.Namespace, rule: ComparableRule
) -> tuple[list[PeerTiming], list[str]]:
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

    from peers_ours import run_ours_comparable

    section("ours on the comparable rule", lambda: run_ours_comparable(panel, rule, args.repeat))
    if not args.skip_peers:
        from peers_vectorbt import run_vectorbt

        section("vectorbt", lambda: run_vectorbt(panel, rule, args.repeat))
        from peers_backtesting import run_backtesting

        bt_symbols = pick_subset(panel.symbols, args.bt_symbols or panel.n_symbols)
        section("backtesting.py", lambda: run_backtesting(panel, bt_symbols, rule))
        from peers_backtrader import run_backtrader

        btr_symbols = pick_subset(panel.symbols, args.btr_symbols)
        section("backtrader", lambda: run_backtrader(panel, btr_symbols, rule))
    return rows, notes


# ---------------------------------------------------------------------------------------- report


def print_table(ours: OursFull | None, cli: list[CliRun], peers: list[PeerTiming]) -> None:
    base = ours.compute if ours else None
    table: list[tuple[str, str, float, str]] = []
    if ours:
        table.append(("ours (fast)", "full run: indicators + setups (warm)", ours.indicators_setups, ""))
        table.append(("ours (fast)", "full run: simulation (warm)", ours.simulation, ""))
        table.append(("ours (fast)", "full run: compute = setups + simulation", ours.compute, ""))
        table.append(("ours (fast)", "full run: whole timed call", ours.total_call, ""))
    for run in cli:
        table.append(
            ("ours (CLI)", f"playbook backtest, {run.label}", run.seconds, f"maxRSS {run.max_rss_mb:,.0f} MB")
        )
    for row in peers:
        extra = f"{row.trades} trades" if row.trades is not None else ""
        if row.extrapolated_from:
            extra = f"from {row.measured_seconds:.2f} s on {row.extrapolated_from} symbols"
        table.append((row.engine, row.what, row.seconds, extra))
    width = max(len(w) for _e, w, _s, _x in table)
    print(f"\n{'engine':<16} {'what was timed':<{width}} {'seconds':>10} {'x ours':>9}  note")
    print("-" * (16 + width + 35))
    for engine, what, seconds, extra in table:
        ratio = f"{seconds / base:8.2f}x" if base else "      n/a"
        print(f"{engine:<16} {what:<{width}} {seconds:>10.3f} {ratio}  {extra}")
    if base:
        print("(x ours = seconds / our full-run warm compute; > 1 means slower than ours)")


def print_bars(ours: OursFull | None, cli: list[CliRun], peers: list[PeerTiming]) -> None:
    def verdict(ok: bool | None) -> str:
        return "n/a " if ok is None else ("PASS" if ok else "FAIL")

    vbt = next((r for r in peers if r.engine == "vectorbt" and r.what.startswith("signals + ")), None)
    warm = [r for r in cli if r.label.startswith("warm") and r.returncode == 0 and r.result_written]
    first = cli[0] if cli else None
    compute = ours.compute if ours else None
    ratio = vbt.seconds / compute if (vbt and compute) else None
    warm_s = min(r.seconds for r in warm) if warm else None
    warm_median = statistics.median(r.seconds for r in warm) if warm else None
    peak = max((r.max_rss_mb for r in cli if r.returncode == 0 and r.result_written), default=None)
    print("\nThe issue's bars (issue 4, 'Done when'):")
    print(
        f"  [{verdict(None if compute is None else compute <= BAR_COMPUTE_S)}] warm compute of the full run "
        f"<= {BAR_COMPUTE_S} s: " + ("n/a" if compute is None else f"{compute:.3f} s")
    )
    print(
        f"  [{verdict(None if ratio is None else ratio >= BAR_VS_VECTORBT)}] >= {BAR_VS_VECTORBT:g}x faster than "
        "vectorbt signals + from_signals (comparable rule): "
        + ("n/a" if ratio is None else f"{ratio:.2f}x ({vbt.seconds:.3f} s vs {compute:.3f} s)")
    )
    print(
        f"  [{verdict(None if warm_s is None else warm_s <= BAR_CLI_WARM_S)}] CLI end to end, warm numba cache, "
        f"<= {BAR_CLI_WARM_S:g} s: "
        + ("n/a" if warm_s is None else f"best {warm_s:.2f} s, median {warm_median:.2f} s of {len(warm)}")
    )
    first_ok = None if first is None else (first.seconds <= BAR_CLI_FIRST_S and first.returncode == 0)
    print(
        f"  [{verdict(first_ok)}] CLI first run incl. compilation <= {BAR_CLI_FIRST_S:g} s: "
        + ("n/a" if first is None else f"{first.seconds:.2f} s (exit code {first.returncode})")
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
        "--repeat", type=int, default=5, help="timed repetitions after one warm-up (best kept)"
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

    print("\n[1] ours: full run (moderate preset, smart_exits, 10 positions, whole range)")
    ours, why = time_ours_full(config_path, args.repeat, panel)
    if ours is None:
        print(f"  not available yet: {why}")
    else:
        print(f"  via {ours.how}; {ours.trades} trades")
        if why:
            print(f"  ({why})")
        if ours.timings:
            print(
                "  RunResult.timings (best of runs): "
                + ", ".join(f"{k}={v:.3f}" for k, v in ours.timings.items())
            )
        if ours.fingerprint_match is not None:
            print(f"  workspace panel identical to the peers' panel: {ours.fingerprint_match}")

    cli: list[CliRun] = []
    if not args.skip_cli:
        print(f"\n[2] ours: CLI end to end ({PLAYBOOK.name} backtest CONFIG --out DIR)")
        cli = time_cli(config_path, args.cli_repeat)
        for run in cli:
            print(
                f"  {run.label}: {run.seconds:.2f} s, max RSS {run.max_rss_mb:,.0f} MB, exit {run.returncode}, "
                f"result.json written: {run.result_written}"
            )

    print("\n[3] the comparable rule (20-day breakout, SMA50, 1.5x volume, 8 % stop, 17-session time stop)")
    peers, notes = time_peers(panel, args, rule)
    print_table(ours, cli, peers)
    for note in notes:
        print(f"note: {note}")
    print_bars(ours, cli, peers)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
