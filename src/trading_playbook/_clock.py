"""How long this process has been running, for the ``import`` phase of ``playbook backtest --timings``.

On Linux the process start is read from ``/proc/self/stat`` (in clock ticks since boot, 10 ms on most
systems) and compared with the boot-time clock, so the figure includes the interpreter's own start
and every import before the command ran. Elsewhere it counts from the first import of the package.
"""

from __future__ import annotations

import os
import time

__all__ = ["process_age"]

_PACKAGE_IMPORTED = time.perf_counter()


def process_age() -> float:
    """Seconds since this process started (since the package was imported where that is unknown)."""
    try:
        with open("/proc/self/stat", "rb") as fh:
            fields = fh.read().rsplit(b")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        started = int(fields[19]) / ticks  # field 22 of stat(5), counted after the command name
        return max(0.0, time.clock_gettime(time.CLOCK_BOOTTIME) - started)
    except (OSError, ValueError, IndexError, AttributeError):
        return time.perf_counter() - _PACKAGE_IMPORTED
