"""The 5,000-symbol load from the data cache alone (issue 14): ``load_panel`` in a fresh process.

    .venv/bin/python benchmarks/bench_scale_load.py [--repeat 3] [--threads N] [--cache DIR]

Uses the cache ``benchmarks/bench_scale.py`` makes (``syn5000`` in ``/tmp/playbook-scale-cache``;
run that once first). Each repeat is a child process that imports the data layer, then times
``load_panel`` on the whole source (memory mode): wall time, CPU time (user + system, every thread),
minor page faults, peak RSS, and a hash of the panel's arrays, split events and sessions, so that two
versions of the code can be compared for both speed and bit-identity (put the other version first on
``PYTHONPATH``: the children inherit it). The CLI's own ``load`` phase (the command's wait, beside its
imports) is what ``bench_scale.py`` reports against the 5 s bar; this is the load by itself.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

CHILD = """
import hashlib, json, os, resource, sys, time
import numpy as np
import trading_playbook.data.api as api
from trading_playbook.data import DataRequest, load_panel
if int(sys.argv[3]) > 0 and hasattr(api, "LOAD_THREADS"):
    api.LOAD_THREADS = int(sys.argv[3])
request = DataRequest(source="cache", path=sys.argv[2], cache_dir=sys.argv[1])
r0 = resource.getrusage(resource.RUSAGE_SELF)
t0 = time.perf_counter()
panel, info = load_panel(request)
wall = time.perf_counter() - t0
r1 = resource.getrusage(resource.RUSAGE_SELF)
h = hashlib.sha256()
for name in ("open", "high", "low", "close", "volume", "raw_close", "available"):
    h.update(np.ascontiguousarray(getattr(panel, name)).data)
for part in (panel.splits.rows, panel.splits.cols, panel.splits.coefficients, panel.sessions):
    h.update(np.ascontiguousarray(part).tobytes())
print(json.dumps({
    "wall": wall,
    "cpu": (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime),
    "faults": r1.ru_minflt - r0.ru_minflt,
    "peak_mb": r1.ru_maxrss / 1024,
    "hash": h.hexdigest()[:16],
    "fingerprint": info["fingerprint"],
    "shape": [panel.n_sessions, panel.n_symbols],
}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0, help="load threads (0: the package's default)")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/playbook-scale-cache"))
    parser.add_argument("--source", default="syn5000")
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    for i in range(args.repeat):
        out = subprocess.run(
            [sys.executable, "-c", CHILD, str(args.cache), args.source, str(args.threads)],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        f = json.loads(out.stdout.strip().splitlines()[-1])
        print(
            f"run {i + 1}: load {f['wall']:.2f} s wall, {f['cpu']:.2f} s CPU, {f['faults']:,} minor faults, "
            f"peak {f['peak_mb']:,.0f} MB, panel {f['shape'][0]:,} x {f['shape'][1]:,}, hash {f['hash']} "
            f"| load average {os.getloadavg()[0]:.2f}"
        )


if __name__ == "__main__":
    main()
