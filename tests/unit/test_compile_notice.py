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
    import sys
    sys.path.insert(0, sys.argv[1])
    from trading_playbook.cli._compile import compile_notice
    with compile_notice():
        import kernel_mod
        print(kernel_mod.add_nb(1, 2))
    """
)


def _run(folder: Path, cache: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache)}
    return subprocess.run(
        [sys.executable, "-c", RUN, str(folder)], capture_output=True, text=True, env=env, timeout=300
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
