"""``playbook paper run``: step an account after every close of the exchange calendar.

The daemon waits on the XNYS calendar (exchange-calendars: holidays skipped, early closes at their
real time). After each session's close plus a delay it steps the account up to that session (the
step loads the config's data, which fetches the new bars for an Alpaca source), logs what it did,
and waits for the next close. When the data of a session that has closed is not there yet it tries
again every ``retry`` (at most ``max_retries`` times; the next step catches up anyway).

It starts by catching up every session that closed while it was not running (it resumes where the
journal left off), and stops cleanly on SIGTERM or SIGINT: a step that is running finishes first.
The clock is injectable (:class:`Clock`), so a test drives it through days in seconds.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import pandas as pd

from trading_playbook.paper.account import StepResult, step_account

__all__ = ["Clock", "DaemonSettings", "SystemClock", "next_close", "run_daemon", "session_closes"]


class Clock(Protocol):
    """Time as the daemon sees it."""

    def now(self) -> dt.datetime:
        """The current time, timezone-aware."""
        ...

    def sleep(self, seconds: float, stop: threading.Event) -> None:
        """Wait ``seconds`` or until ``stop`` is set."""
        ...


class SystemClock:
    """The real clock; sleeping returns early when the stop event is set (a signal arrived)."""

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)

    def sleep(self, seconds: float, stop: threading.Event) -> None:
        stop.wait(max(0.0, seconds))


@dataclass(frozen=True)
class DaemonSettings:
    """``delay`` after the close before stepping; ``retry`` wait when the session's data is missing."""

    delay: dt.timedelta = dt.timedelta(minutes=30)
    retry: dt.timedelta = dt.timedelta(minutes=15)
    max_retries: int = 8


@lru_cache(maxsize=1)
def _calendar() -> Any:
    import exchange_calendars as xcals

    return xcals.get_calendar("XNYS", start="1990-01-02")


def session_closes(start: dt.date, end: dt.date) -> list[tuple[dt.date, dt.datetime]]:
    """XNYS sessions from ``start`` to ``end`` with their close times (UTC; early closes included)."""
    closes = _calendar().closes
    window = closes.loc[pd.Timestamp(start) : pd.Timestamp(end)]
    return [(ts.date(), close.to_pydatetime()) for ts, close in window.items()]


def _due(now: dt.datetime, delay: dt.timedelta) -> dt.date | None:
    """The latest session whose close plus ``delay`` is not after ``now``."""
    recent = session_closes(now.date() - dt.timedelta(days=10), now.date())
    done = [day for day, close in recent if close + delay <= now]
    return done[-1] if done else None


def next_close(after: dt.date) -> tuple[dt.date, dt.datetime]:
    """The first XNYS session after ``after`` and its close time."""
    upcoming = session_closes(after + dt.timedelta(days=1), after + dt.timedelta(days=15))
    return upcoming[0]


def run_daemon(
    name: str,
    *,
    clock: Clock | None = None,
    stop: threading.Event | None = None,
    settings: DaemonSettings | None = None,
    step: Callable[..., StepResult] = step_account,
    log: Callable[[str], None] = print,
    max_steps: int | None = None,
    home: Path | None = None,
) -> int:
    """Step account ``name`` after every close until ``stop`` is set; returns the sessions stepped.

    ``max_steps`` ends the loop after that many steps that processed a session (tests).
    """
    clock = clock or SystemClock()
    stop = stop or threading.Event()
    settings = settings or DaemonSettings()
    stepped = 0
    steps = 0
    attempts: dict[dt.date, int] = {}
    log(f"{_stamp(clock)} paper daemon for {name!r}: stepping {settings.delay} after each XNYS close")
    while not stop.is_set():
        now = clock.now()
        due = _due(now, settings.delay)
        wake = None
        if due is not None:
            result = step(name, until=due, home=home)
            if result.logs:
                stepped += len(result.logs)
                steps += 1
                last = result.logs[-1]
                log(
                    f"{_stamp(clock)} stepped {len(result.logs)} session(s) to {last.date}: equity "
                    f"{last.row[0]:,.2f}, {last.row[2]} position(s), {len(result.open_orders)} order(s) resting"
                )
            elif _missing(result, due) and attempts.get(due, 0) < settings.max_retries:
                attempts[due] = attempts.get(due, 0) + 1
                log(f"{_stamp(clock)} no data for {due} yet ({result.note}); retrying in {settings.retry}")
                wake = now + settings.retry
        if max_steps is not None and steps >= max_steps:
            break
        if wake is None:
            session, close = next_close(due or now.date() - dt.timedelta(days=1))
            wake = close + settings.delay
            log(f"{_stamp(clock)} next step after the close of {session} at {wake.isoformat()}")
        clock.sleep((wake - clock.now()).total_seconds(), stop)
    log(f"{_stamp(clock)} paper daemon for {name!r} stopped ({stepped} session(s) stepped)")
    return stepped


def _missing(result: StepResult, due: dt.date) -> bool:
    """The account is not at ``due`` after the step because the data does not reach it yet."""
    behind = result.last_processed is None or result.last_processed < due
    return behind and (result.latest_data is None or result.latest_data < due)


def _stamp(clock: Clock) -> str:
    return clock.now().isoformat(timespec="seconds")
