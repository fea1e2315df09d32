"""Alpaca's order rules as plain functions: price ticks, submission windows, order states, sessions.

- **Ticks.** Alpaca refuses sub-penny prices (two decimals at or above $1, four below). A sell stop is
  rounded *down* to the tick: on prices that trade in whole cents it triggers on exactly the bars the
  unrounded level would (no cent lies between the two), and its fill can only be the open (same as
  the model) or the rounded level (at most one tick below the model's). A buy stop is rounded up.
- **Windows** (New York time, on session days): ``opg`` orders are refused from 09:28 to 19:00, ``cls``
  orders from 10 minutes before the close (early closes included) to 19:00.
- **States.** Alpaca's terminal statuses are ``filled``, ``canceled``, ``expired``, ``rejected``,
  ``replaced`` (and ``done_for_day``); anything else may still change.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any
from zoneinfo import ZoneInfo

from trading_playbook.data.calendar import session_hours, xnys_sessions

__all__ = [
    "NY",
    "TERMINAL",
    "cls_cutoff",
    "filled_avg",
    "filled_qty",
    "in_opg_blackout",
    "next_session",
    "order_session",
    "tick_down",
    "tick_up",
]

NY = ZoneInfo("America/New_York")
TERMINAL = {"filled", "canceled", "expired", "rejected", "replaced", "done_for_day"}
_EPS = 1e-6  # in ticks: a level computed as 91.99999999 for 92.00 is 92.00


def _tick(price: float) -> float:
    return 0.01 if price >= 1.0 else 0.0001


def tick_down(price: float) -> float:
    """``price`` rounded down to Alpaca's tick (a sell stop)."""
    tick = _tick(price)
    return round(math.floor(price / tick + _EPS) * tick, 4)


def tick_up(price: float) -> float:
    """``price`` rounded up to Alpaca's tick (a buy stop)."""
    tick = _tick(price)
    return round(math.ceil(price / tick - _EPS) * tick, 4)


def next_session(day: dt.date) -> dt.date:
    """The first XNYS session after ``day``."""
    sessions = xnys_sessions(day + dt.timedelta(days=1), day + dt.timedelta(days=20))
    return dt.date.fromisoformat(str(sessions[0]))


def hours(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    found = session_hours(day)
    if found is None:
        raise ValueError(f"{day} is not an XNYS session")
    return found


def cls_cutoff(day: dt.date) -> dt.datetime:
    """The last moment a ``cls`` order for ``day``'s close is accepted."""
    return hours(day)[1] - dt.timedelta(minutes=10)


def in_opg_blackout(now: dt.datetime) -> bool:
    """True from 09:28 to 19:00 New York time on a session day (Alpaca refuses ``opg`` orders then)."""
    local = now.astimezone(NY)
    if session_hours(local.date()) is None:
        return False
    return dt.time(9, 28) <= local.time() < dt.time(19, 0)


def opg_window_opens(now: dt.datetime) -> dt.datetime:
    """When ``opg`` orders are accepted again (``now`` itself outside the blackout)."""
    if not in_opg_blackout(now):
        return now
    local = now.astimezone(NY)
    return dt.datetime.combine(local.date(), dt.time(19, 0), NY).astimezone(dt.UTC)


def order_session(stamp: str | None) -> dt.date | None:
    """The New York date of an Alpaca timestamp (``filled_at`` and the like)."""
    if not stamp:
        return None
    return dt.datetime.fromisoformat(str(stamp).replace("Z", "+00:00")).astimezone(NY).date()


def filled_qty(order: dict[str, Any]) -> int:
    return int(float(order.get("filled_qty") or 0))


def filled_avg(order: dict[str, Any]) -> float:
    return float(order.get("filled_avg_price") or 0.0)


def status(order: dict[str, Any]) -> str:
    value = order.get("status")
    return str(getattr(value, "value", value))
