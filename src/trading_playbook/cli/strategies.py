"""`playbook strategies`: every registered scanner, exit strategy and sizer, with parameters."""

from __future__ import annotations

import math
from typing import Annotated, Any

import typer

from trading_playbook.core.errors import ConfigError


def _format_default(value: Any) -> str:
    if isinstance(value, float) and math.isinf(value):
        return "-inf" if value < 0 else "inf"
    if isinstance(value, str):
        return value if value == "(required)" else repr(value)
    return repr(value)


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
    table = Table(title="Registered components", show_lines=False)
    table.add_column("kind", style="cyan", no_wrap=True)
    table.add_column("name", style="bold", no_wrap=True)
    table.add_column("parameters (defaults)")
    table.add_column("description")
    table.add_column("source", style="dim", no_wrap=True)
    for info in list_components(kind):  # type: ignore[arg-type]
        try:
            params = ", ".join(f"{k}={_format_default(v)}" for k, v in info.parameters().items())
            description = info.summary()
        except ConfigError as exc:
            params, description = "", f"[red]unavailable: {exc}[/]"
        table.add_row(info.kind, info.name, params or "-", description, info.source)
    Console().print(table)


def register(app: typer.Typer) -> None:
    """Add this group's commands to the root app."""
    app.command("strategies")(strategies)
