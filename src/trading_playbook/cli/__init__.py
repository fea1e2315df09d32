"""The ``playbook`` command line (typer + rich).

Each command group lives in its own module with a ``register(app)`` function; this module only
assembles them, so the groups stay independent.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import typer

from trading_playbook._blas_probe import defer_blas_import
from trading_playbook.cli import backtest, data, ml, paper, research, runs, scan, serve, strategies
from trading_playbook.core.errors import PlaybookError

defer_blas_import()  # no command's kernels use BLAS: SciPy's linear algebra stays unimported

__all__ = ["app", "app_for", "main"]

_SETTINGS: dict[str, Any] = {
    "name": "playbook",
    "help": "Trading Playbook: scan, size, exit, simulate and validate swing-trading strategies.",
    "no_args_is_help": True,
    "add_completion": False,
    "pretty_exceptions_enable": False,
    # plain help: rich markup would swallow bracketed words such as "[data]" from the help texts
    "rich_markup_mode": None,
}
app = typer.Typer(**_SETTINGS)

for _module in (data, scan, strategies, backtest, runs, research, paper, ml, serve):
    _module.register(app)


def _command_name(info: Any) -> str | None:
    """The name a top-level command or group answers to (as typer names it)."""
    if isinstance(info, typer.models.CommandInfo):
        name = info.name or (info.callback.__name__ if info.callback else None)
        return typer.main.get_command_name(name) if name else None
    return info.name or (info.typer_instance.info.name if info.typer_instance else None)


def app_for(args: Sequence[str]) -> typer.Typer:
    """The app that runs ``playbook ARGS``: :data:`app` itself, or, when the first argument names a
    top-level command or group, an app holding that one command or group alone.

    typer turns *every* command of an app into a click command before it parses anything (about 30
    here, each parameter's annotations evaluated): about 0.07 s of CPU at the start of every
    command, for the one it runs. The narrowed app runs the named command with the same settings, so
    its options, help, usage lines and errors are the same (``playbook backtest --help``); anything
    else (no arguments, ``--help``, an unknown or misspelt command) runs the whole app.
    """
    if not args or args[0].startswith("-"):
        return app
    commands = [c for c in app.registered_commands if _command_name(c) == args[0]]
    groups = [g for g in app.registered_groups if _command_name(g) == args[0]]
    if len(commands) + len(groups) != 1:
        return app
    narrow = typer.Typer(**_SETTINGS)
    narrow.registered_commands = commands
    narrow.registered_groups = groups
    # a group (as the whole app is), not typer's single-command mode, which would read the command's
    # name as its first argument; the callback takes no options and does nothing
    if app.registered_callback is not None:
        narrow.registered_callback = app.registered_callback
    else:
        narrow.callback()(_group)
    return narrow


def _group() -> None:
    """The narrowed app's group callback: nothing (the whole app has no callback either)."""


def main() -> None:
    """Console entry point: PlaybookError becomes a one-line red message and exit code 1, Ctrl-C a
    one-line note and exit code 130 (no traceback either way)."""
    import gc

    from rich.console import Console
    from rich.markup import escape

    # A command is one short process: the objects of the imports (numba's alone are hundreds of
    # thousands) never become garbage, so move them out of the collector's sight. Full collections
    # then scan only what the command creates (they took a quarter of a second per run before).
    gc.freeze()
    try:
        app_for(sys.argv[1:])()
    except PlaybookError as exc:
        Console(stderr=True).print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        sys.exit(1)
    except KeyboardInterrupt:
        Console(stderr=True).print("[yellow]interrupted[/]", highlight=False)
        sys.exit(130)
