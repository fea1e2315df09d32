"""Load a backtest's numba kernels from numba's on-disk cache while the command waits for its data.

``playbook backtest`` reads its bars in a thread while it imports (:mod:`trading_playbook._early_load`)
and then waits for that thread. A warm run's kernels come from numba's cache on their first call, one
by one, in the middle of the run: an index read, an unpickle and an LLVM object load each, about
0.1 s of CPU for a breakout backtest's six (``simulate_nb`` 31 ms, ``bootstrap_trades_nb`` 26 ms,
``prepare_chunk_nb`` 14 ms, ...). :func:`load_cached` does those loads while the main thread would
otherwise sit idle waiting for the data, and stops as soon as the data is there.

Only what numba's cache holds for this machine and the kernel's present bytecode is loaded, exactly as
numba's own ``Dispatcher.compile`` loads it (same calls, under the same compiler lock); nothing is ever
compiled here. A kernel that is not cached is compiled at its first call as before, and a kernel this
list misses (or lists wrongly) only costs its load at its first call: the list decides when a kernel
is loaded, never what runs. ``tests/integration/test_kernel_preload.py`` checks the list against the
kernels a backtest really loads.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["BesideLoad", "backtest_kernels", "cache_folder", "load_beside", "load_cached"]

# (module, name) of the entry kernels a backtest calls, in the order it calls them
_SCANNER_KERNELS: dict[str, tuple[tuple[str, str], ...]] = {
    "daily_breakout": (
        ("trading_playbook.core.scanners._breakout_stream", "prepare_chunk_nb"),
        ("trading_playbook.core.scanners._breakout_kernels", "rank_hits_nb"),
    ),
}
_FAST_ENGINE_KERNELS = (
    ("trading_playbook.core.simulate._bars_nb", "bar_index_nb"),
    ("trading_playbook.core.simulate._kernels", "simulate_nb"),
)
_METRICS_KERNELS = (
    ("trading_playbook.core._benchmark_nb", "equal_weight_growth_nb"),
    ("trading_playbook.core._bootstrap_nb", "bootstrap_trades_nb"),
)


def backtest_kernels(cfg: Any, engine: str) -> list[Any]:
    """The entry kernels (numba dispatchers) a backtest of ``cfg`` on ``engine`` calls, in call order.

    The modules are imported (a backtest imports them anyway); a name no longer there is left out.
    """
    names: list[tuple[str, str]] = []
    for sleeve in cfg.sleeve_configs():
        names.extend(k for k in _SCANNER_KERNELS.get(sleeve.scanner.name, ()) if k not in names)
    if engine == "fast":
        names.extend(_FAST_ENGINE_KERNELS)
    names.extend(_METRICS_KERNELS)
    kernels = []
    for module, name in names:
        kernel = getattr(importlib.import_module(module), name, None)
        if kernel is not None and hasattr(kernel, "overloads"):
            kernels.append(kernel)
    return kernels


def cache_folder(kernels: Iterable[Any]) -> str | None:
    """The folder of numba's on-disk cache of the first of ``kernels`` that has one (numba's choice:
    ``NUMBA_CACHE_DIR``, the package's ``__pycache__``, or the user-wide cache); None without one."""
    for kernel in kernels:
        folder = getattr(getattr(kernel, "_cache", None), "_cache_path", None)
        if isinstance(folder, str) and folder:
            return folder
    return None


def _has_numba_internals(kernel: Any, cache: Any) -> bool:
    """Whether ``kernel`` has the parts of numba's dispatcher :func:`load_cached` calls (numba 0.6x);
    without them nothing is preloaded and each kernel loads at its first call, as numba does."""
    return all(hasattr(kernel, a) for a in ("add_overload", "_cache_hits", "targetctx", "overloads")) and all(
        hasattr(cache, a) for a in ("_index_key", "load_overload")
    )


def load_cached(kernels: Iterable[Any], stop: Callable[[], bool] = lambda: False) -> list[str]:
    """Load each kernel's compiled forms from numba's cache, until ``stop()`` says the wait is over.

    Returns the names of the kernels it loaded something for. A form already loaded, not cached, or
    cached for another machine or another bytecode of the kernel is left alone (never compiled).
    """
    from numba.core.compiler_lock import global_compiler_lock

    loaded = []
    for kernel in kernels:
        if stop():
            break
        cache = getattr(kernel, "_cache", None)
        load_index = getattr(getattr(cache, "_cache_file", None), "_load_index", None)
        if load_index is None or not _has_numba_internals(kernel, cache):  # NullCache, or another numba
            continue
        codegen = kernel.targetctx.codegen()
        found = False
        for key in load_index():
            signature = key[0]
            if key != cache._index_key(signature, codegen):  # another machine or an older bytecode
                continue
            with global_compiler_lock:  # numba's Dispatcher.compile, minus the compile
                if tuple(signature) in kernel.overloads:
                    continue
                result = cache.load_overload(signature, kernel.targetctx)
                if result is None:
                    continue
                kernel._cache_hits[signature] += 1
                if not result.objectmode:
                    kernel.targetctx.insert_user_function(result.entry_point, result.fndesc, [result.library])
                kernel.add_overload(result)
                found = True
        if found:
            loaded.append(kernel.py_func.__name__)
    return loaded


class BesideLoad:
    """:func:`load_cached` of kernels on a thread of its own while the run goes on
    (:func:`load_beside`); :meth:`join` waits for it.

    A warm run whose data was in before it could preload anything loads each kernel at its first
    call, on the critical path: ``simulate_nb`` and the metrics' kernels wait until the scan is over
    (about 30 ms of CPU). Loaded here, beside the scan, they are there when the run reaches them: the
    scan's threads run numba code without the GIL and the main thread only waits for them; whoever
    calls a kernel first loads it (numba's compiler lock orders the loads, and a kernel is never
    loaded twice). The loads import nothing (``tests/integration/test_kernel_preload.py``: every
    module their pickles name is imported by then), so holding the compiler lock here never waits
    for an import another thread is running.

    An error of a load is not raised here: the kernel then loads at its first call, as without this
    thread, where numba raises the same error.
    """

    def __init__(self, kernels: list[Any]) -> None:
        import threading

        self.seconds = 0.0
        self._kernels = kernels
        self._thread = threading.Thread(target=self._load, name="playbook-kernel-load", daemon=True)

    def _load(self) -> None:
        import time
        from contextlib import suppress

        t0 = time.perf_counter()
        with suppress(Exception):  # the kernel is then loaded (and the error raised) at its first call
            load_cached(self._kernels)
        self.seconds = time.perf_counter() - t0

    def start(self) -> BesideLoad:
        self._thread.start()
        return self

    def join(self) -> None:
        self._thread.join()


def load_beside(kernels: Iterable[Any]) -> BesideLoad | None:
    """Start loading those of ``kernels`` numba has not loaded yet on a thread (:class:`BesideLoad`),
    in their order; None when every one is loaded already."""
    missing = [k for k in kernels if not getattr(k, "overloads", None)]
    return BesideLoad(missing).start() if missing else None
