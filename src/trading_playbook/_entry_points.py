"""pydantic's plugin discovery, with the same answer for less work (issue 14).

The first pydantic validator a process builds (typer builds one for a command's first option, the
config models another) asks ``importlib.metadata.entry_points(group="pydantic")`` for plugins. The
standard library reads and parses the ``entry_points.txt`` of every installed distribution (about 150
in this environment) into entry point objects, to keep those of one group: about 15-20 ms of every
command, for a group nearly no environment has.

:func:`group_entry_points` gives the same entry points, in the same order: it reads the same files of
the same distributions (deduplicated as the standard library does), and parses only those whose
text contains the group's name; a file that does not contain the name cannot declare an entry point
of that group. A distribution of a custom finder whose ``entry_points`` does not come from that file
is asked as usual. :func:`faster_plugin_discovery` makes pydantic's plugin loader use it, at the
moment pydantic imports the loader (an import hook, so nothing is imported early); pydantic's own
logic (the plugins it loads, ``PYDANTIC_DISABLE_PLUGINS``, its warnings) is untouched. If the
standard library's or pydantic's internals differ from what this expects, nothing is changed.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.metadata as metadata
import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any

from trading_playbook._deferred import FirstImportFinder

__all__ = ["PLUGIN_LOADER", "faster_plugin_discovery", "group_entry_points"]

PLUGIN_LOADER = "pydantic.plugin._loader"  # calls entry_points(group="pydantic") once per process


def group_entry_points(group: str) -> metadata.EntryPoints:
    """``importlib.metadata.entry_points(group=group)``, parsing only the files that name ``group``."""
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


def _may_declare(dist: metadata.Distribution, group: str) -> bool:
    """False only when ``dist``'s entry points come from its ``entry_points.txt`` (the standard
    ``Distribution.entry_points``) and that file does not contain ``group``."""
    if type(dist).entry_points is not metadata.Distribution.entry_points:
        return True
    text = dist.read_text("entry_points.txt")
    return text is not None and group in text


def _entry_points(**params: Any) -> Any:
    """``importlib.metadata.entry_points`` with :func:`group_entry_points` for a group alone."""
    if set(params) == {"group"}:
        return group_entry_points(params["group"])
    return metadata.entry_points(**params)


def _use_in_loader(loader: ModuleType) -> None:
    if getattr(loader, "entry_points", None) is metadata.entry_points:
        loader.entry_points = _entry_points  # type: ignore[attr-defined]


def faster_plugin_discovery() -> bool:
    """Make pydantic's plugin loader use :func:`group_entry_points` (see the module docstring);
    ``True`` when it will (or does already)."""
    loader = sys.modules.get(PLUGIN_LOADER)
    if loader is not None:
        _use_in_loader(loader)
        return getattr(loader, "entry_points", None) is _entry_points
    if not any(isinstance(f, _AfterImport) and f.name == PLUGIN_LOADER for f in sys.meta_path):
        sys.meta_path.insert(0, _AfterImport(PLUGIN_LOADER, _use_in_loader))
    return True


class _AfterImport(FirstImportFinder):
    """Finds ``name`` the usual way, once, and calls ``then(module)`` right after its code has run."""

    def __init__(self, name: str, then: Callable[[ModuleType], None]) -> None:
        super().__init__(name, lambda loader: _ThenLoader(loader, then))


class _ThenLoader(importlib.abc.Loader):
    """A module's own loader (every other attribute is its), calling ``then(module)`` after it ran."""

    def __init__(self, loader: Any, then: Callable[[ModuleType], None]) -> None:
        self._loader = loader
        self._then = then

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self._loader.create_module(spec)  # type: ignore[no-any-return]

    def exec_module(self, module: ModuleType) -> None:
        self._loader.exec_module(module)
        self._then(module)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loader, name)
