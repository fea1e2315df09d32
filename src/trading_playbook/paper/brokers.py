"""Brokers of paper accounts, and the journaling wrapper every account trades through.

:class:`JournalingBroker` wraps any :class:`~trading_playbook.core.broker.Broker`: each intent is
written to the journal *before* it is submitted, and every event the broker reports is written
as soon as it arrives. With the simulated broker (``--broker sim``, the default) the broker's own
book lives in the journal's ``broker_state`` table and is saved after every call that changed it:
the simulated broker is treated as the outside system a real broker is, so a crash between a
submission and the engine's next snapshot is resolved the way it would be with a real one (the
re-submitted client order id is recognised, nothing is bought twice).

Broker kinds are created by :func:`make_broker` from the account's ``broker`` meta entry. Other
brokers register a factory with :func:`register_broker` (``alpaca``: :mod:`.alpaca_runtime`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from trading_playbook.core.broker import Broker, BrokerEvent, OrderIntent, Phase
from trading_playbook.core.errors import ConfigError
from trading_playbook.core.panel import Panel
from trading_playbook.core.simulate.settings import PortfolioSettings
from trading_playbook.core.simulate.sim_broker import SimulatedBroker
from trading_playbook.paper.journal import Journal

__all__ = [
    "BrokerFactory",
    "JournalingBroker",
    "broker_kinds",
    "check_broker",
    "make_broker",
    "register_broker",
]


class JournalingBroker:
    """A :class:`Broker` that journals intents before submission and events on arrival."""

    def __init__(self, inner: Broker, journal: Journal, *, persist: Callable[[], None] | None = None) -> None:
        self.inner = inner
        self.journal = journal
        self._persist = persist or (lambda: None)

    def submit(self, intents: Sequence[OrderIntent]) -> list[BrokerEvent]:
        if not intents:
            return []
        self.journal.record_intents(intents)
        events = self.inner.submit(intents)
        self._persist()
        self.journal.record_events(events)
        return events

    def cancel(self, client_order_ids: Sequence[str]) -> list[BrokerEvent]:
        if not client_order_ids:
            return []
        events = self.inner.cancel(client_order_ids)
        self._persist()
        self.journal.record_events(events)
        return events

    def events(self, session: dt.date, phase: Phase) -> list[BrokerEvent]:
        events = self.inner.events(session, phase)
        self._persist()
        self.journal.record_events(events)
        return events

    def open_orders(self) -> list[OrderIntent]:
        return self.inner.open_orders()

    def positions(self) -> dict[str, int]:
        return self.inner.positions()

    def cash(self) -> float:
        return self.inner.cash()


BrokerFactory = Callable[[Mapping[str, Any], Journal, Panel, PortfolioSettings], JournalingBroker]
BrokerCheck = Callable[[Mapping[str, Any], Any], str]
_FACTORIES: dict[str, BrokerFactory] = {}
_CHECKS: dict[str, BrokerCheck] = {}


def register_broker(kind: str, factory: BrokerFactory, check: BrokerCheck | None = None) -> None:
    """Make ``--broker KIND`` available to paper accounts.

    ``check(spec, config)`` runs when an account is created: it raises when the broker cannot be used
    (missing keys, a blocked account) and returns a line describing the broker account.
    """
    _FACTORIES[kind] = factory
    if check is not None:
        _CHECKS[kind] = check


def check_broker(spec: Mapping[str, Any], cfg: Any) -> str:
    """Run the broker kind's account check (see :func:`register_broker`); ``""`` when it has none."""
    check = _CHECKS.get(str(spec.get("kind", "sim")))
    return check(spec, cfg) if check is not None else ""


def broker_kinds() -> tuple[str, ...]:
    return tuple(sorted(_FACTORIES))


def make_broker(
    spec: Mapping[str, Any], journal: Journal, panel: Panel, settings: PortfolioSettings
) -> JournalingBroker:
    """The broker of an account (``spec`` is its ``broker`` meta entry: ``{"kind": ..., ...}``)."""
    kind = str(spec.get("kind", "sim"))
    factory = _FACTORIES.get(kind)
    if factory is None:
        raise ConfigError(f"unknown broker {kind!r}; available: {', '.join(broker_kinds())}")
    return factory(spec, journal, panel, settings)


def sim_settings(spec: Mapping[str, Any], settings: PortfolioSettings) -> PortfolioSettings:
    """The simulated broker's fill settings: the config's, or a pessimistic slippage (``slippage_bps``)."""
    slippage = spec.get("slippage_bps")
    return settings if slippage is None else replace(settings, slippage_bps=float(slippage))


def _sim_factory(
    spec: Mapping[str, Any], journal: Journal, panel: Panel, settings: PortfolioSettings
) -> JournalingBroker:
    fills = sim_settings(spec, settings)
    saved = journal.broker_state()
    inner = SimulatedBroker(panel, fills) if saved is None else SimulatedBroker.from_dict(saved, panel, fills)
    last = [saved]

    def persist() -> None:
        state = inner.to_dict()
        if state != last[0]:  # only a changed book is a write
            journal.save_broker_state(state)
            last[0] = state

    return JournalingBroker(inner, journal, persist=persist)


register_broker("sim", _sim_factory)


from trading_playbook.paper import alpaca_runtime as _alpaca  # noqa: E402, F401  (registers --broker alpaca)
