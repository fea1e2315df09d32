"""Guards of an Alpaca account: live mode's preconditions, the ``[live]`` limits, the kill switch.

**Live mode** (``playbook paper init ... --broker alpaca --live``) needs, at init and at every start
and step: the environment variable ``ALPACA_PAPER=false`` and a ``[live]`` table with all four
limits. Otherwise nothing is sent and the error names what is missing.

**Limits** (``[live]``, checked before every entry order; exits and stops are never held back):
an entry whose value (shares x last close) exceeds ``max_order_value``; one that would take the
positions plus pending entries over ``max_exposure``; more than ``max_orders_per_day`` entries sent in
one session; and a loss since the previous close (Alpaca's ``last_equity - equity``) of
``max_daily_loss`` or more, which also cancels the entry orders still open and raises an alert in
the log and the journal.

**Kill switch**: the file ``<account>.halt`` beside the journal (``playbook paper halt --account
NAME`` writes it). While it exists no entry is sent, the runner cancels the open entry orders and
stops; ``playbook paper halt --account NAME --resume`` removes it.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from trading_playbook.config import LiveConfig, PlaybookConfig
from trading_playbook.core.broker import OrderIntent, Timing
from trading_playbook.core.errors import ConfigError
from trading_playbook.paper.alpaca_book import AlpacaBook
from trading_playbook.paper.alpaca_client import AlpacaTrading
from trading_playbook.paper.alpaca_orders import TERMINAL, status

__all__ = ["PAPER_ENV", "AccountGuard", "check_live", "halt_path"]

log = logging.getLogger(__name__)
PAPER_ENV = "ALPACA_PAPER"


def check_live(cfg: PlaybookConfig, environ: Mapping[str, str] | None = None) -> LiveConfig:
    """The ``[live]`` limits, after checking every precondition of live trading."""
    env = os.environ if environ is None else environ
    missing = []
    if env.get(PAPER_ENV, "").strip().lower() != "false":
        missing.append(f"the environment variable {PAPER_ENV}=false (it is {env.get(PAPER_ENV, 'unset')!r})")
    if cfg.live is None:
        missing.append(
            "a [live] table in the config with max_order_value, max_exposure, max_orders_per_day and "
            "max_daily_loss (dollars)"
        )
    if missing:
        raise ConfigError("live trading refused: it needs " + " and ".join(missing))
    assert cfg.live is not None
    return cfg.live


def halt_path(journal_path: Path) -> Path:
    """The kill-switch file of the account whose journal is at ``journal_path``."""
    return Path(journal_path).with_suffix(".halt")


class AccountGuard:
    """Decides whether an entry may be sent (see the module docstring)."""

    def __init__(
        self,
        *,
        account: str,
        book: AlpacaBook,
        trading: AlpacaTrading,
        halt_file: Path,
        limits: LiveConfig | None,
        blocked: str | None = None,
        price_of: Callable[[str], float | None] = lambda symbol: None,
        alert: Callable[[str], None] = lambda message: None,
    ) -> None:
        self.account = account
        self.book = book
        self.trading = trading
        self.halt_file = halt_file
        self.limits = limits
        self.blocked = blocked
        self.price_of = price_of
        self.alert = alert
        self.breached: str | None = None

    def refuse_entry(self, intent: OrderIntent, price: float | None) -> str | None:
        if self.halt_file.exists():
            return (
                f"the account is halted (kill switch {self.halt_file}); "
                f"`playbook paper halt --account {self.account} --resume` lifts it"
            )
        if self.blocked:
            return "reconciliation pending: " + self.blocked.splitlines()[0]
        if self.limits is None:
            return None
        return self._limit(intent, price)

    def counted(self, intent: OrderIntent, price: float | None) -> None:
        """An entry was sent (the per-session count is read back from the journal)."""

    def _limit(self, intent: OrderIntent, price: float | None) -> str | None:
        limits = self.limits
        assert limits is not None
        if price is None or not price > 0:
            return f"no last price for {intent.symbol}: the live limits cannot be checked"
        value = intent.shares * price
        if value > limits.max_order_value:
            return f"order value {value:,.2f} is over [live] max_order_value {limits.max_order_value:,.2f}"
        exposure = self._exposure() + value
        if exposure > limits.max_exposure:
            return f"exposure would be {exposure:,.2f}, over [live] max_exposure {limits.max_exposure:,.2f}"
        sent = self._entries_sent(intent.session)
        if sent >= limits.max_orders_per_day:
            return f"{sent} entry order(s) sent for {intent.session} already: [live] max_orders_per_day is {limits.max_orders_per_day}"
        loss = self.daily_loss()
        if loss >= limits.max_daily_loss:
            self.breach(
                f"the loss since the last close is {loss:,.2f}, at [live] max_daily_loss {limits.max_daily_loss:,.2f}"
            )
            return self.breached
        return None

    def daily_loss(self) -> float:
        account = self.trading.account()
        return float(account.get("last_equity") or 0.0) - float(account.get("equity") or 0.0)

    def breach(self, why: str) -> None:
        """Cancel the open entry orders and refuse new ones for the rest of this run; alert."""
        if self.breached is None:
            self.breached = why
            cancelled = cancel_open_entries(self.book, self.trading)
            message = f"LIVE LIMIT BREACHED on account {self.account!r}: {why}; cancelled {len(cancelled)} open entry order(s), no new entries"
            log.error("%s", message)
            self.alert(message)

    def _exposure(self) -> float:
        total = 0.0
        for p in self.trading.positions():
            total += abs(float(p.get("market_value") or 0.0))
        for coid in self._open_entries():
            intent = self.book.intents()[coid]
            total += intent.shares * (self.price_of(intent.symbol) or 0.0)
        return total

    def _open_entries(self) -> list[str]:
        resolved = self.book.resolved()
        return [
            i.client_order_id for i in self.book.intents().values()
            if i.side == "buy" and i.timing is not Timing.STOP and i.client_order_id not in resolved
            and (h := self.book.handling(i.client_order_id)) is not None and h.handling in ("placed", "deferred")
        ]  # fmt: skip

    def _entries_sent(self, session: dt.date) -> int:
        intents = self.book.intents()
        return sum(
            1 for h in self.book.all_handling()
            if h.handling == "placed" and (i := intents.get(h.client_order_id)) is not None
            and i.side == "buy" and i.timing is not Timing.STOP and i.session == session
        )  # fmt: skip


def cancel_open_entries(book: AlpacaBook, trading: AlpacaTrading) -> list[str]:
    """Cancel every entry order of the account still open at Alpaca (and forget deferred ones)."""
    cancelled = []
    resolved = book.resolved()
    for intent in book.intents().values():
        if intent.side != "buy" or intent.timing is Timing.STOP or intent.client_order_id in resolved:
            continue
        handling = book.handling(intent.client_order_id)
        if handling is not None and handling.handling == "deferred":
            book.set_handling(
                intent.client_order_id, "blocked", "cancelled before it was sent (halt or limit)"
            )
            cancelled.append(intent.client_order_id)
            continue
        order: dict[str, Any] | None = trading.order(intent.client_order_id)
        if order is not None and status(order) not in TERMINAL:
            trading.cancel(str(order["id"]))
            cancelled.append(intent.client_order_id)
    return cancelled
