"""Executors: local processes share the job once per worker; chunks group trials by setup key."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from _research_toy import ToyJob

from trading_playbook.research.executors import LocalExecutor, TrialOutcome, TrialTask, chunk_tasks
from trading_playbook.research.params import grid_points, parse_params


def _tasks() -> list[TrialTask]:
    specs = parse_params(["a.x=1:5:1", "exit.y=0:1:0.25"])
    return [TrialTask(i, p) for i, p in enumerate(grid_points(specs))]


def test_chunks_group_by_setup_key_and_cover_every_task() -> None:
    tasks = _tasks()
    chunks = chunk_tasks(tasks, workers=2)
    flat = sorted(t.index for chunk in chunks for t in chunk)
    assert flat == list(range(25))
    for chunk in chunks:
        # Only exit.* varies inside a chunk: one scan per chunk.
        assert len({t.params["a.x"] for t in chunk}) == 1
    assert len(chunks) >= 4  # enough chunks to keep two workers busy


def test_chunks_split_one_large_group() -> None:
    tasks = [TrialTask(i, {"exit.y": i}) for i in range(40)]
    chunks = chunk_tasks(tasks, workers=2)
    assert len(chunks) == 8 and all(len(c) == 5 for c in chunks)


def test_inline_and_process_pool_give_identical_outcomes() -> None:
    tasks = _tasks()
    job = ToyJob(payload=np.ones(1000))
    with LocalExecutor(1) as inline:
        one = sorted(inline.run(job, tasks), key=lambda o: o.index)
    with LocalExecutor(2) as pool:
        two = sorted(pool.run(job, tasks), key=lambda o: o.index)
        # A second sweep of the same job reuses the pool and the workers' state.
        again = sorted(pool.run(job, tasks[:5]), key=lambda o: o.index)
    assert [o.index for o in two] == list(range(25))
    for a, b in zip(one, two, strict=True):
        assert a.params == b.params
        assert a.metrics["sharpe"] == b.metrics["sharpe"]
        np.testing.assert_array_equal(a.returns, b.returns)
    # Each worker process built its state once, however many chunks it ran.
    states = {(o.metrics["pid"], o.metrics["state_id"]) for o in [*two, *again]}
    pids = {o.metrics["pid"] for o in [*two, *again]}
    assert len(states) == len(pids) <= 2


class _NoPickle:
    """Payload that refuses to be pickled: only a forked worker can have it."""

    def __reduce__(self) -> Any:
        raise TypeError("this payload must not be pickled")

    def __getitem__(self, key: Any) -> np.ndarray:
        return np.ones(1)[key]


needs_fork = pytest.mark.skipif(
    not sys.platform.startswith("linux") or "fork" not in multiprocessing.get_all_start_methods(),
    reason="the fork start method is Linux-only",
)


@needs_fork
def test_local_workers_fork_and_inherit_the_job_without_pickling_it() -> None:
    tasks = _tasks()
    with LocalExecutor(2) as pool:
        forked = sorted(pool.run(ToyJob(payload=_NoPickle()), tasks), key=lambda o: o.index)
    with LocalExecutor(2, start_method="spawn") as pool:
        spawned = sorted(pool.run(ToyJob(payload=np.ones(1000)), tasks), key=lambda o: o.index)
    assert [o.index for o in forked] == list(range(25))
    assert {o.metrics["pid"] for o in forked} != {float(os.getpid())}
    for a, b in zip(forked, spawned, strict=True):
        assert a.metrics["sharpe"] == b.metrics["sharpe"]
        np.testing.assert_array_equal(a.returns, b.returns)
    # The pickling path is still the one used where fork is not the start method.
    with (
        pytest.raises(Exception, match="must not be pickled"),
        LocalExecutor(2, start_method="spawn") as pool,
    ):
        list(pool.run(ToyJob(payload=_NoPickle()), tasks))


@needs_fork
def test_forked_worker_writes_to_stderr_while_the_parent_thread_is_writing(
    capfd: pytest.CaptureFixture[str],
) -> None:
    # A progress-bar-like thread writes to stderr while the pool forks: a worker that then writes a
    # warning must not block on a stream lock the child inherited held.
    stop = threading.Event()

    def chatter() -> None:
        while not stop.is_set():
            sys.stderr.write("\r" + " " * 200)

    thread = threading.Thread(target=chatter, daemon=True)
    thread.start()
    try:
        for _ in range(5):
            with LocalExecutor(2) as pool:
                outcomes = list(pool.run(_LoudJob(), _tasks()[:4]))
            assert len(outcomes) == 4
    finally:
        stop.set()
        thread.join()


@dataclass(frozen=True)
class _LoudJob(ToyJob):
    token: str = "loud"

    def run(self, state: dict[str, Any], task: TrialTask) -> TrialOutcome:
        sys.stderr.write("worker warning\n")
        sys.stderr.flush()
        return super().run(state, task)


_ABORT_MID_SEND = """
import threading
from dataclasses import dataclass

import numpy as np

from trading_playbook.research.executors import LocalExecutor, TrialOutcome, TrialTask


@dataclass(frozen=True)
class BigResults:
    token: str = "big"

    def setup(self):
        return None

    def run(self, state, task):
        # 32 MB per outcome: a worker spends most of its time sending results through the pipe.
        return TrialOutcome(task.index, task.params, {{}}, returns=np.full(4_000_000, float(task.index)))


for attempt in range({attempts}):
    executor = LocalExecutor(2)
    outcomes = executor.run(BigResults(), [TrialTask(i, {{}}) for i in range(16)])
    next(outcomes)
    outcomes.close()  # as Ctrl-C does: the interrupt leaves the generator first, then abort()
    executor.abort()
    alive = [t.name for t in threading.enumerate() if t is not threading.main_thread() and t.is_alive()]
    print(attempt, alive, flush=True)
print("done", flush=True)
"""


def test_abort_ends_even_when_a_worker_dies_mid_send() -> None:
    # Ctrl-C terminates the workers; one killed halfway through sending a result used to leave the
    # pool's manager thread blocked on the rest of that message, and the interpreter waits for that
    # thread at exit: the command printed "interrupted" and never ended. Each attempt aborts while
    # 32 MB results are in flight; every attempt must leave no thread behind, print no traceback (a
    # future cancelled from outside the pool broke its manager thread on Python 3.11), and the process
    # must end.
    attempts = 6
    done = subprocess.run(
        [sys.executable, "-c", _ABORT_MID_SEND.format(attempts=attempts)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    lines = done.stdout.splitlines()
    assert lines == [f"{i} []" for i in range(attempts)] + ["done"], done.stdout + done.stderr
