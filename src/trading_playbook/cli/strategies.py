"""`playbook strategies`: every registered scanner, exit strategy and sizer, with parameters.

Also each scanner's presets with their values, and the exit primitives a user composes in
``[exit] rules = [...]``.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import re
from typing import Annotated, Any

import typer
from rich.markup import escape

from trading_playbook.core.errors import ConfigError

_PRESET = "(preset)"


def _format_default(value: Any) -> str:
    if isinstance(value, float) and math.isinf(value):
        return "-inf" if value < 0 else "inf"
    if isinstance(value, str):
        return value if value in ("(required)", _PRESET) else repr(value)
    return repr(value)


def plain(text: str) -> str:
    """Docstring text without reStructuredText markup (``code``, :class:`X`)."""
    text = re.sub(r":[a-z]+:`~?([^`]*)`", lambda m: m.group(1).rsplit(".", 1)[-1], text)
    return re.sub(r"``([^`]*)``", r"\1", text)


def _presets(info: Any) -> dict[str, dict[str, Any]]:
    """A component's named parameter sets (``PRESETS`` on its factory), or none."""
    try:
        presets = getattr(info.load(), "PRESETS", None)
    except ConfigError:
        return {}
    return dict(presets) if isinstance(presets, dict) else {}


def _parameters(info: Any) -> str:
    presets = _presets(info)
    shown = {
        k: (_PRESET if v is None and any(k in p for p in presets.values()) else v)
        for k, v in info.parameters().items()
    }
    return ", ".join(f"{k}={_format_default(v)}" for k, v in shown.items())


def strategies(
    kind: Annotated[
        str | None, typer.Option("--kind", help="Only this kind: scanner, exit or sizer.")
    ] = None,
) -> None:
    """List every registered component (built-in and plugins) with its parameters and defaults."""
    from rich.console import Console
    from rich.table import Table

    from trading_playbook.registry import list_components

    if kind is not None and kind not in ("scanner", "exit", "sizer"):
        raise ConfigError(f"--kind must be scanner, exit or sizer, got {kind!r}")
    console = Console()
    table = Table(title="Registered components", show_lines=False)
    table.add_column("kind", style="cyan", no_wrap=True)
    table.add_column("name", style="bold", no_wrap=True)
    table.add_column("parameters (defaults)")
    table.add_column("description")
    table.add_column("source", style="dim", no_wrap=True)
    components = list_components(kind)  # type: ignore[arg-type]
    for info in components:
        try:
            params = _parameters(info)
            description = escape(plain(info.summary()))
        except ConfigError as exc:
            params, description = "", f"[red]unavailable: {escape(str(exc))}[/]"
        table.add_row(info.kind, info.name, escape(params) or "-", description, info.source)
    console.print(table)
    for info in components:
        presets = _presets(info)
        if presets:
            console.print(_preset_table(info.name, presets))
    if kind in (None, "exit"):
        console.print(_primitive_table())


def _preset_table(name: str, presets: dict[str, dict[str, Any]]) -> Any:
    from rich.table import Table

    keys = list(dict.fromkeys(k for values in presets.values() for k in values))
    table = Table(
        title=f'{name} presets (preset = "..."; a parameter given by name overrides its preset value)'
    )
    table.add_column("preset", style="bold")
    for key in keys:
        table.add_column(key, justify="right")
    for preset, values in presets.items():
        table.add_row(preset, *(_format_default(values.get(key, "")) for key in keys))
    return table


def _primitive_table() -> Any:
    """The exit primitives of ``[exit] rules = [...]``, with their fields and defaults."""
    from rich.table import Table

    from trading_playbook.core.exits.spec import EXIT_RULE_TYPES

    table = Table(
        title=escape('Exit primitives: compose an exit with [exit] rules = [{ kind = "...", ... }, ...]')
    )
    table.add_column("kind", style="bold", no_wrap=True)
    table.add_column("fields (defaults)")
    table.add_column("what it does")
    for kind, rule_type in EXIT_RULE_TYPES.items():
        fields = []
        for f in dataclasses.fields(rule_type):
            if f.name == "kind" or not f.init:
                continue
            if f.default is not dataclasses.MISSING:
                fields.append(f"{f.name}={_format_default(f.default)}")
            elif f.default_factory is not dataclasses.MISSING:
                fields.append(f"{f.name}={_format_default(f.default_factory())}")
            else:
                fields.append(f"{f.name} (required)")
        paragraph = (inspect.getdoc(rule_type) or "").strip().split("\n\n")[0]
        table.add_row(kind, escape(", ".join(fields)) or "-", escape(plain(" ".join(paragraph.split()))))
    return table


def register(app: typer.Typer) -> None:
    """Add this group's commands to the root app."""
    app.command("strategies")(strategies)
