"""The ``playbook`` command line (typer + rich).

Each command group lives in its own module with a ``register(app)`` function; this module only
assembles them, so the groups stay independent. A command imports only its own module: ``playbook
backtest ...`` never imports the data, paper, research, ... commands (:func:`app_for`); the whole
app (:data:`app`, built on first use) holds every group, for ``playbook --help`` and anything that
names no known command.
"""

from __future__ import annotations

import functools
import importlib
import sys
from collections.abc import Sequence
from typing import Any

import typer

from trading_playbook._blas_probe import defer_blas_import
from trading_playbook.core.errors import PlaybookError

defer_blas_import()  # no command's kernels use BLAS: SciPy's linear algebra stays unimported

__all__ = ["COMMAND_MODULES", "app", "app_for", "main"]

_SETTINGS: dict[str, Any] = {
    "name": "playbook",
    "help": "Trading Playbook: scan, size, exit, simulate and validate swing-trading strategies.",
    "no_args_is_help": True,
    "add_completion": False,
    "pretty_exceptions_enable": False,
    # plain help: rich markup would swallow bracketed words such as "[data]" from the help texts
    "rich_markup_mode": None,
}

# The command modules in the order the whole app lists their commands.
MODULES = ("data", "scan", "strategies", "backtest", "runs", "research", "paper", "ml", "serve")
# Each top-level command or group -> the module whose ``register`` adds it (a test keeps it complete).
COMMAND_MODULES: dict[str, str] = {
    "data": "data",
    "scan": "scan",
    "strategies": "strategies",
    "backtest": "backtest",
    "check-lookahead": "backtest",
    "runs": "runs",
    "report": "runs",
    "optimize": "research",
    "walk-forward": "research",
    "paper": "paper",
    "ml": "ml",
    "serve": "serve",
}


@functools.cache
def _registered(module: str) -> typer.Typer:
    """An app holding what the command module ``module`` registers (each module registers once: some
    add commands to their own module-level groups)."""
    from trading_playbook._gc import collector_paused

    holder = typer.Typer(**_SETTINGS)
    with collector_paused():  # as for the other imports of a command: nothing here becomes garbage
        importlib.import_module(f"{__name__}.{module}").register(holder)
    return holder


@functools.cache
def _whole_app() -> typer.Typer:
    """The app of every command module, in :data:`MODULES` order (as if each registered into it)."""
    whole = typer.Typer(**_SETTINGS)
    for module in MODULES:
        registered = _registered(module)
        whole.registered_commands.extend(registered.registered_commands)
        whole.registered_groups.extend(registered.registered_groups)
    return whole


def __getattr__(name: str) -> Any:
    if name == "app":  # the whole app, built on first use
        return _whole_app()
    if name in MODULES:  # ``trading_playbook.cli.backtest`` and the like, as an attribute
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
    else (no arguments, ``--help``, an unknown or misspelt command) runs the whole app. Only the
    named command's module is imported (:data:`COMMAND_MODULES`).
    """
    module = COMMAND_MODULES.get(args[0]) if args else None
    if module is None:
        return _whole_app()
    registered = _registered(module)
    commands = [c for c in registered.registered_commands if _command_name(c) == args[0]]
    groups = [g for g in registered.registered_groups if _command_name(g) == args[0]]
    if len(commands) + len(groups) != 1:
        return _whole_app()
    narrow = typer.Typer(**_SETTINGS)
    narrow.registered_commands = commands
    narrow.registered_groups = groups
    # a group (as the whole app is), not typer's single-command mode, which would read the command's
    # name as its first argument; the callback takes no options and does nothing
    narrow.callback()(_group)
    return narrow


def _group() -> None:
    """The narrowed app's group callback: nothing (the whole app has no callback either)."""


def main() -> None:
    """Console entry point: PlaybookError becomes a one-line red message and exit code 1, Ctrl-C a
    one-line note and exit code 130 (no traceback either way)."""
    import gc

    from trading_playbook._gc import collector_paused

    with collector_paused():  # as for the command's other imports: rich's objects never become garbage
        from rich.console import Console
        from rich.markup import escape

    # A command is one short process: the objects of the imports (numba's alone are hundreds of
    # thousands) never become garbage, so move them out of the collector's sight. Full collections
    # then scan only what the command creates (they took a quarter of a second per run before).
    try:
        command = app_for(sys.argv[1:])
        gc.freeze()
        command()
    except PlaybookError as exc:
        Console(stderr=True).print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        sys.exit(1)
    except KeyboardInterrupt:
        Console(stderr=True).print("[yellow]interrupted[/]", highlight=False)
        sys.exit(130)
