"""Run many trials in parallel: on local processes or on a Dask cluster, with identical results.

A sweep is a **job** (what every trial shares: the configuration and the market data) and a list of
**tasks** (what differs: the parameters and the window). The job is shipped to each worker **once**;
the worker builds its state from it once (:meth:`TrialJob.setup`, e.g. the engine's ``Workspace`` with
its memo caches) and keeps it for every task it runs, so the panel is never re-read per trial and the
indicators, scanner features and setups a trial does not change are computed once per worker.

Tasks are sent in **chunks** grouped by the parameters that change the setups
(:func:`~trading_playbook.research.params.setup_key`): trials that only differ in exit, sizer or
portfolio parameters run one after the other on the same worker and share its memoised scan.

Both executors call the same pure function per task and the caller orders the outcomes by task index,
so the local and the Dask executor give identical results.
"""

from __future__ import annotations

import math
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from multiprocessing import get_all_start_methods, get_context
from typing import Any, Protocol, runtime_checkable

import numpy as np

from trading_playbook.core.errors import ConfigError, PlaybookError
from trading_playbook.research.params import setup_key

__all__ = [
    "DaskExecutor",
    "Executor",
    "LocalExecutor",
    "TrialJob",
    "TrialOutcome",
    "TrialTask",
    "make_executor",
]


@dataclass(frozen=True)
class TrialTask:
    """One trial to run: its index in the sweep, its parameter overrides and its window."""

    index: int
    params: dict[str, Any]
    start: str | None = None  # ISO date or None (the config's own)
    end: str | None = None


@dataclass(frozen=True)
class TrialOutcome:
    """What a trial produced, small enough to send back from a worker.

    ``returns`` are the daily returns of the trial's equity (one per session after the first);
    ``dates`` the sessions they belong to (``datetime64[D]``).
    """

    index: int
    params: dict[str, Any]
    metrics: dict[str, float]
    returns: np.ndarray = field(default_factory=lambda: np.zeros(0))
    dates: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype="datetime64[D]"))
    error: str | None = None
    seconds: float = 0.0
    worker: str = ""


@runtime_checkable
class TrialJob(Protocol):
    """What every trial of a sweep shares. Must be picklable; ``token`` identifies it on a worker."""

    @property
    def token(self) -> str:
        """Identity of the job on the workers."""

    def setup(self) -> Any:
        """Build the worker state (called once per worker process)."""

    def run(self, state: Any, task: TrialTask) -> TrialOutcome:
        """Run one trial with the worker state (pure: same task, same outcome)."""


class Executor(Protocol):
    """Runs tasks of one job in parallel and yields outcomes as they complete (any order)."""

    @property
    def workers(self) -> int:
        """How many tasks can run at once."""

    def run(self, job: TrialJob, tasks: Sequence[TrialTask]) -> Iterator[TrialOutcome]:
        """Run every task; yield each outcome as soon as it is available."""

    def close(self) -> None:
        """Release the workers."""

    def abort(self) -> None:
        """Stop at once (Ctrl-C): drop queued and running work; recorded trials are kept."""


# ---------------------------------------------------------------------------------------------
# Worker side: one state per job per process, built on first use.

_WORKER_STATES: dict[str, Any] = {}
_WORKER_LOCK = threading.Lock()


def _worker_state(job: TrialJob) -> Any:
    with _WORKER_LOCK:
        if job.token not in _WORKER_STATES:
            _WORKER_STATES.clear()  # one job at a time per worker: drop a finished sweep's data
            _WORKER_STATES[job.token] = job.setup()
        return _WORKER_STATES[job.token]


def _run_one(job: TrialJob, state: Any, task: TrialTask) -> TrialOutcome:
    started = time.perf_counter()
    try:
        outcome = job.run(state, task)
    except PlaybookError as exc:
        # A trial that the engine rejects is recorded as failed; the sweep goes on.
        return TrialOutcome(
            index=task.index,
            params=task.params,
            metrics={},
            error=f"{type(exc).__name__}: {exc}",
            seconds=time.perf_counter() - started,
            worker=_worker_name(),
        )
    return TrialOutcome(
        index=outcome.index,
        params=outcome.params,
        metrics=outcome.metrics,
        returns=outcome.returns,
        dates=outcome.dates,
        error=outcome.error,
        seconds=time.perf_counter() - started,
        worker=_worker_name(),
    )


def _run_chunk_with(job: TrialJob, chunk: list[TrialTask]) -> list[TrialOutcome]:
    state = _worker_state(job)
    return [_run_one(job, state, task) for task in chunk]


_PROCESS_JOB: list[TrialJob] = []


def _process_initializer(job: TrialJob, forked: bool = False) -> None:
    # Runs once per worker process: receives the job (and the data it carries) once. Ctrl-C reaches
    # the whole process group; the parent handles it (and stops the workers), so a worker ignores it
    # rather than print a traceback of its own.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if forked:
        # The parent's inline state (and its lock, possibly held by another thread) came along with
        # the fork: the worker builds its own state, as a spawned one does.
        global _WORKER_LOCK
        _WORKER_LOCK = threading.Lock()
        _WORKER_STATES.clear()
    _PROCESS_JOB[:] = [job]
    _worker_state(job)


def _default_start_method() -> str:
    """``fork`` where the platform has it (Linux): the workers inherit the loaded workspace instead
    of each unpickling a copy; ``spawn`` elsewhere (macOS's fork is unsafe with its system libraries,
    Windows has none)."""
    return "fork" if sys.platform.startswith("linux") and "fork" in get_all_start_methods() else "spawn"


def _process_run_chunk(chunk: list[TrialTask]) -> list[TrialOutcome]:
    return _run_chunk_with(_PROCESS_JOB[0], chunk)


def _worker_name() -> str:
    return f"pid-{os.getpid()}"


# ---------------------------------------------------------------------------------------------
# Chunking


def chunk_tasks(tasks: Sequence[TrialTask], workers: int) -> list[list[TrialTask]]:
    """Group tasks by setup key (and window), then split groups so every worker gets several chunks.

    Order inside a chunk follows the task index, so a worker's memo sees each scan once.
    """
    if not tasks:
        return []
    groups: dict[tuple[Any, ...], list[TrialTask]] = {}
    for task in sorted(tasks, key=lambda t: t.index):
        key = (setup_key(task.params), task.start, task.end)
        groups.setdefault(key, []).append(task)
    # Enough chunks to keep every worker busy and the progress bar moving, but whole groups where
    # they are small enough.
    max_size = max(1, math.ceil(len(tasks) / (max(1, workers) * 4)))
    chunks: list[list[TrialTask]] = []
    for group in groups.values():
        for lo in range(0, len(group), max_size):
            chunks.append(group[lo : lo + max_size])
    return chunks


# ---------------------------------------------------------------------------------------------
# Executors


class LocalExecutor:
    """Processes on this machine (``concurrent.futures.ProcessPoolExecutor``).

    ``workers=1`` runs in this process (no pool, no pickling), useful for tests and small sweeps.
    The pool is created on the first :meth:`run` of a job and kept for later runs of the **same** job
    (a walk-forward's folds), so every worker builds its state once for the whole walk-forward.

    Parameters
    ----------
    workers : int, optional
        Worker processes; default the number of CPUs.
    start_method : str, optional
        ``"fork"``, ``"spawn"`` or ``"forkserver"``. Default ``"fork"`` on Linux, else ``"spawn"``.
        With ``fork`` the workers inherit the job (the loaded workspace, 150 MB for the S&P 500
        panel) copy-on-write: nothing is pickled, and the panel's pages are shared, not copied. The
        fork is safe here: the core starts no threads (no parallel numba kernels); the only other
        thread a CLI run has, the progress bar, shares nothing with a worker but the standard streams
        (a test forks while a thread writes to stderr and the workers write to it too); the
        executor's own lock and inline state are replaced in the child. ``spawn``/``forkserver``
        pickle the job once per worker.
    """

    def __init__(self, workers: int | None = None, *, start_method: str | None = None) -> None:
        self.workers = int(workers or os.cpu_count() or 1)
        if self.workers < 1:
            raise ConfigError(f"--workers must be >= 1, got {workers}")
        self._start_method = start_method or _default_start_method()
        self._pool: ProcessPoolExecutor | None = None
        self._pool_token: str | None = None
        self._inline_job: TrialJob | None = None

    def run(self, job: TrialJob, tasks: Sequence[TrialTask]) -> Iterator[TrialOutcome]:
        """Run every task; yield outcomes as chunks complete."""
        if not tasks:
            return
        if self.workers == 1:
            yield from self._run_inline(job, tasks)
            return
        pool = self._pool_for(job)
        pending: set[Future[list[TrialOutcome]]] = {
            pool.submit(_process_run_chunk, chunk) for chunk in chunk_tasks(tasks, self.workers)
        }
        # Chunks left queued when the caller stops early are cancelled by ``close``/``abort``
        # (``shutdown(cancel_futures=True)``), through the pool's manager thread. Not here: on
        # Python 3.11 a future cancelled from outside stays in that thread's pending items, and if
        # the pool then breaks (``abort`` terminates the workers) the thread dies on
        # ``InvalidStateError`` and prints its traceback after the "interrupted" message.
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                yield from future.result()

    def _run_inline(self, job: TrialJob, tasks: Sequence[TrialTask]) -> Iterator[TrialOutcome]:
        state = _worker_state(job)
        for chunk in chunk_tasks(tasks, 1):
            for task in chunk:
                yield _run_one(job, state, task)

    def _pool_for(self, job: TrialJob) -> ProcessPoolExecutor:
        if self._pool is not None and self._pool_token == job.token:
            return self._pool
        self.close()
        self._pool = ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=get_context(self._start_method),
            initializer=_process_initializer,
            initargs=(job, self._start_method == "fork"),
        )
        self._pool_token = job.token
        return self._pool

    def close(self) -> None:
        """Shut the pool down (cancelling queued chunks)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        self._pool = None
        self._pool_token = None

    def abort(self) -> None:
        """Stop now (Ctrl-C): cancel queued chunks and end the workers without waiting for running ones.

        Recorded trials are kept; a running trial's result is lost and the trial runs again on resume.
        """
        pool, self._pool, self._pool_token = self._pool, None, None
        if pool is None:
            return
        # No public API before Python 3.14 for the workers; the result pipe is needed below.
        workers = list((getattr(pool, "_processes", None) or {}).values())
        manager = getattr(pool, "_executor_manager_thread", None)
        results = getattr(pool, "_result_queue", None)
        pool.shutdown(wait=False, cancel_futures=True)
        for process in workers:
            if process.is_alive():
                process.terminate()
        for process in workers:
            process.join(timeout=10)
        _end_of_results(results)
        if manager is not None:
            # Let the pool's manager thread finish (closing its wake-up pipe) before the interpreter
            # exits: concurrent.futures' exit hook writes to that pipe unlocked, and a close racing
            # it prints an "OSError: Bad file descriptor" traceback after the interrupt message.
            manager.join(timeout=10)

    def __enter__(self) -> LocalExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _end_of_results(results: Any) -> None:
    """Close this process's write end of a stopped pool's result pipe, once its workers are gone.

    A worker terminated in the middle of sending a result (a chunk's outcomes are hundreds of KB, many
    pipe buffers) leaves half a message in the pipe, and the pool's manager thread waits for the rest
    in a blocking read; the interpreter joins that thread at exit, so the process would never end
    after Ctrl-C. With the workers dead, this process holds the last write end: closing it turns that
    read into end-of-file, the manager thread marks the pool broken and ends. Nothing writes to the
    pipe from this process (the workers are the only writers).
    """
    writer = getattr(results, "_writer", None)
    if writer is not None:
        writer.close()


def _dask_run_chunk(job: TrialJob, chunk: list[TrialTask]) -> list[TrialOutcome]:
    # ``job`` arrives as the worker's copy of the broadcast-scattered data: deserialised once per
    # worker, then the same object for every chunk; the state is built on first use.
    return _run_chunk_with(job, chunk)


class DaskExecutor:
    """A Dask distributed cluster: ``Client(address)``; the job is scattered once to every worker.

    Parameters
    ----------
    address : str or distributed.Client
        Scheduler address (``tcp://10.0.0.5:8786``) or an existing client.
    """

    def __init__(self, address: Any) -> None:
        try:
            from distributed import Client as _Client
        except ImportError as exc:  # pragma: no cover - the extra is part of dev installs
            raise ConfigError(
                "--executor dask needs dask.distributed: pip install 'trading-playbook[distributed]'"
            ) from exc
        Client: Any = _Client
        self._client: Any
        if isinstance(address, _Client):
            self._client = address
            self._owns_client = False
        else:
            if not address:
                raise ConfigError("--executor dask needs --scheduler ADDRESS (e.g. tcp://127.0.0.1:8786)")
            try:
                self._client = Client(address, timeout="20s")
            except OSError as exc:
                raise ConfigError(f"cannot reach the Dask scheduler at {address!r}: {exc}") from exc
            self._owns_client = True
        self._job_future: Any = None
        self._job_token: str | None = None

    @property
    def workers(self) -> int:
        """Worker threads across the cluster (what chunking aims to keep busy)."""
        nthreads: dict[str, int] = self._client.nthreads()
        return max(1, sum(nthreads.values()))

    def run(self, job: TrialJob, tasks: Sequence[TrialTask]) -> Iterator[TrialOutcome]:
        """Scatter the job once (broadcast), submit chunks, yield outcomes as they complete."""
        if not tasks:
            return
        from distributed import as_completed as _as_completed

        as_completed: Any = _as_completed

        if self._job_token != job.token:
            self._job_future = self._client.scatter(job, broadcast=True, hash=False)
            self._job_token = job.token
        futures = [
            self._client.submit(_dask_run_chunk, self._job_future, chunk, pure=False)
            for chunk in chunk_tasks(tasks, self.workers)
        ]
        try:
            for future in as_completed(futures):
                yield from future.result()
        finally:
            for future in futures:
                if not future.done():
                    future.cancel()

    def close(self) -> None:
        """Release the scattered job; close the client if this executor opened it."""
        self._job_future = None
        self._job_token = None
        if self._owns_client:
            self._client.close()

    def abort(self) -> None:
        """Stop at once: the run's unfinished futures were cancelled when it was interrupted."""
        self.close()

    def __enter__(self) -> DaskExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def make_executor(kind: str, *, workers: int | None = None, scheduler: str | None = None) -> Executor:
    """Build an executor from the CLI options ``--executor local|dask --workers N --scheduler ADDRESS``."""
    if kind == "local":
        return LocalExecutor(workers)
    if kind == "dask":
        return DaskExecutor(scheduler)
    raise ConfigError(f"--executor must be 'local' or 'dask', got {kind!r}")
