"""The warm backtest's import phase, code against code (issue 14's first bar: the imports' share).

``playbook backtest --timings`` calls ``import`` everything from process start to the command's
first own work (the interpreter, the console script, typer, the engine and what
``engine.import_run_modules`` imports). This script runs exactly that through the console script's
entry point, stopping where ``--timings`` stops the phase, in fresh processes that take turns between
source trees (``--tree``, default: this checkout's ``src``; an older tree, e.g. ``git archive main
src | tar -x -C /tmp/before``, goes on ``PYTHONPATH`` the same way). The data is read by the command
itself, not beside the imports (``PLAYBOOK_EARLY_LOAD=0``), so the figure is the imports' own.

Two measures: wall and CPU time of each process, and the main thread's own CPU time (noisy on a busy
machine), and with ``--callgrind`` the number of instructions one process executes, in all and on its
main thread (valgrind's callgrind, threads counted apart; deterministic to a fraction of a percent,
unaffected by other work, about a minute per run). The main thread's count is the phase's critical
path when work moves to another thread (it leaves the main thread's count, not the process's).

    .venv/bin/python benchmarks/bench_imports.py --tree /tmp/before/src --tree src --repeat 7
    .venv/bin/python benchmarks/bench_imports.py --tree /tmp/before/src --tree src --callgrind

The data: the shared S&P 500 file ingested once into a temporary ``PLAYBOOK_CACHE_DIR`` (untimed), as
``bench_cli.py`` does; each tree runs one whole backtest first (untimed: numba's cache, the ``.pyc``
files and the console script's cache of generated code warm). Prints the load
average; no bar of its own (the bar is the whole command's, ``bench_cli.py``).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench_cli import CACHE_SOURCE, cache_config, ingest  # a sibling: the script's folder is on the path

REPO = Path(__file__).resolve().parents[1]


def phase_code(config: Path, out: Path) -> str:
    """The script of one process (prints wall since process start and CPU at the phase's end)."""
    return (
        "import os, sys, time\n"
        f"sys.argv = ['playbook', 'backtest', {str(config)!r}, '--out', {str(out)!r}, '--no-record', '--no-charts']\n"
        "import trading_playbook._clock as clock\n"
        "age = clock.process_age\n"
        "def stop():\n"
        "    t = os.times()\n"
        "    print('PHASE', age(), t.user + t.system, time.thread_time(), flush=True)\n"
        "    os._exit(0)\n"
        "clock.process_age = stop\n"
        "from trading_playbook._entry import main\n"
        "main()\n"
    )


def warm_up(tree: Path, config: Path, out: Path, env: dict[str, str]) -> None:
    """One whole ``playbook backtest`` of ``tree`` (untimed): numba's cache, the ``.pyc`` files and the
    console script's cache of generated code (written at a normal exit) warm."""
    code = (
        "import sys\n"
        f"sys.argv = ['playbook', 'backtest', {str(config)!r}, '--out', {str(out)!r}, '--no-record', '--no-charts']\n"
        "from trading_playbook._entry import main\n"
        "main()\n"
    )
    env = {**env, "PYTHONPATH": str(tree)}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{tree}: playbook backtest failed:\n{done.stderr[-2000:]}")


def _thread_instructions(path: Path) -> int | None:
    """The instructions callgrind counted in one thread's output file (its ``summary:`` line)."""
    if not path.is_file():
        return None
    found = re.search(r"^(?:summary|totals):\s+(\d+)", path.read_text(errors="replace"), re.MULTILINE)
    return int(found.group(1)) if found else None


def _loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--tree", action="append", type=Path, help="a source tree (its src folder); repeatable"
    )
    parser.add_argument("--repeat", type=int, default=7, help="timed processes per tree (after one warm-up)")
    parser.add_argument(
        "--callgrind", action="store_true", help="instructions of one process per tree instead"
    )
    parser.add_argument("--config", type=Path, default=REPO / "examples" / "sp500_breakout.toml")
    args = parser.parse_args(argv)
    trees = [t.resolve() for t in (args.tree or [REPO / "src"])]
    work = Path(tempfile.mkdtemp(prefix="bench_imports_"))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(
        PLAYBOOK_HOME=str(work / "home"), PLAYBOOK_CACHE_DIR=str(work / "cache"), PLAYBOOK_EARLY_LOAD="0"
    )
    ingest(args.config, env, work)
    config = cache_config(args.config, work)
    code = phase_code(config, work / "out")
    print(
        f"import phase of playbook backtest {args.config.name} ({CACHE_SOURCE} from the cache); load {_loadavg()}"
    )
    if args.callgrind:
        if shutil.which("valgrind") is None:
            raise SystemExit("--callgrind needs valgrind")
        for tree in trees:
            warm_up(tree, config, work / "out", env)
            done = subprocess.run(
                [
                    "valgrind",
                    "--tool=callgrind",
                    "--separate-threads=yes",
                    f"--callgrind-out-file={work / 'cg.out'}",
                    sys.executable,
                    "-c",
                    code,
                ],
                env={**env, "PYTHONPATH": str(tree), "PYTHONHASHSEED": "0"},
                capture_output=True,
                text=True,
                check=True,
            )
            refs = re.search(r"refs:\s+([\d,]+)", done.stderr)
            main_thread = _thread_instructions(work / "cg.out-01")
            on_main = f"{main_thread:,}" if main_thread is not None else "?"
            print(f"  {tree}: {refs.group(1) if refs else '?'} instructions, {on_main} on the main thread")
            for part in work.glob("cg.out-*"):
                part.unlink()
        return 0
    runs: dict[Path, list[tuple[float, float, float]]] = {tree: [] for tree in trees}
    for tree in trees:
        warm_up(tree, config, work / "out", env)
    for i in range(args.repeat + 1):
        for tree in trees:
            done = subprocess.run(
                [sys.executable, "-c", code],
                env={**env, "PYTHONPATH": str(tree)},
                capture_output=True,
                text=True,
            )
            found = re.search(r"PHASE ([\d.]+) ([\d.]+) ([\d.]+)", done.stdout)
            if done.returncode != 0 or found is None:
                raise SystemExit(f"{tree}: the import phase failed:\n{done.stderr[-2000:]}")
            if i:  # the first round runs beside caches still settling
                runs[tree].append((float(found.group(1)), float(found.group(2)), float(found.group(3))))
    print(f"load at end {_loadavg()}")
    for tree, measured in runs.items():
        walls, cpus, mains = zip(*measured, strict=True)
        print(
            f"  {tree}: wall best {min(walls):.3f} s, median {statistics.median(walls):.3f} s; "
            f"CPU best {min(cpus):.3f} s, median {statistics.median(cpus):.3f} s; "
            f"main thread's CPU best {min(mains):.3f} s, median {statistics.median(mains):.3f} s"
        )
    print("  [info] no bar of its own: issue 14's bar is the whole command's (bench_cli.py)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
