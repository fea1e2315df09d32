"""numba's runtime library (NRT) loaded from a file next to numba's cache of the kernels.

Before a process runs (or loads from numba's cache) its first kernel, numba initialises its runtime
(``rtsys.initialize``): it registers the C helpers of reference counting and compiles a small LLVM
module of atomic reference-count functions. That compile is the process's first use of LLVM's
optimiser and code generator: 0.03-0.05 s of CPU on its own, 0.10-0.12 s in a warm ``playbook
backtest`` (page faults into LLVM's optimiser and code generator, which nothing else in a warm run
touches), for a module of six functions that is the same in every process.

:func:`initialize_runtime` does exactly what ``rtsys.initialize`` does, except that the module's machine
code comes from a file when one was stored by an earlier process (numba's own object-code
serialisation of a code library, as numba caches a kernel): a warm process loads 6 KB of object code
(about 5 ms) instead of compiling it. The file is keyed on numba's and llvmlite's versions, the
Python version, the optimisation level and the codegen's :meth:`magic_tuple` (target triple, CPU name
and features, as numba's own cache index is), carries a SHA-256 of its contents, and is written
atomically (a temporary file renamed over it). A missing, corrupted or mismatched file, or any failure
reading it, falls back to compiling the module as numba does (and stores it for the next process);
nothing about the runtime differs either way, and numba's own ``rtsys.initialize`` is a no-op after it.

This is a cache of the *compiler's* output for this machine, like numba's cache of the kernels next to
it: every process still runs everything its command does.
"""

from __future__ import annotations

import hashlib
import pickle
import sys
from pathlib import Path
from typing import Any, Literal

from trading_playbook._atomic import write_atomically

__all__ = ["FILE_PREFIX", "initialize_runtime", "runtime_file", "runtime_key"]

FILE_PREFIX = "playbook_nrt_library"  # then the key's hash and ".nbo": one file per machine and version
_MAGIC = b"playbook-nrt-1\n"
_DIGEST = 32  # bytes of the SHA-256 after the magic

Status = Literal["ready", "loaded", "built", "compiled"]


def runtime_key(codegen: Any) -> tuple[Any, ...]:
    """What the runtime library's machine code depends on: numba's and llvmlite's versions (the module
    numba generates and the LLVM that compiles it), Python's, the optimisation level and the codegen's
    target (triple, CPU name and features)."""
    import llvmlite
    import numba
    from numba.core import config as numba_config

    config: Any = numba_config  # its attributes are set at run time
    return (
        numba.__version__,
        llvmlite.__version__,
        sys.version_info[:2],
        str(config.OPT),
        tuple(codegen.magic_tuple()),
    )


def runtime_file(folder: Path | str, key: tuple[Any, ...]) -> Path:
    """The file of ``key``'s library in ``folder``: named after a hash of the key, so that machines or
    numba versions sharing a cache folder keep a file each instead of replacing one another's."""
    return Path(folder) / f"{FILE_PREFIX}-{hashlib.sha256(repr(key).encode()).hexdigest()[:16]}.nbo"


def initialize_runtime(folder: Path | str | None) -> Status:
    """Initialise numba's runtime as ``rtsys.initialize`` does, its library loaded from ``folder``.

    Parameters
    ----------
    folder : Path or str or None
        Where the library's file lives: the folder of numba's cache of the kernels (created when
        missing). None: numba's own initialisation (nothing read or stored).

    Returns
    -------
    str
        ``"ready"``: the runtime was initialised already (nothing done); ``"loaded"``: from the file;
        ``"built"``: compiled here and stored for the next process; ``"compiled"``: compiled here,
        not stored (no folder, or it could not be written).
    """
    from numba.core.compiler_lock import global_compiler_lock
    from numba.core.registry import cpu_target
    from numba.core.runtime.nrt import rtsys

    with global_compiler_lock:  # as rtsys.initialize holds it
        if rtsys._init:
            return "ready"
        context = cpu_target.target_context
        if folder is None:
            rtsys.initialize(context)
            return "compiled"
        key = runtime_key(context.codegen())
        path = runtime_file(folder, key)
        _register_helpers()
        library = _load(path, key, context)
        status: Status = "loaded"
        if library is None:
            library = _compile(context)
            status = "built" if _store(path, key, library) else "compiled"
        rtsys._library = library
        rtsys._init = True
        return status


def _register_helpers() -> None:
    """``rtsys.initialize``'s first half: NRT statistics when numba's config asks for them, and the C
    helpers' addresses registered as the symbols the library's code calls."""
    from llvmlite import binding as ll
    from numba.core import config as numba_config
    from numba.core.runtime import _nrt_python as _nrt  # type: ignore[attr-defined]

    config: Any = numba_config  # its attributes are set at run time
    if config.NRT_STATS:
        _nrt.memsys_enable_stats()
    for py_name, address in _nrt.c_helpers.items():
        ll.add_symbol(py_name if py_name.startswith("_") else "NRT_" + py_name, address)


def _compile(context: Any) -> Any:
    """``nrtdynmod.compile_nrt_functions(context)`` with the library's object code kept (numba's
    object caching, as for a cached kernel) so that it can be stored."""
    from numba.core.runtime import nrtdynmod

    module, library = nrtdynmod.create_nrt_module(context)  # type: ignore[no-untyped-call]
    library.enable_object_caching()
    library.add_ir_module(module)
    library.finalize()
    return library


def _load(path: Path, key: tuple[Any, ...], context: Any) -> Any | None:
    """The library stored at ``path`` for ``key``; None when the file is missing, corrupted, for
    another key, or fails to load in any way before LLVM sees it."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    body = data[len(_MAGIC) + _DIGEST :]
    if not data.startswith(_MAGIC) or data[len(_MAGIC) : len(_MAGIC) + _DIGEST] != _digest(body):
        return None
    try:
        stored_key, serialized = pickle.loads(body)
        name, kind, (object_code, bitcode) = serialized
    except Exception:  # any unreadable content: compile instead
        return None
    valid = isinstance(name, str) and kind == "object" and isinstance(object_code, bytes)
    if stored_key != key or not (valid and isinstance(bitcode, bytes)):
        return None
    try:
        return context.codegen().unserialize_library(serialized)
    except Exception:  # LLVM refused it before adding it: compile instead
        return None


def _store(path: Path, key: tuple[Any, ...], library: Any) -> bool:
    """Write the library's object code for ``key`` to ``path`` atomically; False when it cannot."""
    try:
        body = pickle.dumps((key, library.serialize_using_object_code()), protocol=pickle.HIGHEST_PROTOCOL)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, _MAGIC + _digest(body) + body)  # mode as the umask says, as numba's files
    except (OSError, ValueError, RuntimeError, pickle.PicklingError):
        return False
    return True


def _digest(body: bytes) -> bytes:
    return hashlib.sha256(body).digest()
