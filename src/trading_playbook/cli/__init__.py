"""The ``playbook`` command line (typer + rich).

Each command group lives in its own module with a ``register(app)`` function; this module only
assembles them, so the groups stay independent.
"""

from __future__ import annotations

import sys

import typer

from trading_playbook._blas_probe import defer_blas_import
from trading_playbook.cli import backtest, data, ml, paper, research, runs, scan, serve, strategies
from trading_playbook.core.errors import PlaybookError

defer_blas_import()  # no command's kernels use BLAS: SciPy's linear algebra stays unimported

__all__ = ["app", "main"]

app = typer.Typer(
    name="playbook",
    help="Trading Playbook: scan, size, exit, simulate and validate swing-trading strategies.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # plain help: rich markup would swallow bracketed words such as "[data]" from the help texts
    rich_markup_mode=None,
)

for _module in (data, scan, strategies, backtest, runs, research, paper, ml, serve):
    _module.register(app)


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
        app()
    except PlaybookError as exc:
        Console(stderr=True).print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        sys.exit(1)
    except KeyboardInterrupt:
        Console(stderr=True).print("[yellow]interrupted[/]", highlight=False)
        sys.exit(130)
