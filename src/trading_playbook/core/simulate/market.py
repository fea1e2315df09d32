"""What the event-driven engine reads about the market: bars, the indicators exits need, setups.

A :class:`Market` wraps a panel that ends at the last session the engine may see (a backtest's end,
or the latest session of a paper account's data), so no decision can read a later bar. Indicators
are computed once on that panel (each value uses bars up to its own session only). Setups come from
each sleeve's scanner: a vectorised ``scan(panel)`` is run once on that panel and the rows of a
session are taken (the scanner is causal: the setups of session t use bars up to t, a property its
tests prove); a scanner with only the per-date protocol gets ``scan_for_setups(date, panel cut at t)``.

With a point-in-time universe (``panel.universe``) a sleeve's setups of session t are only those of
symbols eligible at t (both scanner paths), and ``leaving`` marks where policy ``exit`` sells a held
position at the close.

``last_bar[j]`` is the row of symbol j's last bar when the end of its data is known (a backtest or a
replay: RULES' END_OF_DATA); a paper account stepping forward cannot know that a symbol's data has
ended, so it passes ``known_data_end=False`` and positions are held, marked at their last close.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, cast

import numpy as np

from trading_playbook.core import indicators
from trading_playbook.core.errors import ConfigError, DataError
from trading_playbook.core.exits.protocol import ExitEngine
from trading_playbook.core.exits.rules import BarView
from trading_playbook.core.panel import Panel
from trading_playbook.core.scanners.base import ScannerProtocol, VectorScanner
from trading_playbook.core.simulate.settings import SleeveSpec
from trading_playbook.core.sizing import PositionSizerProtocol
from trading_playbook.core.types import Setup, SetupTable
from trading_playbook.core.universe import member_setups

__all__ = [
    "Bars",
    "Market",
    "SleeveRuntime",
    "bars_with_indicators",
    "build_market",
    "last_bar_rows",
    "session_dates",
]

SetupSource = Callable[[int], list[Setup]]


@dataclass
class SleeveRuntime:
    """A sleeve's components in the form the engine calls them."""

    spec: SleeveSpec
    exit: ExitEngine
    sizer: PositionSizerProtocol
    setups_at: SetupSource
    stop_fraction: float | None


@dataclass
class Bars:
    """A panel's bars with the indicators exit rules read (each value uses bars up to its own session)."""

    panel: Panel
    dates: list[dt.date]
    sma: dict[int, np.ndarray]
    ema: dict[int, np.ndarray]
    atr: dict[int, np.ndarray]
    prev_close: np.ndarray
    prev_high: np.ndarray

    def bar(self, t: int, col: int) -> BarView:
        """The :class:`BarView` exit rules read for symbol column ``col`` at row ``t``."""
        p = self.panel
        return BarView(
            session=t,
            open=float(p.open[t, col]),
            high=float(p.high[t, col]),
            low=float(p.low[t, col]),
            close=float(p.close[t, col]),
            volume=float(p.volume[t, col]),
            prev_close=float(self.prev_close[t, col]),
            prev_high=float(self.prev_high[t, col]),
            sma={n: float(a[t, col]) for n, a in self.sma.items()},
            ema={n: float(a[t, col]) for n, a in self.ema.items()},
            atr={n: float(a[t, col]) for n, a in self.atr.items()},
            symbol=p.symbols[col],
            date=self.dates[t],
        )


@dataclass
class Market(Bars):
    """The panel the engine may see, with per-session dates, indicators and sleeve runtimes."""

    iso: list[str]
    last_bar: np.ndarray | None
    sleeves: list[SleeveRuntime]
    leaving: np.ndarray | None = None  # bool (T, N): sold at this close (universe policy "exit")

    def session_index(self, day: dt.date) -> int:
        """Row of session ``day``; a clear error when the panel does not hold it."""
        i = int(np.searchsorted(self.panel.sessions, np.datetime64(day, "D")))
        if i >= len(self.dates) or self.dates[i] != day:
            raise DataError(
                f"session {day} is not in the loaded data ({self.dates[0] if self.dates else '-'} to "
                f"{self.dates[-1] if self.dates else '-'}); load data that covers the account's history"
            )
        return i


def session_dates(panel: Panel) -> list[dt.date]:
    """The panel's sessions as :class:`datetime.date` values."""
    days = panel.sessions.astype("datetime64[D]").astype(np.int64)
    epoch = dt.date(1970, 1, 1)
    return [epoch + dt.timedelta(days=int(d)) for d in days]


def build_market(
    panel: Panel,
    sleeves: Sequence[SleeveSpec],
    *,
    known_data_end: bool = True,
    setups: Sequence[SetupTable | None] | None = None,
) -> Market:
    """A :class:`Market` over ``panel`` (already cut after the last session the engine may see).

    ``setups`` may give, per sleeve, a precomputed table of the same scanner on this panel or on a
    longer one (rows after the panel's last session are never read).
    """
    runtimes = [
        _runtime(spec, panel, None if setups is None else setups[k]) for k, spec in enumerate(sleeves)
    ]
    needs: dict[str, set[int]] = {"sma": set(), "ema": set(), "atr": set()}
    for spec in sleeves:  # resolved when the sleeve was built (exit and sizer)
        for key, periods in spec.indicators.items():
            needs.setdefault(key, set()).update(periods)
    bars = bars_with_indicators(panel, needs)
    return Market(
        **{f.name: getattr(bars, f.name) for f in fields(Bars)},
        iso=[d.isoformat() for d in bars.dates],
        last_bar=last_bar_rows(panel.available) if known_data_end else None,
        sleeves=runtimes,
        leaving=None if panel.universe is None or not panel.universe.exits else panel.universe.leaving(),
    )


def bars_with_indicators(panel: Panel, needs: Mapping[str, Iterable[int]]) -> Bars:
    """:class:`Bars` of ``panel`` with the SMA / EMA / ATR periods ``needs`` names (``{"sma": {50}}``)."""
    p = panel
    return Bars(
        panel=p,
        dates=session_dates(p),
        sma={n: indicators.sma(p.close, n, p.available) for n in sorted(needs.get("sma", ()))},
        ema={n: indicators.ema(p.close, n, p.available) for n in sorted(needs.get("ema", ()))},
        atr={n: indicators.atr(p.high, p.low, p.close, p.available, n) for n in sorted(needs.get("atr", ()))},
        prev_close=indicators.previous_bar(p.close, p.available),
        prev_high=indicators.previous_bar(p.high, p.available),
    )


def last_bar_rows(available: np.ndarray) -> np.ndarray:
    """Per symbol column, the row of its last bar in ``available`` (-1 for a symbol without bars)."""
    last = available.shape[0] - 1 - np.argmax(available[::-1], axis=0)
    return np.where(available.any(axis=0), last, -1)


def _runtime(spec: SleeveSpec, panel: Panel, table: SetupTable | None) -> SleeveRuntime:
    return SleeveRuntime(
        spec=spec,
        exit=spec.exit_engine,
        sizer=spec.sizer,
        setups_at=_setup_source(spec, panel, table),
        stop_fraction=_stop_fraction(spec.exit_engine),
    )


def _stop_fraction(exit_engine: ExitEngine) -> float | None:
    """Where a new position's first resting stop sits, as a fraction below its fill (None: no stop)."""
    probe = exit_engine.open_position(1.0, 1, 0)
    stop = exit_engine.resting_stop(probe, 0)
    return None if stop is None else 1.0 - stop[0]


def _setup_source(spec: SleeveSpec, panel: Panel, table: SetupTable | None) -> SetupSource:
    """The sleeve's setups of a session; with a universe, only those of symbols eligible then."""
    source = _scanner_source(spec, panel, table)
    if panel.universe is None:
        return source
    eligible = panel.universe.eligible()
    columns = {symbol: j for j, symbol in enumerate(panel.symbols)}

    def members(t: int) -> list[Setup]:
        return member_setups(source(t), t, columns, eligible)

    return members


def _scanner_source(spec: SleeveSpec, panel: Panel, table: SetupTable | None) -> SetupSource:
    if table is None and spec.vectorised:
        table = cast(VectorScanner, spec.scanner).scan(panel)
        if not isinstance(table, SetupTable):
            raise ConfigError(
                f"sleeve {spec.name!r}: scanner.scan(panel) must return a SetupTable, got {type(table)}"
            )
    if table is not None:
        rows = table

        def from_table(t: int) -> list[Setup]:
            return rows.to_setups(rows.session_slice(t), panel.sessions, panel.symbols)

        return from_table
    per_date = cast(ScannerProtocol, spec.scanner).scan_for_setups

    def from_protocol(t: int) -> list[Setup]:
        return list(per_date(_as_date(panel.sessions[t]), panel.truncate(t)))

    return from_protocol


def _as_date(value: Any) -> dt.date:
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(np.datetime64(value, "D")))
