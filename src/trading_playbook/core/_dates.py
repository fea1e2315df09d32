"""Dates as ``numpy.datetime64[D]`` without importing pandas (a command-line run never needs it).

:func:`to_day` reads what users and configs write (``datetime.date``, ``datetime.datetime``,
``numpy.datetime64``, ISO text such as ``2020-01-02``, ``2020-01-02T15:30`` or ``20200102``); only
other text falls back to ``pandas.Timestamp``, imported then, so every input pandas read before still
reads the same way.

>>> str(to_day("2020-01-02T15:30:00"))
'2020-01-02'
>>> import datetime as dt
>>> str(to_day(dt.date(2021, 4, 21)))
'2021-04-21'
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np

__all__ = ["to_day"]


def to_day(value: Any) -> np.datetime64:
    """``value`` as a ``datetime64[D]`` (time of day and time zone dropped).

    Raises
    ------
    ValueError or TypeError
        When ``value`` is not a date (the callers turn this into a message naming the value).
    """
    if isinstance(value, np.datetime64):
        if np.isnat(value):
            raise ValueError(f"{value!r} is not a date")
        day: np.datetime64 = value.astype("datetime64[D]")
        return day
    if isinstance(value, dt.datetime):
        return np.datetime64(value.date(), "D")
    if isinstance(value, dt.date):
        return np.datetime64(value, "D")
    if isinstance(value, str):
        text = value.strip()
        try:
            return np.datetime64(dt.date.fromisoformat(text[:10]), "D")
        except ValueError:
            pass
        try:
            return np.datetime64(dt.datetime.fromisoformat(text).date(), "D")
        except ValueError:
            pass
    import pandas as pd  # anything else: pandas' parser, as before (rare: no run needs it)

    stamp = pd.Timestamp(value)
    if pd.isna(stamp):
        raise ValueError(f"{value!r} is not a date")
    return np.datetime64(stamp.date(), "D")
