"""The command a user feels: ``playbook backtest`` on the full shared data, warm caches (issue 14).

Issue 14's first bar: on a quiet machine, with a warm numba cache and a warm data cache,
``playbook backtest examples/sp500_breakout.toml`` from process start to exit takes <= 1.5 s with
``--no-charts`` and <= 2.5 s with every report and chart.

Each mode runs once untimed (numba's cache, the ``.pyc`` files and the page cache warm up), then the
modes take turns ``--repeat`` times (interleaved, so both see the same background load). Every run is
its own process, started by a small launcher (``posix_spawn`` + ``wait4``) so the wall time is spawn to
exit and the CPU time is the command's plus that of the workers it waited for (the chart worker).
``PYTHONDONTWRITEBYTECODE`` is removed from the environment (a user's Python writes ``.pyc`` files),
``PLAYBOOK_HOME`` points at a temporary folder and ``--no-record`` keeps the runs out of any run
registry. Each run passes ``--timings``; the phase table of the median run of each mode is printed.

    .venv/bin/python benchmarks/bench_cli.py                  # both modes, 5 timed runs each
    .venv/bin/python benchmarks/bench_cli.py --repeat 9 --modes no-charts

Prints the load average at start and end; PASS/FAIL is judged on the best wall time (the figure least
disturbed by other work), with the median beside it.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from _launcher import launch

REPO = Path(__file__).resolve().parents[1]
PLAYBOOK = Path(sys.executable).parent / "playbook"
BARS = {"no-charts": 1.5, "charts": 2.5}
FLAGS = {"no-charts": ["--no-charts"], "charts": []}

_ROW = re.compile(r"^[│|]\s*(.+?)\s*[│|]\s*([0-9.]+)\s*[│|]\s*$")


@dataclass
class Run:
    mode: str
    seconds: float
    cpu: float
    phases: dict[str, float] = field(default_factory=dict)


def run_once(config: Path, mode: str, env: dict[str, str], work: Path) -> Run:
    """One ``playbook backtest`` process of ``mode``; raises when the command fails."""
    out, log = work / f"out-{mode}", work / "cli.log"
    command = [str(PLAYBOOK), "backtest", str(config), "--out", str(out), "--no-record", "--timings"]
    measured = launch([*command, *FLAGS[mode]], work, env, REPO)
    text = log.read_text(errors="replace")
    if measured["code"] != 0 or not (out / "result.json").is_file():
        raise SystemExit(f"playbook backtest ({mode}) failed, exit code {measured['code']}:\n{text[-2000:]}")
    if mode == "charts" and not (out / "charts" / "equity.png").is_file():
        raise SystemExit("playbook backtest wrote no charts")
    phases = {m.group(1): float(m.group(2)) for m in map(_ROW.match, text.splitlines()) if m}
    return Run(mode, float(measured["seconds"]), float(measured["cpu"]), phases)


def _loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg()) + f" (1/5/15 min, {os.cpu_count()} CPUs)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, default=REPO / "examples" / "sp500_breakout.toml")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per mode (after one warm-up)")
    parser.add_argument("--modes", default="no-charts,charts", help="no-charts, charts or both")
    args = parser.parse_args(argv)
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    unknown = [m for m in modes if m not in BARS]
    if unknown:
        parser.error(f"unknown mode(s) {unknown}; choose from {list(BARS)}")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    work = Path(tempfile.mkdtemp(prefix="bench_cli_"))
    env["PLAYBOOK_HOME"] = str(work / "home")
    print(f"playbook backtest {args.config} (warm caches), {args.repeat} runs per mode")
    print(f"load average at start: {_loadavg()}")
    for mode in modes:  # warm-up: numba cache, .pyc files, page cache
        run_once(args.config, mode, env, work)
    runs: dict[str, list[Run]] = {m: [] for m in modes}
    for _ in range(args.repeat):
        for mode in modes:
            runs[mode].append(run_once(args.config, mode, env, work))
    print(f"load average at end:   {_loadavg()}\n")
    for mode in modes:
        timed = sorted(runs[mode], key=lambda r: r.seconds)
        median = timed[len(timed) // 2]
        print(
            f"{mode}: wall best {timed[0].seconds:.2f} s, median {statistics.median(r.seconds for r in timed):.2f} s;"
            f" CPU (user + system, workers included) best {min(r.cpu for r in timed):.2f} s"
        )
        print("  phases of the median run (--timings, seconds):")
        for name, seconds in median.phases.items():
            print(f"    {name:<44} {seconds:7.3f}")
    print("\nIssue 14's bars (quiet machine, warm caches, process start to exit):")
    for mode in modes:
        best = min(r.seconds for r in runs[mode])
        verdict = "PASS" if best <= BARS[mode] else "FAIL"
        what = "--no-charts" if mode == "no-charts" else "every report and chart"
        print(f"  [{verdict}] {what}: best {best:.2f} s <= {BARS[mode]:g} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
