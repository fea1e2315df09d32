"""The fast engine alone: where the warm simulation time goes (run on demand, never in tests).

    .venv/bin/python benchmarks/bench_fast.py [--repeat 7] [--exit smart_exits] [--preset moderate]

Full shared data (504 symbols, 1999-11 .. 2021-04, split-adjusted), the ``moderate`` breakout preset,
``smart_exits``, 10 positions, trading from 2000-03-01. The setups are computed once (the scanner is
timed separately); then, best of ``--repeat`` warm runs: ``run_fast`` end to end, and its parts:
the bar index (each symbol's first/last bar and gaps; EMA arrays only when a rule reads an EMA), the
setup arrays, the kernel call (it computes SMA / ATR / previous-bar values at the bars it reads), and
decoding the records into ``Trade`` objects. Also the
reference engine once on the same inputs, for the ratio.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd

from trading_playbook.core.exits.spec import named_exit
from trading_playbook.core.panel import bars_to_panel
from trading_playbook.core.scanners import DailyBreakoutScanner
from trading_playbook.core.simulate import fast
from trading_playbook.core.simulate.reference import run_reference
from trading_playbook.core.simulate.settings import PortfolioSettings, SleeveSpec
from trading_playbook.core.sizing import PercentEquitySizer

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "sp500_daily.parquet"


def best(fn, repeat: int) -> tuple[float, object]:  # type: ignore[no-untyped-def]
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--exit", default="smart_exits")
    parser.add_argument("--preset", default="moderate")
    parser.add_argument("--positions", type=int, default=10)
    parser.add_argument("--skip-reference", action="store_true")
    args = parser.parse_args()

    panel = bars_to_panel(pd.read_parquet(DATA), adjustment="split")
    start, end = panel.session_index("2000-03-01"), panel.n_sessions - 1
    scanner = DailyBreakoutScanner(args.preset)
    scanner.scan(panel)  # compile
    t_scan, table = best(lambda: scanner.scan(panel), 3)
    sleeves = [
        SleeveSpec("main", scanner, named_exit(args.exit), PercentEquitySizer(), max_positions=args.positions)
    ]
    settings = PortfolioSettings()
    setups = [table]

    fast.run_fast(panel, sleeves, settings, start=start, end=end, setups=setups)  # compile / load the cache
    t_total, result = best(
        lambda: fast.run_fast(panel, sleeves, settings, start=start, end=end, setups=setups), args.repeat
    )
    t_records, run = best(
        lambda: fast.run_fast_records(panel, sleeves, settings, start=start, end=end, setups=setups),
        args.repeat,
    )
    compiled = fast.compile_sleeves(sleeves, settings)
    t_ind, bars = best(lambda: fast._bars(panel, end, compiled), args.repeat)
    ranks = fast._symbol_ranks(panel)
    t_setups, _ = best(lambda: fast._setup_rows(setups, compiled, bars, start, end, ranks), args.repeat)
    t_decode, trades = best(lambda: run.decode(panel), args.repeat)  # type: ignore[attr-defined]

    print(
        f"data: {panel.n_symbols} symbols x {panel.n_sessions} sessions; backtest {panel.sessions[start]}..{panel.sessions[end]}"
    )
    print(
        f"config: {args.preset} / {args.exit} / {args.positions} positions; {len(table)} setups, {len(trades)} trades"
    )
    print(f"scanner.scan (setups, warm, best of 3)      {t_scan:8.3f} s")
    print(f"run_fast end to end (warm, best of {args.repeat})     {t_total:8.3f} s")
    print(f"  bars + bar index (+ EMAs if a rule reads one) {t_ind:5.3f} s")
    print(f"  setup arrays (ranked, per-session pointers) {t_setups:7.3f} s")
    print(f"  kernel (SMA5/ATR10/prev close at held bars) {t_records - t_ind - t_setups:7.3f} s")
    print(f"  decode records -> Trade objects          {t_decode:8.3f} s")
    print(f"setups + simulation                        {t_scan + t_total:8.3f} s")
    if not args.skip_reference:
        t0 = time.perf_counter()
        ref_trades, _ = run_reference(panel, sleeves, settings, start=start, end=end)
        t_ref = time.perf_counter() - t0
        same = [t.to_dict() for t in ref_trades] == [t.to_dict() for t in result[0]]  # type: ignore[index]
        print(
            f"reference engine (same setups)             {t_ref:8.3f} s   ratio {t_ref / t_total:6.1f}x   identical trades: {same}"
        )


if __name__ == "__main__":
    main()
