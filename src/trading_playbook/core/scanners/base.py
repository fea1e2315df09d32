"""Scanner protocols and the session lookup shared by scanners.

Two ways to ask a scanner for setups:

- :class:`ScannerProtocol`, the design's per-date protocol for live scanning:
  ``scan_for_setups(date, data) -> list[Setup]``, using only data up to ``date``, ranked.
- :class:`VectorScanner`, the research form: ``scan(panel) -> SetupTable``, every setup of every
  session at once, with no lookahead (the setups of session t use bars up to t only).

A scanner may implement both; the built-in ``daily_breakout`` does, and a test proves they agree.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Protocol, runtime_checkable

import numpy as np

from trading_playbook.core._dates import to_day
from trading_playbook.core.errors import DataError
from trading_playbook.core.panel import Panel
from trading_playbook.core.types import Setup, SetupTable

__all__ = ["ScannerProtocol", "VectorScanner", "rank_order", "session_position"]


@runtime_checkable
class ScannerProtocol(Protocol):
    """Per-date scanner: the ranked setups at the close of ``date`` from data up to ``date``.

    The only method a user's scanner needs (a ``name`` and ``params()`` are welcome, not required).
    """

    def scan_for_setups(self, date: Any, data: Panel) -> list[Setup]:
        """Setups of session ``date``, best first (score desc, volume_ratio desc, symbol asc)."""
        ...


@runtime_checkable
class VectorScanner(Protocol):
    """Vectorised scanner: every setup of every session of ``panel``, lookahead-free.

    Engines call ``scan(panel)`` once on the whole loaded panel and slice the table per run, which is
    valid only because setups of session t depend on bars up to t.
    """

    def scan(self, panel: Panel) -> SetupTable:
        """All setups, rows sorted by session then rank."""
        ...


def session_position(panel: Panel, date: Any) -> int:
    """Index of session ``date`` in ``panel``; a :class:`DataError` naming the nearest sessions if absent.

    ``date`` may be a ``datetime.date``, a ``numpy.datetime64`` or an ISO string.
    """
    try:
        day = to_day(date)
    except (ValueError, TypeError) as exc:
        raise DataError(f"cannot read {date!r} as a date; use YYYY-MM-DD") from exc
    sessions = panel.sessions.astype("datetime64[D]")
    if sessions.shape[0] == 0:
        raise DataError("the data holds no sessions; load a wider date range")
    i = int(np.searchsorted(sessions, day))
    if i < sessions.shape[0] and sessions[i] == day:
        return i
    before = str(sessions[i - 1]) if i > 0 else None
    after = str(sessions[i]) if i < sessions.shape[0] else None
    near = " and ".join(f"{label} {s}" for label, s in (("previous", before), ("next", after)) if s)
    raise DataError(
        f"{dt.date.fromisoformat(str(day))} is not a session in the loaded data "
        f"({sessions[0]} to {sessions[-1]}); the nearest sessions are {near}"
    )


def rank_order(
    session_idx: np.ndarray, score: np.ndarray, volume_ratio: np.ndarray, symbol_idx: np.ndarray
) -> np.ndarray:
    """Row order: session ascending, then score desc, volume_ratio desc, symbol index asc.

    Panels keep symbols in code-point order, so the symbol index order is the plain string order that
    RULES section 8 asks for.
    """
    return np.lexsort((symbol_idx, -volume_ratio, -score, session_idx))
