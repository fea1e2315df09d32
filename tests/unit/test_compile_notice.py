"""A cold numba cache is announced, once, on stderr, also when output is piped (issue 9, point 9)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import numpy as np
from typer.testing import CliRunner

from trading_playbook.cli import app
from trading_playbook.cli._compile import COMPILING, CompileNotice, compile_notice

KERNEL = textwrap.dedent(
    """
    from numba import njit

    @njit(cache=True)
    def add_nb(a, b):
        return a + b
    """
)
RUN = textwrap.dedent(
    """
    from trading_playbook.cli._compile import compile_notice
    with compile_notice():
        import kernel_mod
        print(kernel_mod.add_nb(1, 2))
    """
)


def _run(folder: Path, cache: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache)}
    return subprocess.run(
        [sys.executable, "-c", RUN],  # python -c imports from the current folder: kernel_mod.py
        cwd=folder,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def test_cold_cache_is_announced_once_and_warm_cache_is_silent(tmp_path: Path) -> None:
    (tmp_path / "kernel_mod.py").write_text(KERNEL)
    cold = _run(tmp_path, tmp_path / "numba-cache")  # stdout and stderr are pipes, not a terminal
    assert cold.returncode == 0, cold.stderr
    assert cold.stdout.strip() == "3"
    assert cold.stderr.count(COMPILING) == 1
    assert "later runs load it from the cache" in cold.stderr.splitlines()[-1]
    warm = _run(tmp_path, tmp_path / "numba-cache")
    assert warm.returncode == 0 and warm.stdout.strip() == "3"
    assert COMPILING not in warm.stderr and "compiled" not in warm.stderr


def test_a_cache_numba_could_not_write_is_reported(tmp_path: Path) -> None:
    notice = CompileNotice(io.StringIO())
    unwritten = SimpleNamespace(
        __qualname__="simulate_nb",
        _cache=SimpleNamespace(_cache_file=SimpleNamespace(_index_path=str(tmp_path / "x.nbi"))),
    )
    notice.on_start(SimpleNamespace(data={"dispatcher": unwritten}))
    notice.on_end(SimpleNamespace(data={}))
    summary = notice.summary()
    assert summary is not None and "could not write its cache (e.g. for simulate_nb)" in summary
    assert "NUMBA_CACHE_DIR" in summary


def test_the_backtest_command_announces_compiling(tmp_path: Path, monkeypatch) -> None:
    from numba import njit

    import trading_playbook.engine as engine

    real = engine.run_backtest

    def compiling_run_backtest(*args, **kwargs):
        fresh = njit(lambda x: x + 1)  # never compiled before: numba compiles it now
        fresh(np.int64(1))
        return real(*args, **kwargs)

    monkeypatch.setattr(engine, "run_backtest", compiling_run_backtest)
    monkeypatch.setenv("PLAYBOOK_HOME", str(tmp_path / "home"))
    config = tmp_path / "c.toml"
    config.write_text('[data]\nsource = "synthetic"\nsynthetic_symbols = 4\n')
    result = CliRunner().invoke(
        app, ["backtest", str(config), "--out", str(tmp_path / "run"), "--no-charts", "--no-record"]
    )
    assert result.exit_code == 0, result.output
    assert result.stderr.count(COMPILING) == 1
    assert "compiled the fast engine in" in result.stderr


def test_nothing_is_said_when_nothing_compiles() -> None:
    stream = io.StringIO()
    with compile_notice(stream):
        pass
    assert stream.getvalue() == ""


WORKER_CHECK = textwrap.dedent(
    """
    import numpy as np
    from numba.core.event import Listener, install_listener

    from trading_playbook.core._jit import entry_is_cached
    from trading_playbook.core.exits.spec import named_exit
    from trading_playbook.core.simulate import fast
    from trading_playbook.core.simulate._kernels import simulate_nb
    from trading_playbook.core.simulate.settings import PortfolioSettings, SleeveSpec
    from trading_playbook.core.sizing import PercentEquitySizer
    from trading_playbook.testing import TableScanner, random_ohlc_panel, setup_table

    compiled = []

    class Names(Listener):
        def on_start(self, event):
            compiled.append(event.data["dispatcher"].py_func.__name__)

        def on_end(self, event):
            pass

    print("cached", entry_is_cached(simulate_nb))
    # another run than the worker's: panel, exits, sizer, fills, two sleeves
    panel = random_ohlc_panel(np.random.default_rng(5), 90, 7)
    tables = [setup_table([(t, (t * k) % 7, 40.0, 1.0, 1.0) for t in range(30, 88)]) for k in (1, 3)]
    sleeves = [
        SleeveSpec("a", TableScanner(tables[0]), named_exit("hybrid_trailing"), PercentEquitySizer(0.3)),
        SleeveSpec("b", TableScanner(tables[1]), named_exit("scaled_exits"), PercentEquitySizer(0.2)),
    ]
    settings = PortfolioSettings(entry_fill="close", exit_fill="next_open")
    with install_listener("numba:compile", Names()):
        trades, _ = fast.run_fast(panel, sleeves, settings, start=30, end=89, setups=tables)
    print("trades", len(trades))
    print("compiled", ",".join(compiled) or "-")
    """
)


def test_the_worker_caches_the_session_loop_every_run_loads(tmp_path: Path) -> None:
    """``python -m trading_playbook._warmup`` compiles the one signature of the session loop that every
    run uses: another run (other panel, exits, sizers, fills, two sleeves) loads it from the cache."""
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "numba-cache")}
    worker = subprocess.run(
        [sys.executable, "-m", "trading_playbook._warmup"],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert worker.returncode == 0, worker.stderr
    run = subprocess.run(
        [sys.executable, "-c", WORKER_CHECK], capture_output=True, text=True, env=env, timeout=600
    )
    assert run.returncode == 0, run.stderr
    lines = dict(line.split(" ", 1) for line in run.stdout.splitlines())
    assert lines["cached"] == "True"
    assert int(lines["trades"]) > 0
    assert "simulate_nb" not in lines["compiled"].split(",")


def test_simulation_warmup_gates_the_session_loop_until_the_worker_ends(monkeypatch) -> None:
    from trading_playbook import _warmup
    from trading_playbook.cli import _compile
    from trading_playbook.core import _jit

    def sleeper(seconds: float) -> subprocess.Popen[bytes]:
        return subprocess.Popen([sys.executable, "-c", f"import time; time.sleep({seconds})"])

    waited = []
    monkeypatch.setattr(_compile, "_loop_ready", lambda: False)
    monkeypatch.setattr(_warmup, "start_worker", lambda: sleeper(0.5))
    with _compile.simulation_warmup(while_waiting=lambda: waited.append(True)) as worker:
        assert worker is not None and worker.poll() is None
        assert len(_jit.ENTRY_COMPILE_GATES) == 1
        _jit.ENTRY_COMPILE_GATES[0]()  # what an entry kernel's first compile calls: waits for the worker
        assert worker.returncode == 0 and waited == [True]
        assert _jit.ENTRY_COMPILE_GATES == []  # one wait only
    monkeypatch.setattr(_warmup, "start_worker", lambda: sleeper(60))
    with _compile.simulation_warmup() as worker:
        assert worker is not None
    assert worker.returncode is not None and worker.returncode != 0  # never waited for: stopped
    assert _jit.ENTRY_COMPILE_GATES == []
    with _compile.simulation_warmup(enabled=False) as worker:
        assert worker is None and _jit.ENTRY_COMPILE_GATES == []
    monkeypatch.setenv(_warmup.WORKER_ENV, "0")
    with _compile.simulation_warmup() as worker:
        assert worker is None


def test_the_early_worker_is_handed_over_or_stopped(monkeypatch) -> None:
    from trading_playbook import _warmup
    from trading_playbook.cli import _compile

    def sleeper(flags: tuple[str, ...] = ()) -> subprocess.Popen[bytes]:
        return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])

    monkeypatch.setattr(_warmup, "start_worker", sleeper)
    monkeypatch.setattr(_warmup, "looks_cached", lambda: False)
    monkeypatch.setattr(_compile, "_loop_ready", lambda: False)
    _warmup.start_early(["backtest", "c.toml"])
    early = _warmup._early
    assert early is not None
    with _compile.simulation_warmup() as worker:
        assert worker is early  # the one started before the commands were imported
    assert early.poll() is not None and _warmup._early is None
    monkeypatch.setattr(_compile, "_loop_ready", lambda: True)  # cached: the early worker is stopped
    _warmup.start_early(["backtest", "c.toml"])
    early = _warmup._early
    with _compile.simulation_warmup() as worker:
        assert worker is None
    assert early is not None and early.poll() is not None


def test_only_a_fast_backtest_starts_the_worker_early(monkeypatch) -> None:
    from trading_playbook._warmup import wants_fast_backtest

    assert wants_fast_backtest(["backtest", "c.toml"])
    assert wants_fast_backtest(["backtest", "c.toml", "--engine", "fast", "--out", "x"])
    assert not wants_fast_backtest(["backtest", "c.toml", "--engine", "reference"])
    assert not wants_fast_backtest(["backtest", "c.toml", "--engine=reference"])
    assert not wants_fast_backtest(["backtest", "--help"])
    assert not wants_fast_backtest(["scan", "c.toml"]) and not wants_fast_backtest([])
    monkeypatch.setenv("PLAYBOOK_COMPILE_WORKER", "0")
    assert not wants_fast_backtest(["backtest", "c.toml"])


def test_the_cheap_cache_guess_finds_numbas_index(tmp_path: Path, monkeypatch) -> None:
    from trading_playbook._warmup import looks_cached

    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    assert not looks_cached()
    (tmp_path / "simulate_0123").mkdir()
    (tmp_path / "simulate_0123" / "_kernels.simulate_nb-61.py311.nbi").write_bytes(b"")
    assert looks_cached()
