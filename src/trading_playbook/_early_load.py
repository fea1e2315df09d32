"""Read a backtest's bars in a thread while the command imports the rest of itself (issue 14).

``playbook backtest`` spends most of its first second importing Python modules (numba, typer, the
engine), one bytecode at a time under the GIL, and then reads its bars: a pack file or a Parquet file
decoded by Arrow's C++ and laid into the panel's grids by numpy, both of which run without the GIL.
So :mod:`trading_playbook._entry` calls :func:`start_early` before it imports the commands: when the
arguments are a backtest this module reads the config's ``[data]`` table, imports what reading needs
(the config model, the data layer, pyarrow) and starts a thread that loads the panel
(:func:`trading_playbook.data.load_panel`, the same call the command makes) while the main thread
goes on importing. Every import happens on the main thread before the thread starts (two threads
importing the same modules at once can meet a half-built module).

The command then asks :meth:`EarlyLoad.panel_for` for the panel of *its own* request (the config it
parsed itself, with ``--symbols``, ``--repair``, ... applied): the thread's result is used only when
the thread loaded exactly that request, and an error the load raised is raised there, where the
command's own load would have raised it (same exception, same one-line message). Anything else (the
thread's config differs, the config could not be read, a source this module does not read early)
and the command loads as before. Nothing is cached beyond the process: the thread does the run's load.

Read early: ``[data] source = "file"`` and ``"cache"`` in memory mode. Not: the synthetic source (its
numba kernel must load after the command's numba set-up), Alpaca (network, a progress bar), chunked
mode (the load is the scan). ``PLAYBOOK_EARLY_LOAD=0`` turns it off (the command loads on its own).
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

__all__ = [
    "BLAS_THREADS_ENV",
    "EARLY_ENV",
    "BacktestArgs",
    "EarlyLoad",
    "backtest_args",
    "discard",
    "start_early",
    "take_early",
]

EARLY_ENV = "PLAYBOOK_EARLY_LOAD"  # "0": the command loads its data itself, after its imports
EARLY_SOURCES = ("file", "cache")
# The interpreter's switch interval while the thread loads: the thread hands each block of work to
# Arrow or numpy (without the GIL) and then waits for the GIL to come back from the main thread, which
# is importing (pure Python, never waiting): at Python's default of 5 ms a load of a few hundred such
# hand-overs spends more time waiting than working (a load beside a busy main thread: 1.26-2.2 s wall
# at 5 ms, 0.85-1.8 s at 0.5 ms, for 0.34-0.4 s of its own CPU; benchmarks in docs/performance.md).
LOAD_SWITCH_INTERVAL = 0.0005

# ``playbook backtest``'s options (cli/backtest.py): those that take a value, and the flags
_VALUE_OPTIONS = ("--start", "--end", "--symbols", "--out", "--engine")
_FLAGS = (
    "--record",
    "--no-record",
    "--charts",
    "--no-charts",
    "--repair",
    "--allow-missing",
    "--chunked",
    "--timings",
)

_early: EarlyLoad | None = None


@dataclass(frozen=True)
class BacktestArgs:
    """What of ``playbook backtest ARGS`` decides the data it loads."""

    config: str
    symbols: tuple[str, ...] | None = None
    repair: bool = False
    allow_missing: bool = False
    chunked: bool = False


def backtest_args(args: Sequence[str]) -> BacktestArgs | None:
    """The data options of ``playbook ARGS`` when it is a backtest this module understands in full;
    None otherwise (another command, ``--help``, an unknown option: the command loads as before)."""
    if not args or args[0] != "backtest":
        return None
    config: str | None = None
    values: dict[str, str] = {}
    flags: set[str] = set()
    rest = list(args[1:])
    while rest:
        arg = rest.pop(0)
        name, eq, value = arg.partition("=")
        if name in _VALUE_OPTIONS:
            if not eq:
                if not rest:
                    return None
                value = rest.pop(0)
            values[name] = value
        elif arg in _FLAGS:
            flags.add(arg)
        elif arg.startswith("-") or config is not None:
            return None  # --help, an unknown option, a second argument: typer decides
        else:
            config = arg
    if config is None:
        return None
    symbols = values.get("--symbols")
    return BacktestArgs(
        config=config,
        symbols=tuple(s.strip().upper() for s in symbols.split(",") if s.strip()) if symbols else None,
        repair="--repair" in flags,
        allow_missing="--allow-missing" in flags,
        chunked="--chunked" in flags,
    )


def backtest_config(
    config: Any, repair: bool = False, allow_missing: bool = False, chunked: bool = False
) -> Any:
    """The config of ``playbook backtest`` with its command-line data options applied."""
    from trading_playbook.config import load_config

    cfg = load_config(config)
    overrides = {f"data.{key}": value for key, value in _data_options(repair, allow_missing, chunked).items()}
    return cfg.with_overrides(overrides) if overrides else cfg


def _data_options(repair: bool, allow_missing: bool, chunked: bool) -> dict[str, Any]:
    """The ``[data]`` keys the command's data flags set (one mapping for the command and the thread)."""
    options: dict[str, Any] = {}
    if repair:
        options["validation"] = "repair"
    if allow_missing:
        options["allow_missing"] = True
    if chunked:
        options["mode"] = "chunked"
    return options


def data_request(cfg: Any, symbols: Sequence[str] | None = None) -> Any:
    """The :class:`~trading_playbook.data.DataRequest` a run of ``cfg`` loads (``symbols``: the
    command's ``--symbols``)."""
    from dataclasses import replace

    request = cfg.data_request()
    if symbols:
        request = replace(request, symbols=tuple(s.upper() for s in symbols))
    return request


def early_request(args: BacktestArgs) -> Any:
    """The request of the config's ``[data]`` table alone, as :func:`backtest_config` and
    :func:`data_request` would make it; None when that table (or the file) does not parse.

    Only ``[data]`` is read: checking the components would import the registry, the exits and the
    scanners (numba) before the thread could start. A config with an error elsewhere is the
    command's to report (it parses the whole config as before, and fails before it takes this load);
    the load is taken only for the request of the config the command parsed in full."""
    import tomllib
    from pathlib import Path

    from pydantic import ValidationError

    from trading_playbook.config import PlaybookConfig
    from trading_playbook.core.errors import PlaybookError

    path = Path(args.config)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
        data = {**(raw.get("data") or {}), **_data_options(args.repair, args.allow_missing, args.chunked)}
        cfg = PlaybookConfig.model_validate({"data": data})
        cfg._base_dir = path.parent.absolute()
        return data_request(cfg, args.symbols)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, ValidationError, PlaybookError, TypeError):
        return None


class _ShortSwitches:
    """:data:`LOAD_SWITCH_INTERVAL` while at least one load thread runs, the interval before it after."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running = 0
        self._saved = 0.0

    def enter(self) -> None:
        with self._lock:
            if self._running == 0:
                self._saved = sys.getswitchinterval()
                sys.setswitchinterval(min(self._saved, LOAD_SWITCH_INTERVAL))
            self._running += 1

    def leave(self) -> None:
        with self._lock:
            self._running -= 1
            if self._running == 0:
                sys.setswitchinterval(self._saved)


_short_switches = _ShortSwitches()


class _Cancelled(Exception):
    """The command no longer wants the panel (it failed or was interrupted)."""


class EarlyLoad:
    """One load thread of one request: :meth:`panel_for` waits for it and hands its panel over (once)."""

    def __init__(self, request: Any) -> None:
        self.request: Any = request  # what the thread loads (None once it was cancelled)
        self.result: tuple[Any, dict[str, Any]] | None = None
        self.error: BaseException | None = None
        self.seconds = 0.0  # the thread's own time, from its start to the panel
        self._cancel = threading.Event()
        # not a daemon: the interpreter waits for it at exit instead of freezing it inside Arrow
        self._thread = threading.Thread(target=self._run, name="playbook-early-load")

    def start(self) -> EarlyLoad:
        """Start the thread; the switch interval is :data:`LOAD_SWITCH_INTERVAL` until it ends."""
        _short_switches.enter()
        self._thread.start()
        return self

    def _run(self) -> None:
        from trading_playbook.data import load_panel

        t0 = time.perf_counter()
        try:
            self.result = load_panel(self.request, checkpoint=self._checkpoint)
        except _Cancelled:
            self.request = None
        except BaseException as exc:  # handed to the command, which raises it where it loads
            self.error = exc
        finally:
            self.seconds = time.perf_counter() - t0
            _short_switches.leave()  # the load no longer waits for the GIL

    def _checkpoint(self) -> None:
        """Called by the load between blocks of work: stop there once cancelled."""
        if self._cancel.is_set():
            raise _Cancelled

    def done(self) -> bool:
        """Whether the thread has finished (its panel, its error, or nothing once cancelled)."""
        return not self._thread.is_alive() and self._thread.ident is not None

    def cancel(self) -> None:
        """Stop between blocks of symbols (the command is failing); the panel is dropped."""
        self._cancel.set()

    def panel_for(self, request: Any) -> tuple[Any, dict[str, Any]] | None:
        """The thread's ``(panel, info)`` when it loaded exactly ``request`` (raising what that load
        raised); None when it loaded something else or nothing (the caller then loads itself)."""
        self._thread.join()
        if self.request is None or self.request != request:
            self.result = self.error = None
            return None
        error, result = self.error, self.result
        self.result = self.error = None
        if error is not None:
            raise error
        return result


def readable_early(request: Any) -> bool:
    """Whether this module reads ``request`` in a thread (see the module docstring)."""
    return request is not None and request.mode == "memory" and request.source in EARLY_SOURCES


def start_early(args: Sequence[str]) -> None:
    """Start the load thread when ``playbook ARGS`` is a backtest (see the module docstring)."""
    global _early
    if _early is not None or os.environ.get(EARLY_ENV, "1") == "0":
        return
    parsed = backtest_args(args)
    if parsed is None:
        return
    # the request and every module the thread runs are made here, on the main thread, before the
    # thread starts: two threads importing the same modules at once can meet a half-built module
    with one_blas_thread():  # numpy's BLAS loads with these imports
        import numpy  # noqa: F401

        request = early_request(parsed)
    if not readable_early(request):
        return
    import pyarrow.parquet

    import trading_playbook.data.api
    import trading_playbook.data.completeness
    import trading_playbook.data.estimate
    import trading_playbook.data.pack

    if request.source == "file":  # the file reader (with pyarrow.csv): a cached source needs neither
        import pyarrow.compute  # noqa: F401 (casts of columns that are not float64)

        import trading_playbook.data.files  # noqa: F401

    _early = EarlyLoad(request).start()


BLAS_THREADS_ENV = "OPENBLAS_NUM_THREADS"


@contextmanager
def one_blas_thread() -> Iterator[None]:
    """numpy's OpenBLAS loaded inside the block starts no worker thread (``OPENBLAS_NUM_THREADS=1``
    while the block runs; the environment is as before afterwards).

    OpenBLAS starts its worker threads when it loads, and each spins on its core for about 0.1 s
    waiting for work before it sleeps: about 0.1 s of CPU taken from the core the load thread needs,
    while the main thread imports on the other one. A backtest calls no BLAS routine (its kernels and
    metrics use none; a warm run does not even import numba's linear algebra), so one thread changes
    no result. A thread count the user set is left alone, and so is a numpy already loaded.
    """
    if BLAS_THREADS_ENV in os.environ or "numpy" in sys.modules:
        yield
        return
    os.environ[BLAS_THREADS_ENV] = "1"
    try:
        yield
    finally:
        os.environ.pop(BLAS_THREADS_ENV, None)


def take_early() -> EarlyLoad | None:
    """The load :func:`start_early` started, if any (handed over once)."""
    global _early
    early, _early = _early, None
    return early


def discard() -> None:
    """Cancel a load nobody took (the command failed before it loaded)."""
    early = take_early()
    if early is not None:
        early.cancel()
