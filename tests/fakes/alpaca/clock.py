"""The fake's market clock and the XNYS calendar it trades on.

Time is a timezone-aware UTC ``datetime``. A naive time given by a test means New York time (that is
how traders read a schedule: ``"2020-01-02 09:30"`` is the open). The clock never moves by itself
unless it is left on the wall clock (``now=None``): a test drives it with ``FakeAlpaca.advance_to``.
"""

from __future__ import annotations

import bisect
import datetime as dt
import threading
from dataclasses import dataclass
from functools import lru_cache
from zoneinfo import ZoneInfo

import pandas as pd

ET = ZoneInfo("America/New_York")
UTC = dt.UTC


def to_utc(value: object) -> dt.datetime:
    """A UTC datetime from a string, date, ``datetime`` or ``pd.Timestamp`` (naive means New York)."""
    stamp = pd.Timestamp(value)  # type: ignore[arg-type]
    if stamp.tzinfo is None:
        stamp = stamp.tz_localize(ET)
    return stamp.tz_convert(UTC).to_pydatetime()


def iso(value: dt.datetime | None) -> str | None:
    """RFC 3339 with microseconds and ``Z``, as Alpaca writes timestamps."""
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@lru_cache(maxsize=1)
def _schedule() -> tuple[list[dt.date], dict[dt.date, tuple[dt.datetime, dt.datetime]]]:
    """Session dates in order and their (open, close) instants, from exchange-calendars' XNYS."""
    import exchange_calendars as xcals

    frame = xcals.get_calendar("XNYS", start="1990-01-02").schedule
    days = [d.date() for d in frame.index]
    opens = [t.to_pydatetime() for t in frame["open"].array]
    closes = [t.to_pydatetime() for t in frame["close"].array]
    return days, dict(zip(days, zip(opens, closes, strict=True), strict=True))


@dataclass(frozen=True)
class Session:
    """One XNYS session: its date and its open and close instants (early closes included)."""

    day: dt.date
    open: dt.datetime
    close: dt.datetime


def _date(value: object) -> dt.date:
    return value if type(value) is dt.date else pd.Timestamp(value).date()  # type: ignore[arg-type,return-value]


def session(day: object) -> Session | None:
    """The session on ``day`` (None on weekends and holidays)."""
    key = _date(day)
    hours = _schedule()[1].get(key)
    return None if hours is None else Session(key, *hours)


def sessions_between(first: object, last: object) -> list[Session]:
    """Every session with ``first <= day <= last`` (dates)."""
    days, hours = _schedule()
    lo, hi = bisect.bisect_left(days, _date(first)), bisect.bisect_right(days, _date(last))
    return [Session(d, *hours[d]) for d in days[lo:hi]]


def session_at(t: dt.datetime) -> Session | None:
    """The session whose regular hours ``[open, close)`` contain ``t``."""
    today = session(t.astimezone(ET).date())
    if today is not None and today.open <= t < today.close:
        return today
    return None


def next_session_after(t: dt.datetime) -> Session:
    """The first session whose open is at or after ``t``."""
    day = t.astimezone(ET).date()
    for s in sessions_between(day, day + dt.timedelta(days=14)):
        if s.open >= t:
            return s
    raise ValueError(f"no XNYS session within two weeks after {t}")


def last_close_before(t: dt.datetime) -> Session | None:
    """The latest session whose close is at or before ``t``."""
    day = t.astimezone(ET).date()
    for s in reversed(sessions_between(day - dt.timedelta(days=14), day)):
        if s.close <= t:
            return s
    return None


class Clock:
    """A settable clock (``None``: follow the wall clock). Thread-safe."""

    def __init__(self, now: object | None = None) -> None:
        self._now = None if now is None else to_utc(now)
        self._lock = threading.Lock()

    def now(self) -> dt.datetime:
        with self._lock:
            return self._now if self._now is not None else dt.datetime.now(UTC)

    @property
    def frozen(self) -> bool:
        return self._now is not None

    def set(self, t: dt.datetime) -> None:
        with self._lock:
            self._now = t
