"""Reconciliation of an Alpaca account: Alpaca's positions against the journal, on every start and step.

Alpaca is the truth for what is held. Per symbol the journal expects its last state's shares plus the
fills Alpaca reports for the account's own orders that the engine has not booked yet (an entry that
filled while no process ran, a stop that triggered, the unsold part of an entry's excess). The
comparison uses only Alpaca's positions and the account's own orders looked up by client order id,
never an order or fill history, so a position held for months reconciles like one bought yesterday.

- A difference the journal explains is logged; the fills are booked by the engine at the phase they
  belong to in the next step.
- A difference it cannot explain (a manual trade, a position closed by hand, a corporate action)
  blocks new entries of the account and produces a report naming the exact commands:
  ``playbook paper reconcile --account NAME --adopt`` (the journal takes Alpaca's positions) or
  ``--flatten`` (extra shares at Alpaca are sold so Alpaca matches the journal).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from trading_playbook.core.broker import Timing
from trading_playbook.paper.alpaca_book import AlpacaBook, current_stops
from trading_playbook.paper.alpaca_client import AlpacaTrading
from trading_playbook.paper.alpaca_orders import TERMINAL, filled_qty, status

__all__ = ["Difference", "Reconciliation", "journal_positions", "reconcile"]


@dataclass(frozen=True)
class Difference:
    """One symbol whose shares differ between Alpaca and the journal's last state."""

    symbol: str
    alpaca: int
    journal: int
    unbooked: int  # fills of the account's own orders the engine has not booked yet
    notes: tuple[str, ...] = ()

    @property
    def explained(self) -> bool:
        return self.alpaca == self.journal + self.unbooked

    def line(self) -> str:
        text = f"{self.symbol}: Alpaca holds {self.alpaca}, the journal {self.journal}"
        if self.unbooked:
            text += (
                f" (+{self.unbooked} not booked yet)"
                if self.unbooked > 0
                else f" ({self.unbooked} not booked yet)"
            )
        if self.explained:
            return text + ": explained by " + "; ".join(self.notes)
        gap = self.alpaca - self.journal - self.unbooked
        if self.alpaca == 0:
            return text + ": the position was closed outside the platform"
        return text + f": {gap:+d} share(s) the journal cannot explain (a trade outside the platform?)"


@dataclass
class Reconciliation:
    """The outcome of one comparison."""

    account: str
    differences: list[Difference] = field(default_factory=list)

    @property
    def explained(self) -> list[Difference]:
        return [d for d in self.differences if d.explained]

    @property
    def unexplained(self) -> list[Difference]:
        return [d for d in self.differences if not d.explained]

    def report(self) -> str:
        if not self.unexplained:
            return f"Alpaca and the journal of account {self.account!r} agree."
        lines = [
            f"Alpaca and the journal of account {self.account!r} disagree; new entries are blocked until this "
            "is resolved:",
            *(f"  {d.line()}" for d in self.unexplained),
            "Resolve it with one of:",
            f"  playbook paper reconcile --account {self.account} --adopt     "
            "# the journal takes Alpaca's positions as they are",
            f"  playbook paper reconcile --account {self.account} --flatten   "
            "# sell the shares Alpaca holds beyond the journal",
        ]
        return "\n".join(lines)


def journal_positions(state: dict[str, Any] | None) -> dict[str, int]:
    """Shares held per symbol in a state snapshot (all sleeves together)."""
    held: dict[str, int] = defaultdict(int)
    for pos in (state or {}).get("positions", []):
        held[str(pos["symbol"])] += int(pos["held"])
    return dict(held)


def reconcile(
    account: str,
    book: AlpacaBook,
    trading: AlpacaTrading,
    *,
    rescale: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> Reconciliation:
    """Compare Alpaca's positions with the journal's last state plus the fills it has not booked.

    ``rescale`` puts the saved state on today's share scale first (a split since it was saved: Alpaca
    has already multiplied the shares).
    """
    last = book.last_state()
    state = last[1] if last else None
    if state is not None and rescale is not None:
        state = rescale(state)
    journal = journal_positions(state)
    alpaca = {str(p["symbol"]): int(float(p["qty"])) for p in trading.positions()}
    unbooked, notes = _unbooked(book, trading, booked_through=last[0] if last else None)
    out = Reconciliation(account)
    for symbol in sorted(set(journal) | set(alpaca) | set(unbooked)):
        a, j, u = alpaca.get(symbol, 0), journal.get(symbol, 0), unbooked.get(symbol, 0)
        if a != j or u != 0:
            out.differences.append(Difference(symbol, a, j, u, tuple(notes.get(symbol, ()))))
    return out


def _unbooked(
    book: AlpacaBook, trading: AlpacaTrading, *, booked_through: dt.date | None
) -> tuple[dict[str, int], dict[str, list[str]]]:
    """Shares the account's own orders moved at Alpaca that the engine has not booked, per symbol.

    Booked means in the last committed session state (sessions through ``booked_through``; None: no
    session yet): a fill journaled by a step that died before committing its session is not booked.
    """
    intents = book.intents()
    resolved = book.resolved(through=booked_through) if booked_through is not None else set()
    moved: dict[str, int] = defaultdict(int)
    notes: dict[str, list[str]] = defaultdict(list)
    watched = [i for i in intents.values() if i.timing is not Timing.STOP]
    watched += current_stops(intents)
    for intent in watched:
        handling = book.handling(intent.client_order_id)
        aliases = handling.aliases if handling else ()
        sign = 1 if intent.side == "buy" else -1
        if handling is not None and handling.handling == "adopted":
            if intent.client_order_id not in resolved:  # booked at the next open phase, no order
                moved[intent.symbol] += sign * intent.shares
                notes[intent.symbol].append(f"adopted by reconcile ({intent.client_order_id})")
            continue
        for coid in (intent.client_order_id, *aliases):
            excess = coid.endswith("-excess")
            if intent.client_order_id in resolved and not excess:
                continue  # booked by the engine
            order = trading.order(coid)
            if order is None:
                continue
            if excess:
                # the journal booked the entry without these shares; until the sale fills Alpaca has them
                unsold = int(float(order["qty"])) - filled_qty(order)
                if unsold and status(order) not in TERMINAL:
                    moved[intent.symbol] += unsold
                    notes[intent.symbol].append(
                        f"the sale {coid} of {unsold} share(s) cash did not pay for is pending"
                    )
                continue
            q = filled_qty(order)
            if q:
                moved[intent.symbol] += sign * q
                notes[intent.symbol].append(f"{coid} filled {q} at {order.get('filled_avg_price')}")
    return dict(moved), dict(notes)
