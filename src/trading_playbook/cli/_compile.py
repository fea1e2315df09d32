"""A first run: say so when numba compiles the fast engine, and compile on both cores.

numba fires a ``numba:compile`` event exactly when it compiles a function; loading one from its
on-disk cache fires none. :func:`compile_notice` listens for the duration of a command: at the first
compile it writes one line to stderr (plain text, so it shows when output is piped too), and at the
end how long compiling took, or a warning when numba could not write its cache (then every run
compiles again).

:func:`simulation_warmup`: when the session loop is not in numba's cache, a second process
(``python -m trading_playbook._warmup``) compiles it into the cache while this one loads the data and
compiles and runs the scanner; the session loop then waits for it and loads from the cache.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import IO, Any

from numba.core.event import Listener, install_listener

__all__ = ["COMPILING", "CompileNotice", "compile_notice", "simulation_warmup"]

COMPILING = (
    "compiling the fast engine (numba), first run only: this can take a minute; "
    "later runs load it from the cache"
)


class CompileNotice(Listener):
    """A numba event listener that announces the first compile and times all of them."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.first_start: float | None = None
        self.last_end: float | None = None
        self.dispatchers: list[Any] = []
        self._lock = threading.Lock()

    @property
    def compiled(self) -> bool:
        return self.first_start is not None

    def on_start(self, event: Any) -> None:
        with self._lock:
            dispatcher = (event.data or {}).get("dispatcher")
            if dispatcher is not None:
                self.dispatchers.append(dispatcher)
            if self.first_start is None:
                self.first_start = time.perf_counter()
                self._say(COMPILING + " ...")

    def on_end(self, event: Any) -> None:
        with self._lock:
            self.last_end = time.perf_counter()

    def summary(self) -> str | None:
        """What to say after the command: compile time, or that numba could not cache the result."""
        if self.first_start is None:
            return None
        seconds = (self.last_end or time.perf_counter()) - self.first_start
        uncached = [d for d in self.dispatchers if not _is_cached(d)]
        if uncached:
            name = getattr(uncached[0], "__qualname__", repr(uncached[0]))
            return (
                f"compiled the fast engine in {seconds:.0f} s, but numba could not write its cache (e.g. "
                f"for {name}), so every run will compile again: set NUMBA_CACHE_DIR to a writable folder"
            )
        return f"compiled the fast engine in {seconds:.0f} s; later runs load it from the cache"

    def _say(self, text: str) -> None:
        try:
            self.stream.write(text + os.linesep)
            self.stream.flush()
        except (OSError, ValueError):  # a closed pipe must not break the run
            pass


def _is_cached(dispatcher: Any) -> bool:
    """True when numba keeps ``dispatcher`` in its on-disk cache (its index file exists)."""
    cache = getattr(dispatcher, "_cache", None)
    cache_file = getattr(cache, "_cache_file", None)
    index = getattr(cache_file, "_index_path", None)
    if index is None:  # cache=False: not meant to be cached
        return True
    return os.path.exists(index)


@contextmanager
def compile_notice(stream: IO[str] | None = None) -> Iterator[CompileNotice]:
    """Announce numba compiles on ``stream`` (default stderr) while the block runs."""
    notice = CompileNotice(stream if stream is not None else sys.stderr)
    with install_listener("numba:compile", notice):
        yield notice
    summary = notice.summary()
    if summary:
        notice._say(summary)


WARMUP_WAIT = 600.0  # seconds the session loop waits for the worker before compiling it itself


@contextmanager
def simulation_warmup(
    enabled: bool = True, while_waiting: Callable[[], object] | None = None
) -> Iterator[subprocess.Popen[bytes] | None]:
    """While the block runs, have a second process compile the fast engine's session loop if numba's
    cache does not hold it (yields that process, or None when nothing needs compiling).

    The worker is the one ``playbook`` started before importing its commands
    (:func:`trading_playbook._warmup.start_early`), else one started now. The first call of the session
    loop runs ``while_waiting`` (work the command does later anyway, e.g. imports), waits for the
    worker (at most :data:`WARMUP_WAIT` seconds), then numba loads the loop from its cache; if the
    worker failed or could not write the cache, numba compiles it here as it would have. A worker
    still running when the block ends (the command failed or never simulated) is stopped.
    ``PLAYBOOK_COMPILE_WORKER=0`` turns all of this off.
    """
    from trading_playbook import _warmup
    from trading_playbook.core import _jit

    worker = _warmup.take_early()
    if enabled and os.environ.get(_warmup.WORKER_ENV, "1") != "0" and not _loop_ready():
        worker = worker or _warmup.start_worker()
    else:
        _stop(worker)
        worker = None
    if worker is None:
        yield None
        return

    def wait_for_worker() -> None:
        if wait_for_worker in _jit.ENTRY_COMPILE_GATES:
            _jit.ENTRY_COMPILE_GATES.remove(wait_for_worker)
        if while_waiting is not None and worker.poll() is None:
            while_waiting()
        with suppress(subprocess.TimeoutExpired):  # then compile here instead
            worker.wait(timeout=WARMUP_WAIT)

    _jit.ENTRY_COMPILE_GATES.append(wait_for_worker)
    try:
        yield worker
    finally:
        if wait_for_worker in _jit.ENTRY_COMPILE_GATES:
            _jit.ENTRY_COMPILE_GATES.remove(wait_for_worker)
        _stop(worker)


def _loop_ready() -> bool:
    """The session loop is compiled in this process or in numba's cache."""
    from trading_playbook.core._jit import entry_is_cached
    from trading_playbook.core.simulate._kernels import simulate_nb

    return bool(getattr(simulate_nb, "overloads", None)) or entry_is_cached(simulate_nb)


def _stop(worker: subprocess.Popen[bytes] | None) -> None:
    if worker is not None and worker.poll() is None:
        worker.kill()
        worker.wait()
