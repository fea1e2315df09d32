"""Executors: local processes share the job once per worker; chunks group trials by setup key."""

from __future__ import annotations

import numpy as np
from _research_toy import ToyJob

from trading_playbook.research.executors import LocalExecutor, TrialTask, chunk_tasks
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
