"""On demand: a simulated paper account stepped one session per process start over two years of the full
shared data matches the backtest of those two years exactly.

Run: ``.venv/bin/python benchmarks/paper_process_steps.py [--start 2018-01-02] [--sessions 504]``.
Creates an account (temporary PLAYBOOK_HOME) for the canonical config (moderate preset, smart_exits,
10 positions, the whole S&P 500 file), then starts ``playbook paper step --account A --until D`` once
per session D: each process loads the data, cuts it after D, restores the account from its journal
and processes that one session. Then it checks, against the fast backtest:

- every equity and cash row of the account equals the backtest's over the same sessions (the
  backtest run one session longer, so that its END_OF_TEST sale falls after them);
- the account's closed trades equal the backtest's trades closed by the last session, and its open
  positions are the backtest's trades still open then;
- ``playbook paper drift`` (the backtest of exactly the account's sessions) reports zero drift.

Prints the per-process time and PASS/FAIL; exits 1 on a failure. ``--check-every N`` also makes
the comparison after every N process starts (a long run then proves its prefix as it goes). The CI test
(``tests/integration/test_paper_process_steps.py``) does 20 process starts on a 48-symbol slice.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "sp500_daily.parquet"
PLAYBOOK = [sys.executable, "-c", "from trading_playbook.cli import main; main()"]
CONFIG = """[data]
source = "file"
path = "{path}"
start = "{start}"

[scanner]
name = "daily_breakout"
preset = "moderate"

[exit]
name = "smart_exits"

[portfolio]
max_positions = 10
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--start", default="2018-01-02")
    parser.add_argument("--sessions", type=int, default=504, help="sessions to step (504 = two years)")
    parser.add_argument(
        "--check-every",
        type=int,
        default=0,
        help="also compare with the backtest after every N process starts",
    )
    args = parser.parse_args()
    from trading_playbook.config import load_config
    from trading_playbook.engine import load_data
    from trading_playbook.paper.account import init_account

    print(f"load average {os.getloadavg()}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        config = Path(tmp) / "canonical.toml"
        config.write_text(CONFIG.format(path=DATA.resolve(), start=args.start))
        cfg = load_config(config)
        workspace = load_data(cfg)
        sessions = [str(d) for d in workspace.panel.sessions.astype("datetime64[D]")]
        first = sessions.index(args.start)
        days = sessions[first : first + args.sessions + 1]
        if len(days) < args.sessions + 1:
            raise SystemExit(f"the data has {len(days) - 1} sessions after {args.start}; ask for fewer")
        init_account(config, "canonical", home=home, start=days[0])
        env = {**os.environ, "PLAYBOOK_HOME": str(home)}
        t0 = time.perf_counter()
        for i, day in enumerate(days[:-1], 1):
            done = subprocess.run(
                [*PLAYBOOK, "paper", "step", "--account", "canonical", "--until", day, "--json"],
                capture_output=True, text=True, env=env, check=False,
            )  # fmt: skip
            stepped = [s["date"] for s in json.loads(done.stdout)["sessions"]] if done.returncode == 0 else []
            if stepped != [day]:
                print(f"FAIL: the process for {day} stepped {stepped}: {done.stderr[-2000:]}")
                return 1
            if i % 50 == 0:
                print(f"{i} processes, {(time.perf_counter() - t0) / i:.2f} s each", flush=True)
            checkpoint = args.check_every and i % args.check_every == 0 and i < len(days) - 1
            if checkpoint and not _check(cfg, workspace, home, days, i, (time.perf_counter() - t0) / i):
                return 1
        per_process = (time.perf_counter() - t0) / (len(days) - 1)
        ok = _check(cfg, workspace, home, days, len(days) - 1, per_process)
    print(f"load average {os.getloadavg()}", flush=True)
    return 0 if ok else 1


def _check(cfg: Any, workspace: Any, home: Path, days: list[str], n: int, per_process: float) -> bool:
    """After ``n`` process starts (sessions ``days[:n]`` stepped), compare the account with the backtest."""
    from trading_playbook.engine import run_backtest
    from trading_playbook.paper import queries
    from trading_playbook.paper.drift import compute_drift

    history = queries.equity_history("canonical", home)
    trades = queries.trades("canonical", home)
    held = queries.positions("canonical", home)
    os.environ["PLAYBOOK_HOME"] = str(home)
    drift = compute_drift("canonical", workspace=workspace)
    last = days[n - 1]
    longer = run_backtest(cfg, workspace=workspace, start=days[0], end=days[n], engine="fast", metrics=False)
    checks = {
        "equity rows": np.array_equal([h["equity"] for h in history], longer.equity.equity[:-1]),
        "cash rows": np.array_equal([h["cash"] for h in history], longer.equity.cash[:-1]),
        "closed trades": trades
        == json.loads(json.dumps([t.to_dict() for t in longer.trades if t.exit_date.isoformat() <= last])),
        "open positions": sorted((p["symbol"], p["entry_date"], p["original_shares"]) for p in held)
        == sorted(
            (t.symbol, t.entry_date.isoformat(), t.shares)
            for t in longer.trades
            if t.entry_date.isoformat() <= last < t.exit_date.isoformat()
        ),
        "zero drift": bool(drift["summary"]["zero_drift"]),
    }
    s = drift["summary"]
    print(
        f"{n} process starts ({days[0]} .. {last}), {per_process:.2f} s per process; "
        f"{len(trades)} closed trades, {len(held)} open positions; drift: same {s['same']}, open {s['open']}, "
        f"different {s['different']}, missed {s['missed']}, extra {s['extra']}, max equity difference "
        f"{s['max_equity_difference']}, mean slippage drift {s['mean_slippage_drift_bps']} bps"
    )
    for name, ok in checks.items():
        print(f"  {name:16s} {'PASS' if ok else 'FAIL'}", flush=True)
    return all(checks.values())


if __name__ == "__main__":
    sys.exit(main())
