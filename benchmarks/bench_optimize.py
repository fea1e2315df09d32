"""Benchmark: a 200-trial grid over two scanner parameters and one exit parameter on the full shared
data (504 symbols, 1999-11 to 2021-04), local executor on this machine. Bar: <= 120 s.

Run: ``.venv/bin/python benchmarks/bench_optimize.py [--workers 2] [--trials 200]``

``--exit-sweep``: issue 14's sweep instead, 500 trials of exit parameters only (``exit.hard_stop``
0.03..0.12 step 0.01 (10) x ``exit.time_stop`` 5..54 (50)) on the same data; the setups are scanned
once per worker, every trial simulates and scores. Bar: <= 20 s on 2 cores.

Grid: scanner.min_volume_ratio 0.8..1.7 step 0.1 (10) x scanner.max_base_width 0.10..0.18 step 0.02 (5)
x exit.time_stop 10, 15, 20, 25 (4) = 200 trials, ``moderate`` preset, ``smart_exits``, 10 positions.
The timed part is what ``playbook optimize`` does after loading the data: start the workers (each gets
the workspace once), run every trial, record it in SQLite, rank, DSR and PBO, and write the report.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / ".." / "shared" / "data" / "sp500_daily.parquet"
BAR_SECONDS = 120.0
SWEEP_BAR_SECONDS = 20.0
GRID = [
    "scanner.min_volume_ratio=0.8:1.7:0.1",
    "scanner.max_base_width=0.10:0.18:0.02",
    "exit.time_stop=10,15,20,25",
]
EXIT_SWEEP = ["exit.hard_stop=0.03:0.12:0.01", "exit.time_stop=5:54:1"]


def base_config():  # type: ignore[no-untyped-def]
    from trading_playbook.config import parse_config

    return parse_config(
        {
            "data": {"source": "file", "path": str(DATA.resolve()), "adjustment": "split"},
            "scanner": {"name": "daily_breakout", "preset": "moderate"},
            "exit": {"name": "smart_exits"},
            "portfolio": {"max_positions": 10},
        }
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--trials", type=int, default=None, help="cap the grid (default: all of it)")
    parser.add_argument(
        "--exit-sweep", action="store_true", help="issue 14: 500 exit-parameter trials (bar 20 s)"
    )
    args = parser.parse_args()

    from trading_playbook.engine import load_data, run_backtest
    from trading_playbook.research.executors import LocalExecutor
    from trading_playbook.research.optimize import OptimizeSettings, optimize
    from trading_playbook.research.params import parse_params
    from trading_playbook.research.report import write_optimize_report
    from trading_playbook.research.store import TrialStore

    load_before = os.getloadavg()
    cfg = base_config()
    t0 = time.perf_counter()
    workspace = load_data(cfg)
    t_load = time.perf_counter() - t0
    specs = parse_params(EXIT_SWEEP if args.exit_sweep else GRID)
    full, bar = (500, SWEEP_BAR_SECONDS) if args.exit_sweep else (200, BAR_SECONDS)
    n_grid = 1
    for s in specs:
        n_grid *= len(s.values)

    # One warm single run for reference (same process, numba cache warm).
    run_backtest(cfg, workspace=workspace)
    t0 = time.perf_counter()
    single = run_backtest(
        cfg.with_overrides({"scanner.min_volume_ratio": 1.3, "exit.time_stop": 12}), workspace=workspace
    )
    t_single = time.perf_counter() - t0

    marks: dict[str, float] = {}

    def progress(done: int, total: int) -> None:
        if done >= 1 and "first" not in marks:
            marks["first"] = time.perf_counter()
        if done == total:
            marks["last"] = time.perf_counter()

    with tempfile.TemporaryDirectory() as tmp:
        # A fresh workspace to ship: the workers build their memo caches themselves.
        ship = load_data(cfg)
        cpu0 = _cpu_seconds()
        t0 = time.perf_counter()
        with TrialStore(Path(tmp) / "trials.sqlite") as store, LocalExecutor(args.workers) as pool:
            result = optimize(
                cfg,
                specs,
                OptimizeSettings(method="grid", trials=args.trials, objective="sharpe", min_trades=30),
                store=store,
                executor=pool,
                workspace=ship,
                progress=progress,
            )
            t_optimized = time.perf_counter()
            write_optimize_report(result, Path(tmp) / "out")
            t_report = time.perf_counter()
        t_grid = time.perf_counter() - t0
        cpu = _cpu_seconds() - cpu0
    n = len(result.table)
    print(f"machine: {os.cpu_count()} CPUs, load average before {load_before}, after {os.getloadavg()}")
    print(
        f"data: {workspace.panel.n_symbols} symbols x {workspace.panel.n_sessions} sessions, loaded in {t_load:.2f} s"
    )
    print(
        f"single warm backtest (new scanner threshold, in-process): {t_single:.3f} s, {single.metrics.get('trades')} trades"
    )
    print(
        f"grid: {n} of {n_grid} trials with {args.workers} local workers: {t_grid:.1f} s "
        f"({t_grid / n:.3f} s per trial, {n / t_grid:.2f} trials/s)"
    )
    if result.best_params is not None:
        print(f"best sharpe {result.table['objective'].iloc[0]:.3f}: {result.best_params}")
    if result.dsr is not None and result.pbo is not None:
        print(
            f"deflated Sharpe ratio {result.dsr.dsr:.3f}; PBO {result.pbo.pbo:.3f} ({result.pbo.n_splits} splits)"
        )
    first, last = marks.get("first", t0), marks.get("last", t_optimized)
    print(
        f"phases: workers started and first trial done {first - t0:.1f} s; trials {last - first:.1f} s; "
        f"ranking, DSR and PBO {t_optimized - last:.1f} s; report {t_report - t_optimized:.1f} s; pool shut "
        f"down {t0 + t_grid - t_report:.1f} s; CPU of this process and its workers {cpu:.1f} s"
    )
    scaled = t_grid * (full / n)
    print(
        f"bar: {full} trials <= {bar:.0f} s -> {scaled:.1f} s (ratio {scaled / bar:.2f}) "
        f"{'PASS' if scaled <= bar else 'FAIL'}" + ("" if n == full else f" (EXTRAPOLATED from {n} trials)")
    )
    return 0


def _cpu_seconds() -> float:
    """User + system CPU of this process and of its children that ended (the pool's workers)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


if __name__ == "__main__":
    sys.exit(main())
