"""A cache that lost symbols is never taken for a complete one (issue 9, point 1).

Real faults on a real cache: an ingest subprocess killed with SIGKILL midway, and a stored file
corrupted on disk. ``data verify`` must fail and name what is missing with a command that repairs it,
``data ls`` must show the state, a backtest must refuse (or, when allowed, list the missing symbols in
result.json and the report), and the next write must clean what the killed writer left.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from trading_playbook.cli import app
from trading_playbook.core.errors import DataError
from trading_playbook.data import BarCache
from trading_playbook.data.completeness import source_status
from trading_playbook.data.model import to_frame
from trading_playbook.data.synthetic import synthetic_arrays

runner = CliRunner()
N_SYMBOLS = 12

# Runs `playbook data ingest ...` in a child process whose 4th file write (and every later one)
# writes half a temp file and hangs, as a process killed mid-write would leave it. The marker that
# tells the test to kill is written once the first three symbols are wholly stored (file and catalog
# row): the ingest writes on several threads, and killing earlier would race their catalog commits.
KILLED_INGEST = textwrap.dedent(
    """
    import os, sys, threading, time
    from trading_playbook.data import cache as cache_module

    real = cache_module._atomic_write
    real_symbol = cache_module.BarCache._write_symbol
    marker = sys.argv[1]
    calls = []
    stored = []
    lock = threading.Lock()

    def counted(self, *args, **kwargs):
        real_symbol(self, *args, **kwargs)
        with lock:
            stored.append(1)

    def hanging(path, data):
        with lock:
            calls.append(path)
            n = len(calls)
        if n < 4:
            return real(path, data)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.deadbeef.tmp")
        tmp.write_bytes(data[: len(data) // 2])
        deadline = time.monotonic() + 120
        while len(stored) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        open(marker, "w").write("stuck")
        time.sleep(600)

    cache_module._atomic_write = hanging
    cache_module.BarCache._write_symbol = counted
    sys.argv = ["playbook", *sys.argv[2:]]
    from trading_playbook.cli import main
    main()
    """
)


def _universe_file(tmp_path: Path) -> Path:
    bars = synthetic_arrays(N_SYMBOLS, "2016-01-01", "2018-12-31", seed=4)
    path = tmp_path / "universe.parquet"
    frame = to_frame(bars)
    frame["symbol"] = frame["symbol"].astype(str)
    frame.to_parquet(path)
    return path


def _config(tmp_path: Path, cache: Path, source: str) -> Path:
    path = tmp_path / "on_cache.toml"
    path.write_text(
        f'[data]\nsource = "cache"\npath = "{source}"\ncache_dir = "{cache}"\n'
        'start = "2017-01-01"\nend = "2018-12-31"\n'
        '[scanner]\nname = "daily_breakout"\npreset = "relaxed"\n[portfolio]\nmax_positions = 4\n'
    )
    return path


def _repair_command(output: str) -> list[str]:
    """The command after "repair: " in verify's output, as arguments for the CLI runner."""
    line = next(line for line in output.splitlines() if "repair: playbook " in line)
    return shlex.split(line.split("repair: ", 1)[1])[1:]  # without the leading "playbook"


def test_killed_ingest_is_seen_refused_repaired_and_cleaned(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("PLAYBOOK_HOME", str(tmp_path / "home"))
    source_file, cache_dir, marker = _universe_file(tmp_path), tmp_path / "cache", tmp_path / "stuck"
    args = ["data", "ingest", str(source_file), "--source-name", "uni", "--cache-dir", str(cache_dir)]
    child = subprocess.Popen([sys.executable, "-c", KILLED_INGEST, str(marker), *args])
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert child.poll() is None, "the ingest ended before it could be killed"
            assert time.monotonic() < deadline, "the ingest never reached its 4th write"
            time.sleep(0.05)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(30)
    assert child.returncode == -signal.SIGKILL

    cache = BarCache(cache_dir)
    status = source_status(cache, "uni")
    assert status.state == "interrupted" and len(status.expected) == N_SYMBOLS
    assert 3 <= len(status.present) < N_SYMBOLS and len(status.missing) == N_SYMBOLS - len(status.present)
    left = [p.name for p in cache.orphans()]
    assert left and all(name.endswith(".deadbeef.tmp") for name in left)  # half-written temp files

    verify = runner.invoke(app, ["data", "verify", "--cache-dir", str(cache_dir)])
    assert verify.exit_code == 1
    assert "was killed before it finished" in verify.output
    missing = sorted(status.missing)
    assert (
        f"{len(missing)} of {N_SYMBOLS} expected symbol(s) missing: {missing[0]} (never stored"
        in verify.output
    )
    assert f"repair: playbook data ingest {source_file}" in verify.output
    listing = runner.invoke(app, ["data", "ls", "--cache-dir", str(cache_dir)])
    assert listing.exit_code == 0 and "interrupted" in listing.output

    config = _config(tmp_path, cache_dir, "uni")
    refused = runner.invoke(app, ["backtest", str(config), "--out", str(tmp_path / "run"), "--no-charts"])
    assert isinstance(refused.exception, DataError)
    text = str(refused.exception)
    assert missing[0] in text and "was killed" in text and "--allow-missing" in text
    assert not (tmp_path / "run").exists()

    allowed = runner.invoke(
        app,
        ["backtest", str(config), "--out", str(tmp_path / "run"), "--no-charts", "--allow-missing"],
    )
    assert allowed.exit_code == 0, allowed.output
    doc = json.loads((tmp_path / "run" / "result.json").read_text())
    assert doc["data"]["missing_symbols"] == missing and doc["data"]["symbols"] == len(status.present)
    assert any("was killed" in reason for reason in doc["data"]["incomplete"])
    report = (tmp_path / "run" / "report.md").read_text()
    assert "Incomplete data" in report and missing[0] in report

    repaired = runner.invoke(app, _repair_command(verify.output))  # the command verify printed
    assert repaired.exit_code == 0, repaired.output
    assert BarCache(cache_dir).orphans() == []  # the next write cleaned the killed writer's files
    assert source_status(BarCache(cache_dir), "uni").state == "complete"
    again = runner.invoke(app, ["data", "verify", "--cache-dir", str(cache_dir)])
    assert again.exit_code == 0, again.output
    ok = runner.invoke(app, ["backtest", str(config), "--out", str(tmp_path / "run2"), "--no-charts"])
    assert ok.exit_code == 0, ok.output
    assert "missing_symbols" not in json.loads((tmp_path / "run2" / "result.json").read_text())["data"]


def test_quarantined_file_fails_verify_and_the_backtest(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("PLAYBOOK_HOME", str(tmp_path / "home"))
    source_file, cache_dir = _universe_file(tmp_path), tmp_path / "cache"
    ingest = ["data", "ingest", str(source_file), "--source-name", "uni", "--cache-dir", str(cache_dir)]
    assert runner.invoke(app, ingest).exit_code == 0
    cache = BarCache(cache_dir)
    victim = cache.catalog.entry("uni", "SYN003")
    path = cache.file_path(victim)
    data = bytearray(path.read_bytes())
    data[len(data) // 3] ^= 0xFF  # same size: only a checksum can tell
    path.write_bytes(bytes(data))

    first = runner.invoke(app, ["data", "verify", "--cache-dir", str(cache_dir)])
    assert first.exit_code == 1 and "SYN003" in first.output and "fails its checksum" in first.output
    second = runner.invoke(app, ["data", "verify", "--cache-dir", str(cache_dir)])  # quarantined now
    assert second.exit_code == 1
    assert f"1 of {N_SYMBOLS} expected symbol(s) missing: SYN003 (quarantined" in second.output
    assert f"repair: playbook data ingest {source_file} --source-name uni" in second.output
    assert "incomplete: 1 missing" in runner.invoke(app, ["data", "ls", "--cache-dir", str(cache_dir)]).output

    config = _config(tmp_path, cache_dir, "uni")
    refused = runner.invoke(app, ["backtest", str(config), "--no-charts", "--out", str(tmp_path / "r")])
    assert isinstance(refused.exception, DataError) and "SYN003 (quarantined" in str(refused.exception)
    with pytest.raises(DataError, match="SYN003"):  # also when the symbol is named explicitly
        from trading_playbook.data import DataRequest, load_panel

        load_panel(DataRequest(source="cache", path="uni", cache_dir=str(cache_dir), symbols=("SYN003",)))

    assert runner.invoke(app, _repair_command(second.output)).exit_code == 0
    assert runner.invoke(app, ["data", "verify", "--cache-dir", str(cache_dir)]).exit_code == 0
