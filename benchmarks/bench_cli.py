"""The command a user feels: ``playbook backtest`` on the full shared data, warm caches (issue 14).

Issue 14's first bar: on a quiet machine, with a warm numba cache and a warm data cache,
``playbook backtest`` of ``examples/sp500_breakout.toml``'s strategy from process start to exit takes
<= 1.5 s with ``--no-charts`` and <= 2.5 s with every report and chart.

Two sources (``--source``): ``cache`` is the bar's "warm data cache", this package's own cache: the
config's file is ingested once (``playbook data ingest``, untimed) into a temporary
``PLAYBOOK_CACHE_DIR`` and the same strategy is run with ``[data] source = "cache"`` (a warm load reads
one pack file); ``file`` runs the config as it is (the Parquet file read and validated by every run).
The script checks that both give the same trades. The bars are judged on the cache source; the file
source's figures are printed beside them.

Each mode runs once untimed (numba's cache, the ``.pyc`` files and the page cache warm up), then the
modes take turns ``--repeat`` times (interleaved, so both see the same background load). Every run is
its own process, started by a small launcher (``posix_spawn`` + ``wait4``) so the wall time is spawn to
exit and the CPU time is the command's plus that of any child process it waited for.
``PYTHONDONTWRITEBYTECODE`` is removed from the environment (a user's Python writes ``.pyc`` files),
``PLAYBOOK_HOME`` points at a temporary folder, so each run is recorded in a temporary run registry,
as the command does by default (``--no-record`` here passes ``--no-record``). Each run passes ``--timings``; the phase table of the median run of each mode is printed.

    .venv/bin/python benchmarks/bench_cli.py                  # both modes, both sources, 5 runs each
    .venv/bin/python benchmarks/bench_cli.py --repeat 9 --modes no-charts --source cache

Prints the load average at start and end; PASS/FAIL is judged on the median wall time (one lucky run
does not pass a bar most runs miss), with the best beside it.

``--baseline SRC`` also runs another tree of the package (its ``src`` folder, e.g. from
``git archive <rev> src | tar -x -C /tmp/before``, put first on ``PYTHONPATH``) in turns with this
one, run by run, and prints both (with the time after the imports, ``total - import``, of each run):
an A/B in the same minutes. The bars are judged on this tree only.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from _launcher import launch

REPO = Path(__file__).resolve().parents[1]
PLAYBOOK = Path(sys.executable).parent / "playbook"
BARS = {"no-charts": 1.5, "charts": 2.5}
FLAGS = {"no-charts": ["--no-charts"], "charts": []}
SOURCES = ("cache", "file")
CACHE_SOURCE = "sp500"  # the name the config's file is ingested under

_ROW = re.compile(r"^[│|]\s*(.+?)\s*[│|]\s*([0-9.]+)\s*[│|]\s*$")


@dataclass
class Run:
    source: str
    mode: str
    seconds: float
    cpu: float
    phases: dict[str, float] = field(default_factory=dict)

    @property
    def after_imports(self) -> float:
        """Seconds from the end of the imports to exit (``--timings``: total - import)."""
        return self.phases.get("total", 0.0) - self.phases.get("import", 0.0)


def run_once(
    source: str, config: Path, mode: str, env: dict[str, str], work: Path, record: bool = True
) -> Run:
    """One ``playbook backtest`` process of ``mode`` on ``source``'s config; raises when the command fails.

    ``record``: the run is recorded in the (temporary) run registry, as the command does by default."""
    tree = "-baseline" if "PYTHONPATH" in env else ""
    out, log = work / f"out-{source}-{mode}{tree}", work / "cli.log"
    command = [str(PLAYBOOK), "backtest", str(config), "--out", str(out), "--timings"]
    command += [] if record else ["--no-record"]
    measured = launch([*command, *FLAGS[mode]], work, env, REPO)
    text = log.read_text(errors="replace")
    if measured["code"] != 0 or not (out / "result.json").is_file():
        raise SystemExit(
            f"playbook backtest ({source}, {mode}) failed, exit code {measured['code']}:\n{text[-2000:]}"
        )
    if mode == "charts" and not (out / "charts" / "equity.svg").is_file():
        raise SystemExit("playbook backtest wrote no charts")
    phases = {m.group(1): float(m.group(2)) for m in map(_ROW.match, text.splitlines()) if m}
    return Run(source, mode, float(measured["seconds"]), float(measured["cpu"]), phases)


def data_file(config: Path) -> Path:
    """The bar file a ``source = "file"`` config reads (its path is relative to the config's folder)."""
    import tomllib

    data = tomllib.loads(config.read_text()).get("data", {})
    if data.get("source") != "file" or not data.get("path"):
        raise SystemExit(f'{config}: --source cache needs a config with [data] source = "file" and a path')
    return (config.parent / data["path"]).resolve()


def cache_config(config: Path, folder: Path) -> Path:
    """A copy of ``config`` whose ``[data]`` reads the cached source :data:`CACHE_SOURCE` instead of
    the file (every other line as it is)."""
    lines, table, done = [], "", set()
    for line in config.read_text().splitlines():
        header = re.match(r"^\s*\[([^\]]+)\]", line)
        table = header.group(1).strip() if header else table
        key = re.match(r"^\s*(source|path)\s*=", line)
        if table == "data" and key:
            line = f'{key.group(1)} = "{"cache" if key.group(1) == "source" else CACHE_SOURCE}"'
            done.add(key.group(1))
        lines.append(line)
    if done != {"source", "path"}:
        raise SystemExit(f"{config}: its [data] table needs source and path lines")
    target = folder / f"{config.stem}_cache.toml"
    target.write_text("\n".join(lines) + "\n")
    return target


def ingest(config: Path, env: dict[str, str], work: Path) -> None:
    """``playbook data ingest`` of the config's file into ``env``'s cache folder (untimed)."""
    log = work / "ingest.log"
    with log.open("wb") as sink:
        done = subprocess.run(
            [str(PLAYBOOK), "data", "ingest", str(data_file(config)), "--source-name", CACHE_SOURCE],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=REPO,
            check=False,
        )
    if done.returncode != 0:
        raise SystemExit(f"playbook data ingest failed:\n{log.read_text(errors='replace')[-2000:]}")


def same_trades(work: Path, modes: list[str]) -> str:
    """Compare the trades of the cache and file runs of each mode; raises when they differ."""
    for mode in modes:
        trades = {
            source: json.loads((work / f"out-{source}-{mode}" / "result.json").read_text())["trades"]
            for source in SOURCES
        }
        if trades["cache"] != trades["file"]:
            raise SystemExit(f"the cache and file runs ({mode}) gave different trades")
    return f"{len(trades['cache']):,} trades, the same from the cache and from the file"


def _report(title: str, runs: list[Run]) -> None:
    """Wall, CPU and time after the imports (best, median) and the phases of the median run."""
    timed = sorted(runs, key=lambda r: r.seconds)
    median = timed[len(timed) // 2]
    print(
        f"{title}: wall best {timed[0].seconds:.2f} s, median "
        f"{statistics.median(r.seconds for r in timed):.2f} s; CPU (user + system, children "
        f"included) best {min(r.cpu for r in timed):.2f} s, median {statistics.median(r.cpu for r in timed):.2f} s; "
        f"after the imports best {min(r.after_imports for r in timed):.3f} s, "
        f"median {statistics.median(r.after_imports for r in timed):.3f} s"
    )
    print("  phases of the median run (--timings, seconds):")
    for name, seconds in median.phases.items():
        print(f"    {name:<44} {seconds:7.3f}")


def _loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg()) + f" (1/5/15 min, {os.cpu_count()} CPUs)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, default=REPO / "examples" / "sp500_breakout.toml")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per mode (after one warm-up)")
    parser.add_argument("--modes", default="no-charts,charts", help="no-charts, charts or both")
    parser.add_argument(
        "--source",
        choices=("cache", "file", "both"),
        default="both",
        help="the data cache (the bar's path), the config's file, or both (default; trades compared)",
    )
    parser.add_argument(
        "--no-record",
        dest="record",
        action="store_false",
        help="pass --no-record (by default each run is recorded in a temporary registry, as the command does)",
    )
    parser.add_argument(
        "--baseline",
        type=Path,
        default=None,
        help="another tree's src folder, run in turns with this one (PYTHONPATH) for an A/B",
    )
    args = parser.parse_args(argv)
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    unknown = [m for m in modes if m not in BARS]
    if unknown:
        parser.error(f"unknown mode(s) {unknown}; choose from {list(BARS)}")
    sources = list(SOURCES) if args.source == "both" else [args.source]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    work = Path(tempfile.mkdtemp(prefix="bench_cli_"))
    env["PLAYBOOK_HOME"] = str(work / "home")
    env["PLAYBOOK_CACHE_DIR"] = str(work / "cache")
    configs = {"file": args.config.resolve()}
    if "cache" in sources:
        print(f"ingesting {data_file(args.config)} into {env['PLAYBOOK_CACHE_DIR']} (untimed)")
        ingest(args.config, env, work)
        configs["cache"] = cache_config(args.config, work)
    recorded = "each run recorded in a temporary run registry" if args.record else "--no-record"
    print(
        f"playbook backtest {args.config} (warm caches, {recorded}), {args.repeat} runs per mode and source"
    )
    print(f"load average at start: {_loadavg()}")
    kinds = [(source, mode) for source in sources for mode in modes]
    trees = {"this tree": env}
    if args.baseline is not None:
        trees["baseline"] = {**env, "PYTHONPATH": str(args.baseline.resolve())}
        print(f"A/B: this tree and {args.baseline} (PYTHONPATH) in turns, run by run")
    for tree_env in trees.values():
        for source, mode in kinds:  # warm-up: numba cache, .pyc files, page cache
            run_once(source, configs[source], mode, tree_env, work, args.record)
    if len(sources) == 2:
        print(same_trades(work, modes))
    every: dict[tuple[str, str, str], list[Run]] = {(t, *kind): [] for t in trees for kind in kinds}
    for i in range(args.repeat):
        order = list(trees) if i % 2 == 0 else list(trees)[::-1]  # each tree first in turn
        for source, mode in kinds:
            for tree in order:
                run = run_once(source, configs[source], mode, trees[tree], work, args.record)
                every[tree, source, mode].append(run)
    print(f"load average at end:   {_loadavg()}\n")
    for tree in trees:
        for source, mode in kinds:
            _report(f"{tree + ': ' if len(trees) > 1 else ''}{source}, {mode}", every[tree, source, mode])
    runs = {(source, mode): every["this tree", source, mode] for source, mode in kinds}
    print("\nIssue 14's bars (quiet machine, warm numba and data caches, process start to exit):")
    for source, mode in kinds:
        best = min(r.seconds for r in runs[source, mode])
        median = statistics.median(r.seconds for r in runs[source, mode])
        what = "--no-charts" if mode == "no-charts" else "every report and chart"
        if source == "cache":
            # the median, so one lucky run does not pass a bar most runs miss
            verdict = "PASS" if median <= BARS[mode] else "FAIL"
            print(
                f"  [{verdict}] {what}, from the data cache: median {median:.2f} s <= {BARS[mode]:g} s "
                f"(best {best:.2f} s)"
            )
        else:
            print(
                f"  [info] {what}, from the Parquet file (not the bar's path): median {median:.2f} s, best {best:.2f} s"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
