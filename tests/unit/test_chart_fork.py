"""The chart worker's split with a forked helper (issue 14): every chart drawn exactly once, a helper
that dies costs only time (the worker draws what it lacks, with a note), and no helper outlives the
worker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from trading_playbook._chart_fork import CHART_COST, draw_split

NAMES = ("equity", "monthly_returns", "trade_returns", "exit_reasons")


def _renderers(
    log: Path, seconds: float = 0.05, in_helper: Callable[[str], None] | None = None
) -> dict[str, Callable[[Mapping[str, Any]], bytes]]:
    """Fake charts that log ``pid name`` for each drawing (O_APPEND: one line per call, whoever
    draws) and return bytes naming the chart and the input; ``in_helper`` runs in the forked helper."""
    worker = os.getpid()

    def renderer(name: str) -> Callable[[Mapping[str, Any]], bytes]:
        def draw(inputs: Mapping[str, Any]) -> bytes:
            with log.open("a") as f:
                f.write(f"{os.getpid()} {name}\n")
            if in_helper is not None and os.getpid() != worker:
                in_helper(name)
            time.sleep(seconds)
            return f"{name}:{inputs['value']}".encode()

        return draw

    return {name: renderer(name) for name in NAMES}


def _calls(log: Path) -> list[tuple[int, str]]:
    return [(int(pid), name) for pid, name in (line.split() for line in log.read_text().splitlines())]


def test_every_chart_is_drawn_once_by_one_of_the_two_processes(tmp_path: Path) -> None:
    log = tmp_path / "calls.log"
    drawn = draw_split({"value": 7}, _renderers(log, seconds=0.2))
    assert list(drawn.pngs) == list(NAMES)  # the callers' order
    assert drawn.pngs == {name: f"{name}:7".encode() for name in NAMES}
    calls = _calls(log)
    assert sorted(name for _, name in calls) == sorted(NAMES)  # each exactly once, in either process
    assert set(drawn.by.values()) == {"worker", "helper"}  # 0.2 s a chart: both took some
    helper_pids = {pid for pid, name in calls if drawn.by[name] == "helper"}
    assert len(helper_pids) == 1 and os.getpid() not in helper_pids
    assert drawn.notes == []
    assert set(drawn.cpu) == {"worker", "helper"} and all(v >= 0.0 for v in drawn.cpu.values())


def test_the_costliest_charts_are_handed_out_first(tmp_path: Path) -> None:
    log = tmp_path / "calls.log"
    draw_split({"value": 1}, _renderers(log), fork=False)
    assert [name for _, name in _calls(log)] == sorted(NAMES, key=lambda n: -CHART_COST[n])


def test_without_a_fork_the_worker_draws_everything(tmp_path: Path) -> None:
    drawn = draw_split({"value": 1}, _renderers(tmp_path / "calls.log"), fork=False)
    assert set(drawn.by.values()) == {"worker"} and len(drawn.pngs) == len(NAMES)


@pytest.mark.parametrize(
    ("death", "how"),
    [
        (lambda _name: os._exit(3), "exit code 3"),
        (lambda _name: os.kill(os.getpid(), signal.SIGKILL), "signal 9"),
    ],
)
def test_a_helper_that_dies_costs_only_time(tmp_path: Path, death: Callable[[str], None], how: str) -> None:
    log = tmp_path / "calls.log"
    drawn = draw_split({"value": 2}, _renderers(log, seconds=0.2, in_helper=death))
    assert drawn.pngs == {name: f"{name}:2".encode() for name in NAMES}  # never a missing chart
    assert set(drawn.by.values()) == {"worker"}
    calls = _calls(log)
    lost = [name for pid, name in calls if pid != os.getpid()]
    assert len(lost) == 1  # the helper died on its first chart, which the worker then drew
    assert sorted(name for pid, name in calls if pid == os.getpid()) == sorted(NAMES)
    assert any(how in note for note in drawn.notes)
    assert set(drawn.cpu) == {"worker"}  # a dead helper does not say
    assert any(lost[0] in note and "itself" in note for note in drawn.notes)


def test_a_failing_chart_in_the_worker_raises_and_ends_the_helper(tmp_path: Path) -> None:
    log = tmp_path / "calls.log"
    worker = os.getpid()

    def broken(inputs: Mapping[str, Any]) -> bytes:
        with log.open("a") as f:
            f.write(f"{os.getpid()}\n")
        time.sleep(0.3)  # meanwhile the helper starts a chart of its own
        if os.getpid() == worker:
            raise ValueError("no such month")
        return b""

    with pytest.raises(ValueError, match="no such month"):
        draw_split({}, dict.fromkeys(NAMES, broken))
    helpers = {int(pid) for pid in log.read_text().split()} - {worker}
    assert len(helpers) == 1
    for pid in helpers:  # killed and reaped, not left running
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


_ORPHAN_SCRIPT = """
import os, sys, time
from trading_playbook._chart_fork import draw_split
log = sys.argv[1]
def draw(inputs):
    with open(log, "a") as f:
        f.write(f"{os.getpid()}\\n")
    time.sleep(30)
    return b""
draw_split({}, {"equity": draw, "monthly_returns": draw})
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the parent-death signal is Linux's")
def test_the_helper_dies_with_a_killed_worker(tmp_path: Path) -> None:
    log = tmp_path / "pids.log"
    worker = subprocess.Popen([sys.executable, "-c", _ORPHAN_SCRIPT, str(log)])
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and (not log.exists() or len(log.read_text().split()) < 2):
            time.sleep(0.05)
        pids = {int(p) for p in log.read_text().split()}
        assert worker.pid in pids and len(pids) == 2
    finally:
        worker.kill()
        worker.wait()
    (helper,) = pids - {worker.pid}
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and _alive(helper):
        time.sleep(0.05)
    assert not _alive(helper)


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for an init that does not reap counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")
