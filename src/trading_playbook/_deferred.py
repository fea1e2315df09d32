"""Modules the command's libraries import at start-up but rarely use, loaded on first use (issue 14).

numba's configuration module imports PyYAML when numba is imported (``import yaml`` in
``numba.core.config``), for one purpose: reading a ``.numba_config.yaml`` in the working folder when
there is one. The import costs about 40-70 ms of every ``playbook`` command (PyYAML's Python
modules and its C loader), and nearly every run has no such file. numba's extension module
(``numba.core.entrypoints``) imports ``importlib.metadata`` when numba is imported, to read the
``numba_extensions`` entry points at the first *compile* (a warm run's kernels load from numba's cache
and compile nothing): with ``email``, ``zipfile`` and the rest about 15-25 ms of every command.

:func:`defer_until_used` puts a finder first on ``sys.meta_path`` that answers the *first* import of
the module with the standard library's :class:`importlib.util.LazyLoader`: the import succeeds
exactly when the real one would (the module is found the usual way, so a missing PyYAML is still a
missing PyYAML), and the module's code runs at its first attribute access -- numba's
``yaml.safe_load`` when a config file exists, or any later ``import yaml`` (whose import statement
reads the module's ``__spec__``). Nothing is skipped: only the moment of the import moves. The finder
removes itself at that first import; it never touches a module already imported.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import sys
from collections.abc import Callable, Sequence
from types import ModuleType

__all__ = ["DEFERRED", "FirstImportFinder", "defer_until_used"]

# numba.core.config: only for a .numba_config.yaml; numba.core.entrypoints (and the registry): only
# for numba's extension entry points, read at a compile (a warm run's kernels load from the cache)
DEFERRED = ("yaml", "importlib.metadata")


class FirstImportFinder(importlib.abc.MetaPathFinder):
    """Finds ``name`` the usual way, once (then steps aside), with its loader wrapped by ``wrap``.

    The import succeeds or fails exactly as the real one would: a module that is not installed, or
    whose loader cannot be wrapped, is answered with the usual spec.
    """

    def __init__(self, name: str, wrap: Callable[[importlib.abc.Loader], importlib.abc.Loader]) -> None:
        self.name = name
        self.wrap = wrap

    def find_spec(
        self, fullname: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != self.name:
            return None
        if self in sys.meta_path:
            sys.meta_path.remove(self)  # once: the real finders answer from here on
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec  # not installed (the import fails as it would) or a loader that can't be wrapped
        spec.loader = self.wrap(spec.loader)
        return spec


class _FirstImportLazy(FirstImportFinder):
    """Hands the first import of ``name`` to a :class:`importlib.util.LazyLoader`."""

    def __init__(self, name: str) -> None:
        super().__init__(name, importlib.util.LazyLoader)


def defer_until_used(names: Sequence[str] = DEFERRED) -> list[str]:
    """Make the first import of each of ``names`` lazy (see the module docstring); returns the names
    deferred (those not imported yet)."""
    deferred = []
    for name in names:
        if name in sys.modules or any(
            isinstance(f, _FirstImportLazy) and f.name == name for f in sys.meta_path
        ):
            continue
        sys.meta_path.insert(0, _FirstImportLazy(name))
        deferred.append(name)
    return deferred
