"""numba's on-disk cache of the platform's kernels: loaded cheaply, and written from a read-only install.

A cached kernel loads without numba's full context refresh (which imports ``scipy.linalg`` and every
lowering registry, about 1 s per process); a kernel compiled afterwards in the same process still
gets the full refresh. A package folder numba cannot write to falls back to the user-wide cache.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import trading_playbook

LOAD_THEN_COMPILE = textwrap.dedent(
    """
    import sys
    import numpy as np
    from numba import njit
    from numba.core.event import Listener, install_listener

    from trading_playbook.core._benchmark_nb import equal_weight_growth_nb

    compiled = []

    class Seen(Listener):
        def on_start(self, event):
            name = event.data["dispatcher"].py_func.__name__
            if name.endswith("_nb"):  # ours, not numba's own helpers (np.empty's impl, ...)
                compiled.append(name)

        def on_end(self, event):
            pass

    close = np.array([[10.0, 20.0], [11.0, 19.0], [12.0, 22.0]])
    with install_listener("numba:compile", Seen()):
        growth = np.empty(3)
        equal_weight_growth_nb(close, np.array([0, 1]), np.empty(2), np.empty(2), growth)
        print("compiled", ",".join(compiled) or "-")
        print("linalg", "scipy.linalg" in sys.modules)

        @njit
        def sorted_sum(x):  # needs numba's lowering registries (np.sort), so a full refresh
            return np.sort(x)[::-1].cumsum()

        print("later", sorted_sum(np.array([3.0, 1.0, 2.0])).tolist())
    print("growth", growth.tolist())
    """
)


def _python(code: str, env: dict[str, str], cwd: Path | None = None) -> dict[str, str]:
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=cwd, timeout=600
    )
    assert done.returncode == 0, done.stderr
    return dict(line.split(" ", 1) for line in done.stdout.splitlines())


def test_a_cached_kernel_loads_without_numbas_full_refresh(tmp_path: Path) -> None:
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "numba-cache")}
    cold = _python(LOAD_THEN_COMPILE, env)
    assert cold["compiled"] == "equal_weight_growth_nb"
    warm = _python(LOAD_THEN_COMPILE, env)
    assert warm["compiled"] == "-"  # loaded from the cache
    assert warm["linalg"] == "False"  # numba's full refresh imports scipy.linalg; the load did not
    assert warm["later"] == "[3.0, 5.0, 6.0]"  # compiling afterwards still works
    assert warm["growth"] == cold["growth"]


def test_a_package_folder_numba_cannot_write_caches_in_the_user_wide_folder(tmp_path: Path) -> None:
    """An install numba cannot write into (here: its ``__pycache__`` folders cannot be created, which
    holds for root too) caches under ``$XDG_CACHE_HOME/numba``, and the second process loads it."""
    package = tmp_path / "site" / "trading_playbook"
    shutil.copytree(
        Path(trading_playbook.__file__).parent, package, ignore=shutil.ignore_patterns("__pycache__")
    )
    for folder in [package, *(p for p in package.rglob("*") if p.is_dir())]:
        (folder / "__pycache__").write_text("not a folder: numba cannot cache here\n")
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env.update(PYTHONPATH=str(tmp_path / "site"), XDG_CACHE_HOME=str(tmp_path / "user-cache"))
    check = "import trading_playbook\nprint('from', trading_playbook.__file__)\n" + LOAD_THEN_COMPILE
    cold = _python(check, env, cwd=tmp_path)
    assert cold["from"].startswith(str(package))
    assert cold["compiled"] == "equal_weight_growth_nb"
    assert list((tmp_path / "user-cache" / "numba").rglob("*equal_weight_growth_nb*.nbi"))
    warm = _python(check, env, cwd=tmp_path)
    assert warm["compiled"] == "-"
    assert warm["growth"] == cold["growth"]
