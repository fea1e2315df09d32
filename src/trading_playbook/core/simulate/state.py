"""The portfolio state of the event-driven engine: a plain value with a schema version.

Cash, every open position (entry, shares, exit-rule state: peaks, trails, partials and levels taken,
the resting stop and the exits queued for the next open), the entries queued for the next open and
each sleeve's realised P&L. :func:`state_to_dict` turns it into JSON-able data that names sessions
by ISO date (an account outlives any one panel) and writes non-finite floats as the strings
``"nan"``, ``"inf"`` and ``"-inf"``; every finite float round-trips exactly through ``json``.
:func:`state_from_dict` rebuilds it against the panel of the next run (sessions become row indices
of that panel again).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from trading_playbook.core.errors import SimulationError
from trading_playbook.core.exits.rules import ExitState

__all__ = [
    "SCHEMA_VERSION",
    "PendingEntry",
    "PendingExit",
    "PortfolioState",
    "PositionState",
    "RestingStop",
    "new_state",
    "state_from_dict",
    "state_to_dict",
]

SCHEMA_VERSION = 1


@dataclass(slots=True)
class RestingStop:
    """The stop order resting at the broker for a position."""

    client_order_id: str
    level: float
    shares: int
    reason: str


@dataclass(slots=True)
class PendingExit:
    """A sale decided at a close for the next open, resting at the broker."""

    client_order_id: str
    shares: int
    reason: str


@dataclass(slots=True)
class PositionState:
    """One open position. Sessions are row indices of the current panel (dates when serialised)."""

    seq: int  # opening order within the account (positions are processed in this order)
    sleeve: int
    symbol: str
    col: int
    entry_session: int
    entry_price: float
    original_shares: int
    held: int
    exit: ExitState
    commission: float
    last_close: float
    max_high: float
    min_low: float
    exit_value: float = 0.0
    fills: list[tuple[int, int, float, str]] = field(default_factory=list)  # session, shares, price, reason
    pending: list[PendingExit] = field(default_factory=list)
    stop: RestingStop | None = None

    @property
    def entry_value(self) -> float:
        return self.original_shares * self.entry_price

    def see_bar(self, high: float, low: float) -> None:
        """Count a bar in the MFE/MAE extremes."""
        self.max_high = max(self.max_high, high)
        self.min_low = min(self.min_low, low)


@dataclass(slots=True)
class PendingEntry:
    """An entry decided at a close for the next open, resting at the broker."""

    client_order_id: str
    sleeve: int
    symbol: str
    col: int
    shares: int


@dataclass
class PortfolioState:
    """Everything the engine carries from one session to the next (per sleeve lists in config order)."""

    account: str
    cash: float
    sleeves: tuple[str, ...]
    positions: list[list[PositionState]]
    entries: list[list[PendingEntry]]
    realised: list[float]
    next_seq: int = 0
    last_session: int | None = None  # the last session processed

    def open_positions(self) -> list[PositionState]:
        """Every open position, sleeve by sleeve, in opening order."""
        return [p for group in self.positions for p in group]


def new_state(account: str, cash: float, sleeves: Sequence[str]) -> PortfolioState:
    """An empty account holding ``cash``."""
    n = len(sleeves)
    return PortfolioState(
        account=account,
        cash=float(cash),
        sleeves=tuple(sleeves),
        positions=[[] for _ in range(n)],
        entries=[[] for _ in range(n)],
        realised=[0.0] * n,
    )


# ---------------------------------------------------------------------------------------- encoding
def _f(x: float) -> float | str:
    if math.isfinite(x):
        return x
    return "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")


def _uf(v: Any) -> float:
    return float(v)  # float("nan"), float("inf"), float("-inf") read the strings back


def state_to_dict(state: PortfolioState, dates: Sequence[dt.date]) -> dict[str, Any]:
    """The state as JSON-able data; ``dates[i]`` is the date of panel row ``i``."""
    return {
        "schema_version": SCHEMA_VERSION,
        "account": state.account,
        "cash": state.cash,
        "sleeves": list(state.sleeves),
        "realised": list(state.realised),
        "next_seq": state.next_seq,
        "last_session": None if state.last_session is None else dates[state.last_session].isoformat(),
        "positions": [_position_to_dict(p, state.sleeves, dates) for p in state.open_positions()],
        "entries": [
            {
                "client_order_id": e.client_order_id,
                "sleeve": state.sleeves[e.sleeve],
                "symbol": e.symbol,
                "shares": e.shares,
            }
            for group in state.entries
            for e in group
        ],
    }


def _position_to_dict(pos: PositionState, sleeves: Sequence[str], dates: Sequence[dt.date]) -> dict[str, Any]:
    ex = pos.exit
    return {
        "seq": pos.seq,
        "sleeve": sleeves[pos.sleeve],
        "symbol": pos.symbol,
        "entry_date": dates[pos.entry_session].isoformat(),
        "entry_price": pos.entry_price,
        "original_shares": pos.original_shares,
        "held": pos.held,
        "commission": pos.commission,
        "last_close": _f(pos.last_close),
        "max_high": _f(pos.max_high),
        "min_low": _f(pos.min_low),
        "exit_value": pos.exit_value,
        "fills": [
            {"date": dates[s].isoformat(), "shares": q, "price": price, "reason": reason}
            for s, q, price, reason in pos.fills
        ],
        "pending": [
            {"client_order_id": x.client_order_id, "shares": x.shares, "reason": x.reason}
            for x in pos.pending
        ],
        "stop": None
        if pos.stop is None
        else {
            "client_order_id": pos.stop.client_order_id,
            "level": pos.stop.level,
            "shares": pos.stop.shares,
            "reason": pos.stop.reason,
        },
        "exit_state": {
            "entry_price": ex.entry_price,
            "original_shares": ex.original_shares,
            "remaining": ex.remaining,
            "initial_stop": ex.initial_stop,
            "peak_close": _f(ex.peak_close),
            "peak_high": _f(ex.peak_high),
            "trails": [_f(x) for x in ex.trails],
            "levels_taken": [list(level) for level in ex.levels_taken],
            "partial_taken": ex.partial_taken,
        },
    }


def state_from_dict(
    data: Mapping[str, Any],
    *,
    session_index: Callable[[dt.date], int],
    symbol_index: Callable[[str], int],
) -> PortfolioState:
    """Rebuild a state saved by :func:`state_to_dict` against a panel.

    ``session_index(date)`` gives the panel row of a session (raising when the panel lacks it);
    ``symbol_index(symbol)`` its column.
    """
    version = data.get("schema_version")
    if version != SCHEMA_VERSION:
        raise SimulationError(
            f"portfolio state schema version {version!r} is not {SCHEMA_VERSION}; this account was "
            "written by another version of trading-playbook"
        )
    sleeves = tuple(str(s) for s in data["sleeves"])
    state = new_state(str(data["account"]), float(data["cash"]), sleeves)
    state.realised = [float(x) for x in data["realised"]]
    state.next_seq = int(data["next_seq"])
    last = data.get("last_session")
    state.last_session = None if last is None else session_index(dt.date.fromisoformat(last))
    slot = {name: k for k, name in enumerate(sleeves)}
    for item in data["positions"]:
        pos = _position_from_dict(item, slot, session_index, symbol_index)
        state.positions[pos.sleeve].append(pos)
    for item in data["entries"]:
        k = slot[item["sleeve"]]
        symbol = str(item["symbol"])
        state.entries[k].append(
            PendingEntry(str(item["client_order_id"]), k, symbol, symbol_index(symbol), int(item["shares"]))
        )
    return state


def _position_from_dict(
    item: Mapping[str, Any],
    slot: Mapping[str, int],
    session_index: Callable[[dt.date], int],
    symbol_index: Callable[[str], int],
) -> PositionState:
    def row(text: str) -> int:
        return session_index(dt.date.fromisoformat(text))

    ex = item["exit_state"]
    entry_date = dt.date.fromisoformat(item["entry_date"])
    entry_session = session_index(entry_date)
    symbol = str(item["symbol"])
    exit_state = ExitState(
        entry_price=float(ex["entry_price"]),
        original_shares=int(ex["original_shares"]),
        remaining=int(ex["remaining"]),
        initial_stop=float(ex["initial_stop"]),
        entry_session=entry_session,
        peak_close=_uf(ex["peak_close"]),
        peak_high=_uf(ex["peak_high"]),
        trails=[_uf(x) for x in ex["trails"]],
        levels_taken=[[bool(b) for b in level] for level in ex["levels_taken"]],
        partial_taken=bool(ex["partial_taken"]),
        symbol=symbol,
        entry_date=entry_date,
    )
    stop = item.get("stop")
    return PositionState(
        seq=int(item["seq"]),
        sleeve=slot[item["sleeve"]],
        symbol=symbol,
        col=symbol_index(symbol),
        entry_session=entry_session,
        entry_price=float(item["entry_price"]),
        original_shares=int(item["original_shares"]),
        held=int(item["held"]),
        exit=exit_state,
        commission=float(item["commission"]),
        last_close=_uf(item["last_close"]),
        max_high=_uf(item["max_high"]),
        min_low=_uf(item["min_low"]),
        exit_value=float(item["exit_value"]),
        fills=[
            (row(f["date"]), int(f["shares"]), float(f["price"]), str(f["reason"])) for f in item["fills"]
        ],
        pending=[
            PendingExit(str(x["client_order_id"]), int(x["shares"]), str(x["reason"]))
            for x in item["pending"]
        ],
        stop=None
        if stop is None
        else RestingStop(
            str(stop["client_order_id"]), float(stop["level"]), int(stop["shares"]), str(stop["reason"])
        ),
    )
