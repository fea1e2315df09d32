"""The ``playbook`` console script: start the first-run compile worker, then run
the CLI, with a backtest's data read in a thread meanwhile (:mod:`trading_playbook._early_load`).

Importing the command modules takes a couple of seconds (pandas, numba, typer); a fast backtest's
compile worker (:mod:`trading_playbook._warmup`) starts before that, so on a first run it compiles the
session loop while this process is still importing.

The native libraries of numpy, pyarrow and llvmlite are loaded in a thread from the first moment, on
the other core (:mod:`trading_playbook._native_preload`). The cyclic garbage collector is off while the
modules import (:func:`trading_playbook._gc.collector_paused`), and on again before any command runs.
PyYAML, which numba imports for a config file, is imported only when used, and SciPy, whose version
numba checks, runs at its first real use (:mod:`trading_playbook._deferred`); pydantic's plugin
discovery reads the installed distributions' entry points without parsing those of other groups
(:mod:`trading_playbook._entry_points`).
The code ``dataclasses`` and ``typing`` generate as text is compiled once per installation and kept
beside the package's bytecode (:mod:`trading_playbook._code_cache`).
"""

from __future__ import annotations

import sys


def main() -> None:
    """``playbook ...``: :func:`trading_playbook.cli.main`, with the compile worker started first."""
    from trading_playbook._gc import collector_paused

    with collector_paused():  # from the first import on: reading the code cache alone set off ten collections
        from trading_playbook import _native_preload

        _native_preload.start()  # numpy's, pyarrow's and llvmlite's libraries, mapped on the other core
        from trading_playbook._code_cache import install

        install()  # dataclasses' and typing's generated code, compiled once per installation
        from trading_playbook import _early_load, _warmup
        from trading_playbook._deferred import defer_until_used
        from trading_playbook._entry_points import faster_numba_extensions, faster_plugin_discovery

        defer_until_used()  # PyYAML (numba's config file) and importlib.metadata (entry points)
        faster_plugin_discovery()  # pydantic's plugin scan parses only the entry point files naming it
        faster_numba_extensions()  # so does numba's scan for its extensions

    try:
        with collector_paused():
            _warmup.start_early(sys.argv[1:])
            _early_load.start_early(sys.argv[1:])  # a backtest's data, read while the commands import
            from trading_playbook.cli import main as cli_main
        cli_main()
    finally:
        _early_load.discard()  # a load the command never took (it failed first) stops early
