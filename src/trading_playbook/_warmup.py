"""Compile the fast engine's session loop into numba's on-disk cache, in a process of its own.

``python -m trading_playbook._warmup`` runs the fast engine once on a tiny seeded panel: numba compiles
:func:`~trading_playbook.core.simulate._kernels.simulate_nb` for the one signature every run uses (the
state NamedTuples have fixed dtypes and layouts; rule kinds, sizers and fill modes are data) and
writes it to its cache; when the cache already holds it, the process ends at once.

On a first run the ``playbook`` command starts it beside itself, before it even imports its commands
(:func:`start_early`, called by :mod:`trading_playbook._entry`), so the session loop compiles on the
second core while the first imports, loads the data and compiles and runs the scanner;
:func:`trading_playbook.cli._compile.simulation_warmup` then makes the session loop wait for it.
Only the standard library is imported here until the worker runs.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

WORKER_ENV = "PLAYBOOK_COMPILE_WORKER"  # "0": compile everything in the command's own process

_early: subprocess.Popen[bytes] | None = None


def start_worker() -> subprocess.Popen[bytes]:
    """Start ``python -m trading_playbook._warmup`` (its output discarded: a failure only means the
    command compiles the session loop itself)."""
    return subprocess.Popen(
        [sys.executable, "-m", "trading_playbook._warmup"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def wants_fast_backtest(args: Sequence[str]) -> bool:
    """Whether ``playbook ARGS`` is a backtest on the fast engine (the default)."""
    if not args or args[0] != "backtest" or os.environ.get(WORKER_ENV, "1") == "0":
        return False
    for k, arg in enumerate(args):
        if arg == "--engine=reference" or (arg == "--engine" and args[k + 1 : k + 2] == ["reference"]):
            return False
    return "--help" not in args


def looks_cached() -> bool:
    """A guess without importing numba: an index file of the session loop is where numba keeps it
    (``NUMBA_CACHE_DIR``, else the package's ``__pycache__`` or numba's user-wide cache). It may be
    stale; the command's exact check (:func:`trading_playbook.cli._compile.simulation_warmup`) then
    starts the worker a little later."""
    index = "_kernels.simulate_nb-*.nbi"
    custom = os.environ.get("NUMBA_CACHE_DIR")
    if custom:
        return any(Path(custom).glob(f"*/{index}"))
    kernels = Path(__file__).resolve().parent / "core" / "simulate"
    if os.access(kernels, os.W_OK):  # numba caches beside the kernels when it can
        return any((kernels / "__pycache__").glob(index))
    user_wide = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "numba"
    return any(user_wide.glob(f"*/{index}"))


def start_early(args: Sequence[str]) -> None:
    """Start the worker now when ``playbook ARGS`` is a fast backtest and the session loop does not
    look cached; :func:`take_early` hands it over to the command."""
    global _early
    if _early is None and wants_fast_backtest(args) and not looks_cached():
        _early = start_worker()


def early_pid() -> int | None:
    """The process id of the worker :func:`start_early` started, if it did (not handed over yet)."""
    return None if _early is None else _early.pid


def take_early() -> subprocess.Popen[bytes] | None:
    """The worker :func:`start_early` started, if any (handed over once)."""
    global _early
    worker, _early = _early, None
    return worker


def compile_simulation() -> None:
    """Run the fast engine on a tiny panel, compiling and caching its session loop (unless cached)."""
    import numba  # noqa: F401  (before the probe is deferred)

    from trading_playbook._blas_probe import defer_blas_import

    defer_blas_import()  # as the command does: the session loop uses no BLAS (about 0.85 s here)
    from trading_playbook.core._jit import entry_is_cached
    from trading_playbook.core.simulate._kernels import simulate_nb

    if entry_is_cached(simulate_nb):
        return
    import numpy as np

    from trading_playbook.core.exits.spec import named_exit
    from trading_playbook.core.simulate import fast
    from trading_playbook.core.simulate.settings import PortfolioSettings, SleeveSpec
    from trading_playbook.core.sizing import PercentEquitySizer
    from trading_playbook.testing import TableScanner, random_ohlc_panel, setup_table

    panel = random_ohlc_panel(np.random.default_rng(0), 40, 3)
    table = setup_table([(t, t % 3, 50.0, 1.0, 1.0) for t in range(20, 39)])
    sleeve = SleeveSpec("warm-up", TableScanner(table), named_exit("smart_exits"), PercentEquitySizer())
    fast.run_fast(panel, [sleeve], PortfolioSettings(), start=20, end=39, setups=[table])


if __name__ == "__main__":
    compile_simulation()
