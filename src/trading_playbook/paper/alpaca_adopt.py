"""``playbook paper reconcile --adopt | --flatten``: resolve what reconciliation could not explain.

**--adopt** makes the journal take Alpaca's positions as they are, through the engine's own path (so
exits, stops and the trade record work as for any position):

- shares Alpaca holds beyond the journal become an entry of the account's first sleeve (or
  ``--sleeve``) filled at the next session's open phase at Alpaca's average entry price (reason
  ``ENTRY``; the engine then places its stop that evening);
- shares the journal holds that Alpaca does not (closed by hand) are sold in the journal at the next
  open phase, at the price of the hand-made sale when Alpaca still lists it, else at the last close,
  reason ``MANUAL``.

Each adoption is an intent in the journal (leg ``adopt``) answered by the adapter without an order.

**--flatten** makes Alpaca match the journal where it can: the shares Alpaca holds beyond the journal
are sold with a market order (``day`` while the market is open, else ``opg``), client order id
``tp-{account}-{session}-reconcile-{symbol}-flatten``. Shares missing at Alpaca cannot be bought back
by flattening: those need ``--adopt``.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

from trading_playbook.core.broker import OrderIntent, Timing, client_order_id
from trading_playbook.core.errors import PlaybookError
from trading_playbook.paper.alpaca_book import AlpacaBook
from trading_playbook.paper.alpaca_client import AlpacaTrading
from trading_playbook.paper.alpaca_orders import filled_avg, hours, in_opg_blackout, next_session, status
from trading_playbook.paper.alpaca_reconcile import Reconciliation, reconcile
from trading_playbook.paper.journal import Journal

__all__ = ["ReconcileOutcome", "adopt", "flatten"]


@dataclass
class ReconcileOutcome:
    """What ``--adopt`` or ``--flatten`` did, one line per symbol."""

    before: Reconciliation
    actions: list[str] = field(default_factory=list)


def adopt(
    account: str, journal: Journal, trading: AlpacaTrading, *, sleeve: str | None = None
) -> ReconcileOutcome:
    """Record Alpaca's unexplained positions in the journal (see the module docstring)."""
    book = AlpacaBook(journal.path)
    found = reconcile(account, book, trading)
    outcome = ReconcileOutcome(found)
    last = journal.last_session()
    if not found.unexplained:
        return outcome
    if last is None:
        raise PlaybookError(f"account {account!r} has not processed a session yet; step it first, then adopt")
    session, state = last
    state = json.loads(json.dumps(state))
    names = list(state["sleeves"])
    target = sleeve or names[0]
    if target not in names:
        raise PlaybookError(f"no sleeve {target!r} in account {account!r}; sleeves are {names}")
    prices = {str(p["symbol"]): p for p in trading.positions()}
    intents = []
    for diff in found.unexplained:
        gap = diff.alpaca - diff.journal - diff.unbooked
        coid = client_order_id(account, session, target, diff.symbol, "adopt")
        if gap > 0:
            price = float(prices[diff.symbol]["avg_entry_price"])
            intent = OrderIntent(
                coid, session, target, diff.symbol, "adopt", "buy", gap, Timing.NEXT_OPEN, "ENTRY"
            )
            state["entries"].append(
                {"client_order_id": coid, "sleeve": target, "symbol": diff.symbol, "shares": gap}
            )
            outcome.actions.append(
                f"{diff.symbol}: adopted {gap} share(s) at {price} (Alpaca's average entry price)"
            )
        else:
            holder = next((p for p in state["positions"] if p["symbol"] == diff.symbol), None)
            if holder is None:
                continue
            price = _hand_sale_price(trading, diff.symbol) or float(holder["last_close"])
            shares = min(-gap, int(holder["held"]))
            intent = OrderIntent(
                coid,
                session,
                holder["sleeve"],
                diff.symbol,
                "adopt",
                "sell",
                shares,
                Timing.NEXT_OPEN,
                "MANUAL",
            )
            holder["pending"].append({"client_order_id": coid, "shares": shares, "reason": "MANUAL"})
            outcome.actions.append(
                f"{diff.symbol}: {shares} share(s) sold outside the platform recorded at {price}"
            )
        intents.append(intent)
        book.set_handling(coid, "adopted", json.dumps({"price": price, "shares": intent.shares}))
    journal.record_intents(intents)
    journal.amend_last_state(state, "reconcile --adopt: " + "; ".join(outcome.actions))
    return outcome


def flatten(account: str, journal: Journal, trading: AlpacaTrading, *, now: dt.datetime) -> ReconcileOutcome:
    """Sell the shares Alpaca holds beyond the journal (see the module docstring)."""
    from alpaca.trading.enums import OrderSide, TimeInForce
    from alpaca.trading.requests import MarketOrderRequest

    book = AlpacaBook(journal.path)
    found = reconcile(account, book, trading)
    outcome = ReconcileOutcome(found)
    session = now.date()
    for diff in found.unexplained:
        gap = diff.alpaca - diff.journal - diff.unbooked
        if gap <= 0:
            outcome.actions.append(
                f"{diff.symbol}: Alpaca holds {-gap} share(s) fewer than the journal; flattening cannot buy them "
                f"back: use `playbook paper reconcile --account {account} --adopt`"
            )
            continue
        opened = _market_open(now)
        if not opened and in_opg_blackout(now):
            outcome.actions.append(
                f"{diff.symbol}: the market is closed and opg orders wait until 19:00 ET; try again then"
            )
            continue
        coid = client_order_id(account, session, "reconcile", diff.symbol, "flatten")
        trading.submit(
            MarketOrderRequest(
                symbol=diff.symbol, qty=gap, side=OrderSide.SELL,
                time_in_force=TimeInForce.DAY if opened else TimeInForce.OPG, client_order_id=coid,
            )
        )  # fmt: skip
        book.add_alias("reconcile", coid, f"flatten {diff.symbol}")
        outcome.actions.append(
            f"{diff.symbol}: selling {gap} share(s) ({coid}, {'now' if opened else 'at the next open'})"
        )
    journal.log("reconcile --flatten: " + "; ".join(outcome.actions), "warning")
    return outcome


def _market_open(now: dt.datetime) -> bool:
    try:
        opened, closed = hours(now.date())
    except ValueError:
        return False
    return opened <= now < closed


def _hand_sale_price(trading: AlpacaTrading, symbol: str) -> float | None:
    """The price of the latest sale of ``symbol`` not made by the platform, if Alpaca still lists it."""
    from alpaca.trading.enums import QueryOrderStatus
    from alpaca.trading.requests import GetOrdersRequest

    request = GetOrdersRequest(status=QueryOrderStatus.CLOSED, symbols=[symbol], limit=100)
    orders: list[dict[str, Any]] = trading._call("list closed orders", trading.client.get_orders, request)
    for order in orders:
        side = str(getattr(order.get("side"), "value", order.get("side")))
        if (
            side == "sell"
            and not str(order["client_order_id"]).startswith("tp-")
            and status(order) == "filled"
        ):
            return filled_avg(order)
    return None


def adopted_fill(book: AlpacaBook, intent: OrderIntent) -> tuple[int, float] | None:
    """``(shares, price)`` of an adopted intent, None for any other."""
    handling = book.handling(intent.client_order_id)
    if handling is None or handling.handling != "adopted":
        return None
    data = json.loads(handling.note)
    return int(data["shares"]), float(data["price"])


def next_open_of(intent: OrderIntent) -> dt.datetime:
    return hours(next_session(intent.session))[0]
