"""The ``playbook`` console script: start the first-run compile worker, then run
the CLI, with a backtest's data read in a thread meanwhile (:mod:`trading_playbook._early_load`).

Importing the command modules takes a couple of seconds (pandas, numba, typer); a fast backtest's
compile worker (:mod:`trading_playbook._warmup`) starts before that, so on a first run it compiles the
session loop while this process is still importing.

The cyclic garbage collector is off while the modules import (:func:`trading_playbook._gc.collector_paused`),
and on again before any command runs. PyYAML, which numba imports for a config file, is imported only
when used (:mod:`trading_playbook._deferred`), and pydantic's plugin discovery reads the installed
distributions' entry points without parsing those of other groups (:mod:`trading_playbook._entry_points`).
The code ``dataclasses`` and ``typing`` generate as text is compiled once per installation and kept
beside the package's bytecode (:mod:`trading_playbook._code_cache`). When the command is done, the
process ends without the interpreter's teardown (:func:`end_now`).
"""

from __future__ import annotations

import sys


def main() -> None:
    """``playbook ...``: :func:`trading_playbook.cli.main`, with the compile worker started first.

    Does not return after a command: the process ends in :func:`end_now` (or the usual way).
    """
    from trading_playbook._gc import collector_paused

    with collector_paused():  # from the first import on: reading the code cache alone set off ten collections
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
    except SystemExit as exc:
        _early_load.discard()
        end_now(exc.code)
        raise
    finally:
        _early_load.discard()  # a load the command never took (it failed first) stops early


def end_now(code: object) -> None:
    """End the process here with exit status ``code``, without the interpreter's teardown, when
    nothing needs that teardown; otherwise return (the caller exits the usual way).

    The teardown frees every module and object one by one and runs LLVM's destructors: 55-85 ms of
    a warm backtest's 1.5 s, for memory the kernel takes back at once anyway. What a normal exit does
    that matters is done here first: every ``atexit`` callback (logging's flush, the code cache's
    save, ``multiprocessing``'s finalizers and child joins, ``weakref.finalize`` objects such as
    temporary folders), then the standard streams are flushed. It is not taken when another thread
    still runs (the interpreter would wait for it), when the status is not a number (the interpreter
    prints it), when this interpreter has no ``atexit._run_exitfuncs``, or when a stream cannot be
    flushed (the usual exit reports that). Every file the commands write is closed by a ``with``
    before they return, and committed SQLite transactions are on disk already.
    """
    import atexit
    import os
    import threading

    status = 0 if code is None else code
    if not isinstance(status, int):
        return
    main_thread = threading.main_thread()
    if threading.current_thread() is not main_thread:
        return
    if any(thread is not main_thread and thread.is_alive() for thread in threading.enumerate()):
        return
    run_exitfuncs = getattr(atexit, "_run_exitfuncs", None)
    if run_exitfuncs is None:
        return
    run_exitfuncs()  # runs each callback once, then forgets them: a fall-back exit does not repeat them
    try:
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                stream.flush()
    except (OSError, ValueError):
        return
    os._exit(status & 0xFF)  # what C's exit() makes of the status, as the interpreter passes it
