"""The stop and trail levels a trade lived with, replayed from its bars for the trade page's chart.

A trade in ``result.json`` keeps its fills, not the path of its stops. The path is rebuilt by running
the run's own exit rules (the same :class:`~trading_playbook.core.exits.protocol.ExitEngine` the
reference engine uses, RULES sections 4, 5 and 8) over the symbol's bars from the entry fill onward,
session by session as the reference engine's loop does: pending next-open sales, the resting stop
intraday, the close rules.

The replay is checked against the record: when it does not end on the recorded exit date with the
recorded reason (an exit written in Python that reads other symbols, a symbol with missing sessions
that shifts the session count), the page says so and draws only what is certain (entry, exits,
initial stop).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from trading_playbook.core import indicators
from trading_playbook.core.exits.protocol import ExitEngine, as_exit_engine
from trading_playbook.core.exits.rules import BarView, ExitState
from trading_playbook.core.exits.spec import TrailingStop
from trading_playbook.core.panel import Panel

__all__ = ["FORCED_REASONS", "StopPath", "replay_stops"]

FORCED_REASONS = ("END_OF_TEST", "END_OF_DATA")


@dataclass
class StopPath:
    """Per session from the entry to the exit: the resting stop (intraday) and the close trail.

    ``resting[i]`` is the level that rested during session ``dates[i]`` (None: nothing rested) and
    ``resting_reason[i]`` its kind; ``close_trail[i]`` the close-based trail level after that close
    (None: undefined). ``exit_date``/``exit_reason`` are what the replay reached; ``matches`` says
    whether they equal the recorded ones.
    """

    dates: list[str] = field(default_factory=list)
    resting: list[float | None] = field(default_factory=list)
    resting_reason: list[str] = field(default_factory=list)
    close_trail: list[float | None] = field(default_factory=list)
    exit_date: str | None = None
    exit_reason: str | None = None
    matches: bool = False


class _Bars:
    """The indicators the exit rules read, computed once over the symbol's whole history."""

    def __init__(self, panel: Panel, engine: ExitEngine) -> None:
        p = panel
        needs = engine.indicator_needs()
        self.panel = p
        self.sma = {n: indicators.sma(p.close, n, p.available)[:, 0] for n in sorted(needs.get("sma", ()))}
        self.ema = {n: indicators.ema(p.close, n, p.available)[:, 0] for n in sorted(needs.get("ema", ()))}
        self.atr = {
            n: indicators.atr(p.high, p.low, p.close, p.available, n)[:, 0]
            for n in sorted(needs.get("atr", ()))
        }
        self.prev_close = indicators.previous_bar(p.close, p.available)[:, 0]
        self.prev_high = indicators.previous_bar(p.high, p.available)[:, 0]
        self.dates = [dt.date.fromisoformat(str(d)) for d in np.asarray(p.sessions).astype("datetime64[D]")]

    def bar(self, t: int) -> BarView:
        p = self.panel
        return BarView(
            session=t,
            open=float(p.open[t, 0]),
            high=float(p.high[t, 0]),
            low=float(p.low[t, 0]),
            close=float(p.close[t, 0]),
            volume=float(p.volume[t, 0]),
            prev_close=float(self.prev_close[t]),
            prev_high=float(self.prev_high[t]),
            sma={n: float(a[t]) for n, a in self.sma.items()},
            ema={n: float(a[t]) for n, a in self.ema.items()},
            atr={n: float(a[t]) for n, a in self.atr.items()},
            symbol=p.symbols[0],
            date=self.dates[t],
        )


def _close_trail(engine: ExitEngine, state: ExitState) -> float | None:
    """The highest defined close-basis trail level (None when none is defined)."""
    rules = getattr(engine, "rules", ())
    levels = [
        state.trails[i]
        for i, rule in enumerate(rules)
        if isinstance(rule, TrailingStop) and rule.basis == "close" and not math.isnan(state.trails[i])
    ]
    return max(levels) if levels else None


def replay_stops(
    panel: Panel, exit_strategy: Any, trade: dict[str, Any], *, entry_fill: str, exit_fill: str
) -> StopPath:
    """Replay ``trade``'s exit rules over the one-symbol ``panel`` (see the module docstring)."""
    engine = as_exit_engine(exit_strategy)
    bars = _Bars(panel, engine)
    path = StopPath()
    dates = [d.isoformat() for d in bars.dates]
    try:
        entry = dates.index(trade["entry_date"])
        last = dates.index(trade["exit_date"])
    except ValueError:
        return path  # the recorded dates are not sessions of this symbol: nothing to replay
    state = engine.open_position(float(trade["entry_price"]), int(trade["shares"]), entry,
                                 symbol=str(trade["symbol"]), entry_date=bars.dates[entry])  # fmt: skip
    first = entry
    if entry_fill == "close":  # no intraday stop and no close rule on the entry session
        engine.after_entry_at_close(state, bars.bar(entry))
        _record(path, dates[entry], None, "", _close_trail(engine, state))
        first = entry + 1
    pending_exit = False
    for t in range(first, last + 1):
        if not panel.available[t, 0]:
            continue  # no bar: the position is held and no stop can trigger (RULES section 1)
        if pending_exit:  # a full sale decided at the last close fills at this open
            return _finish(path, trade, dates[t], path.exit_reason)
        stop = engine.resting_stop(state, t)
        bar = bars.bar(t)
        if stop is not None and bar.low <= stop[0]:
            _record(path, dates[t], stop[0], stop[1], _close_trail(engine, state))
            return _finish(path, trade, dates[t], stop[1])
        orders = engine.on_close(state, bar)
        _record(
            path, dates[t], stop[0] if stop else None, stop[1] if stop else "", _close_trail(engine, state)
        )
        if orders and state.remaining == 0:
            reason = orders[-1].reason
            if exit_fill == "close" or orders[-1].price is not None:
                return _finish(path, trade, dates[t], reason)
            if t == last and trade["exit_reason"] in FORCED_REASONS:
                break  # a next-open sale decided at the last close becomes the forced exit
            path.exit_reason = reason
            pending_exit = True
    if trade["exit_reason"] in FORCED_REASONS:
        return _finish(path, trade, dates[last], trade["exit_reason"])
    return _finish(path, trade, None, None)


def _record(path: StopPath, date: str, resting: float | None, reason: str, trail: float | None) -> None:
    path.dates.append(date)
    path.resting.append(None if resting is None or math.isnan(resting) else float(resting))
    path.resting_reason.append(reason)
    path.close_trail.append(trail)


def _finish(path: StopPath, trade: dict[str, Any], date: str | None, reason: str | None) -> StopPath:
    path.exit_date = date
    path.exit_reason = reason
    path.matches = date == trade["exit_date"] and reason == trade["exit_reason"]
    return path
