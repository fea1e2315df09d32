"""Imports out of the cyclic garbage collector's way.

Importing the package's modules (numba's alone) creates a few hundred thousand objects that never
become garbage, and the collections they set off cost about a tenth of a second. While a block of
imports runs the collector is off; the imported objects are then frozen out of its sight
(``gc.freeze``) and the collector is as it was before.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["collector_paused"]


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
