"""Reconciliation counts a fill as booked only once a committed session has booked it.

A step killed after journaling a fill but before committing its session leaves the fill in the
``events`` table and the position out of the last state: the next process must see Alpaca's shares as
explained by the unbooked fill (and let entries go on), not as a trade outside the platform.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from trading_playbook.core.broker import Fill, OrderIntent, Phase, Timing
from trading_playbook.paper.alpaca_book import AlpacaBook
from trading_playbook.paper.alpaca_reconcile import reconcile
from trading_playbook.paper.journal import Journal

ENTRY = "tp-alp-2018-01-02-main-XOM-entry"


class Trading:
    """What reconciliation asks Alpaca: positions, and orders by client order id."""

    def __init__(self, held: int) -> None:
        self.held = held

    def positions(self) -> list[dict[str, Any]]:
        return [{"symbol": "XOM", "qty": str(self.held)}] if self.held else []

    def order(self, coid: str) -> dict[str, Any] | None:
        if coid != ENTRY:
            return None
        return {"client_order_id": coid, "qty": "392", "filled_qty": "392", "status": "filled",
                "filled_avg_price": "85.16"}  # fmt: skip


def _journal(tmp: Path) -> Journal:
    journal = Journal(tmp / "alp.sqlite", create=True)
    intent = OrderIntent(
        ENTRY, dt.date(2018, 1, 2), "main", "XOM", "entry", "buy", 392, Timing.NEXT_OPEN, "ENTRY"
    )
    journal.record_intents([intent])
    journal.commit_session(dt.date(2018, 1, 2), (100_000.0, 100_000.0, 0, 0.0), {"main": 100_000.0},
                           {"positions": [], "entries": []}, [], [])  # fmt: skip
    return journal


def _fill() -> Fill:
    return Fill(ENTRY, f"{ENTRY}/1", dt.date(2018, 1, 3), Phase.OPEN, "main", "XOM", "buy", 392, 85.16, 0.0,
                "ENTRY")  # fmt: skip


def test_a_fill_journaled_by_an_uncommitted_step_is_not_booked_yet(tmp_path: Path) -> None:
    journal = _journal(tmp_path)
    try:
        book = AlpacaBook(journal.path)
        before = reconcile("alp", book, Trading(392))  # the fill arrived while nothing ran
        journal.record_events([_fill()])  # the step journaled the fill, then died before its session
        after = reconcile("alp", book, Trading(392))
        for found in (before, after):
            [diff] = found.differences
            assert (diff.alpaca, diff.journal, diff.unbooked) == (392, 0, 392)
            assert diff.explained and found.unexplained == []
        # once the session is committed with the position, the fill is booked: nothing differs
        journal.commit_session(dt.date(2018, 1, 3), (100_000.0, 66_617.28, 1, 33_382.72), {"main": 100_000.0},
                               {"positions": [{"symbol": "XOM", "held": 392}], "entries": []}, [], [])  # fmt: skip
        assert reconcile("alp", book, Trading(392)).differences == []
        # and a position Alpaca no longer holds is a difference the journal cannot explain
        gone = reconcile("alp", book, Trading(0))
        assert [d.line() for d in gone.unexplained] == [
            "XOM: Alpaca holds 0, the journal 392: the position was closed outside the platform"
        ]
    finally:
        journal.close()
