"""The component registry: scanners, exit strategies and sizers by name, and third-party plugins.

Built-ins are registered here; users add their own with the decorators, and installed packages add
theirs through entry points (discovered on first use)::

    # a plugin's pyproject.toml
    [project.entry-points."trading_playbook.scanners"]
    my_scanner = "my_pkg.scanners:MyScanner"

The entry point's object is a factory (usually a class) called with the component's parameters.
Groups: ``trading_playbook.scanners``, ``trading_playbook.exits``, ``trading_playbook.sizers``.

Examples
--------
>>> from trading_playbook.registry import get_exit_strategy, get_sizer
>>> get_exit_strategy("smart_exits", time_stop=25).name
'smart_exits'
>>> get_sizer("risk", fraction=0.02).fraction
0.02
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any, Literal, TypeVar

from trading_playbook.core.errors import ConfigError, UnknownComponentError
from trading_playbook.core.exits.compose import exit_spec_from_config, named_exit_params
from trading_playbook.core.exits.spec import NAMED_EXITS
from trading_playbook.core.sizing import SIZER_TYPES

__all__ = [
    "ENTRY_POINT_GROUPS",
    "ComponentInfo",
    "ComponentKind",
    "get_exit_strategy",
    "get_scanner",
    "get_sizer",
    "list_components",
    "register_exit_strategy",
    "register_scanner",
    "register_sizer",
]

ComponentKind = Literal["scanner", "exit", "sizer"]
ENTRY_POINT_GROUPS: dict[str, str] = {
    "scanner": "trading_playbook.scanners",
    "exit": "trading_playbook.exits",
    "sizer": "trading_playbook.sizers",
}
_NOUN = {"scanner": "scanner", "exit": "exit strategy", "sizer": "sizer"}
_MISSING = "(required)"

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class ComponentInfo:
    """One registered component. ``load()`` gives its factory (importing it on first use)."""

    kind: ComponentKind
    name: str
    loader: Callable[[], Callable[..., Any]]
    description: str = ""
    source: str = "built-in"
    params: dict[str, Any] | None = None  # name -> default; None: read from the factory's signature
    path_params: tuple[str, ...] = ()  # parameters naming a file or folder (relative to the config file)
    _factory: Callable[..., Any] | None = field(default=None, repr=False)

    def load(self) -> Callable[..., Any]:
        if self._factory is None:
            try:
                self._factory = self.loader()
            except ConfigError:
                raise
            except Exception as exc:  # a broken plugin must not look like a missing one
                raise ConfigError(
                    f"{_NOUN[self.kind]} {self.name!r} ({self.source}) failed to load: {exc}"
                ) from exc
        return self._factory

    def parameters(self) -> dict[str, Any]:
        """Parameter names and defaults (``"(required)"`` when there is none)."""
        if self.params is not None:
            return dict(self.params)
        return _signature_params(self.load())

    def summary(self) -> str:
        """The one-line description (the factory's docstring's first line when none was given)."""
        if self.description:
            return self.description
        doc = inspect.getdoc(self.load()) or ""
        return doc.strip().splitlines()[0] if doc.strip() else ""


_REGISTRY: dict[str, dict[str, ComponentInfo]] = {"scanner": {}, "exit": {}, "sizer": {}}
_discovered = False


# ------------------------------------------------------------------------------------ registration
def _register(kind: ComponentKind, name: str, info: ComponentInfo) -> None:
    if not name or not name.replace("_", "").replace("-", "").isalnum():
        raise ConfigError(f"{_NOUN[kind]} name {name!r} must be letters, digits, '_' or '-'")
    _REGISTRY[kind][name] = info


def _decorator(
    kind: ComponentKind, name: str, description: str, path_params: tuple[str, ...] = ()
) -> Callable[[F], F]:
    def wrap(factory: F) -> F:
        _register(
            kind,
            name,
            ComponentInfo(
                kind,
                name,
                loader=lambda: factory,
                description=description,
                source="user",
                path_params=tuple(path_params),
                _factory=factory,
            ),
        )
        return factory

    return wrap


def register_scanner(
    name: str, *, description: str = "", path_params: tuple[str, ...] = ()
) -> Callable[[F], F]:
    """Register a scanner factory (a class with ``scan_for_setups`` and/or ``scan``) under ``name``.

    ``path_params`` names the parameters that are paths: a config's relative value is resolved against
    the config file's folder, like ``[data] path``.
    """
    return _decorator("scanner", name, description, path_params)


def register_exit_strategy(name: str, *, description: str = "") -> Callable[[F], F]:
    """Register an exit factory (returning an ExitSpec or a ``check_exit`` object) under ``name``."""
    return _decorator("exit", name, description)


def register_sizer(name: str, *, description: str = "") -> Callable[[F], F]:
    """Register a sizer factory (returning an object with ``size(setup, context)``) under ``name``."""
    return _decorator("sizer", name, description)


# ------------------------------------------------------------------------------------ lookup
def get_scanner(name: str, **params: Any) -> Any:
    """A scanner built with ``params`` (e.g. ``get_scanner("daily_breakout", preset="moderate")``)."""
    return _build("scanner", name, params)


def get_exit_strategy(name: str, **params: Any) -> Any:
    """An exit strategy: a built-in rule set with overrides, or a registered/plugin exit."""
    return _build("exit", name, params)


def get_sizer(name: str, **params: Any) -> Any:
    """A sizer built with ``params`` (e.g. ``get_sizer("percent_equity", fraction=0.2)``)."""
    return _build("sizer", name, params)


def list_components(kind: ComponentKind | None = None) -> list[ComponentInfo]:
    """Every registered component (plugins included), by kind then name."""
    _discover()
    kinds: list[ComponentKind] = [kind] if kind else ["scanner", "exit", "sizer"]
    return [_REGISTRY[k][n] for k in kinds for n in sorted(_REGISTRY[k])]


def _lookup(kind: ComponentKind, name: str) -> ComponentInfo:
    registry = _REGISTRY[kind]
    if name in registry:  # built-in names take precedence over plugins: no need to scan for them
        return registry[name]
    _discover()  # scanning every installed distribution's entry points takes about 0.1 s
    if name in registry:
        return registry[name]
    matches = difflib.get_close_matches(name, list(registry), n=3, cutoff=0.4)
    message = f"unknown {_NOUN[kind]} {name!r}"
    if matches:
        message += f"; did you mean {' or '.join(map(repr, matches))}?"
    message += f" Registered: {', '.join(sorted(registry)) or '(none)'}"
    raise UnknownComponentError(message)


def _build(kind: ComponentKind, name: str, params: dict[str, Any]) -> Any:
    info = _lookup(kind, name)
    factory = info.load()
    valid = info.parameters()
    if not _accepts_any(factory):
        for key in params:
            if key not in valid:
                match = difflib.get_close_matches(key, list(valid), n=1, cutoff=0.5)
                hint = (
                    f"; did you mean {match[0]!r}?" if match else f"; valid: {', '.join(valid) or '(none)'}"
                )
                raise ConfigError(f"{_NOUN[kind]} {name!r}: unknown parameter {key!r}{hint}")
    try:
        return factory(**params)
    except TypeError as exc:
        raise ConfigError(f"{_NOUN[kind]} {name!r}: {exc}") from exc


def _accepts_any(factory: Callable[..., Any]) -> bool:
    try:
        sig = inspect.signature(factory)
    except (TypeError, ValueError):
        return True
    return any(p.kind is inspect.Parameter.VAR_KEYWORD for p in sig.parameters.values())


def _signature_params(factory: Callable[..., Any]) -> dict[str, Any]:
    if dataclasses.is_dataclass(factory) and isinstance(factory, type):
        out: dict[str, Any] = {}
        for f in dataclasses.fields(factory):
            if f.name == "kind" or not f.init:
                continue
            if f.default is not dataclasses.MISSING:
                out[f.name] = f.default
            elif f.default_factory is not dataclasses.MISSING:
                out[f.name] = f.default_factory()
            else:
                out[f.name] = _MISSING
        return out
    try:
        sig = inspect.signature(factory)
    except (TypeError, ValueError):
        return {}
    return {
        p.name: (_MISSING if p.default is inspect.Parameter.empty else p.default)
        for p in sig.parameters.values()
        if p.kind not in (inspect.Parameter.VAR_KEYWORD, inspect.Parameter.VAR_POSITIONAL)
    }


# ------------------------------------------------------------------------------------ plugins
def _discover() -> None:
    """Register the entry points of every installed plugin once (built-in names take precedence)."""
    global _discovered
    if _discovered:
        return
    _discovered = True
    kinds: tuple[ComponentKind, ...] = ("scanner", "exit", "sizer")
    for kind in kinds:
        for ep in metadata.entry_points(group=ENTRY_POINT_GROUPS[kind]):
            if ep.name in _REGISTRY[kind]:
                continue
            dist = getattr(ep, "dist", None)
            source = f"plugin {dist.name}" if dist is not None else f"plugin {ep.value}"
            _REGISTRY[kind][ep.name] = ComponentInfo(kind, ep.name, loader=ep.load, source=source)


def _reset_plugins() -> None:
    """Forget discovered plugins so the next lookup scans entry points again (for tests)."""
    global _discovered
    for kind in _REGISTRY:
        for name in [n for n, info in _REGISTRY[kind].items() if info.source.startswith("plugin")]:
            del _REGISTRY[kind][name]
    _discovered = False


# ------------------------------------------------------------------------------------ built-ins
def _lazy(module: str, attribute: str) -> Callable[[], Callable[..., Any]]:
    def load() -> Callable[..., Any]:
        obj: Callable[..., Any] = getattr(importlib.import_module(module), attribute)
        return obj

    return load


def _constant(factory: Callable[..., Any]) -> Callable[[], Callable[..., Any]]:
    def load() -> Callable[..., Any]:
        return factory

    return load


def _named_exit_factory(name: str) -> Callable[..., Any]:
    def build(**params: Any) -> Any:
        return exit_spec_from_config(name, None, params)

    build.__doc__ = NAMED_EXITS[name]().description
    return build


def _register_builtins() -> None:
    _register(
        "scanner",
        "daily_breakout",
        ComponentInfo(
            "scanner",
            "daily_breakout",
            loader=_lazy("trading_playbook.core.scanners.daily_breakout", "DailyBreakoutScanner"),
            description="Minervini/O'Neil base breakout (presets default, moderate, relaxed, very_relaxed)",
        ),
    )
    _register(
        "scanner",
        "ml_score",
        ComponentInfo(
            "scanner",
            "ml_score",
            loader=_lazy("trading_playbook.ml.scanner", "MLScoreScanner"),
            description="A base scanner's setups ranked or filtered by models from 'playbook ml train'",
            path_params=("models",),
        ),
    )
    for name, factory in NAMED_EXITS.items():
        _register(
            "exit",
            name,
            ComponentInfo(
                "exit",
                name,
                loader=_constant(_named_exit_factory(name)),
                description=factory().description,
                params=named_exit_params(name),
            ),
        )
    for name, cls in SIZER_TYPES.items():
        _register("sizer", name, ComponentInfo("sizer", name, loader=_constant(cls)))


_register_builtins()


def component_parameters(kind: ComponentKind, name: str) -> set[str] | None:
    """Parameter names the component ``name`` accepts; None when it takes any keyword.

    Raises :class:`UnknownComponentError` (with the closest matches) for an unknown name. The config
    layer uses it to reject unknown keys before anything runs.
    """
    info = _lookup(kind, name)
    if _accepts_any(info.load()) and info.params is None:
        return None
    return set(info.parameters())


def component_defaults(kind: ComponentKind, name: str) -> dict[str, Any]:
    """Parameter names and defaults of the component ``name`` (``"(required)"`` when there is none)."""
    return _lookup(kind, name).parameters()


def component_path_params(kind: ComponentKind, name: str) -> tuple[str, ...]:
    """The parameters of component ``name`` that name a file or folder (resolved against the config)."""
    return _lookup(kind, name).path_params


def component_factory(kind: ComponentKind, name: str) -> Callable[..., Any]:
    """The factory (usually a class) the component ``name`` is built with."""
    return _lookup(kind, name).load()
