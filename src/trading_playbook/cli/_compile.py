"""Say so when numba compiles the fast engine (a cold cache), instead of being silent for half a minute.

numba fires a ``numba:compile`` event exactly when it compiles a function; loading one from its
on-disk cache fires none. :func:`compile_notice` listens for the duration of a command: at the first
compile it writes one line to stderr (plain text, so it shows when output is piped too), and at the
end how long compiling took, or a warning when numba could not write its cache (then every run
compiles again).
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any

from numba.core.event import Listener, install_listener

__all__ = ["COMPILING", "CompileNotice", "compile_notice"]

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
