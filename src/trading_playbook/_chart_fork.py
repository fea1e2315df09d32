"""Draw a document's charts in two processes: the chart worker and a fork of it (issue 14).

The charts of a run take about 1.4 s of CPU, one after the other, after the command hands their values
over; the command meanwhile writes result.json, the CSVs and report.md, then waits. A second worker
started beside the first would import matplotlib again (about 1 s of CPU, competing with the
command's own imports on a two-core machine); a fork of the warmed-up worker costs a few
milliseconds and inherits matplotlib, the fonts and the chart values.

The charts are handed out through a pipe holding one byte per chart, the costliest first: each
process takes the next byte when it is free (a one-byte read is atomic), so neither draws a chart
the other drew and a process slowed by the machine simply takes fewer. The helper (the fork) sends
each finished chart back as a pickled ``(name, png bytes)`` record (and last its CPU seconds as
``("", seconds)``); a reader thread here drains them
so the helper never blocks on a full pipe. A helper that fails or dies costs only time: whatever it
did not deliver is drawn here, and a note says so. The helper dies with its parent (Linux
``PR_SET_PDEATHSIG``; elsewhere it ends at the next chart when its pipe breaks).
"""

from __future__ import annotations

import ctypes
import io
import os
import pickle
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["CHART_COST", "Drawn", "Renderer", "draw_split"]

# CPU seconds of each chart of the full shared-data run, figures built ahead: the order the charts
# are handed out in, the costliest first so that the last one taken is short (coverage not measured:
# put with the equity chart it resembles)
CHART_COST = {
    "monthly_returns": 0.23,
    "equity": 0.18,
    "coverage": 0.18,
    "exit_reasons": 0.15,
    "trade_returns": 0.10,
}

Renderer = Callable[[Mapping[str, Any]], bytes]  # one chart of a document's values, as PNG bytes


@dataclass
class Drawn:
    """What :func:`draw_split` drew: the PNGs in the renderers' order, who drew each
    (``worker`` or ``helper``), each process's CPU seconds drawing, and notes on a helper that failed."""

    pngs: dict[str, bytes] = field(default_factory=dict)
    by: dict[str, str] = field(default_factory=dict)
    cpu: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def draw_split(inputs: Mapping[str, Any], renderers: Mapping[str, Renderer], *, fork: bool = True) -> Drawn:
    """Every chart of ``renderers`` drawn on ``inputs``, shared with a forked helper process when
    ``fork`` (and the platform can fork); an error drawing a chart here propagates."""
    names = sorted(renderers, key=lambda name: -CHART_COST.get(name, 0.2))
    queue_r, queue_w = os.pipe()
    os.write(queue_w, bytes(range(len(names))))  # a few bytes: written at once, before either reads
    os.close(queue_w)  # no writer left: an empty queue reads as end of file
    drawn = Drawn()
    helper = _Helper.start(queue_r, names, inputs, renderers) if fork and len(names) > 1 else None
    cpu = time.process_time()
    try:
        for name in _take(queue_r, names):
            drawn.pngs[name] = renderers[name](inputs)
            drawn.by[name] = "worker"
    except BaseException:
        if helper is not None:
            helper.kill()
        raise
    finally:
        os.close(queue_r)
    drawn.cpu["worker"] = time.process_time() - cpu
    if helper is not None:
        for name, png in helper.collect(drawn.notes):
            drawn.pngs[name] = png
            drawn.by[name] = "helper"
        if helper.cpu is not None:
            drawn.cpu["helper"] = helper.cpu
    late = [name for name in names if name not in drawn.pngs]
    if late:
        drawn.notes.append(f"the chart worker drew {', '.join(late)} itself after its helper failed")
    cpu = time.process_time()
    for name in late:
        drawn.pngs[name] = renderers[name](inputs)
        drawn.by[name] = "worker"
    drawn.cpu["worker"] += time.process_time() - cpu
    drawn.pngs = {name: drawn.pngs[name] for name in renderers}  # the callers' order
    return drawn


def _take(queue_r: int, names: list[str]) -> Iterator[str]:
    """The next chart nobody has taken, until there is none."""
    while chunk := os.read(queue_r, 1):
        yield names[chunk[0]]


class _Helper:
    """The forked process's handle: its pid and the records it sends back (read in a thread)."""

    def __init__(self, pid: int, result_r: int) -> None:
        self.pid = pid
        self.cpu: float | None = None  # its CPU seconds drawing, when it says
        self.data = bytearray()
        self.reader = threading.Thread(target=self._drain, args=(result_r,), daemon=True)
        self.reader.start()

    @classmethod
    def start(
        cls, queue_r: int, names: list[str], inputs: Mapping[str, Any], renderers: Mapping[str, Renderer]
    ) -> _Helper | None:
        """Fork the helper; ``None`` when this platform cannot fork (this process draws everything)."""
        if not hasattr(os, "fork"):
            return None
        result_r, result_w = os.pipe()
        parent = os.getpid()
        pid = os.fork()
        if pid == 0:  # the helper: never returns into the worker's code
            code = 1
            try:
                os.close(result_r)
                _die_with(parent)
                _quiet_standard_streams()
                cpu = time.process_time()
                with os.fdopen(result_w, "wb") as out:
                    for name in _take(queue_r, names):
                        pickle.dump((name, renderers[name](inputs)), out, protocol=pickle.HIGHEST_PROTOCOL)
                        out.flush()
                    pickle.dump(("", time.process_time() - cpu), out)
                code = 0
            finally:
                os._exit(code)
        os.close(result_w)
        return cls(pid, result_r)

    def _drain(self, result_r: int) -> None:
        with os.fdopen(result_r, "rb", buffering=0) as stream:
            while chunk := stream.read(1 << 20):
                self.data += chunk

    def collect(self, notes: list[str]) -> Iterator[tuple[str, bytes]]:
        """The charts the helper delivered, once it has ended; a note when it failed."""
        self.reader.join()
        _, status = os.waitpid(self.pid, 0)
        code = os.waitstatus_to_exitcode(status)
        stream = io.BytesIO(bytes(self.data))
        records = []
        while stream.tell() < len(self.data):
            try:
                records.append(pickle.load(stream))
            except Exception:  # a record cut short by the helper's death
                break
        if records and records[-1][0] == "":  # the last record: its CPU seconds
            self.cpu = float(records.pop()[1])
        if code != 0:
            how = f"signal {-code}" if code < 0 else f"exit code {code}"
            notes.append(f"the chart worker's helper process failed ({how}) after {len(records)} chart(s)")
        yield from records

    def kill(self) -> None:
        """End the helper now and reap it (the worker itself failed)."""
        try:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        except OSError:
            pass


def _die_with(parent: int) -> None:
    """Have the kernel kill this process when its parent dies (Linux); exit if it already has."""
    if _LIBC is not None:
        _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:
        os._exit(1)


def _quiet_standard_streams() -> None:
    """The helper reads nothing from the command and must not write into the worker's reply pipe:
    stdin from /dev/null, a stray write to stdout goes to stderr."""
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.dup2(2, 1)


_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None
