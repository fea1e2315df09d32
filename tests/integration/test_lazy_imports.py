"""Start-up cost a user feels: heavy optional libraries load only when a command uses them (issue 14).

Each check runs a fresh interpreter (a subprocess), since this test process has imported everything.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from trading_playbook.data.arrow import table_from_arrays
from trading_playbook.data.synthetic import synthetic_arrays

# never needed to import the CLI or to run a backtest without charts
HEAVY = (
    "matplotlib",
    "optuna",
    "dask",
    "distributed",
    "exchange_calendars",
    "sklearn",
    "lightgbm",
    "fastapi",
    "uvicorn",
    "alpaca",
    "pandas",
    "plotly",
    "scipy.stats",
    "scipy.linalg",  # numba's import-time BLAS probe pulled it in (about 0.3 s): see _blas_probe
    "rich.progress",  # progress bars of data commands only
    "rich._emoji_codes",  # the backtest's consoles replace no ":name:" codes (a 0.02 s table)
)

CONFIG = """\
[data]
source = "file"
path = "bars.parquet"
adjustment = "split"

[scanner]
name = "daily_breakout"
preset = "moderate"

[exit]
name = "smart_exits"

[portfolio]
max_positions = 3
"""

# imported by nothing a warm backtest runs (issue 14): numba's array and linear-algebra lowering (only
# a compile needs it; the BLAS probe's patch waits for it), the EMA indicators (no smart_exits rule
# reads one) and every other command's module
# the charts' code, not imported by a warm backtest without charts (report.md needs none of it)
CHART_CODE = (
    "trading_playbook.reports.charts",
    "trading_playbook.reports._svg",
    "trading_playbook.reports._axes",
)
NOT_IN_A_WARM_BACKTEST = (
    "numba.np.arraymath",
    "numba.np.linalg",
    "numba.np.arrayobj",
    "trading_playbook.core.indicators",
    "trading_playbook.core._indicator_kernels",  # the session loop takes its window mean from _window_mean
    # numpy.ma: numba's typing of an ndarray argument, numpy's median and percentile asked it
    # (core._array_typeof, core._order_stats); importlib.metadata's code: entry points found with
    # plain os calls when no distribution names the group (_entry_points)
    "numpy.ma",
    "importlib.metadata._meta",
    # SciPy's package code: numba's start-up check reads scipy.__version__ only (_deferred)
    "scipy._lib",
    # the file reader and Arrow's CSV module: the data comes from the cache
    "trading_playbook.data.files",
    "pyarrow.csv",
    *(
        f"trading_playbook.cli.{name}"
        for name in ("data", "scan", "strategies", "runs", "research", "paper", "ml", "serve", "universe")
    ),
)


def _loaded_after(code: str, tmp_path: Path) -> list[str]:
    probe = f"import json, sys\n{code}\nprint(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))\n"
    env_home = str(tmp_path / "home")
    out = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
        env={**_base_env(), "PLAYBOOK_HOME": env_home},
    )
    return list(json.loads(out.stdout.strip().splitlines()[-1]))


def _base_env() -> dict[str, str]:
    import os

    return dict(os.environ)


def test_importing_the_cli_loads_no_heavy_library(tmp_path: Path) -> None:
    assert _loaded_after("import trading_playbook.cli", tmp_path) == []


def test_no_report_writer_imports_matplotlib(tmp_path: Path) -> None:
    # every chart the package draws is SVG: matplotlib is no dependency any more (decisions.md, 2026-12-02)
    writers = (
        "research.report",
        "research.heatmap",
        "ml.report",
        "ml.charts",
        "paper.drift_report",
        "paper.drift_chart",
    )
    code = "\n".join(f"import trading_playbook.{name}" for name in writers)
    assert "matplotlib" not in _loaded_after(code, tmp_path)


@pytest.mark.parametrize("charts", ["--no-charts", "--charts"])
def test_a_backtest_loads_no_heavy_library(tmp_path: Path, charts: str) -> None:
    # with its charts too: they are SVG written by hand, no matplotlib (decisions.md, 2026-12-02)
    # a bar file, as the shared data is (a synthetic source needs exchange_calendars for its sessions)
    pq.write_table(
        table_from_arrays(synthetic_arrays(8, "2015-01-01", "2016-12-31", seed=3)), tmp_path / "bars.parquet"
    )
    config = tmp_path / "c.toml"
    config.write_text(CONFIG)
    code = (
        "from trading_playbook.cli import main\n"
        f"sys.argv = ['playbook', 'backtest', {str(config)!r}, '--out', {str(tmp_path / 'out')!r}, "
        f"{charts!r}, '--no-record']\n"
        "try:\n"
        "    main()\n"
        "except SystemExit as stop:\n"
        "    assert not stop.code, stop.code\n"
    )
    assert _loaded_after(code, tmp_path) == []
    assert (tmp_path / "out" / "result.json").is_file()
    assert (tmp_path / "out" / "charts" / "equity.svg").is_file() == (charts == "--charts")


def test_the_probe_sees_a_heavy_import(tmp_path: Path) -> None:
    # the check itself can fail: importing one of the listed libraries is reported
    assert _loaded_after("import trading_playbook.cli\nimport pandas", tmp_path) == ["pandas"]


def test_a_kernel_using_blas_still_compiles_after_the_deferred_probe(tmp_path: Path) -> None:
    # the probe answers numba's import-time question only; a kernel calling np.dot goes through
    # numba's full check (the real SciPy import) and gives the right answer
    code = (
        "import numba, numpy as np\n"
        "from trading_playbook._blas_probe import defer_blas_import\n"
        "assert defer_blas_import()\n"
        "@numba.njit\n"
        "def total(n):\n"
        "    return n + 1.0\n"
        "assert total(1.0) == 2.0 and 'scipy.linalg' not in sys.modules\n"
        "@numba.njit\n"
        "def dot(a, b):\n"
        "    return np.dot(a, b)\n"
        "assert dot(np.arange(3.0), np.ones(3)) == 3.0 and 'scipy.linalg' in sys.modules\n"
        "assert not defer_blas_import()  # too late to patch: a no-op\n"
    )
    assert _loaded_after(code, tmp_path) == ["scipy.linalg"]


def _console_script(code_after: str, argv: list[str], tmp_path: Path, cwd: Path) -> str:
    """Run ``playbook ARGV`` through the console script's entry point in a fresh interpreter, then
    ``code_after`` (which prints); returns what it printed last."""
    # main() ends the process itself (after the exit callbacks): code_after runs as one of them
    probe = (
        "import atexit, json, sys\n"
        f"sys.argv = ['playbook', *{argv!r}]\n"
        f"def after():\n{textwrap.indent(code_after or 'pass', '    ')}\n"
        "atexit.register(after)\n"
        "from trading_playbook._entry import main\n"
        "main()\n"
    )
    env = {
        **_base_env(),
        "PLAYBOOK_HOME": str(tmp_path / "home"),
        "PLAYBOOK_CACHE_DIR": str(tmp_path / "cache"),
    }
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=cwd, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout.strip().splitlines()[-1]


def test_a_warm_cache_backtest_imports_neither_filelock_nor_pyyaml(tmp_path: Path) -> None:
    # a read of the data cache takes no lock, and numba's config imports PyYAML only to read a
    # .numba_config.yaml, which this folder does not have: both stay unimported (PyYAML is bound
    # lazily, its code never runs); nor does it import any of NOT_IN_A_WARM_BACKTEST
    bars = tmp_path / "bars.parquet"
    pq.write_table(table_from_arrays(synthetic_arrays(8, "2015-01-01", "2016-12-31", seed=3)), bars)
    _console_script("", ["data", "ingest", str(bars), "--source-name", "bars"], tmp_path, tmp_path)
    config = tmp_path / "c.toml"
    config.write_text(CONFIG.replace('source = "file"', 'source = "cache"').replace("bars.parquet", "bars"))
    argv = ["backtest", str(config), "--out", str(tmp_path / "out"), "--no-charts", "--no-record"]
    _console_script("", argv, tmp_path, tmp_path)  # with a cold numba cache, this run compiles
    probe = (
        "yaml = sys.modules.get('yaml')\n"
        "print(json.dumps(['filelock' in sys.modules, type(yaml).__name__, 'yaml.reader' in sys.modules,\n"
        f"                  [m for m in {(*NOT_IN_A_WARM_BACKTEST, *CHART_CODE)!r} if m in sys.modules]]))"
    )
    assert json.loads(_console_script(probe, argv, tmp_path, tmp_path)) == [False, "_LazyModule", False, []]
    assert (tmp_path / "out" / "result.json").is_file()
    # with its charts and report.html too; the SVG layer escapes without xml.sax.saxutils (which
    # imports urllib.request, http.client and email) and takes its percentiles without numpy.ma
    with_charts = [arg for arg in argv if arg != "--no-charts"]
    charts_probe = f"print(json.dumps([m for m in {(*NOT_IN_A_WARM_BACKTEST, 'xml.sax', 'email')!r} if m in sys.modules]))"
    assert json.loads(_console_script(charts_probe, with_charts, tmp_path, tmp_path)) == []
    assert (tmp_path / "out" / "charts" / "equity.svg").is_file()


def test_numba_still_reads_its_config_file_with_pyyaml_deferred(tmp_path: Path) -> None:
    (tmp_path / ".numba_config.yaml").write_text("cache_dir: numba-cache-from-yaml\n")
    probe = (
        "from trading_playbook._deferred import defer_until_used\n"
        "assert 'yaml' in defer_until_used()\n"
        "import numba\n"
        "print(numba.config.CACHE_DIR)\n"
    )
    env = {k: v for k, v in _base_env().items() if k != "NUMBA_CACHE_DIR"}
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "numba-cache-from-yaml"
