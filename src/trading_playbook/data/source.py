"""The one protocol every bar source implements, and small helpers shared by the sources."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

from trading_playbook.core._dates import to_day
from trading_playbook.core.errors import DataError
from trading_playbook.data.model import BarArrays, from_frame

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["BarSource", "clip_dates", "source_arrays"]


@runtime_checkable
class BarSource(Protocol):
    """Anything that returns daily bars as a long table.

    ``fetch`` returns the standard long table (``symbol, date, open, high, low, close, volume``
    and optional ``split, dividend, adjusted_close``), raw prices, for ``symbols`` (all it has when
    empty) and sessions ``start``..``end`` inclusive (open-ended when None). ``name`` identifies the
    source in the cache (e.g. ``alpaca-iex``, ``file``).
    """

    name: str

    def fetch(self, symbols: Sequence[str], start: str | None = None, end: str | None = None) -> pd.DataFrame:
        """Bars of ``symbols`` between ``start`` and ``end`` (inclusive)."""
        ...


def source_arrays(source: BarSource, symbols: Sequence[str], start: str | None, end: str | None) -> BarArrays:
    """Bars of a source as :class:`BarArrays` (the sources of this package skip pandas)."""
    fast = getattr(source, "fetch_arrays", None)
    if callable(fast):
        result = fast(symbols, start, end)
        if not isinstance(result, BarArrays):
            raise DataError(f"source {source.name!r}: fetch_arrays returned {type(result).__name__}")
        return result
    return from_frame(source.fetch(symbols, start, end), origin=f"source {source.name}")


def clip_dates(bars: BarArrays, start: object | None, end: object | None) -> BarArrays:
    """Rows with ``start <= date <= end`` (either bound may be None)."""
    keep = np.ones(len(bars), dtype=bool)
    if start is not None:
        keep &= bars.day >= to_day(start)
    if end is not None:
        keep &= bars.day <= to_day(end)
    return bars if keep.all() else bars.take(keep).compact()
