"""Run one CLI process through a small launcher and read back its own wall time, CPU time and max RSS.

Spawning the CLI straight from a (large) benchmark process would make Linux count the forked copy of
that process in the child's max RSS (the pre-exec memory's high-water mark is kept across exec); the
launcher is a fresh, small interpreter that ``posix_spawn`` s the command and reports its ``wait4``
rusage as JSON.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

_LAUNCHER = """
import json, os, sys, time
report, argv = sys.argv[1], sys.argv[2:]
start, start_epoch = time.perf_counter(), time.time()
pid = os.posix_spawn(argv[0], argv, os.environ)
_, status, usage = os.wait4(pid, 0)
seconds = time.perf_counter() - start
with open(report, "w") as fh:
    cpu = usage.ru_utime + usage.ru_stime
    code = os.waitstatus_to_exitcode(status)
    json.dump({"seconds": seconds, "start_epoch": start_epoch, "cpu": cpu, "maxrss_kb": usage.ru_maxrss,
               "code": code}, fh)
"""


def launch(command: list[str], work: Path, env: dict[str, str], cwd: Path) -> dict[str, Any]:
    """Run ``command`` (its output to ``work/cli.log``) and return what the launcher measured:
    ``seconds`` (spawn to exit), ``start_epoch``, ``cpu`` (user + system), ``maxrss_kb`` and ``code``."""
    report, log = work / "launcher.json", work / "cli.log"
    with log.open("wb") as sink:
        subprocess.run(
            [sys.executable, "-c", _LAUNCHER, str(report), *command],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=cwd,
            check=True,
        )
    measured: dict[str, Any] = json.loads(report.read_text())
    return measured
