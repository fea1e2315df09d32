"""Parts of ``playbook backtest``'s run: its spinner only on a terminal, the collector off for the run."""

from __future__ import annotations

import contextlib
import gc
import io

from rich.console import Console
from rich.status import Status

from trading_playbook._gc import collector_off
from trading_playbook.cli.backtest import _status


def test_the_spinner_shows_on_a_terminal_only() -> None:
    terminal = Console(file=io.StringIO(), force_terminal=True)
    with _status(terminal, "Loading data…") as shown:
        assert isinstance(shown, Status)
    pipe = Console(file=io.StringIO(), force_terminal=False)
    status = _status(pipe, "Loading data…")
    assert isinstance(status, contextlib.nullcontext)
    with status:
        pass
    assert pipe.file.getvalue() == ""


def test_the_collector_is_off_inside_and_as_before_after() -> None:
    assert gc.isenabled()
    with collector_off():
        assert not gc.isenabled()
        with collector_off():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the inner block leaves it as the outer one set it
    assert gc.isenabled()
    gc.disable()
    try:
        with collector_off():
            pass
        assert not gc.isenabled()  # off before: still off
    finally:
        gc.enable()
    try:
        with collector_off():
            raise KeyError
    except KeyError:
        pass
    assert gc.isenabled()


def test_a_compile_turns_the_collector_back_on() -> None:
    import numpy as np
    from numba import njit

    from trading_playbook.cli.backtest import _resumed_on_compile

    with collector_off() as collector, _resumed_on_compile(collector):
        assert not gc.isenabled()

        @njit
        def fresh(x):  # type: ignore[no-untyped-def]
            return x.sum() + 1.0

        assert not gc.isenabled()  # nothing compiled yet
        assert fresh(np.ones(3)) == 4.0  # compiled now: its IR's cycles are the collector's again
        assert gc.isenabled()
    assert gc.isenabled()


def test_a_kept_block_freezes_what_it_leaves_alive_unless_a_compile_resumed_the_collector() -> None:
    frozen = gc.get_freeze_count()
    try:
        with collector_off(keep=True):
            rows = [{"row": i} for i in range(1000)]
        assert gc.isenabled()
        assert gc.get_freeze_count() >= frozen + len(rows)  # no collection walks them any more
        gc.unfreeze()
        before = gc.get_freeze_count()
        with collector_off(keep=True) as collector:
            collector.resume()  # a compile: its garbage is the collector's, nothing is frozen
        assert gc.isenabled() and gc.get_freeze_count() == before
        with collector_off(keep=True):  # a failing block: nothing frozen either
            pass
        gc.unfreeze()
        try:
            with collector_off(keep=True):
                raise KeyError
        except KeyError:
            pass
        assert gc.isenabled() and gc.get_freeze_count() == 0
    finally:
        gc.unfreeze()
