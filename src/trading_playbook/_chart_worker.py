"""Render a backtest's PNG charts in a process of its own, beside the command (issue 14).

matplotlib takes about half a second to import and its first figure another few tenths (fonts,
colour maps); the charts themselves a few tenths more. None of that needs the run, so
``playbook backtest`` starts this worker when the process starts (:func:`start_early`, called by
:mod:`trading_playbook._entry`): on the second core it imports matplotlib and draws a tiny throw-away
figure (fonts, renderer), while the command loads the data and runs. When the run's document
exists the command hands over what the charts show (:func:`chart_inputs`: the equity curve, the
benchmarks, the trade returns, the monthly returns and the exit reasons, a few hundred kilobytes),
writes result.json, the CSVs and report.md, and then takes the PNG bytes back for the chart files
and report.html. The charts are the same bytes the command would draw itself (the same
:func:`~trading_playbook.reports.charts.render_charts` on the same values).

The worker draws the charts in two processes, itself and a fork of itself made when the values arrive
(:mod:`trading_playbook._chart_fork`): a fork inherits matplotlib warm, where a second worker would
import it again beside the command.

Protocol: one pickled ``dict`` on the worker's stdin; one pickled ``("ok", {name: png bytes},
seconds, notes, {process: CPU seconds})`` or ``("error", message, seconds, notes, {})`` on its
stdout. A worker that fails, or
is not there, costs only time: the command then draws what it lacks itself (and raises what drawing
raises), with a note. A worker whose stdin closes without a document (the command failed or needed
no charts) exits.

Only the standard library is imported here until the worker runs, so the entry point stays cheap.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from typing import IO, Any

__all__ = [
    "CHART_METRICS",
    "CHART_NAMES",
    "WORKER_ENV",
    "ChartWorker",
    "chart_inputs",
    "chart_names",
    "start",
    "start_early",
    "start_if_enabled",
    "take_early",
]

CHART_NAMES = ("equity", "monthly_returns", "trade_returns", "exit_reasons")
WORKER_ENV = "PLAYBOOK_CHART_WORKER"  # "0": draw the charts in the command's own process

_early: ChartWorker | None = None


def chart_names(doc: Mapping[str, Any]) -> tuple[str, ...]:
    """The charts a document gets: :data:`CHART_NAMES`, plus ``coverage`` for a point-in-time
    universe (known before any chart is drawn, so report.md can link them first)."""
    coverage = (doc.get("data") or {}).get("coverage")
    return (*CHART_NAMES, "coverage") if coverage else CHART_NAMES


CHART_METRICS = (
    "first_session",
    "last_session",
    "trades",
    "monthly_returns",
    "exit_reasons",
)  # what charts read


def chart_inputs(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The part of a result document the charts read (everything else stays in the command)."""
    metrics = doc["metrics"]
    data = doc.get("data") or {}
    return {
        "equity": [{"date": row["date"], "equity": row["equity"]} for row in doc["equity"]],
        "benchmarks": doc.get("benchmarks") or {},
        "starting_capital": doc["starting_capital"],
        "metrics": {key: metrics[key] for key in CHART_METRICS if key in metrics},
        "trades": [{"pnl_pct": trade["pnl_pct"]} for trade in doc["trades"]],
        "data": {"coverage": data["coverage"]} if data.get("coverage") else {},
    }


class ChartWorker:
    """The command's side of one worker process: :meth:`submit` a document, then :meth:`result`."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self.process = process
        self.submitted = False  # the chart inputs have been handed over
        self.render_seconds: float | None = None  # the worker's own drawing time, once known
        self.notes: list[str] = []  # what went wrong, once known (a failure costs only time)
        self.cpu: dict[str, float] = {}  # CPU seconds drawing: ``worker`` and its forked ``helper``

    def submit(self, doc: Mapping[str, Any]) -> bool:
        """Hand the document's chart inputs over (the worker starts drawing at once); ``False`` when
        the worker is gone."""
        return self.submit_inputs(chart_inputs(doc))

    def submit_inputs(self, inputs: Mapping[str, Any]) -> bool:
        """Hand :func:`chart_inputs` (or the same values built otherwise) over; ``False`` when the
        worker is gone."""
        stdin = self.process.stdin
        if self.submitted or stdin is None or self.process.poll() is not None:
            return False
        try:
            pickle.dump(dict(inputs), stdin, protocol=pickle.HIGHEST_PROTOCOL)
            stdin.close()
        except OSError:  # a worker that died: the command draws the charts itself
            return False
        self.submitted = True
        return True

    def result(self) -> dict[str, bytes] | None:
        """The PNG bytes by chart name, waiting for the worker; ``None`` when it failed
        (:attr:`notes` then says how). The worker may deliver only some charts (its helper
        failed): the caller draws the others."""
        stdout = self.process.stdout
        try:
            reply = pickle.load(stdout) if stdout is not None else None
        except (EOFError, OSError, pickle.UnpicklingError):
            reply = None
        finally:
            self.close()
        if not isinstance(reply, tuple) or len(reply) != 5:
            self.notes.append(f"the chart worker ended without a reply (exit code {self.process.returncode})")
            return None
        self.notes.extend(reply[3])
        if reply[0] != "ok":
            self.notes.append(f"the chart worker failed: {reply[1]}")
            return None
        self.render_seconds = float(reply[2])
        self.cpu = dict(reply[4])
        return dict(reply[1])

    def cancel(self) -> None:
        """Stop the worker now (the command failed or was interrupted)."""
        if self.process.poll() is None:
            self.process.kill()
        self.close()

    def close(self) -> None:
        """End the worker (it exits by itself once its stdin closes) and reap it."""
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None and not stream.closed:
                stream.close()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start(after: int | None = None) -> ChartWorker:
    """Start ``python -m trading_playbook._chart_worker`` (stderr discarded: a failure only
    means the command draws the charts itself). ``after``: the pid of a first run's compile worker,
    whose end the worker awaits before it builds the charts' figures ahead (see :func:`_warm_up`)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "trading_playbook._chart_worker", *([] if after is None else [str(after)])],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    _widen(process.stdin)
    return ChartWorker(process)


INPUT_PIPE_BYTES = 1 << 20  # the values of a 10,000-trade run pickle to about 0.45 MB


def _widen(stream: IO[bytes] | None) -> None:
    """Give the pipe to the worker room for the run's values (Linux: ``F_SETPIPE_SZ``, 1 MB, the
    default limit for any user): the command then writes them at once and goes on with its reports,
    instead of waiting, 64 KB at a time, for the worker to finish the figure it is preparing and read
    (0.03-0.05 s). Where the pipe cannot grow, the write waits as before."""
    import contextlib

    try:
        import fcntl
    except ImportError:  # Windows
        return
    resize = getattr(fcntl, "F_SETPIPE_SZ", None)
    if stream is None or resize is None:
        return
    with contextlib.suppress(OSError):  # above this user's limit (/proc/sys/fs/pipe-max-size): as it is
        fcntl.fcntl(stream.fileno(), resize, INPUT_PIPE_BYTES)


def start_if_enabled() -> ChartWorker | None:
    """:func:`start`, unless ``PLAYBOOK_CHART_WORKER=0`` asks for the charts in the command's process."""
    return None if os.environ.get(WORKER_ENV, "1") == "0" else start()


def wants_charts(args: Sequence[str]) -> bool:
    """Whether ``playbook ARGS`` is a backtest that draws charts (the default)."""
    if not args or args[0] != "backtest" or os.environ.get(WORKER_ENV, "1") == "0":
        return False
    return "--no-charts" not in args and "--help" not in args


def start_early(args: Sequence[str], after: int | None = None) -> None:
    """Start the worker now when ``playbook ARGS`` draws charts (``after``: see :func:`start`);
    :func:`take_early` hands it over."""
    global _early
    if _early is None and wants_charts(args):
        _early = start(after)


def take_early() -> ChartWorker | None:
    """The worker :func:`start_early` started, if any (handed over once)."""
    global _early
    worker, _early = _early, None
    return worker


def _warm_up(stdin: IO[bytes] | None = None, after: int | None = None) -> None:
    """Import matplotlib and load what a first drawing loads (fonts, colour map, glyph outlines:
    :func:`~trading_playbook.reports.charts.warm_caches`), then build the charts' figures, axes and
    ticks ahead (:func:`~trading_playbook.reports.charts.prepare_figures`) until the run's values
    arrive on ``stdin`` (the charts then build what is not ready). On a first run (``after``: the
    compile worker's pid) the figures wait for the compile worker to end: until then both cores are
    the command's and the compile worker's, the first run's critical path. Drawing the real charts on
    made-up data instead cost as much CPU as the real ones, taken from the command on a busy machine,
    for no gain in the real drawing."""
    import trading_playbook._chart_fork  # noqa: F401
    from trading_playbook.reports.charts import prepare_figures, warm_caches

    warm_caches()
    if after is not None and stdin is not None and os.name == "posix":  # (Windows' os.kill kills)
        _wait_for_end(after, stdin)
    prepare_figures(stop=None if stdin is None else lambda: _readable(stdin))


def _wait_for_end(pid: int, stdin: IO[bytes]) -> None:
    """Return when process ``pid`` has ended (and been reaped) or ``stdin`` has something to read."""
    while True:
        try:
            os.kill(pid, 0)
        except OSError:  # ended (ProcessLookupError), or not ours to signal: do not wait
            return
        if _readable(stdin, 0.05, unselectable=True):
            return


def _readable(stream: IO[bytes], timeout: float = 0.0, *, unselectable: bool = False) -> bool:
    """Whether reading ``stream`` (a pipe) would not block within ``timeout`` seconds: the values, or
    its end, are there. ``unselectable``: the answer for a stream ``select`` cannot watch (Windows)."""
    import select

    try:
        return bool(select.select([stream], [], [], timeout)[0])
    except (OSError, ValueError):
        return unselectable


def _serve(stdin: IO[bytes], stdout: IO[bytes], after: int | None = None) -> None:
    """The worker: warm up, wait for one document, draw its charts (with a forked helper), reply."""
    import gc

    _warm_up(stdin, after)
    gc.freeze()  # the imports' objects never become garbage: keep them out of the collector's scans
    try:
        doc = pickle.load(stdin)
    except EOFError:  # the command ended without charts
        return
    t0 = time.perf_counter()
    try:
        from trading_playbook._chart_fork import draw_split
        from trading_playbook.reports.charts import chart_renderers

        drawn = draw_split(doc, chart_renderers(doc))
        reply: tuple[Any, ...] = ("ok", drawn.pngs, time.perf_counter() - t0, drawn.notes, drawn.cpu)
    except Exception as exc:  # the command draws them itself and reports what fails
        reply = ("error", f"{type(exc).__name__}: {exc}", time.perf_counter() - t0, [], {})
    pickle.dump(reply, stdout, protocol=pickle.HIGHEST_PROTOCOL)
    stdout.flush()


if __name__ == "__main__":
    replies = sys.stdout.buffer
    sys.stdout = sys.stderr  # a stray print (a library's) must not corrupt the pickled reply
    _serve(sys.stdin.buffer, replies, after=int(sys.argv[1]) if len(sys.argv) > 1 else None)
