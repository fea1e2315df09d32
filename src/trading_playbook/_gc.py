"""Imports, and a command's one run, out of the cyclic garbage collector's way.

Importing the package's modules (numba's alone) creates a few hundred thousand objects that never
become garbage, and the collections they set off cost about a tenth of a second. While a block of
imports runs the collector is off; the imported objects are then frozen out of its sight
(``gc.freeze``) and the collector is as it was before.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["Paused", "collector_off", "collector_paused"]


@contextmanager
def collector_paused() -> Iterator[None]:
    """The collector off inside the block; afterwards everything alive is frozen and it is as before."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if collecting:
            gc.enable()


class Paused:
    """The collector as :func:`collector_off` found it, to :meth:`resume` before the block ends."""

    def __init__(self, collecting: bool) -> None:
        self.collecting = collecting
        self.resumed = False

    def resume(self) -> None:
        """The collector on again now (when it was on before the block)."""
        self.resumed = True
        if self.collecting:
            gc.enable()


@contextmanager
def collector_off(*, keep: bool = False) -> Iterator[Paused]:
    """The collector off inside the block, and as before afterwards.

    For one warm run of a command (``playbook backtest``: the run, its metrics and its reports): it
    allocates about a hundred thousand containers that live until the process ends (trades, the
    document's rows), and the collections they set off (a full one among them, which walks them all)
    cost 0.05-0.07 s, while the run makes no garbage cycles worth collecting before it ends. Objects
    freed by their reference counts are freed as always; a cycle made meanwhile waits for the next
    collection after the block. Work that does make cyclic garbage (a numba compile: its IR is full of
    cycles) calls :meth:`Paused.resume` first.

    ``keep``: when the block ends normally and nothing resumed the collector, what is alive is frozen
    (``gc.freeze``) before the collector is on again: the first collection after the block would
    otherwise walk every object the block made (6-7 ms after a backtest's run), objects that live
    until the command ends. A cycle that became garbage inside the block is then never collected:
    only for a command's own run, never in a long-lived process.
    """
    paused = Paused(gc.isenabled())
    gc.disable()
    try:
        yield paused
    except BaseException:
        paused.resume()
        raise
    if keep and not paused.resumed:
        gc.freeze()
    paused.resume()
