"""The native-library preload loads exactly the files the imports load, once, and changes nothing else."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from trading_playbook import _native_preload
from trading_playbook._native_preload import PRELOAD_ENV, library_files

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the preload runs on Linux only")

# the mapped shared libraries of this process, by real path (each file once)
_MAPPED = (
    "def mapped():\n"
    "    import os\n"
    "    found = set()\n"
    "    for line in open('/proc/self/maps'):\n"
    "        parts = line.split()\n"
    "        if len(parts) >= 6 and '.so' in parts[5]:\n"
    "            found.add(os.path.realpath(parts[5]))\n"
    "    return sorted(found)\n"
)


def _run(code: str, preload: bool) -> dict:
    env = {**os.environ, PRELOAD_ENV: "1" if preload else "0"}
    out = subprocess.run([sys.executable, "-c", _MAPPED + code], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_the_files_are_the_libraries_of_numpy_pyarrow_and_llvmlite() -> None:
    names = [p.name for p in library_files()]
    assert names[-1] == "libllvmlite.so"
    assert any(n.startswith("libscipy_openblas") or "openblas" in n for n in names)
    assert {"libarrow.so", "libparquet.so"} <= {n.rsplit(".", 1)[0] for n in names}
    assert not any("python" in n or "flight" in n for n in names)  # Python's own and unused ones stay out
    assert len(names) == len(set(names))


def test_the_thread_loads_them_before_any_import_and_the_imports_load_the_same_files() -> None:
    code = (
        "import json, sys\n"
        "from trading_playbook import _native_preload\n"
        "thread = _native_preload.start(['backtest'])\n"
        "thread.join()\n"
        "files = [str(p.resolve()) for p in _native_preload.library_files()]\n"
        "early = mapped()\n"
        "assert 'numpy' not in sys.modules and 'pyarrow' not in sys.modules and 'llvmlite' not in sys.modules\n"
        "import numba, pyarrow.parquet\n"
        "print(json.dumps({'files': files, 'early': early, 'late': mapped()}))\n"
    )
    with_preload = _run(code, preload=True)
    assert len(with_preload["files"]) >= 3
    assert set(with_preload["files"]) <= set(with_preload["early"])  # loaded by the thread
    without = _run(
        "import json\nimport numba, pyarrow.parquet\nprint(json.dumps({'late': mapped()}))\n", preload=False
    )
    # the imports map exactly the same files with or without the preload: nothing extra, no second copy
    assert with_preload["late"] == without["late"]
    assert set(with_preload["files"]) <= set(without["late"])


def test_a_file_that_fails_to_load_is_left_to_the_import(tmp_path: Path) -> None:
    broken = tmp_path / "libbroken.so"
    broken.write_bytes(b"not an ELF file")
    # the thread's loop goes on past a missing or broken file and raises nothing
    _native_preload._load([tmp_path / "libmissing.so", broken], os.RTLD_NOW)


def test_it_can_be_turned_off_and_starts_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_native_preload, "_started", None)
    monkeypatch.setenv(PRELOAD_ENV, "0")
    assert _native_preload.start(["backtest"]) is None
    monkeypatch.delenv(PRELOAD_ENV)
    loaded: list[list[Path]] = []
    monkeypatch.setattr(_native_preload, "_load", lambda files, mode: loaded.append(list(files)))
    for other in ([], ["runs", "list"], ["--help"], ["data", "ingest", "x.parquet"]):
        assert _native_preload.start(other) is None  # a command that may need none of the libraries
    thread = _native_preload.start(["backtest", "c.toml"])
    assert thread is not None
    thread.join()
    assert _native_preload.start(["backtest", "c.toml"]) is None  # once per process
    assert loaded == [library_files()]


def test_nothing_to_load_starts_no_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_native_preload, "_started", None)
    monkeypatch.setattr(_native_preload, "library_files", lambda: [])
    assert _native_preload.start(["backtest"]) is None
