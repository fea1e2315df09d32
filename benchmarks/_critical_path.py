"""``playbook ARGS`` with the CPU times of a first run's two processes, for an idle-machine estimate.

Run as ``python benchmarks/_critical_path.py backtest CONFIG ...`` (``bench_first_run.py
--critical-path`` does). It starts the compile worker as the console script does, runs the CLI in
this process and, at exit, prints one ``CRITICAL-PATH`` line to stderr: this process's CPU seconds
before the session loop's first call (``pre``), while it waited for the worker (``during``: the work
the command does meanwhile, then idle), after it (``post``), and the worker's CPU seconds (a waited
child, reaped while the session loop waits for it). On an idle 2-core machine each process has a
core of its own, so the first run's wall time is about ``max(pre + during, worker) + post``; on a busy
machine this estimate is steadier than the measured wall time (CPU time grows a little under load
too: shared caches). Other children also need a core meanwhile: ``all-cpu/2``
(every process's CPU seconds over two cores) is a lower bound that counts them.
"""

from __future__ import annotations

import atexit
import os
import resource
import sys
import time
from typing import Any

from trading_playbook import _early_load, _warmup

# as the console script does (trading_playbook._entry)
_warmup.start_early(sys.argv[1:])
_early_load.start_early(sys.argv[1:])

from trading_playbook.core import _jit  # noqa: E402

marks: dict[str, float] = {}
_compile = _jit._KernelDispatcher.compile


def _timed_compile(self: Any, sig: Any) -> Any:
    if self.entry and "gate" not in marks:  # the session loop's first call: the gates run here
        marks["gate"] = time.process_time()
        marks["children"] = _children_cpu()
        for gate in tuple(_jit.ENTRY_COMPILE_GATES):
            gate()
        marks["gate_end"] = time.process_time()
        marks["worker"] = _children_cpu() - marks["children"]  # the compile worker, reaped by the gate
    return _compile(self, sig)


_jit._KernelDispatcher.compile = _timed_compile  # type: ignore[method-assign]


def _children_cpu() -> float:
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return children.ru_utime + children.ru_stime


def _report() -> None:
    end = time.process_time()
    worker = marks.get("worker", 0.0)
    others = _children_cpu() - worker  # any other child, which also needs a core meanwhile
    pre = marks.get("gate", end)
    during = marks.get("gate_end", pre) - pre
    post = end - marks.get("gate_end", pre)
    estimate = max(pre + during, worker) + post
    print(
        f"CRITICAL-PATH pre {pre:.2f} during {during:.2f} post {post:.2f} worker {worker:.2f} "
        f"other-children {others:.2f} estimate {estimate:.2f} "
        f"all-cpu/2 {(end + worker + others) / 2:.2f} load {os.getloadavg()[0]:.2f}",
        file=sys.stderr,
    )


atexit.register(_report)

if __name__ == "__main__":
    from trading_playbook.cli import main

    sys.argv = ["playbook", *sys.argv[1:]]
    try:
        main()
    finally:
        _early_load.discard()
