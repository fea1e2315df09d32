"""numba's on-disk cache keyed on every source the core's kernels depend on, not only their own file.

numba keys a cached function (``@njit(cache=True)``) on the content of the file that defines it. A
kernel that calls a kernel of another file (the session loop calls the exit rules, the fills and the
per-bar indicators), or reads a constant derived in another file (the exit primitives' codes and
parameter slots declared in ``core/exits/spec.py``), would then be loaded stale from the cache after
that other file changed, silently. Every kernel module of the core imports this module before its
first ``@njit(cache=True)``: it puts :class:`CoreKernelLocator` first among numba's cache locators, so
the key of a core kernel also covers the content of every core file that holds kernels or kernel
constants. Where the cache lives is still numba's choice (``NUMBA_CACHE_DIR``, else the package's
``__pycache__`` when writable, else the user-wide cache), so caching works from an installed package.

This is the core's only file access: reading its own source for a cache key, at the first compile.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, TypeVar, cast

from numba import njit
from numba.core import caching

F = TypeVar("F", bound=Callable[..., Any])

__all__ = ["CoreKernelLocator", "kernel_sources_hash", "loop_kernel"]

CORE = Path(__file__).resolve().parent
# numba >= 0.61 names it CacheImpl, earlier versions _CacheImpl
_IMPL: Any = getattr(caching, "CacheImpl", None) or getattr(caching, "_CacheImpl")  # noqa: B009
# files whose module-level values the kernels compile in as constants (besides the kernel files)
_CONSTANT_SOURCES = ("types.py", "exits/spec.py", "simulate/_records.py")


@functools.cache
def kernel_sources_hash() -> bytes:
    """sha256 over the core files holding numba kernels (``njit``) or the constants they read."""
    digest = hashlib.sha256()
    for path in sorted(CORE.rglob("*.py")):
        name = path.relative_to(CORE).as_posix()
        text = path.read_bytes()
        if name in _CONSTANT_SOURCES or b"@njit" in text or b"@loop_kernel" in text:
            digest.update(name.encode())
            digest.update(text)
    return digest.digest()


class CoreKernelLocator(caching._CacheLocator):
    """numba's own locator for a core kernel, with :func:`kernel_sources_hash` added to its source stamp."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def ensure_cache_path(self) -> None:
        self._inner.ensure_cache_path()

    def get_cache_path(self) -> str:
        return str(self._inner.get_cache_path())

    def get_source_stamp(self) -> Any:
        return (self._inner.get_source_stamp(), kernel_sources_hash())

    def get_disambiguator(self) -> str:
        return str(self._inner.get_disambiguator())

    @classmethod
    def from_function(cls, py_func: Any, py_file: str) -> CoreKernelLocator | None:
        """The locator of a function defined in the core (None elsewhere: numba's usual locators)."""
        if not Path(py_file).resolve().is_relative_to(CORE):
            return None
        for inner_class in _IMPL._locator_classes:
            if inner_class is not cls:
                inner = inner_class.from_function(py_func, py_file)
                if inner is not None:
                    return cls(inner)
        return None


if CoreKernelLocator not in _IMPL._locator_classes:
    _IMPL._locator_classes.insert(0, CoreKernelLocator)


def loop_kernel(*, inline: Literal["never", "always"] = "never") -> Callable[[F], F]:
    """``@njit`` for the fast engine's session-loop kernels: cached, numpy's error model, and no
    reference counting (``_nrt=False``: they allocate nothing, the caller owns every array; an
    allocation in one is a compile error). ``inline="always"`` inlines it at numba IR level."""
    options: dict[str, Any] = {"cache": True, "error_model": "numpy", "_nrt": False, "inline": inline}
    return cast(Callable[[F], F], njit(**options))
