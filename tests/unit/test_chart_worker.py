"""The chart worker process (issue 14): the same chart files as drawing them in the command, a worker
that fails costs only time, and a worker never outlives a command that needs no charts."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from trading_playbook import _chart_worker
from trading_playbook.core.metrics import compute_metrics
from trading_playbook.reports import render_document, write_run
from trading_playbook.reports.samples import random_run

STAMP = "2021-02-01T00:00:00Z"


@pytest.fixture(scope="module")
def run():  # type: ignore[no-untyped-def]
    result = random_run(n_sessions=300, n_trades=40, seed=11)
    return dataclasses.replace(result, metrics=compute_metrics(result))


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_the_worker_writes_the_same_files_as_the_command(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    here = write_run(run, tmp_path / "here", created_at=STAMP)
    timings: dict[str, float] = {}
    worker = _chart_worker.start()
    notes: list[str] = []
    there = write_run(
        run, tmp_path / "worker", created_at=STAMP, chart_worker=worker, timings=timings, notes=notes
    )
    assert notes == []
    assert set(here) == set(there)
    assert _files(tmp_path / "here") == _files(tmp_path / "worker")  # PNGs, report.html, every byte
    assert timings["charts.worker"] > 0.0  # the charts did come from the worker
    assert timings["charts.worker.cpu"] > 0.0 and timings["charts.helper.cpu"] > 0.0  # both drew
    assert worker.process.returncode == 0


def test_a_worker_that_died_costs_only_time(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    worker = _chart_worker.start()
    worker.process.kill()
    worker.process.wait()
    timings: dict[str, float] = {}
    written = write_run(run, tmp_path / "out", created_at=STAMP, chart_worker=worker, timings=timings)
    reference = write_run(run, tmp_path / "ref", created_at=STAMP)
    assert "charts.worker" not in timings  # drawn here instead
    assert written["chart_equity"].read_bytes() == reference["chart_equity"].read_bytes()


def test_a_worker_killed_after_the_handover_leaves_the_charts_to_the_command(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    doc = _document(run)
    worker = _chart_worker.start()
    assert worker.submit(doc)
    worker.process.kill()  # mid-way: it has the values, it never replies
    notes: list[str] = []
    written = render_document(doc, tmp_path / "out", chart_worker=worker, notes=notes)
    reference = render_document(doc, tmp_path / "ref")
    assert _files(tmp_path / "out") == _files(tmp_path / "ref")  # every chart, drawn here
    assert set(written) == set(reference)
    assert notes == [
        "the chart worker ended without a reply (exit code -9)",
        "drew equity, monthly_returns, trade_returns, exit_reasons in the command instead (it only costs time)",
    ]


# a real process speaking the worker's protocol that delivers one chart and says why not the others
_PARTIAL_WORKER = """
import pickle, sys
from trading_playbook.reports.charts import render_charts
inputs = pickle.load(sys.stdin.buffer)
pngs = render_charts(inputs, ["trade_returns"])
pickle.dump(("ok", pngs, 0.5, ["the helper failed (signal 9) after 0 chart(s)"], {}), sys.stdout.buffer)
"""


def test_the_command_draws_what_the_worker_did_not_deliver(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import subprocess
    import sys

    process = subprocess.Popen(
        [sys.executable, "-c", _PARTIAL_WORKER], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    notes: list[str] = []
    timings: dict[str, float] = {}
    worker = _chart_worker.ChartWorker(process)
    write_run(run, tmp_path / "out", created_at=STAMP, chart_worker=worker, notes=notes, timings=timings)
    write_run(run, tmp_path / "ref", created_at=STAMP)
    assert _files(tmp_path / "out") == _files(tmp_path / "ref")  # never a missing chart
    assert timings["charts.worker"] == 0.5
    assert notes == [
        "the helper failed (signal 9) after 0 chart(s)",
        "drew equity, monthly_returns, exit_reasons in the command instead (it only costs time)",
    ]
    assert process.returncode == 0


def test_a_worker_gone_before_the_handover_is_noted(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    worker = _chart_worker.start()
    worker.process.kill()
    worker.process.wait()
    notes: list[str] = []
    write_run(run, tmp_path / "out", created_at=STAMP, chart_worker=worker, notes=notes)
    assert len(notes) == 1 and "before the charts' values were handed over" in notes[0]
    assert len(list((tmp_path / "out" / "charts").iterdir())) == len(_chart_worker.CHART_NAMES)


def _document(result):  # type: ignore[no-untyped-def]
    from trading_playbook.reports.json_result import result_document

    return result_document(result, created_at=STAMP)


def test_a_worker_that_fails_to_draw_hands_back_an_error(tmp_path: Path) -> None:
    worker = _chart_worker.start()
    assert worker.submit({"metrics": {}, "equity": [], "starting_capital": 1.0, "trades": []})
    assert worker.result() is None  # the command then draws (and raises) itself
    assert worker.process.returncode == 0
    assert len(worker.notes) == 1 and worker.notes[0].startswith("the chart worker failed: KeyError")


def test_without_charts_the_worker_is_ended(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    worker = _chart_worker.start()
    written = write_run(run, tmp_path / "out", formats=("json", "csv", "md"), chart_worker=worker)
    assert not any(kind.startswith("chart_") for kind in written)
    assert worker.process.poll() is not None  # reaped, not left running


def test_a_cancelled_worker_is_gone() -> None:
    worker = _chart_worker.start()
    worker.cancel()
    assert worker.process.poll() is not None


@pytest.mark.parametrize(
    ("args", "wanted"),
    [
        (["backtest", "c.toml"], True),
        (["backtest", "c.toml", "--no-charts"], False),
        (["backtest", "--help"], False),
        (["scan", "c.toml"], False),
        ([], False),
    ],
)
def test_which_commands_start_a_worker(
    args: list[str], wanted: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(_chart_worker.WORKER_ENV, raising=False)
    assert _chart_worker.wants_charts(args) is wanted
    monkeypatch.setenv(_chart_worker.WORKER_ENV, "0")
    assert _chart_worker.wants_charts(args) is False
    assert _chart_worker.start_if_enabled() is None


def test_chart_names_are_known_before_drawing() -> None:
    assert _chart_worker.chart_names({"data": {}}) == _chart_worker.CHART_NAMES
    assert _chart_worker.chart_names({"data": {"coverage": {"sessions": {}}}})[-1] == "coverage"
    from trading_playbook.reports import charts

    assert charts.CHART_NAMES == _chart_worker.CHART_NAMES


def test_the_early_chart_inputs_are_those_of_the_document(run) -> None:  # type: ignore[no-untyped-def]
    # the worker gets the values before the document is built: they must be the document's own
    import numpy as np

    from trading_playbook.core.metrics import BenchmarkSeries
    from trading_playbook.reports.json_result import chart_inputs_of_run, result_document

    dates = np.asarray(run.equity.dates).astype("datetime64[D]")
    growth = np.linspace(1.0, 1.5, dates.size)
    growth[3] = np.nan  # a gap becomes null in both
    bench = BenchmarkSeries(dates, {"equal_weight": growth}, {"equal_weight": "Equal weight"})
    shuffled = dataclasses.replace(run, trades=list(reversed(run.trades)))  # the document sorts them
    for result in (run, shuffled):
        doc = result_document(result, created_at=STAMP, benchmark=bench)
        assert chart_inputs_of_run(result, bench) == _chart_worker.chart_inputs(doc)
    assert chart_inputs_of_run(run)["benchmarks"] == {}


def test_on_a_first_run_the_figures_wait_for_the_compile_worker() -> None:
    import os
    import subprocess
    import threading
    import time

    compile_worker = subprocess.Popen(["sleep", "0.4"])
    threading.Thread(target=compile_worker.wait, daemon=True).start()  # reaped, as the command does
    read, write = os.pipe()
    with os.fdopen(read, "rb") as stdin, os.fdopen(write, "wb"):
        start = time.monotonic()
        _chart_worker._wait_for_end(compile_worker.pid, stdin)
        assert 0.3 < time.monotonic() - start < 10.0
    busy = subprocess.Popen(["sleep", "30"])
    try:
        read, write = os.pipe()
        with os.fdopen(read, "rb") as stdin, os.fdopen(write, "wb") as values:
            values.write(b"x")
            values.flush()
            start = time.monotonic()
            _chart_worker._wait_for_end(busy.pid, stdin)  # the values came first: no more waiting
            assert time.monotonic() - start < 5.0
    finally:
        busy.kill()
        busy.wait()


def test_a_worker_waiting_for_a_compile_worker_still_draws_when_the_values_come(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import subprocess

    compile_worker = subprocess.Popen(["sleep", "60"])
    try:
        worker = _chart_worker.start(after=compile_worker.pid)
        timings: dict[str, float] = {}
        write_run(run, tmp_path / "worker", created_at=STAMP, chart_worker=worker, timings=timings)
        write_run(run, tmp_path / "here", created_at=STAMP)
        assert _files(tmp_path / "worker") == _files(tmp_path / "here")
        assert timings["charts.worker"] > 0.0
    finally:
        compile_worker.kill()
        compile_worker.wait()


def _children(pid: int) -> set[int]:
    """The running children of process ``pid`` (from /proc)."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] not in ("Z", "X"):
            found.add(int(stat.parent.name))
    return found


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_a_worker_cancelled_while_drawing_leaves_no_helper_behind() -> None:
    import time

    big = random_run(n_sessions=3000, n_trades=3000, seed=2)
    big = dataclasses.replace(big, metrics=compute_metrics(big))
    worker = _chart_worker.start()
    assert worker.submit(_document(big))
    deadline, helpers = time.monotonic() + 30, set()
    while time.monotonic() < deadline and not helpers and worker.process.poll() is None:
        helpers = _children(worker.process.pid)
        time.sleep(0.01)
    assert helpers, "the worker forked no helper"
    worker.cancel()  # what the command does on an error or Ctrl-C
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(_running(pid) for pid in helpers):
        time.sleep(0.02)
    assert not any(_running(pid) for pid in helpers)


def _running(pid: int) -> bool:
    """Whether ``pid`` is still running (a zombie is not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


def test_the_values_fit_the_pipe_to_the_worker_so_the_command_never_waits_to_hand_them_over(run) -> None:  # type: ignore[no-untyped-def]
    import fcntl
    import os
    import pickle

    from trading_playbook.reports.json_result import chart_inputs_of_run

    worker = _chart_worker.start()
    try:
        assert (
            fcntl.fcntl(worker.process.stdin.fileno(), fcntl.F_GETPIPE_SZ) == _chart_worker.INPUT_PIPE_BYTES
        )
    finally:
        worker.cancel()
    read, write = os.pipe()
    try:  # a pipe nobody reads takes the whole of a run's values at once
        with os.fdopen(write, "wb", closefd=False) as stream:
            _chart_worker._widen(stream)
            payload = pickle.dumps(
                chart_inputs_of_run(random_run(n_sessions=5000, n_trades=10_000)), protocol=5
            )
            os.set_blocking(write, False)
            assert os.write(write, payload) == len(payload) < _chart_worker.INPUT_PIPE_BYTES
    finally:
        os.close(read)
        os.close(write)
