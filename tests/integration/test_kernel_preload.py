"""The kernels loaded while a backtest waits for its data are those the backtest calls (issue 14).

Fresh interpreters (subprocesses): this test process has loaded kernels of its own.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq

from trading_playbook.data.arrow import table_from_arrays
from trading_playbook.data.synthetic import synthetic_arrays

from .test_lazy_imports import CONFIG

# every dispatcher of the package that holds a compiled form, and whether numba compiled it
LOADED = """
import numba.core.caching as caching
seen = {}
for name, module in list(sys.modules.items()):
    if not name.startswith("trading_playbook"):
        continue
    for value in list(vars(module).values()):
        cache = getattr(value, "_cache", None)
        if isinstance(cache, caching.Cache) and getattr(value, "overloads", None):
            seen[value.py_func.__name__] = sum(value._cache_misses.values())
"""


def _run(code: str, tmp_path: Path) -> object:
    env_code = "import json, sys, os\n" + code
    done = subprocess.run(
        [sys.executable, "-c", env_code], capture_output=True, text=True, cwd=tmp_path, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _backtest_code(config: Path, out: Path) -> str:
    return (
        "from trading_playbook.cli import main\n"
        f"sys.argv = ['playbook', 'backtest', {str(config)!r}, '--out', {str(out)!r}, '--no-charts', '--no-record']\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as stop:\n"
        "    assert not stop.code, stop.code\n"
    )


def test_the_preloaded_kernels_are_those_a_backtest_calls(tmp_path: Path) -> None:
    pq.write_table(
        table_from_arrays(synthetic_arrays(8, "2015-01-01", "2016-12-31", seed=3)), tmp_path / "bars.parquet"
    )
    config = tmp_path / "c.toml"
    config.write_text(CONFIG)
    listed = (
        "from trading_playbook._early_load import backtest_config\n"
        "from trading_playbook._kernel_preload import backtest_kernels\n"
        f"names = [k.py_func.__name__ for k in backtest_kernels(backtest_config({str(config)!r}), 'fast')]\n"
    )
    # a backtest (its kernels cached by now: a first one may compile) and what it loaded
    _run(_backtest_code(config, tmp_path / "warm") + "print('[]')", tmp_path)
    called = _run(_backtest_code(config, tmp_path / "out") + LOADED + "print(json.dumps(seen))", tmp_path)
    names = _run(listed + "print(json.dumps(names))", tmp_path)
    assert isinstance(called, dict) and isinstance(names, list)
    assert sorted(names) == sorted(called), (names, called)  # the same kernels, no more, no fewer
    assert not any(called.values())  # warm: every one came from numba's cache
    # loaded ahead, from the cache (nothing compiled), then the run finds them loaded
    preloaded = _run(
        listed
        + "from trading_playbook._kernel_preload import load_cached\n"
        + f"kernels = backtest_kernels(backtest_config({str(config)!r}), 'fast')\n"
        + "assert load_cached(kernels, stop=lambda: True) == []  # the wait was over: nothing loaded\n"
        + "assert not any(k.overloads for k in kernels)\n"
        + "first = load_cached(kernels)\n"
        + "assert load_cached(kernels) == []  # loaded once\n"
        + "assert all(k.overloads for k in kernels) and not any(sum(k._cache_misses.values()) for k in kernels)\n"
        + _backtest_code(config, tmp_path / "again")
        + "assert all(len(k.overloads) == 1 for k in kernels)  # the run used the loaded forms\n"
        + "print(json.dumps(first))",
        tmp_path,
    )
    assert preloaded == names


def test_loading_the_kernels_imports_nothing_and_a_thread_loads_them_beside_the_run(tmp_path: Path) -> None:
    # a thread holds numba's compiler lock while it loads a kernel: it must never wait there for an
    # import another thread is running, so the loads may import no module once the run's modules are
    pq.write_table(
        table_from_arrays(synthetic_arrays(8, "2015-01-01", "2016-12-31", seed=3)), tmp_path / "bars.parquet"
    )
    config = tmp_path / "c.toml"
    config.write_text(CONFIG)
    _run(_backtest_code(config, tmp_path / "warm") + "print('[]')", tmp_path)  # the kernels cached
    code = (
        "from trading_playbook._early_load import backtest_config\n"
        "from trading_playbook._kernel_preload import backtest_kernels, load_beside\n"
        "from trading_playbook.engine import import_run_modules\n"
        "import_run_modules('fast')\n"
        f"kernels = backtest_kernels(backtest_config({str(config)!r}), 'fast')\n"
        "before = set(sys.modules)\n"
        "loading = load_beside(kernels)\n"
        "loading.join()\n"
        "imported = sorted(set(sys.modules) - before)\n"
        "assert all(k.overloads for k in kernels) and load_beside(kernels) is None\n"
        "assert not any(sum(k._cache_misses.values()) for k in kernels)  # from the cache, nothing compiled\n"
        + _backtest_code(config, tmp_path / "again")
        + "assert all(len(k.overloads) == 1 for k in kernels)  # the run used the loaded forms\n"
        "print(json.dumps(imported))\n"
    )
    assert _run(code, tmp_path) == []  # the loads imported nothing
