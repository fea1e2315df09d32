"""Benchmark: walk-forward over 2003-2021 on the full shared data, 3-year training and 1-year test
windows (16 folds: tests 2006 .. 2020 and the partial 2021), local executor. Bar: <= 5 minutes.

Run: ``.venv/bin/python benchmarks/bench_walkforward.py [--workers 2]``

Per fold, an 18-trial grid: scanner.min_volume_ratio 1.0, 1.2, 1.5 x scanner.max_base_width 0.12, 0.15
x exit.time_stop 12, 17, 25 (288 optimisation trials in all), then the winner on the test year; the
timed part includes the reports (16 fold reports, the stitched out-of-sample backtest report).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from bench_optimize import base_config

BAR_SECONDS = 300.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    from trading_playbook.engine import load_data
    from trading_playbook.research.executors import LocalExecutor
    from trading_playbook.research.optimize import OptimizeSettings
    from trading_playbook.research.params import parse_params
    from trading_playbook.research.report import write_walkforward_report
    from trading_playbook.research.store import TrialStore
    from trading_playbook.research.walkforward import WalkForwardSettings, walk_forward

    load_before = os.getloadavg()
    cfg = base_config()
    t0 = time.perf_counter()
    workspace = load_data(cfg)
    t_load = time.perf_counter() - t0
    specs = parse_params(
        [
            "scanner.min_volume_ratio=1.0,1.2,1.5",
            "scanner.max_base_width=0.12,0.15",
            "exit.time_stop=12,17,25",
        ]
    )
    settings = WalkForwardSettings(
        train="3y",
        test="1y",
        start="2003-01-01",
        end="2021-12-31",
        optimize=OptimizeSettings(method="grid", objective="sharpe", min_trades=30),
    )
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        with TrialStore(Path(tmp) / "trials.sqlite") as store, LocalExecutor(args.workers) as pool:
            result = walk_forward(cfg, specs, settings, store=store, workspace=workspace, executor=pool)
            write_walkforward_report(result, Path(tmp) / "wf")
        elapsed = time.perf_counter() - t0
    m = result.stitched.metrics
    trials = sum(len(f.optimization.table) for f in result.folds)
    print(f"machine: {os.cpu_count()} CPUs, load average before {load_before}, after {os.getloadavg()}")
    print(f"data loaded in {t_load:.2f} s")
    print(
        f"walk-forward: {len(result.folds)} folds, {trials} optimisation trials + {len(result.folds)} test runs "
        f"with {args.workers} workers: {elapsed:.1f} s"
    )
    print(
        f"stitched OOS {result.folds[0].fold.test_start}..{result.folds[-1].fold.test_end}: "
        f"CAGR {m.get('cagr')}, Sharpe {m.get('sharpe')}, trades {m.get('trades')}, WFE {result.efficiency}"
    )
    print(
        f"bar: <= {BAR_SECONDS:.0f} s -> ratio {elapsed / BAR_SECONDS:.2f} {'PASS' if elapsed <= BAR_SECONDS else 'FAIL'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
