"""Map the native libraries of numpy, pyarrow and llvmlite in a thread while the command imports (issue 14).

A command's imports load about 250 MB of shared libraries: OpenBLAS (numpy), Arrow and Parquet
(pyarrow), LLVM (llvmlite, numba's compiler). Loading one is the dynamic linker's work: mapping the
file, resolving its relocations against the libraries it needs, running its initialisers: 50-70 ms
over the three packages on this machine, done by the main thread with the GIL held (an extension
module's import, llvmlite's ``ctypes.CDLL``), so nothing else runs meanwhile.

:func:`start` loads the same files first, in a thread that calls the C library's ``dlopen`` through
ctypes, which releases the GIL: the main thread goes on importing Python modules on the other core.
When numpy's extension module (or pyarrow's, or llvmlite) later asks for its library, the dynamic
linker finds it loaded and only counts one more reference. Nothing else changes: the same files are
loaded with the flags the imports use (:func:`sys.getdlopenflags`: ``RTLD_NOW``, local symbols), each
exactly once, their initialisers run once, and no Python code of those packages runs in the thread.

Only plain native libraries are loaded this way, never a Python extension module (whose initialiser
could need the GIL the main thread holds while it waits for the linker), and only the files the
imports load anyway, found where those imports will look (the import system's own look-up of
the package, which imports nothing). A file that is missing, or that fails to load, is skipped:
the import then loads it (or fails) exactly as it would have. Only a backtest's command does it
(:data:`PRELOAD_COMMANDS`: it imports all three packages); ``PLAYBOOK_NATIVE_PRELOAD=0`` turns it off.
"""

from __future__ import annotations

import importlib.util
import os
import re
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

__all__ = ["PRELOAD_COMMANDS", "PRELOAD_ENV", "library_files", "start"]

PRELOAD_ENV = "PLAYBOOK_NATIVE_PRELOAD"  # "0": the imports load their libraries themselves
# the commands that import all three packages at once (a backtest's run); another command (``runs``,
# ``data``, ``--help``...) may need none of them and loads what it imports itself
PRELOAD_COMMANDS = ("backtest", "check-lookahead")

# pyarrow.lib's own libraries (its ELF "needed" list, all loaded by ``import pyarrow``), by the exact
# name it asks for (``libarrow.so.2600``; a wheel may hold other copies, ``libarrow_python.so``
# and ``.so.2600.1.0``, which must not be loaded a second time). libarrow_python is left to the
# import: it calls into Python.
_ARROW_LIBRARIES = re.compile(
    r"^lib(arrow|arrow_compute|arrow_acero|arrow_dataset|arrow_substrait|parquet)\.so\.\d+$"
)
_SHARED_LIBRARY = re.compile(r"\.so(\.\d+)*$")

_started: threading.Thread | None = None


def _package_folder(name: str) -> Path | None:
    """The folder top-level package ``name`` will be imported from (the import system's own lookup,
    :func:`importlib.util.find_spec`: nothing is imported); None when it is not a plain folder."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.origin or not spec.has_location:
        return None
    origin = Path(spec.origin)
    return origin.parent if origin.name == "__init__.py" else None


def library_files() -> list[Path]:
    """The native libraries of numpy, pyarrow and llvmlite that their imports load, in the order the
    command imports them, each where those imports will find it."""
    files: list[Path] = []
    numpy = _package_folder("numpy")
    if numpy is not None:  # a wheel's vendored OpenBLAS and its Fortran runtime
        vendored = numpy.parent / "numpy.libs"
        if vendored.is_dir():
            files += sorted(p for p in vendored.iterdir() if _SHARED_LIBRARY.search(p.name))
    pyarrow = _package_folder("pyarrow")
    if pyarrow is not None:
        files += sorted(p for p in pyarrow.iterdir() if _ARROW_LIBRARIES.match(p.name))
    llvmlite = _package_folder("llvmlite")
    if llvmlite is not None and (llvmlite / "binding" / "libllvmlite.so").is_file():
        files.append(llvmlite / "binding" / "libllvmlite.so")
    return files


def _load(files: Sequence[Path], mode: int) -> None:
    """``dlopen`` each file (a failure is left for the import to meet); the GIL is released in each."""
    import ctypes

    try:
        dlopen = ctypes.CDLL(None).dlopen
    except (OSError, AttributeError):
        return
    dlopen.restype = ctypes.c_void_p
    dlopen.argtypes = [ctypes.c_char_p, ctypes.c_int]
    for path in files:
        dlopen(os.fsencode(path), mode)  # NULL on failure: the import reports it as it would


def start(args: Sequence[str]) -> threading.Thread | None:
    """Start loading :func:`library_files` in a daemon thread when ``playbook ARGS`` is one of
    :data:`PRELOAD_COMMANDS` (once per process, Linux only); the thread, or None when there is nothing
    to do."""
    global _started
    if not args or args[0] not in PRELOAD_COMMANDS:
        return None
    if _started is not None or not sys.platform.startswith("linux") or os.environ.get(PRELOAD_ENV) == "0":
        return None
    try:
        files = library_files()
    except (OSError, ValueError, ImportError):
        return None
    if not files:
        return None
    import ctypes  # noqa: F401 - imported here, on the main thread (the thread only calls into it)

    _started = threading.Thread(
        target=_load, args=(files, sys.getdlopenflags()), name="playbook-native-preload", daemon=True
    )
    _started.start()
    return _started
