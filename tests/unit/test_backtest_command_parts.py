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


def test_a_failing_load_beside_the_run_is_left_to_the_kernels_first_call(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from trading_playbook import _kernel_preload

    class Kernel:  # a dispatcher with nothing loaded yet
        def __init__(self) -> None:
            self.overloads: dict[object, object] = {}

    def broken(kernels, stop=None):  # type: ignore[no-untyped-def]
        raise RuntimeError("a corrupted cache file")

    monkeypatch.setattr(_kernel_preload, "load_cached", broken)
    kernel = Kernel()
    loading = _kernel_preload.load_beside([kernel])
    assert loading is not None
    loading.join()  # nothing raised here: numba raises it where the run calls the kernel, as before
    assert loading.seconds >= 0.0 and not kernel.overloads
    kernel.overloads[("float64",)] = object()
    assert _kernel_preload.load_beside([kernel]) is None  # nothing left to load: no thread


def test_the_timings_show_the_threads_beside_the_phases(capsys) -> None:  # type: ignore[no-untyped-def]
    from trading_playbook.cli.backtest import _print_timings

    _print_timings(
        {"import": 0.5, "kernels.beside": 0.25, "setups": 0.125, "load.thread": 0.375, "total": 1.0}
    )
    err = capsys.readouterr().err
    assert "(kernels loaded in a thread during the run)" in err and "(data read in a thread" in err
    other = next(line for line in err.splitlines() if "other" in line)
    assert "0.375" in other  # 1.0 - 0.5 - 0.125: the threads' own times are not the command's
