"""``--broker alpaca``: the factory paper accounts call, and the runtime it draws on.

A paper account's broker is made fresh for every session a step processes
(:func:`trading_playbook.paper.brokers.make_broker`). For an Alpaca account the factory:

1. checks live mode's preconditions when the account is live (:func:`.alpaca_guards.check_live`);
2. reconciles Alpaca's positions with the journal (:mod:`.alpaca_reconcile`): explained differences
   are logged to the journal, unexplained ones block the account's entries;
3. returns an :class:`~.alpaca_broker.AlpacaBroker` behind the journaling wrapper.

The runtime holds what outlives one session: the API client (keys from the environment, endpoints
from the config), the clock, the stop event and the policy. The runner installs one per account
(with its clock); without one, a default runtime on the wall clock is made (``playbook paper step``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from trading_playbook.config import PlaybookConfig, parse_config
from trading_playbook.core.broker import OrderIntent
from trading_playbook.core.panel import Panel
from trading_playbook.core.simulate.settings import PortfolioSettings
from trading_playbook.data.alpaca_settings import (
    AlpacaEndpoints,
    Credentials,
    load_credentials,
    resolve_endpoints,
)
from trading_playbook.paper.alpaca_book import AlpacaBook
from trading_playbook.paper.alpaca_broker import AlpacaBroker, AlpacaPolicy, Clock
from trading_playbook.paper.alpaca_client import AlpacaTrading
from trading_playbook.paper.alpaca_guards import AccountGuard, check_live, halt_path
from trading_playbook.paper.alpaca_reconcile import Reconciliation, reconcile
from trading_playbook.paper.brokers import JournalingBroker, register_broker
from trading_playbook.paper.journal import Journal

__all__ = ["AlpacaRuntime", "install_runtime", "make_runtime", "policy_of", "remove_runtime", "runtime_for"]

log = logging.getLogger(__name__)


class _WallClock:
    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)

    def sleep(self, seconds: float, stop: threading.Event) -> None:
        stop.wait(max(0.0, seconds))


@dataclass
class AlpacaRuntime:
    """What an Alpaca account's brokers share within one process."""

    credentials: Credentials
    endpoints: AlpacaEndpoints
    trading: AlpacaTrading
    clock: Clock
    policy: AlpacaPolicy
    stop: threading.Event = field(default_factory=threading.Event)
    last_reconciliation: Reconciliation | None = None
    sent: list[str] = field(default_factory=list)  # every order action of its brokers (--dry-run prints it)


_RUNTIMES: dict[str, AlpacaRuntime] = {}


def policy_of(cfg: PlaybookConfig, *, dry_run: bool = False) -> AlpacaPolicy:
    b = cfg.broker
    return AlpacaPolicy(
        opg_fallback=b.opg_fallback,
        fill_wait=b.fill_wait_seconds,
        close_wait=b.close_wait_seconds,
        dry_run=dry_run,
    )


def make_runtime(
    cfg: PlaybookConfig,
    *,
    live: bool = False,
    clock: Clock | None = None,
    dry_run: bool = False,
    environ: Mapping[str, str] | None = None,
    **trading_options: Any,
) -> AlpacaRuntime:
    """A runtime for an account with config ``cfg`` (keys from the environment, URLs from the config)."""
    if live:
        check_live(cfg, environ)
    credentials = load_credentials(environ)
    endpoints = resolve_endpoints(cfg.broker.endpoint_settings(cfg.data.url), paper=not live, environ=environ)
    trading = AlpacaTrading(credentials, endpoints, **trading_options)
    return AlpacaRuntime(
        credentials, endpoints, trading, clock or _WallClock(), policy_of(cfg, dry_run=dry_run)
    )


def install_runtime(account: str, runtime: AlpacaRuntime) -> None:
    """Make ``runtime`` the one the account's brokers use in this process (the runner, tests)."""
    _RUNTIMES[account] = runtime


def remove_runtime(account: str) -> None:
    _RUNTIMES.pop(account, None)


def runtime_for(account: str, cfg: PlaybookConfig, spec: Mapping[str, Any]) -> AlpacaRuntime:
    runtime = _RUNTIMES.get(account)
    if runtime is None:
        runtime = make_runtime(cfg, live=bool(spec.get("live")))
        _RUNTIMES[account] = runtime
    elif spec.get("live"):
        check_live(cfg)  # every step of a live account checks the preconditions again
    return runtime


def _alpaca_factory(
    spec: Mapping[str, Any], journal: Journal, panel: Panel, settings: PortfolioSettings
) -> JournalingBroker:
    meta = journal.meta()
    account = str(meta["account"])
    cfg = parse_config(meta["config"], origin=f"paper account {account!r}")
    runtime = runtime_for(account, cfg, spec)
    book = AlpacaBook(journal.path)
    found = reconcile(account, book, runtime.trading, rescale=_rescaler(panel))
    runtime.last_reconciliation = found
    for diff in found.explained:
        journal.log(f"reconcile: {diff.line()}; booked at this step")
    blocked = None
    if found.unexplained:
        blocked = found.report()
        journal.log(blocked, "warning")
        log.warning("%s", blocked)
    prices = _last_prices(panel)
    guard = AccountGuard(
        account=account,
        book=book,
        trading=runtime.trading,
        halt_file=halt_path(journal.path),
        limits=cfg.live if spec.get("live") or cfg.live is not None else None,
        blocked=blocked,
        price_of=prices.get,
        alert=lambda message: journal.log(message, "alert"),
    )

    def reference_price(intent: OrderIntent) -> float | None:
        return prices.get(intent.symbol)

    broker = AlpacaBroker(
        runtime.trading, book, account=account, settings=settings, clock=runtime.clock, policy=runtime.policy, guard=guard,
        reference_price=reference_price, stop=runtime.stop, sent=runtime.sent,
    )  # fmt: skip
    return JournalingBroker(broker, journal)


def _rescaler(panel: Panel) -> Any:
    """The saved state on ``panel``'s share scale (a split since it was saved), as the engine sees it."""
    from trading_playbook.core.simulate.splits import apply_saved_splits

    sessions = panel.sessions.astype("datetime64[D]")

    def row_of(day: str) -> int:
        return int(np.searchsorted(sessions, np.datetime64(day, "D")))

    def rescale(state: dict[str, Any]) -> dict[str, Any]:
        return apply_saved_splits(state, panel, row_of)[0]

    return rescale


def _last_prices(panel: Panel) -> dict[str, float]:
    """Each symbol's last close in the panel (the reference price of entry orders and limits)."""
    out = {}
    for j, symbol in enumerate(panel.symbols):
        rows = np.flatnonzero(panel.available[:, j])
        if rows.shape[0]:
            out[str(symbol)] = float(panel.close[rows[-1], j])
    return out


def _alpaca_check(spec: Mapping[str, Any], cfg: PlaybookConfig) -> str:
    """At ``paper init``: the keys, the endpoints and the Alpaca account, before anything is written."""
    from trading_playbook.core.errors import ConfigError

    live = bool(spec.get("live"))
    runtime = make_runtime(cfg, live=live)
    account = runtime.trading.account()
    problems = [
        flag.replace("_", " ")
        for flag in ("trading_blocked", "account_blocked", "trade_suspended_by_user")
        if account.get(flag)
    ]
    status = str(account.get("status"))
    if status != "ACTIVE" or problems:
        raise ConfigError(
            f"the Alpaca account {account.get('account_number')} cannot trade (status {status}"
            f"{'; ' + ', '.join(problems) if problems else ''}); fix it in Alpaca's dashboard first"
        )
    kind = "LIVE" if live else "paper"
    return (
        f"Alpaca {kind} account {account.get('account_number')} ({status}), cash {float(account.get('cash') or 0):,.2f}, "
        f"orders to {runtime.endpoints.trading}"
    )


register_broker("alpaca", _alpaca_factory, _alpaca_check)


def with_dry_run(runtime: AlpacaRuntime) -> AlpacaRuntime:
    """The same runtime, reading Alpaca but never writing to it."""
    return dataclasses.replace(runtime, policy=dataclasses.replace(runtime.policy, dry_run=True))
