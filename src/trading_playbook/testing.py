"""Test helpers shipped with the package (as zipline ships ``zipline.testing``): panels, scanners and
the shared data path, so tests and users' own strategy tests build the same fixtures.

Everything is seeded: the same arguments give the same panel on every machine and every run (no
``hash()`` of strings, which changes with ``PYTHONHASHSEED``). Nothing here imports pytest or
hypothesis; ``tests/conftest.py`` wraps these in fixtures and strategies.

- :func:`make_panel`, :func:`flat`, :func:`day`: tiny hand-made panels for hand-worked tests.
- :func:`random_ohlc_panel`: random OHLC panels with gaps, late listings, early ends and gap-downs.
- :func:`volatile_panel`: driftless volatile walks with gaps and early ends (accounting properties).
- :func:`random_walks`, :func:`walk_panel`: trending walks with tight stretches (bases and breakouts).
- :func:`setup_table`, :class:`TableScanner`, :class:`ScriptScanner`, :class:`RandomSetups`:
  vectorised test scanners (fixed tables, hand-written scripts, seeded random setups).
- :func:`random_membership`: seeded random membership stays of a panel's symbols (universe tests).
- :func:`shared_data_path`: the shared S&P 500 file, if this checkout has one beside it.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from trading_playbook.core.panel import Panel
from trading_playbook.core.types import SetupTable
from trading_playbook.core.universe import Membership

__all__ = [
    "RandomSetups",
    "ScriptScanner",
    "TableScanner",
    "day",
    "flat",
    "make_panel",
    "random_membership",
    "random_ohlc_panel",
    "random_walks",
    "setup_table",
    "shared_data_path",
    "volatile_panel",
    "walk_panel",
]

Bar4 = tuple[float, float, float, float]
SHARED_DATA_ENV = "PLAYBOOK_SHARED_DATA"
_SHARED_RELATIVE = Path("shared") / "data" / "sp500_daily.parquet"


def shared_data_path(start: Path | None = None) -> Path | None:
    """The shared S&P 500 Parquet file: ``$PLAYBOOK_SHARED_DATA``, else ``shared/data/...`` in the
    first of ``start`` (default: the current folder) and its parents that has one; None if absent."""
    env = os.environ.get(SHARED_DATA_ENV)
    if env:
        return Path(env) if Path(env).is_file() else None
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / _SHARED_RELATIVE
        if candidate.is_file():
            return candidate
    return None


# ---------------------------------------------------------------------------------------- hand-made
def make_panel(bars: Mapping[str, Sequence[Bar4 | None]], volume: float = 1e6) -> Panel:
    """A panel from ``{"AAA": [(open, high, low, close), None, ...]}``: sessions are consecutive days
    from 2020-01-01 (:func:`day`); ``None`` is a session without a bar of that symbol."""
    symbols = tuple(sorted(bars))
    n = max(len(v) for v in bars.values())
    shape = (n, len(symbols))
    fields = {f: np.full(shape, np.nan) for f in ("open", "high", "low", "close")}
    for j, sym in enumerate(symbols):
        for t, bar in enumerate(bars[sym]):
            if bar is None:
                continue
            for f, v in zip(("open", "high", "low", "close"), bar, strict=True):
                fields[f][t, j] = v
    available = np.isfinite(fields["close"])
    sessions = np.datetime64("2020-01-01") + np.arange(n).astype("timedelta64[D]")
    return Panel(
        sessions=sessions,
        symbols=symbols,
        open=fields["open"],
        high=fields["high"],
        low=fields["low"],
        close=fields["close"],
        volume=np.where(available, volume, np.nan),
        raw_close=fields["close"].copy(),
        available=available,
    )


def flat(price: float) -> Bar4:
    """A bar whose open, high, low and close are all ``price``."""
    return (price, price, price, price)


def day(t: int) -> dt.date:
    """The date of session ``t`` of a :func:`make_panel` panel."""
    return dt.date(2020, 1, 1) + dt.timedelta(days=t)


# ---------------------------------------------------------------------------------------- random
def random_ohlc_panel(rng: np.random.Generator, n_sessions: int, n_symbols: int) -> Panel:
    """Random daily bars at whole cents: drifting walks with 5 % gap-downs of 9 % (through stops),
    6 % missing bars, 20 % late listings and 20 % early ends; symbols ``S0``, ``S1``, ..."""
    shape = (n_sessions, n_symbols)
    ret = rng.normal(0.002, 0.03, shape)
    ret[rng.random(shape) < 0.05] -= 0.09
    close = 50.0 * np.exp(np.cumsum(ret, axis=0))
    open_ = close * np.exp(rng.normal(0, 0.01, shape))
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0, 0.015, shape)))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0, 0.015, shape)))
    available = rng.random(shape) > 0.06
    for j in range(n_symbols):
        roll = rng.random()
        if roll < 0.2:
            available[: rng.integers(1, n_sessions // 2), j] = False  # late listing
        elif roll < 0.4:
            available[rng.integers(n_sessions // 2, n_sessions) :, j] = False  # early end
    available[:, 0] = True  # the sessions exist
    values = {}
    for name, arr in (("open", open_), ("high", high), ("low", low), ("close", close)):
        values[name] = np.where(available, np.round(arr, 2), np.nan)
    values["high"] = np.fmax(values["high"], np.fmax(values["open"], values["close"]))
    values["low"] = np.fmin(values["low"], np.fmin(values["open"], values["close"]))
    sessions = np.datetime64("2020-01-01") + np.arange(n_sessions).astype("timedelta64[D]")
    return Panel(
        sessions=sessions,
        symbols=tuple(f"S{j}" for j in range(n_symbols)),
        open=values["open"],
        high=values["high"],
        low=values["low"],
        close=values["close"],
        volume=np.where(available, 1e6, np.nan),
        raw_close=values["close"].copy(),
        available=available,
    )


def volatile_panel(
    rng: np.random.Generator, n_sessions: int, n_symbols: int, gap_rate: float, early_end: bool = True
) -> Panel:
    """Driftless walks with 4 % daily moves and wide bars, ``gap_rate`` missing bars (never on the first
    session) and, with ``early_end``, 30 % of the symbols stopping early (END_OF_DATA); symbols
    ``AAA``, ``BBB``, ``CCC``, ``DDD`` (at most four)."""
    shape = (n_sessions, n_symbols)
    steps = rng.normal(0.0, 0.04, size=shape)
    close = 50.0 * np.exp(np.cumsum(steps, axis=0))
    open_ = close * np.exp(rng.normal(0.0, 0.03, size=shape))
    high = np.maximum(open_, close) * (1.0 + rng.uniform(0.0, 0.04, size=shape))
    low = np.minimum(open_, close) * (1.0 - rng.uniform(0.0, 0.04, size=shape))
    available = rng.uniform(size=shape) >= gap_rate
    available[0] = True
    for j in range(n_symbols):
        if early_end and rng.uniform() < 0.3:
            available[rng.integers(n_sessions // 2, n_sessions) :, j] = False
    nan = np.where(available, 1.0, np.nan)
    sessions = np.datetime64("2021-01-01") + np.arange(n_sessions).astype("timedelta64[D]")
    return Panel(
        sessions=sessions,
        symbols=("AAA", "BBB", "CCC", "DDD")[:n_symbols],
        open=open_ * nan,
        high=high * nan,
        low=low * nan,
        close=close * nan,
        volume=np.where(available, 1e6, np.nan),
        raw_close=close * nan,
        available=available,
    )


def random_walks(
    rng: np.random.Generator, n_sessions: int, n_symbols: int, gap_rate: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``close, high, low, volume, available`` (T, N) arrays of trending walks with tight stretches,
    so bases and breakouts occur (the scanner tests)."""
    shape = (n_sessions, n_symbols)
    steps = rng.normal(0.002, 0.015, shape) * rng.choice([0.2, 1.0], shape, p=[0.4, 0.6])
    close = 20.0 * np.exp(np.cumsum(steps, axis=0))
    high = close * (1 + rng.uniform(0, 0.02, shape))
    low = close * (1 - rng.uniform(0, 0.02, shape))
    volume = rng.integers(0, 3, shape) * rng.uniform(500, 1500, shape)
    available = rng.random(shape) >= gap_rate
    return close, high, low, volume, available


def walk_panel(
    close: np.ndarray,
    high: np.ndarray,
    low: np.ndarray,
    volume: np.ndarray,
    available: np.ndarray,
    raw_scale: float = 1.0,
    symbols: Sequence[str] | None = None,
) -> Panel:
    """The panel of :func:`random_walks` arrays (NaN where no bar; open = close; raw close = close *
    ``raw_scale``); symbols ``S00``, ``S01``, ... unless given."""
    nan = np.where(available, 1.0, np.nan)
    sessions = np.datetime64("2010-01-04") + np.arange(close.shape[0]).astype("timedelta64[D]")
    names = tuple(symbols) if symbols is not None else tuple(f"S{i:02d}" for i in range(close.shape[1]))
    return Panel(
        sessions=sessions,
        symbols=names,
        open=close * nan,
        high=high * nan,
        low=low * nan,
        close=close * nan,
        volume=volume * nan,
        raw_close=close * nan * raw_scale,
        available=available,
    )


def random_membership(rng: np.random.Generator, panel: Panel, max_stays: int = 3) -> Membership:
    """Up to ``max_stays`` non-overlapping random stays per symbol over the panel's sessions (some
    open-ended, some starting before the panel), for point-in-time universe tests."""
    first = panel.sessions[0].astype("datetime64[D]")
    n = panel.n_sessions
    tickers, starts, ends = [], [], []
    for symbol in panel.symbols:
        cursor = int(rng.integers(-3, n // 3))
        for _ in range(int(rng.integers(0, max_stays + 1))):
            length = int(rng.integers(1, max(2, n // 2)))
            tickers.append(symbol)
            starts.append(first + np.timedelta64(cursor, "D"))
            end = cursor + length - 1
            ends.append(np.datetime64("NaT", "D") if rng.random() < 0.2 else first + np.timedelta64(end, "D"))
            if np.isnat(ends[-1]):
                break
            cursor = end + 1 + int(rng.integers(1, max(2, n // 4)))
    count = len(tickers)
    return Membership(
        ticker=tuple(tickers),
        start=np.array(starts, dtype="datetime64[D]"),
        end=np.array(ends, dtype="datetime64[D]"),
        data_symbol=tuple(tickers),
        explicit=np.zeros(count, dtype=bool),
        line=np.arange(2, count + 2, dtype=np.int64),
        source="<random membership>",
    )


# ---------------------------------------------------------------------------------------- scanners
def setup_table(rows: Sequence[tuple[int, int, float, float, float]], hard_stop: float = 0.08) -> SetupTable:
    """A SetupTable from ``(session, symbol, reference, score, volume_ratio)`` rows, ranked as RULES
    section 3 says (score desc, volume_ratio desc, symbol index asc within a session)."""
    ordered = sorted(rows, key=lambda r: (r[0], -r[3], -r[4], r[1]))
    n = len(ordered)
    col = list(zip(*ordered, strict=True)) if n else [(), (), (), (), ()]
    ref = np.array(col[2], dtype=np.float64)
    zeros = np.zeros(n)
    return SetupTable(
        session_idx=np.array(col[0], dtype=np.int64),
        symbol_idx=np.array(col[1], dtype=np.int64),
        reference_price=ref,
        initial_stop=ref * (1.0 - hard_stop),
        score=np.array(col[3], dtype=np.float64),
        base_high=zeros.copy(),
        base_days=np.zeros(n, dtype=np.int64),
        base_width=zeros.copy(),
        volume_ratio=np.array(col[4], dtype=np.float64),
        distance_from_high=zeros.copy(),
        rs=zeros.copy(),
    )


@dataclass(frozen=True)
class TableScanner:
    """A vectorised scanner returning a fixed SetupTable (rows past the panel's sessions dropped)."""

    table: SetupTable

    @classmethod
    def from_script(
        cls, panel: Panel, script: Mapping[int, Sequence[tuple[str, float, float]]], hard_stop: float = 0.08
    ) -> TableScanner:
        """Setups from ``{session: [(symbol, score, volume_ratio), ...]}``, the reference price being
        the symbol's close at that session."""
        rows = []
        for t, items in script.items():
            for symbol, score, volume_ratio in items:
                j = panel.symbol_index(symbol)
                rows.append((t, j, float(panel.close[t, j]), score, volume_ratio))
        return cls(setup_table(rows, hard_stop))

    def scan(self, panel: Panel) -> SetupTable:
        keep = self.table.session_idx < panel.n_sessions
        return SetupTable(
            **{name: getattr(self.table, name)[keep] for name in SetupTable.__dataclass_fields__}
        )

    def params(self) -> dict[str, object]:
        """A stable identity for caches: the table's content."""
        return {"rows": len(self.table), "fingerprint": _table_fingerprint(self.table)}


@dataclass(frozen=True)
class ScriptScanner:
    """Setups from a script ``{session: [(symbol, score, volume_ratio), ...]}``, built on the panel
    it scans (the reference price is the symbol's close at that session), ranked as RULES says."""

    script: Mapping[int, Sequence[tuple[str, float, float]]]
    hard_stop: float = 0.08

    def scan(self, panel: Panel) -> SetupTable:
        rows = []
        for t, items in self.script.items():
            if t >= panel.n_sessions:
                continue
            for symbol, score, volume_ratio in items:
                j = panel.symbol_index(symbol)
                rows.append((t, j, float(panel.close[t, j]), score, volume_ratio))
        return setup_table(rows, self.hard_stop)

    def params(self) -> dict[str, object]:
        return {
            "script": sorted((t, tuple(items)) for t, items in self.script.items()),
            "hard_stop": self.hard_stop,
        }


@dataclass(frozen=True)
class RandomSetups:
    """A vectorised scanner of seeded random setups: each bar is one with probability ``density``;
    scores 1-3 and volume ratios 1-2 are whole numbers, so ranking ties happen."""

    seed: int
    density: float

    def scan(self, panel: Panel) -> SetupTable:
        rng = np.random.default_rng(self.seed)
        hit = panel.available & (rng.random(panel.available.shape) < self.density)
        t, j = np.nonzero(hit)
        score = rng.integers(1, 4, t.shape[0]).astype(np.float64)
        vr = rng.integers(1, 3, t.shape[0]).astype(np.float64)
        order = np.lexsort((j, -vr, -score, t))
        t, j, score, vr = t[order], j[order], score[order], vr[order]
        ref = panel.close[t, j]
        zeros = np.zeros(t.shape[0])
        return SetupTable(
            t, j, ref, ref * 0.92, score, ref, np.zeros(t.shape[0], np.int64), zeros, vr, zeros, zeros
        )

    def params(self) -> dict[str, object]:
        return {"seed": self.seed, "density": self.density}


def _table_fingerprint(table: SetupTable) -> str:
    import hashlib

    digest = hashlib.sha256()
    for name in ("session_idx", "symbol_idx", "reference_price", "score", "volume_ratio"):
        digest.update(np.ascontiguousarray(getattr(table, name)).tobytes())
    return digest.hexdigest()[:16]
