"""The XNYS trading calendar (exchange-calendars) for fetched ranges and gap checks.

A backtest's sessions are the union of dates present in its data (the panel does that); the
calendar only decides which sessions a fetch should cover and which sessions a symbol is missing.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from typing import Any

import numpy as np

from trading_playbook.core._dates import to_day
from trading_playbook.core.errors import DataError

__all__ = ["last_completed_session", "missing_runs", "session_hours", "session_runs", "xnys_sessions"]

_CALENDAR_START = "1990-01-02"


@lru_cache(maxsize=1)
def _calendar() -> Any:
    import exchange_calendars as xcals

    return xcals.get_calendar("XNYS", start=_CALENDAR_START)


def _day(value: object) -> np.datetime64:
    try:
        return to_day(value)
    except (ValueError, TypeError) as exc:
        raise DataError(f"{value!r} is not a date; use ISO format YYYY-MM-DD") from exc


@lru_cache(maxsize=1)
def _xnys_rules() -> tuple[Any, tuple[np.datetime64, ...], str, np.datetime64]:
    """exchange-calendars' XNYS session rules, without building its calendar: the regular holidays
    (a pandas holiday calendar), the ad hoc closings, the weekmask and the last day the calendar
    would cover (:func:`_calendar`'s default end).

    Building the calendar (:func:`_calendar`) costs about half a second: it schedules every session's
    open and close and, through pandas' ``CustomBusinessDay``, derives every holiday from 1970 to 2200.
    The sessions of a range need only the holidays of that range; the rules are the calendar class's
    own (its properties read no state of the instance, which is left unbuilt). A test checks the
    sessions against the built calendar's over its whole range.
    """
    from exchange_calendars.exchange_calendar_xnys import XNYSExchangeCalendar

    rules = XNYSExchangeCalendar.__new__(XNYSExchangeCalendar)  # no __init__: no schedule built
    adhoc = tuple(np.datetime64(day.date(), "D") for day in rules.adhoc_holidays)
    last = np.datetime64(XNYSExchangeCalendar.default_end().date(), "D")
    return rules.regular_holidays, adhoc, rules.weekmask, last


def xnys_sessions(start: object, end: object) -> np.ndarray:
    """XNYS sessions from ``start`` to ``end`` inclusive as ``datetime64[D]`` (clipped to the calendar:
    1990-01-02 to a year from today), from exchange-calendars' holiday rules for that range only."""
    lo, hi = _day(start), _day(end)
    if hi < lo:
        raise DataError(f"end {hi} is before start {lo}; swap them")
    last = _xnys_rules()[3]
    lo, hi = max(lo, np.datetime64(_CALENDAR_START, "D")), min(hi, last)
    if hi < lo:
        return np.zeros(0, dtype="datetime64[D]")
    return _sessions_between(lo, hi).copy()  # a copy: callers may write to theirs


@lru_cache(maxsize=8)
def _sessions_between(lo: np.datetime64, hi: np.datetime64) -> np.ndarray:
    """The sessions from ``lo`` to ``hi`` (within the calendar), kept for the process: a synthetic
    backtest asks for its range twice (the memory estimate, then the bars)."""
    regular, adhoc, weekmask, _ = _xnys_rules()
    # pandas derives each rule's dates from the years around the range, so a holiday observed
    # across a year's boundary is found
    holidays = regular.holidays(str(lo), str(hi)).to_numpy().astype("datetime64[D]")
    closed = np.concatenate((holidays, np.array([d for d in adhoc if lo <= d <= hi], dtype="datetime64[D]")))
    days = np.arange(lo, hi + 1, dtype="datetime64[D]")
    return days[np.is_busday(days, weekmask=weekmask, holidays=closed)]


def session_hours(day: object) -> tuple[dt.datetime, dt.datetime] | None:
    """Open and close of the XNYS session on ``day`` as aware UTC datetimes (early closes included);
    None when ``day`` is not a session."""
    import pandas as pd  # exchange-calendars needs it anyway

    cal = _calendar()
    key = pd.Timestamp(_day(day))
    if not cal.is_session(key):
        return None
    return cal.session_open(key).to_pydatetime(), cal.session_close(key).to_pydatetime()


def last_completed_session(now: dt.datetime | None = None) -> np.datetime64:
    """The latest XNYS session whose daily bar is final (the session before today, UTC)."""
    today = (now or dt.datetime.now(dt.UTC)).date()
    sessions = xnys_sessions(today - dt.timedelta(days=14), today - dt.timedelta(days=1))
    last: np.datetime64 = sessions[-1]
    return last


def session_runs(sessions: np.ndarray) -> list[tuple[np.datetime64, np.datetime64]]:
    """Contiguous runs of calendar sessions as (first, last) pairs.

    ``sessions`` must be a sorted subset of the XNYS calendar; two sessions belong to one run when no
    calendar session lies between them.
    """
    if sessions.shape[0] == 0:
        return []
    every = xnys_sessions(sessions[0], sessions[-1])
    pos = np.searchsorted(every, sessions)
    breaks = np.flatnonzero(np.diff(pos) > 1) + 1
    starts = np.r_[0, breaks]
    ends = np.r_[breaks - 1, sessions.shape[0] - 1]
    return [(sessions[a], sessions[b]) for a, b in zip(starts, ends, strict=True)]


def missing_runs(
    wanted: np.ndarray, covered: list[tuple[np.datetime64, np.datetime64]]
) -> list[tuple[np.datetime64, np.datetime64]]:
    """Runs of ``wanted`` sessions that no covered (first, last) range contains."""
    missing = np.ones(wanted.shape[0], dtype=bool)
    for first, last in covered:
        missing &= ~((wanted >= first) & (wanted <= last))
    return session_runs(wanted[missing])
