"""Reference engine timing on the full shared data, and its ratio to the fast engine.

Run: ``.venv/bin/python benchmarks/bench_reference.py``. Prints, per built-in exit (moderate preset,
percent_equity, 10 positions), the warm wall time of the setups scan, the reference simulation and
the fast simulation on the same precomputed setups, and whether both gave identical trades.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd

from trading_playbook.core.exits.spec import NAMED_EXITS, named_exit
from trading_playbook.core.panel import bars_to_panel
from trading_playbook.core.scanners.daily_breakout import DailyBreakoutScanner
from trading_playbook.core.simulate.reference import run_reference
from trading_playbook.core.simulate.settings import PortfolioSettings, SleeveSpec
from trading_playbook.core.sizing import PercentEquitySizer

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "sp500_daily.parquet"


class _Precomputed:
    """A scanner whose vectorised scan returns a table computed once (times the simulation alone)."""

    def __init__(self, table: object) -> None:
        self.table = table

    def scan(self, panel: object) -> object:
        return self.table


def main() -> None:
    panel = bars_to_panel(pd.read_parquet(DATA))
    scanner = DailyBreakoutScanner(preset="moderate")
    scanner.scan(panel)
    t0 = time.perf_counter()
    table = scanner.scan(panel)
    scan_s = time.perf_counter() - t0
    print(
        f"panel {panel.n_sessions} sessions x {panel.n_symbols} symbols; setups {len(table)} in {scan_s:.2f} s"
    )
    try:
        from trading_playbook.core.simulate.fast import run_fast
    except ImportError:  # the fast engine is optional for this script
        run_fast = None
    settings = PortfolioSettings()
    end = panel.n_sessions - 1
    for name in sorted(NAMED_EXITS):
        sleeve = SleeveSpec(
            "main", _Precomputed(table), named_exit(name), PercentEquitySizer(), max_positions=10
        )
        t0 = time.perf_counter()
        ref = run_reference(panel, [sleeve], settings, start=0, end=end)
        ref_s = time.perf_counter() - t0
        line = f"{name:20s} reference {ref_s:6.2f} s  trades {len(ref[0]):6d}"
        if run_fast is not None:
            real = SleeveSpec("main", scanner, named_exit(name), PercentEquitySizer(), max_positions=10)
            run_fast(panel, [real], settings, start=0, end=end, setups=[table])
            t0 = time.perf_counter()
            fast = run_fast(panel, [real], settings, start=0, end=end, setups=[table])
            fast_s = time.perf_counter() - t0
            same = fast[0] == ref[0] and np.array_equal(fast[1].equity, ref[1].equity)
            line += f"  fast {fast_s:6.3f} s  ratio {ref_s / fast_s:6.1f}x  identical {same}"
        print(line)


if __name__ == "__main__":
    main()
