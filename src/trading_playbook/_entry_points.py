"""pydantic's plugin discovery, with the same answer for less work (issue 14).

The first pydantic validator a process builds (typer builds one for a command's first option, the
config models another) asks ``importlib.metadata.entry_points(group="pydantic")`` for plugins. The
standard library reads and parses the ``entry_points.txt`` of every installed distribution (about 150
in this environment) into entry point objects, to keep those of one group: about 15-20 ms of every
command, for a group nearly no environment has; and importing ``importlib.metadata`` itself (with
``email``, ``zipfile``, ``csv``...) costs about as much again.

:func:`group_entry_points` gives the same entry points, in the same order. It first looks for the
distributions the standard library would find (the ``*.dist-info`` / ``*.egg-info`` folders of the
``sys.path`` folders, as ``importlib.metadata``'s path finder lists them) with plain ``os`` calls, and
reads their ``entry_points.txt``: when no file contains the group's name, no distribution can declare
an entry point of that group and the answer is an empty tuple, without importing
``importlib.metadata``. Otherwise (a file names the group, or anything the plain look-up does not
mirror exactly: a finder of distributions other than the standard path finder, a ``sys.path`` entry
that is a zip file or not a text path, an ``.egg`` folder, a file that does not read as UTF-8) it
asks ``importlib.metadata`` for the same distributions (deduplicated as the standard library does)
and parses only the files containing the group's name. A distribution of a custom finder whose
``entry_points`` does not come from that file is asked as usual.

:func:`faster_plugin_discovery` makes pydantic's plugin loader use it, at the moment pydantic
imports the loader (an import hook, so nothing is imported early): the loader's one import of
``importlib.metadata.entry_points`` is answered with :func:`_entry_points` instead (so the import of
``importlib.metadata`` is not needed for it); pydantic's own logic (the plugins it loads,
``PYDANTIC_DISABLE_PLUGINS``, its warnings) is untouched. If pydantic's internals differ from what
this expects, its loader gets ``importlib.metadata`` as before.
"""

from __future__ import annotations

import builtins
import importlib.abc
import importlib.machinery
import os
import sys
from collections.abc import Callable, Iterable
from types import ModuleType, SimpleNamespace
from typing import TYPE_CHECKING, Any

from trading_playbook._deferred import FirstImportFinder

if TYPE_CHECKING:  # imported only when a distribution may declare the group
    from importlib.metadata import Distribution, EntryPoint

__all__ = [
    "NUMBA_ENTRYPOINTS",
    "PLUGIN_LOADER",
    "faster_numba_extensions",
    "faster_plugin_discovery",
    "group_entry_points",
]

PLUGIN_LOADER = "pydantic.plugin._loader"  # calls entry_points(group="pydantic") once per process
NUMBA_ENTRYPOINTS = "numba.core.entrypoints"  # entry_points().select(group="numba_extensions", ...)
_INFO_SUFFIXES = (".dist-info", ".egg-info")  # the metadata folders importlib.metadata lists
# the errors importlib.metadata's PathDistribution.read_text takes for "no such file"
_NO_FILE = (FileNotFoundError, IsADirectoryError, KeyError, NotADirectoryError, PermissionError)


def group_entry_points(group: str) -> Iterable[EntryPoint]:
    """``importlib.metadata.entry_points(group=group)``: the same entry points in the same order
    (an empty tuple when no installed distribution's ``entry_points.txt`` names ``group``)."""
    if _no_file_names(group):
        return ()
    from importlib import metadata

    unique = getattr(metadata, "_unique", None)  # the standard library's deduplication by name
    if unique is None:
        return metadata.entry_points(group=group)
    return metadata.EntryPoints(
        ep
        for dist in unique(metadata.distributions())
        if _may_declare(dist, group)
        for ep in dist.entry_points
        if ep.group == group
    )


def _no_file_names(group: str) -> bool:
    """True when every distribution ``importlib.metadata.distributions()`` would list is a folder of a
    ``sys.path`` folder whose ``entry_points.txt`` is missing or does not contain ``group``; False when
    one may declare it, or when the distributions cannot be listed exactly as the standard library
    lists them (then :func:`group_entry_points` asks it)."""
    for finder in sys.meta_path:
        if getattr(finder, "find_distributions", None) is None:
            continue
        if finder is not importlib.machinery.PathFinder:  # another source of distributions
            return False
    for root in sys.path:
        infos = _info_folders(root)
        if infos is None:
            return False
        for info in infos:
            try:
                with open(os.path.join(info, "entry_points.txt"), "rb") as file:
                    text = file.read().decode("utf-8")
            except _NO_FILE:
                continue  # the standard library reads no entry points there either
            except (OSError, UnicodeDecodeError):
                return False  # the standard library raises: let it
            if group in text:
                return False
    return True


def _info_folders(root: Any) -> list[str] | None:
    """The metadata folders ``importlib.metadata``'s path finder lists in the ``sys.path`` entry
    ``root`` (its ``FastPath``/``Lookup``), or None where this look-up would not be exact (not a
    text path, a zip file, an ``.egg``, a metadata folder named in another case)."""
    if not isinstance(root, str) or os.path.basename(root).lower().endswith(".egg"):
        return None
    try:
        children = os.listdir(root or ".")
    except Exception:  # the standard library then reads ``root`` as a zip file, if it is a file
        return None if os.path.exists(root) else []
    infos = []
    for child in children:
        if child.lower().endswith(_INFO_SUFFIXES):
            if not child.endswith(_INFO_SUFFIXES):  # its name is then read from its metadata
                return None
            infos.append(os.path.join(root, child))
    return infos


def _may_declare(dist: Distribution, group: str) -> bool:
    """False only when ``dist``'s entry points come from its ``entry_points.txt`` (the standard
    ``Distribution.entry_points``) and that file does not contain ``group``."""
    from importlib import metadata

    if type(dist).entry_points is not metadata.Distribution.entry_points:
        return True
    text = dist.read_text("entry_points.txt")
    return text is not None and group in text


def _entry_points(**params: Any) -> Any:
    """``importlib.metadata.entry_points`` with :func:`group_entry_points` for a group alone."""
    if set(params) == {"group"}:
        return group_entry_points(params["group"])
    from importlib import metadata

    return metadata.entry_points(**params)


def _import_for_loader(
    name: str, globals: Any = None, locals: Any = None, fromlist: Any = (), level: int = 0
) -> Any:
    """``__import__`` of pydantic's plugin loader while its code runs: its ``from importlib.metadata
    import entry_points`` gets :func:`_entry_points`; every other import is the builtin's."""
    if name == "importlib.metadata" and level == 0 and tuple(fromlist or ()) == ("entry_points",):
        return _LOADER_NAMES
    return builtins.__import__(name, globals, locals, fromlist, level)


_LOADER_NAMES = SimpleNamespace(entry_points=_entry_points)  # the one name the loader imports


def _use_in_loader(loader: ModuleType) -> None:
    """After the loader's code ran: a loader that imported ``entry_points`` some other way (a newer
    pydantic) gets :func:`_entry_points` in place of the standard library's function."""
    if getattr(loader, "entry_points", None) is _entry_points:
        return
    metadata = sys.modules.get("importlib.metadata")
    if metadata is not None and getattr(loader, "entry_points", None) is metadata.entry_points:
        loader.entry_points = _entry_points  # type: ignore[attr-defined]


def faster_plugin_discovery() -> bool:
    """Make pydantic's plugin loader use :func:`group_entry_points` (see the module docstring);
    ``True`` when it will (or does already)."""
    loader = sys.modules.get(PLUGIN_LOADER)
    if loader is not None:
        _use_in_loader(loader)
        return getattr(loader, "entry_points", None) is _entry_points
    if not any(isinstance(f, _AfterImport) and f.name == PLUGIN_LOADER for f in sys.meta_path):
        sys.meta_path.insert(0, _AfterImport(PLUGIN_LOADER, _use_in_loader, _import_for_loader))
    return True


class _MetadataForNumba:
    """``numba.core.entrypoints.importlib_metadata``: numba's one call, ``entry_points()`` and then
    ``.select(group=..., name=...)``, answered by :func:`group_entry_points`; anything else is
    ``importlib.metadata``'s own."""

    def entry_points(self, **params: Any) -> Any:
        if params:
            return _metadata().entry_points(**params)
        return _AllEntryPoints()

    def __getattr__(self, name: str) -> Any:
        return getattr(_metadata(), name)


class _AllEntryPoints:
    """``importlib.metadata.entry_points()`` as numba reads it: ``select`` of one group (and a name)."""

    def select(self, **params: Any) -> Any:
        if "group" not in params or not set(params) <= {"group", "name"}:
            return _metadata().entry_points().select(**params)
        found = group_entry_points(params["group"])
        return tuple(ep for ep in found if "name" not in params or ep.name == params["name"])


def _metadata() -> ModuleType:
    from importlib import metadata

    return metadata


def _use_in_numba(entrypoints: ModuleType) -> None:
    """After numba's extension module ran: its ``importlib_metadata`` (the standard library's module,
    possibly not loaded yet) becomes :class:`_MetadataForNumba`."""
    if getattr(entrypoints, "importlib_metadata", None) is sys.modules.get("importlib.metadata", False):
        entrypoints.importlib_metadata = _MetadataForNumba()  # type: ignore[attr-defined]


def faster_numba_extensions() -> bool:
    """Make numba read its ``numba_extensions`` entry points (at a process's first compile, and when a
    kernel's first call loads it from the cache) through :func:`group_entry_points`: the same
    extensions loaded, without parsing every distribution's entry points or, when none names the
    group, importing ``importlib.metadata``. ``True`` when it will (or does already)."""
    entrypoints = sys.modules.get(NUMBA_ENTRYPOINTS)
    if entrypoints is not None:
        _use_in_numba(entrypoints)
        return isinstance(getattr(entrypoints, "importlib_metadata", None), _MetadataForNumba)
    if not any(isinstance(f, _AfterImport) and f.name == NUMBA_ENTRYPOINTS for f in sys.meta_path):
        sys.meta_path.insert(0, _AfterImport(NUMBA_ENTRYPOINTS, _use_in_numba))
    return True


class _AfterImport(FirstImportFinder):
    """Finds ``name`` the usual way, once, and calls ``then(module)`` right after its code has run
    (with ``import_`` as the code's ``__import__``, when given)."""

    def __init__(
        self, name: str, then: Callable[[ModuleType], None], import_: Callable[..., Any] | None = None
    ) -> None:
        super().__init__(name, lambda loader: _ThenLoader(loader, then, import_))


class _ThenLoader(importlib.abc.Loader):
    """A module's own loader (every other attribute is its), running the module's code (with
    ``import_`` as its ``__import__``, when given) and calling ``then(module)`` after it ran."""

    def __init__(
        self, loader: Any, then: Callable[[ModuleType], None], import_: Callable[..., Any] | None = None
    ) -> None:
        self._loader = loader
        self._then = then
        self._import = import_

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self._loader.create_module(spec)  # type: ignore[no-any-return]

    def exec_module(self, module: ModuleType) -> None:
        if self._import is None:
            self._loader.exec_module(module)
        else:
            # the module's functions keep these builtins (a function takes its module's at
            # creation): the builtins themselves, with the import in front
            module.__builtins__ = {**builtins.__dict__, "__import__": self._import}  # type: ignore[attr-defined]
            try:
                self._loader.exec_module(module)
            finally:
                module.__builtins__ = builtins.__dict__  # type: ignore[attr-defined]  # as any module's
        self._then(module)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loader, name)
