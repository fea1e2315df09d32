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

SciPy is imported by numba's start-up check (``numba._ensure_critical_deps``) only to read
``scipy.__version__`` (numba refuses SciPy older than 1.0): SciPy's ``__init__`` and its first
extension modules cost about 7-14 ms of every command, and no warm backtest uses SciPy.
:func:`defer_until_used` makes its first import lazy as above, with one attribute answered without
running the package's code: ``__version__``, taken from the package's own ``scipy/version.py`` (the
module its ``__init__`` binds ``__version__`` from; that file is run on its own, as the import would
run it). Any other use of the module (an attribute, a submodule, a later ``import scipy``) runs
SciPy's ``__init__`` first, as the eager import would have. When the package does not look as
expected (no ``version.py``, an ``__init__`` that takes its version from elsewhere, a version file
that fails), the import is the usual eager one. The cost: SciPy's import-time checks (its warning
about an unsupported NumPy, a broken install's error) come at its first use instead of numba's import.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType

__all__ = ["DEFERRED", "VERSION_FIRST", "FirstImportFinder", "declared_version", "defer_until_used"]

# numba.core.config: only for a .numba_config.yaml; numba.core.entrypoints (and the registry): only
# for numba's extension entry points, read at a compile (a warm run's kernels load from the cache)
DEFERRED = ("yaml", "importlib.metadata")
# numba's start-up check reads scipy.__version__ and nothing else (see the module docstring)
VERSION_FIRST = ("scipy",)


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
        return self.wrapped(spec)

    def wrapped(self, spec: importlib.machinery.ModuleSpec) -> importlib.machinery.ModuleSpec:
        """``spec`` (found, with a loader that can be wrapped) with its loader wrapped by ``wrap``."""
        assert spec.loader is not None
        spec.loader = self.wrap(spec.loader)
        return spec


class _FirstImportLazy(FirstImportFinder):
    """Hands the first import of ``name`` to a :class:`importlib.util.LazyLoader`."""

    def __init__(self, name: str) -> None:
        super().__init__(name, importlib.util.LazyLoader)


def declared_version(package: str, folder: Path) -> str | None:
    """The ``__version__`` the ``__init__`` of ``package`` (in ``folder``) binds from its own
    ``version.py`` (``from PACKAGE.version import version as __version__``), by running that file on
    its own; None when the package does not take its version that way or the file fails."""
    try:
        init = (folder / "__init__.py").read_text(encoding="utf-8")
        if f"from {package}.version import version as __version__" not in init:
            return None
        source = folder / "version.py"
        namespace: dict[str, object] = {"__name__": f"{package}.version", "__file__": str(source)}
        exec(
            compile(source.read_bytes(), str(source), "exec"), namespace
        )  # the package's own file, on its own
    except Exception:  # anything unexpected: the usual eager import
        return None
    version = namespace.get("version")
    return version if isinstance(version, str) else None


class _VersionFirstLoader(importlib.util.LazyLoader):
    """A :class:`~importlib.util.LazyLoader` whose module answers ``__version__`` without loading."""

    def __init__(self, loader: importlib.abc.Loader, version: str) -> None:
        super().__init__(loader)
        self.version = version

    def exec_module(self, module: ModuleType) -> None:
        super().exec_module(module)  # the module is now the standard library's lazy module
        lazy = type(module)
        version = self.version

        class VersionFirst(lazy):  # type: ignore[valid-type,misc]
            def __getattribute__(self, attr: str) -> object:
                if attr == "__version__":
                    return version
                object.__setattr__(self, "__class__", lazy)  # anything else: the lazy module loads
                return getattr(self, attr)

            def __delattr__(self, attr: str) -> None:
                object.__setattr__(self, "__class__", lazy)
                delattr(self, attr)

        object.__setattr__(module, "__class__", VersionFirst)


class _FirstImportVersionFirst(FirstImportFinder):
    """Hands the first import of package ``name`` to a :class:`_VersionFirstLoader` (when its
    version can be read from its ``version.py``; otherwise the import is the usual one)."""

    def __init__(self, name: str) -> None:
        super().__init__(name, importlib.util.LazyLoader)

    def wrapped(self, spec: importlib.machinery.ModuleSpec) -> importlib.machinery.ModuleSpec:
        if not spec.submodule_search_locations or spec.origin is None:
            return spec  # not a package folder: the usual import
        version = declared_version(self.name, Path(spec.origin).parent)
        if version is not None:
            assert spec.loader is not None
            spec.loader = _VersionFirstLoader(spec.loader, version)
        return spec


_KINDS: dict[str, Callable[[str], FirstImportFinder]] = {
    name: _FirstImportVersionFirst for name in VERSION_FIRST
}


def defer_until_used(names: Sequence[str] = (*DEFERRED, *VERSION_FIRST)) -> list[str]:
    """Make the first import of each of ``names`` lazy (see the module docstring; the names of
    :data:`VERSION_FIRST` answer ``__version__`` before they load); returns the names deferred (those
    not imported yet)."""
    deferred = []
    for name in names:
        if name in sys.modules or any(
            isinstance(f, FirstImportFinder) and f.name == name for f in sys.meta_path
        ):
            continue
        sys.meta_path.insert(0, _KINDS.get(name, _FirstImportLazy)(name))
        deferred.append(name)
    return deferred
