"""On demand: ``playbook paper replay`` against ``playbook backtest --engine fast`` on the full shared data.

Run: ``.venv/bin/python benchmarks/replay_check.py [--start 2000-03-01] [--end 2021-04-21] [--only NAME]``.
For every built-in exit with both fill modes (``next_open/close`` and ``close/next_open``) and a
two-sleeve config, the whole S&P 500 file over the whole range: a fresh account replayed session by
session (its state saved to a journal and read back between every two sessions) must give the fast
engine's trades and equity (relative difference <= 1e-9). Prints one line per config with the trade
count, the largest relative differences, the replay's time and PASS/FAIL; exits 1 on any FAIL.
The CI test (``tests/regression/test_paper_replay.py``) runs the same comparison on a 48-symbol slice.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np

from trading_playbook.config import parse_config
from trading_playbook.core.exits.spec import NAMED_EXITS
from trading_playbook.engine import load_data, run_backtest
from trading_playbook.paper.replay import replay

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "sp500_daily.parquet"
FILLS = {"next_open/close": ("next_open", "close"), "close/next_open": ("close", "next_open")}


def configs(start: str, end: str) -> dict[str, str]:
    head = f'[data]\nsource = "file"\npath = "{DATA.resolve()}"\nstart = "{start}"\nend = "{end}"\n'
    out = {}
    for exit_name in sorted(NAMED_EXITS):
        for label, (entry_fill, exit_fill) in FILLS.items():
            out[f"{exit_name} {label}"] = head + textwrap.dedent(f"""
                [scanner]
                name = "daily_breakout"
                preset = "moderate"
                [exit]
                name = "{exit_name}"
                [portfolio]
                max_positions = 10
                entry_fill = "{entry_fill}"
                exit_fill = "{exit_fill}"
            """)
    out["two sleeves"] = head + textwrap.dedent("""
        [[sleeves]]
        name = "smart"
        weight = 0.6
        max_positions = 6
        scanner = { name = "daily_breakout", preset = "moderate" }
        exit = { name = "smart_exits" }
        [[sleeves]]
        name = "scaled"
        weight = 0.4
        max_positions = 5
        scanner = { name = "daily_breakout", preset = "relaxed" }
        exit = { name = "scaled_exits" }
        sizer = { name = "risk", fraction = 0.005 }
        [portfolio]
        commission_per_order = 1.0
    """)
    return out


def relative(a: np.ndarray, b: np.ndarray) -> float:
    scale = np.maximum(np.abs(a), np.abs(b))
    with np.errstate(invalid="ignore", divide="ignore"):
        rel = np.where(scale > 0, np.abs(a - b) / scale, 0.0)
    return float(rel.max()) if rel.size else 0.0


def compare(replayed, fast) -> tuple[bool, float, float]:  # type: ignore[no-untyped-def]
    if len(replayed.trades) != len(fast.trades):
        return False, float("inf"), float("inf")
    worst_trade = 0.0
    for a, b in zip(replayed.trades, fast.trades, strict=True):
        da, db = a.to_dict(), b.to_dict()
        for key, value in da.items():
            if isinstance(value, float):
                worst_trade = max(worst_trade, relative(np.array([value]), np.array([db[key]])))
            elif value != db[key]:
                return False, float("inf"), float("inf")
    worst_equity = max(
        relative(replayed.equity.equity, fast.equity.equity), relative(replayed.equity.cash, fast.equity.cash)
    )
    return worst_trade <= 1e-9 and worst_equity <= 1e-9, worst_trade, worst_equity


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--start", default="2000-03-01")
    parser.add_argument("--end", default="2021-04-21")
    parser.add_argument("--only", default=None, help="run the configs whose name contains this text")
    args = parser.parse_args()
    print(f"load average {os.getloadavg()}; data {DATA.resolve()}; {args.start} .. {args.end}", flush=True)
    workspace = None
    failures = 0
    for name, text in configs(args.start, args.end).items():
        if args.only and args.only not in name:
            continue
        cfg = parse_config(__import__("tomllib").loads(text), origin=name)
        workspace = workspace or load_data(cfg)
        fast = run_backtest(cfg, workspace=workspace, engine="fast", metrics=False)
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            replayed = replay(cfg, Path(tmp) / "out", workspace=workspace).result
            seconds = time.perf_counter() - t0
        ok, worst_trade, worst_equity = compare(replayed, fast)
        failures += not ok
        print(
            f"{name:32s} trades {len(fast.trades):6d}  sessions {len(fast.equity):5d}  max rel diff trades "
            f"{worst_trade:.1e} equity {worst_equity:.1e}  replay {seconds:6.1f} s  {'PASS' if ok else 'FAIL'}",
            flush=True,
        )
    print(f"load average {os.getloadavg()}", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
