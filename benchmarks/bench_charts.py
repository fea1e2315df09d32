"""The charts' wall time after the hand-over, in the real command, against an older tree (issue 14).

The charts bar of issue 14's session 6: from the moment ``playbook backtest`` hands the chart values to
the chart worker until it has every PNG back, at most half of what it was. Measured from the
command's own ``--timings`` as the sum of the phases ``charts.handover``, ``report.document``,
``report.json``, ``report.csv``, ``report.md`` and ``charts`` (the command builds and writes the other
reports while the worker draws, then waits for it; the worker's own drawing time is printed beside).

Two runs, each a ``playbook backtest --timings --no-record`` process with warm numba and data caches:
the full shared data from the data cache (``examples/sp500_breakout.toml``'s strategy, as in
``bench_cli.py``) and ``examples/synthetic_demo.toml``. With ``--before SRC`` (a ``src`` folder of
another tree: ``git archive REV src | tar -x -C /tmp/before``) every run is repeated with
``PYTHONPATH=SRC``, the two trees taking turns so both see the same background load, and the verdict
compares the medians: PASS when this tree's is at most half the other's. ``PYTHONDONTWRITEBYTECODE``
is removed (a user's Python writes ``.pyc`` files). Then, on Linux, the worker alone, in turns per
tree: a worker started, its values (those of each config's ``result.json``) handed over once it is
warm, with nothing beside it: its hand-over-to-reply time and its CPU seconds after the hand-over
(the worker and its helper). Prints the load average at start and end.

    .venv/bin/python benchmarks/bench_charts.py --before /tmp/before/src --repeat 5
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from _launcher import launch
from bench_cli import _ROW, PLAYBOOK, REPO, _loadavg, cache_config, ingest

# the worker alone: started, warm after 4 s, then the values of a result.json handed over
_WORKER_ALONE = """
import json, os, sys, time, resource
from trading_playbook import _chart_worker
inputs = _chart_worker.chart_inputs(json.load(open(sys.argv[1])))
worker = _chart_worker.start()
time.sleep(4.0)
fields = open(f"/proc/{worker.process.pid}/stat").read().rsplit(")", 1)[1].split()
warm = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
start = time.perf_counter()
worker.submit_inputs(inputs)
pngs = worker.result() or {}
wall = time.perf_counter() - start
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"wall": wall, "cpu": usage.ru_utime + usage.ru_stime - warm, "charts": len(pngs)}))
"""

AFTER_HANDOVER = ("charts.handover", "report.document", "report.json", "report.csv", "report.md", "charts")
WORKER = "(charts drawn in the worker, in parallel)"
WORKER_CPU, HELPER_CPU = "(charts: CPU of the worker)", "(charts: CPU of its forked helper)"


def run_once(config: Path, env: dict[str, str], work: Path) -> dict[str, float]:
    """The ``--timings`` phases of one ``playbook backtest`` with every report and chart."""
    out = work / "out"
    command = [str(PLAYBOOK), "backtest", str(config), "--out", str(out), "--no-record", "--timings"]
    measured = launch(command, work, env, REPO)
    text = (work / "cli.log").read_text(errors="replace")
    if measured["code"] != 0 or not (out / "charts" / "equity.png").is_file():
        raise SystemExit(f"playbook backtest {config} failed (exit code {measured['code']}):\n{text[-2000:]}")
    phases = {m.group(1): float(m.group(2)) for m in map(_ROW.match, text.splitlines()) if m}
    phases["after handover"] = sum(phases.get(name, 0.0) for name in AFTER_HANDOVER)
    phases["wall"] = float(measured["seconds"])
    phases["cpu"] = float(measured["cpu"])
    return phases


def worker_alone(document: Path, env: dict[str, str]) -> dict[str, float]:
    """A chart worker with nothing beside it: its hand-over-to-reply wall time and CPU seconds."""
    done = subprocess.run(
        [sys.executable, "-c", _WORKER_ALONE, str(document)],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise SystemExit(f"the worker-alone run failed:\n{done.stderr[-2000:]}")
    measured: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    if measured["charts"] < 4:
        raise SystemExit("the worker-alone run got no charts from the worker")
    return measured


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per tree and config")
    parser.add_argument("--before", type=Path, help="the src folder of the tree to compare with")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="bench_charts_"))
    base = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPATH")}
    base["PLAYBOOK_HOME"] = str(work / "home")
    base["PLAYBOOK_CACHE_DIR"] = str(work / "cache")
    trees = {"this tree": base}
    if args.before is not None:
        trees["before"] = {**base, "PYTHONPATH": str(args.before.resolve())}
    print(f"ingesting the shared data into {base['PLAYBOOK_CACHE_DIR']} (untimed)")
    ingest(REPO / "examples" / "sp500_breakout.toml", base, work)
    configs = {
        "full shared data (cache)": cache_config(REPO / "examples" / "sp500_breakout.toml", work),
        "synthetic demo": REPO / "examples" / "synthetic_demo.toml",
    }
    print(f"load average at start: {_loadavg()}")
    for config in configs.values():  # warm-up: numba's cache, the .pyc files, the page cache
        for env in trees.values():
            run_once(config, env, work)
    runs: dict[tuple[str, str], list[dict[str, float]]] = {(c, t): [] for c in configs for t in trees}
    for _ in range(args.repeat):
        for name, config in configs.items():
            for tree, env in trees.items():
                runs[name, tree].append(run_once(config, env, work))
    alone: dict[tuple[str, str], list[dict[str, float]]] = {(c, t): [] for c in configs for t in trees}
    if Path("/proc/self/stat").exists():  # the worker's CPU is read from /proc
        documents = {name: work / f"{index}.json" for index, name in enumerate(configs)}
        for name, config in configs.items():
            run_once(config, base, work)
            documents[name].write_bytes((work / "out" / "result.json").read_bytes())
        for _ in range(args.repeat):
            for name in configs:
                for tree, env in trees.items():
                    alone[name, tree].append(worker_alone(documents[name], env))
    print(f"load average at end:   {_loadavg()}\n")
    medians: dict[tuple[str, str], float] = {}
    for (name, tree), phases in runs.items():
        medians[name, tree] = statistics.median(p["after handover"] for p in phases)

        def column(key: str, rows: list[dict[str, float]] = phases) -> str:
            return ", ".join(f"{p.get(key, 0.0):.2f}" for p in rows)

        print(f"{name}, {tree}:")
        print(
            f"  hand-over to every PNG back: median {medians[name, tree]:.2f} s ({column('after handover')})"
        )
        print(f"  of which the command's wait for the charts: {column('charts')}")
        print(f"  the worker's drawing (beside the command): {column(WORKER)}")
        if any(WORKER_CPU in p for p in phases):  # (an older tree does not say)
            print(f"  CPU drawing: the worker {column(WORKER_CPU)}; its helper {column(HELPER_CPU)}")
        print(f"  process wall: {column('wall')}; CPU (user + system, workers included): {column('cpu')}")
        if alone[name, tree]:
            rows = alone[name, tree]
            print(
                f"  the worker alone, hand-over to reply: {column('wall', rows)}; "
                f"CPU after the hand-over: {column('cpu', rows)}"
            )
    if args.before is not None:
        print("\nThe charts bar: hand-over to every PNG at most half of the older tree's (medians):")
        for name in configs:
            after, before = medians[name, "this tree"], medians[name, "before"]
            verdict = "PASS" if after <= 0.5 * before else "FAIL"
            print(f"  [{verdict}] {name}: {after:.2f} s against {before:.2f} s ({after / before:.0%})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
