"""A backtest's data read in a thread while the command imports (``trading_playbook._early_load``).

The thread's panel is taken only for the very request the command parsed; its errors surface where
the command's own load raises them, with the same one-line message; anything else loads as before.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from trading_playbook import _early_load
from trading_playbook._early_load import BacktestArgs, EarlyLoad, backtest_args, early_request, readable_early
from trading_playbook.cli import main
from trading_playbook.data.arrow import table_from_arrays
from trading_playbook.data.synthetic import synthetic_arrays

from .test_cli_bad_inputs import BAD_INPUTS, workdir  # noqa: F401 (the fixture)

STRATEGY = """
[scanner]
name = "daily_breakout"
preset = "relaxed"

[exit]
name = "smart_exits"

[portfolio]
max_positions = 3
"""


def test_the_early_parser_knows_every_option_of_the_backtest_command() -> None:
    """A new ``backtest`` option must be added to the early parser (else the thread never starts for
    a command line using it, silently)."""
    import typer

    from trading_playbook.cli import app

    backtest = typer.main.get_command(app).commands["backtest"]  # type: ignore[attr-defined]
    values, flags = set(), set()
    for param in backtest.params:
        if param.param_type_name != "option" or "--help" in param.opts:
            continue
        if param.is_flag:
            flags.update(param.opts + param.secondary_opts)
        else:
            values.update(param.opts)
    assert values == set(_early_load._VALUE_OPTIONS)
    assert flags == set(_early_load._FLAGS)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["backtest", "c.toml"], BacktestArgs("c.toml")),
        (
            ["backtest", "--symbols", "aaa, bbb", "c.toml", "--repair", "--out=x", "--no-charts"],
            BacktestArgs("c.toml", symbols=("AAA", "BBB"), repair=True),
        ),
        (
            ["backtest", "c.toml", "--allow-missing", "--chunked", "--engine", "reference", "--timings"],
            BacktestArgs("c.toml", allow_missing=True, chunked=True),
        ),
        (["backtest", "c.toml", "--start=2020-01-01", "--end", "2020-02-01"], BacktestArgs("c.toml")),
        (["backtest", "c.toml", "--help"], None),  # typer answers
        (["backtest", "c.toml", "--bogus"], None),  # typer reports it
        (["backtest", "a.toml", "b.toml"], None),
        (["backtest", "c.toml", "--out"], None),
        (["backtest"], None),
        (["scan", "c.toml"], None),
        ([], None),
    ],
)
def test_the_arguments_of_a_backtest(argv: list[str], expected: BacktestArgs | None) -> None:
    assert backtest_args(argv) == expected


@pytest.fixture
def bar_file(tmp_path: Path) -> Path:
    pq.write_table(
        table_from_arrays(synthetic_arrays(8, "2014-01-01", "2016-12-31", seed=5)), tmp_path / "bars.parquet"
    )
    (tmp_path / "file.toml").write_text(f'[data]\nsource = "file"\npath = "bars.parquet"\n{STRATEGY}')
    return tmp_path


def _run(argv: list[str], monkeypatch: pytest.MonkeyPatch, early: bool) -> EarlyLoad | None:
    """``playbook ARGV`` as the console script runs it (the load thread started first when
    ``early``); returns the load the command was handed."""
    monkeypatch.setattr(sys, "argv", ["playbook", *argv])
    taken: list[EarlyLoad | None] = []
    real_take = _early_load.take_early

    def take() -> EarlyLoad | None:
        taken.append(real_take())
        return taken[-1]

    monkeypatch.setattr(_early_load, "take_early", take)
    if early:
        _early_load.start_early(argv)
    try:
        main()
    except SystemExit as stop:
        assert not stop.code, stop.code
    finally:
        _early_load.discard()
    return taken[0] if taken else None


@pytest.mark.parametrize("source", ["file", "cache"])
def test_the_command_takes_the_threads_panel_and_the_run_is_the_same(
    source: str, bar_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PLAYBOOK_HOME", str(bar_file / "home"))
    monkeypatch.setenv("PLAYBOOK_CACHE_DIR", str(bar_file / "cache"))
    monkeypatch.setenv("COLUMNS", "200")
    config = bar_file / "file.toml"
    if source == "cache":
        _run(["data", "ingest", str(bar_file / "bars.parquet"), "--source-name", "bars"], monkeypatch, False)
        config = bar_file / "cache.toml"
        config.write_text(f'[data]\nsource = "cache"\npath = "bars"\n{STRATEGY}')
    docs = {}
    for early in (True, False):
        out = bar_file / f"out-{early}"
        argv = ["backtest", str(config), "--out", str(out), "--no-charts", "--no-record", "--timings"]
        load = _run(argv, monkeypatch, early)
        err = capsys.readouterr().err
        assert (load is not None) is early
        assert ("data read in a thread" in err) is early, err
        docs[early] = json.loads((out / "result.json").read_text())
    assert docs[True]["trades"] and docs[True]["trades"] == docs[False]["trades"]
    assert docs[True]["equity"] == docs[False]["equity"]
    assert docs[True]["data"] == docs[False]["data"]  # fingerprint, notes, sessions


BACKTEST_ROWS = [c for c in BAD_INPUTS if c.command == "backtest"]


@pytest.mark.parametrize("case", BACKTEST_ROWS, ids=[" ".join(c.args)[:60] for c in BACKTEST_ROWS])
def test_a_bad_backtest_says_the_same_with_the_load_thread(
    case,
    workdir: Path,  # noqa: F811 (the imported fixture)
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PLAYBOOK_HOME", str(workdir / "home"))
    monkeypatch.setenv("PLAYBOOK_CACHE_DIR", str(workdir / "default-cache"))
    monkeypatch.setenv("COLUMNS", "250")
    args = ["backtest", *(a.format(tmp=workdir, cache=workdir / "cache") for a in case.args)]
    monkeypatch.setattr(sys, "argv", ["playbook", *args])
    _early_load.start_early(args)
    try:
        with pytest.raises(SystemExit) as exit_info:
            main()
    finally:
        _early_load.discard()
    out, err = capsys.readouterr()
    text = " ".join((out + err).split())
    assert exit_info.value.code not in (0, None), text
    assert "Traceback" not in out + err, out + err
    assert " ".join(case.expect.split()) in text, text


def test_an_error_of_the_thread_is_raised_where_the_command_loads(workdir: Path) -> None:  # noqa: F811
    # inf.toml reads a file with an infinite price: the thread's validation rejects it, and the
    # command gets that very error for its request
    request = early_request(BacktestArgs(str(workdir / "inf.toml")))
    assert request is not None and request.source == "file"
    load = EarlyLoad(request).start()
    with pytest.raises(Exception, match="a price is infinite"):
        load.panel_for(request)


def test_another_request_is_loaded_by_the_command(bar_file: Path) -> None:
    config = str(bar_file / "file.toml")
    one = early_request(BacktestArgs(config, symbols=("SYN000",)))
    whole = early_request(BacktestArgs(config))
    load = EarlyLoad(one).start()
    assert load.panel_for(whole) is None  # the thread read one symbol, the command wants all
    load = EarlyLoad(whole).start()
    found = load.panel_for(whole)
    assert found is not None and found[0].n_symbols == 8
    assert load.panel_for(whole) is None  # handed over once


def test_a_cancelled_load_hands_nothing_over(bar_file: Path) -> None:
    request = early_request(BacktestArgs(str(bar_file / "file.toml")))
    load = EarlyLoad(request)
    load.cancel()  # before it starts: it stops at its first checkpoint
    load.start()
    assert load.panel_for(request) is None


def test_the_switch_interval_is_short_only_while_a_load_runs(
    bar_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the thread gets the GIL back within LOAD_SWITCH_INTERVAL after each of Arrow's and numpy's
    # blocks of work; once the last load ends the interpreter's own interval is back
    import threading

    import trading_playbook.data as data

    request = early_request(BacktestArgs(str(bar_file / "file.toml")))
    release, seen = threading.Event(), []
    real_load = data.load_panel

    def held_load(*args: object, **kwargs: object) -> object:
        seen.append(sys.getswitchinterval())
        assert release.wait(10)
        return real_load(*args, **kwargs)

    monkeypatch.setattr(data, "load_panel", held_load)
    before = sys.getswitchinterval()
    first, second = EarlyLoad(request).start(), EarlyLoad(request).start()
    assert sys.getswitchinterval() == _early_load.LOAD_SWITCH_INTERVAL
    assert not first.done() and not second.done()  # held: the command would load kernels meanwhile
    release.set()
    assert first.panel_for(request) is not None and first.done()
    assert second.panel_for(request) is not None
    assert seen == [_early_load.LOAD_SWITCH_INTERVAL] * 2
    assert sys.getswitchinterval() == before
    failing = EarlyLoad(early_request(BacktestArgs(str(bar_file / "missing.toml"))) or request)
    monkeypatch.setattr(data, "load_panel", lambda *a, **k: (_ for _ in ()).throw(OSError("disk")))
    with pytest.raises(OSError, match="disk"):
        failing.start().panel_for(failing.request)
    assert sys.getswitchinterval() == before  # a failed load puts it back too


def test_what_is_not_read_early(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "syn.toml").write_text(f'[data]\nsource = "synthetic"\nsynthetic_symbols = 4\n{STRATEGY}')
    request = early_request(BacktestArgs(str(tmp_path / "syn.toml")))
    assert request is not None and not readable_early(request)  # its numba kernel: the main thread's
    (tmp_path / "big.toml").write_text(f'[data]\nsource = "cache"\nmode = "chunked"\n{STRATEGY}')
    assert not readable_early(early_request(BacktestArgs(str(tmp_path / "big.toml"))))
    (tmp_path / "broken.toml").write_text("[data\n")
    assert early_request(BacktestArgs(str(tmp_path / "broken.toml"))) is None
    for argv in (["backtest", str(tmp_path / "syn.toml")], ["backtest", str(tmp_path / "broken.toml")]):
        _early_load.start_early(argv)
        assert _early_load.take_early() is None
    monkeypatch.setenv(_early_load.EARLY_ENV, "0")
    (tmp_path / "file.toml").write_text(f'[data]\nsource = "file"\npath = "x.parquet"\n{STRATEGY}')
    _early_load.start_early(["backtest", str(tmp_path / "file.toml")])
    assert _early_load.take_early() is None


def test_the_console_script_reads_the_data_in_a_thread(bar_file: Path) -> None:
    # the real entry point (``playbook``) in a fresh interpreter: the thread starts before the commands
    # import, the command takes its panel, and a config's other errors are still the command's
    env = {**os.environ, "PLAYBOOK_HOME": str(bar_file / "home"), "COLUMNS": "200"}
    env.pop(_early_load.EARLY_ENV, None)
    command = [sys.executable, "-c", "from trading_playbook._entry import main; main()", "backtest"]
    done = subprocess.run(
        [
            *command,
            str(bar_file / "file.toml"),
            "--out",
            str(bar_file / "o"),
            "--no-charts",
            "--no-record",
            "--timings",
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "data read in a thread" in done.stderr
    bad = bar_file / "bad.toml"
    bad.write_text(f'[data]\nsource = "file"\npath = "bars.parquet"\n{STRATEGY}\n[sizer]\nname = "nope"\n')
    done = subprocess.run(
        [*command, str(bad), "--out", str(bar_file / "o2"), "--no-charts", "--no-record"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode == 1 and "nope" in done.stderr and "Traceback" not in done.stderr, done.stderr


_PROBE = """
import sys, threading
seen = []
class Watch:
    def find_spec(self, name, path=None, target=None):
        if threading.current_thread().name == "playbook-early-load":
            seen.append(name)
sys.meta_path.insert(0, Watch())
import atexit
atexit.register(lambda: print("THREAD-IMPORTS", sorted(set(seen))))  # main() ends the process itself
from trading_playbook._entry import main
main()
"""


@pytest.mark.parametrize("source", ["file", "cache"])
def test_the_load_thread_imports_nothing_of_the_package(source: str, bar_file: Path) -> None:
    # every module is imported on the main thread before the thread starts (two threads importing
    # the same modules can meet a half-built one); the codec of /proc/meminfo is all it may add
    env = {**os.environ, "PLAYBOOK_HOME": str(bar_file / "home"), "PLAYBOOK_CACHE_DIR": str(bar_file / "c")}
    env.pop(_early_load.EARLY_ENV, None)
    config = bar_file / "file.toml"
    if source == "cache":
        ingest = ["data", "ingest", str(bar_file / "bars.parquet"), "--source-name", "bars"]
        subprocess.run(
            [sys.executable, "-c", "from trading_playbook.cli import main; main()", *ingest],
            env=env,
            check=True,
        )
        config = bar_file / "cache.toml"
        config.write_text(f'[data]\nsource = "cache"\npath = "bars"\n{STRATEGY}')
    argv = ["backtest", str(config), "--out", str(bar_file / "o"), "--no-charts", "--no-record", "--timings"]
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, *argv], capture_output=True, text=True, env=env, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "data read in a thread" in done.stderr
    line = next(x for x in done.stdout.splitlines() if x.startswith("THREAD-IMPORTS"))
    assert set(ast.literal_eval(line.split(" ", 1)[1])) <= {"encodings.ascii"}, line


@pytest.mark.parametrize("collecting", [True, False])
def test_the_collector_is_off_only_while_the_commands_import(
    collecting: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gc

    import trading_playbook.cli
    from trading_playbook import _entry

    seen: list[bool] = []
    monkeypatch.setattr(trading_playbook.cli, "main", lambda: seen.append(gc.isenabled()))
    monkeypatch.setattr(sys, "argv", ["playbook", "data", "ls"])
    (gc.enable if collecting else gc.disable)()
    try:
        _entry.main()
        assert seen == [collecting]  # the command runs with the collector as it was
        assert gc.isenabled() is collecting
    finally:
        gc.unfreeze()  # this test process's objects back in the collector's sight
        gc.enable()


_BLAS_PROBE = """
import atexit, json, os, sys

def report():
    import threadpoolctl
    blas = [i["num_threads"] for i in threadpoolctl.threadpool_info() if i["internal_api"] == "openblas"]
    print("BLAS", json.dumps([blas, os.environ.get("OPENBLAS_NUM_THREADS")]))

atexit.register(report)  # main() ends the process itself
from trading_playbook._entry import main
main()
"""


@pytest.mark.parametrize(("setting", "threads"), [(None, [1]), ("2", [2])])
def test_a_backtest_read_early_loads_numpy_blas_without_worker_threads(
    setting: str | None, threads: list[int], bar_file: Path
) -> None:
    # OpenBLAS's workers spin about 0.1 s on the core the load thread needs; a backtest calls no
    # BLAS routine. The environment is as it was afterwards, and a thread count the user set stays.
    env = {**os.environ, "PLAYBOOK_HOME": str(bar_file / "home")}
    env.pop(_early_load.EARLY_ENV, None)
    env.pop(_early_load.BLAS_THREADS_ENV, None)
    if setting is not None:
        env[_early_load.BLAS_THREADS_ENV] = setting
    argv = [
        "backtest",
        str(bar_file / "file.toml"),
        "--out",
        str(bar_file / "o"),
        "--no-charts",
        "--no-record",
    ]
    done = subprocess.run(
        [sys.executable, "-c", _BLAS_PROBE, *argv], capture_output=True, text=True, env=env, check=False
    )
    assert done.returncode == 0, done.stderr
    line = next(x for x in done.stdout.splitlines() if x.startswith("BLAS"))
    assert json.loads(line.split(" ", 1)[1]) == [threads, setting]


def test_blas_keeps_its_threads_when_numpy_is_already_loaded(monkeypatch: pytest.MonkeyPatch) -> None:
    import numpy  # noqa: F401

    monkeypatch.delenv(_early_load.BLAS_THREADS_ENV, raising=False)
    with _early_load.one_blas_thread():
        assert _early_load.BLAS_THREADS_ENV not in os.environ  # too late to matter: not set
