"""What a run of the event-driven engine records: the session log, trades and the equity curve."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from trading_playbook.core.broker import BrokerEvent, OrderIntent
from trading_playbook.core.panel import Panel
from trading_playbook.core.simulate.state import PositionState
from trading_playbook.core.types import EquityCurve, PartialExit, Trade

__all__ = ["SessionLog", "TradeKey", "equity_curve", "trade_of"]

TradeKey = tuple[int, str, int]  # entry session, symbol, sleeve: the order trades are reported in


@dataclass
class SessionLog:
    """What one session did: broker events, intents sent, trades closed, the equity row, decisions."""

    session: int
    date: dt.date
    events: list[BrokerEvent] = field(default_factory=list)
    intents: list[OrderIntent] = field(default_factory=list)
    cancels: list[str] = field(default_factory=list)
    trades: list[tuple[TradeKey, Trade]] = field(default_factory=list)
    row: tuple[float, float, int, float] = (0.0, 0.0, 0, 0.0)  # equity, cash, positions, exposure
    sleeve_equity: list[float] = field(default_factory=list)
    decisions: list[dict[str, Any]] = field(default_factory=list)


def trade_of(pos: PositionState, dates: Sequence[dt.date], sleeve_name: str) -> Trade:
    final = pos.fills[-1]
    shares = pos.original_shares
    pnl = (pos.exit_value - pos.entry_value) - pos.commission
    return Trade(
        symbol=pos.symbol,
        entry_date=dates[pos.entry_session],
        exit_date=dates[final[0]],
        entry_price=pos.entry_price,
        exit_price=pos.exit_value / shares,
        shares=shares,
        exit_reason=final[3],
        pnl=pnl,
        pnl_pct=pnl / pos.entry_value,
        r_multiple=(pnl / shares) / (pos.entry_price - pos.exit.initial_stop),
        sessions_held=final[0] - pos.entry_session,
        mfe=pos.max_high / pos.entry_price - 1.0,
        mae=pos.min_low / pos.entry_price - 1.0,
        partial_exits=tuple(
            PartialExit(dates[s], q, price, reason) for s, q, price, reason in pos.fills[:-1]
        ),
        initial_stop=pos.exit.initial_stop,
        commission=pos.commission,
        sleeve=sleeve_name,
    )


def equity_curve(
    panel: Panel, start: int, end: int, logs: Sequence[SessionLog], sleeve_names: Sequence[str]
) -> EquityCurve:
    """The :class:`EquityCurve` of the sessions ``start..end`` from their logs (one per session)."""
    rows = np.array([log.row for log in logs], dtype=np.float64).reshape(-1, 4)
    sleeve_values = np.array([log.sleeve_equity for log in logs], dtype=np.float64).reshape(
        -1, len(sleeve_names)
    )
    return EquityCurve(
        dates=panel.sessions[start : end + 1].astype("datetime64[D]"),
        equity=rows[:, 0].copy(),
        cash=rows[:, 1].copy(),
        positions=rows[:, 2].astype(np.int64),
        exposure=rows[:, 3].copy(),
        sleeve_equity={name: sleeve_values[:, k].copy() for k, name in enumerate(sleeve_names)},
    )
