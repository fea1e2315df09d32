"""What the fake market traded: daily bars (raw, with splits) and optional minute bars.

Daily bars are a long table ``symbol, date, open, high, low, close, volume, split`` (optionally
``adjusted_close``), raw prices as traded, like the shared data. Minute bars, when a test feeds them,
are ``symbol, t, open, high, low, close, volume`` with ``t`` the UTC start of the minute.

Visibility follows the clock: the REST API serves a daily bar once its session has closed and a
minute bar once its minute has ended, so a client can never see the future.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .clock import ET, UTC, Session, session

DAILY_COLUMNS = ("open", "high", "low", "close", "volume")


@dataclass(frozen=True)
class Bar:
    """One bar as traded (raw prices)."""

    open: float
    high: float
    low: float
    close: float
    volume: float


def synth_minutes(symbol: str, day: object, bar: Bar, times: tuple[str, ...] = ()) -> pd.DataFrame:
    """Three minute bars whose aggregate is exactly ``bar`` (open -> low -> high -> close or the reverse).

    ``times`` are New York clock times of the three minutes (default: the open, two hours later, and
    half an hour before the close); all fall before the fake's reveal time so the day's range is
    complete when the platform decides.
    """
    s = session(day)
    if s is None:
        raise ValueError(f"{day} is not an XNYS session")
    if times:
        stamps = [pd.Timestamp(f"{s.day} {t}").tz_localize(ET).tz_convert(UTC) for t in times]
    else:
        stamps = [
            pd.Timestamp(s.open),
            pd.Timestamp(s.open) + pd.Timedelta(hours=2),
            pd.Timestamp(s.close) - pd.Timedelta(minutes=30),
        ]
    mid = (bar.low, bar.high) if bar.close >= bar.open else (bar.high, bar.low)
    points = [bar.open, mid[0], mid[1], bar.close]
    third = np.floor(bar.volume / 3)
    volumes = [third, third, bar.volume - 2 * third]
    rows = []
    for i, stamp in enumerate(stamps):
        a, b = points[i], points[i + 1]
        rows.append(
            {
                "symbol": symbol,
                "t": stamp,
                "open": a,
                "high": max(a, b),
                "low": min(a, b),
                "close": b,
                "volume": volumes[i],
            }
        )
    return pd.DataFrame(rows)


class Market:
    """Daily and minute bars with look-ups by (symbol, session) and the REST encodings."""

    def __init__(self, bars: pd.DataFrame | None = None) -> None:
        self.daily = pd.DataFrame(columns=["symbol", "date", *DAILY_COLUMNS, "split"])
        self.minutes = pd.DataFrame(columns=["symbol", "t", *DAILY_COLUMNS])
        self._by_key: dict[tuple[str, dt.date], Bar] = {}
        self._memo: dict[tuple[object, ...], list[tuple[str, dict[str, object]]]] = {}
        self._arrays: dict[str, dict[str, np.ndarray]] = {}
        self._daily_symbols: set[str] | None = None
        if bars is not None:
            self.add_daily(bars)

    # ------------------------------------------------------------------ feeding
    def add_daily(self, bars: pd.DataFrame) -> None:
        """Add (or replace) daily bars; ``split`` defaults to 1.0."""
        frame = bars.copy()
        frame["symbol"] = frame["symbol"].astype(str)
        frame["date"] = pd.to_datetime(frame["date"]).dt.tz_localize(None).dt.normalize()
        if "split" not in frame:
            frame["split"] = 1.0
        frame["volume"] = frame["volume"].astype("float64")
        merged = pd.concat([self.daily, frame], ignore_index=True) if len(self.daily) else frame
        merged = merged.drop_duplicates(["symbol", "date"], keep="last")
        self.daily = merged.sort_values(["symbol", "date"]).reset_index(drop=True)
        for row in frame.itertuples(index=False):
            self._by_key[(str(row.symbol), row.date.date())] = Bar(
                float(row.open), float(row.high), float(row.low), float(row.close), float(row.volume)
            )
        self._memo.clear()
        self._arrays.clear()
        self._daily_symbols = None

    def add_minutes(self, bars: pd.DataFrame) -> None:
        """Add minute bars (``t`` as UTC instants of the minute's start)."""
        frame = bars.copy()
        frame["t"] = pd.to_datetime(frame["t"], utc=True)
        merged = pd.concat([self.minutes, frame], ignore_index=True) if len(self.minutes) else frame
        merged = merged.drop_duplicates(["symbol", "t"], keep="last")
        self.minutes = merged.sort_values(["t", "symbol"]).reset_index(drop=True)
        self._memo.clear()

    # ------------------------------------------------------------------ look-ups
    def bar(self, symbol: str, day: dt.date) -> Bar | None:
        return self._by_key.get((symbol, day))

    def symbols(self) -> set[str]:
        return set(self.daily["symbol"].unique()) | set(self.minutes["symbol"].unique())

    def last_close(self, symbol: str, before: dt.datetime) -> float | None:
        """Close of the symbol's latest session that closed at or before ``before``."""
        from .clock import last_close_before

        closed = last_close_before(before)
        if closed is None or symbol not in self._by_symbol():
            return None
        a = self._series(symbol)
        n = int(np.searchsorted(a["day"], np.datetime64(closed.day, "D"), side="right"))
        return float(a["close"][n - 1]) if n else None

    def _by_symbol(self) -> set[str]:
        if self._daily_symbols is None:
            self._daily_symbols = set(self.daily["symbol"].unique())
        return self._daily_symbols

    def minutes_between(self, start: dt.datetime, end: dt.datetime) -> pd.DataFrame:
        """Minute bars whose minute ends in ``(start, end]`` (what a stream publishes as time passes)."""
        if not len(self.minutes):
            return self.minutes
        ends = self.minutes["t"] + pd.Timedelta(minutes=1)
        return self.minutes[(ends > pd.Timestamp(start)) & (ends <= pd.Timestamp(end))]

    def latest_minute_close(self, symbol: str, s: Session, now: dt.datetime) -> float | None:
        """Close of the symbol's last minute bar of session ``s`` that has ended by ``now``."""
        if not len(self.minutes):
            return None
        part = self.minutes[
            (self.minutes["symbol"] == symbol)
            & (self.minutes["t"] >= pd.Timestamp(s.open))
            & (self.minutes["t"] + pd.Timedelta(minutes=1) <= pd.Timestamp(now))
        ]
        return None if part.empty else float(part["close"].iloc[-1])

    # ------------------------------------------------------------------ REST encodings
    def daily_rows(
        self, symbols: list[str], start: str, end: str, adjustment: str, now: dt.datetime
    ) -> list[tuple[str, dict[str, object]]]:
        """Every visible daily bar of the request, symbol-major, as Alpaca encodes them.

        ``split`` divides raw prices by the product of the symbol's later split coefficients as of
        ``now`` (splits not yet effective do not count); ``all`` scales by adjusted_close / close.
        """
        last = _last_closed_day(now)
        key = ("1Day", tuple(symbols), start, end, adjustment, last)
        if key not in self._memo:
            self._memo[key] = self._daily_rows(
                symbols, pd.Timestamp(start), pd.Timestamp(end), adjustment, last
            )
        return self._memo[key]

    def _series(self, symbol: str) -> dict[str, np.ndarray]:
        """One symbol's daily columns as arrays, with the UTC stamps Alpaca gives daily bars."""
        if symbol not in self._arrays:
            frame = self.daily[self.daily["symbol"] == symbol]
            stamps = frame["date"].dt.tz_localize(ET).dt.tz_convert(UTC)
            cols = {c: frame[c].to_numpy(np.float64) for c in (*DAILY_COLUMNS, "split")}
            if "adjusted_close" in frame:
                cols["adjusted_close"] = frame["adjusted_close"].to_numpy(np.float64)
            cols["day"] = frame["date"].to_numpy("datetime64[D]")
            cols["stamp"] = stamps.dt.tz_localize(None).to_numpy("datetime64[s]")
            cols["text"] = np.array(stamps.dt.strftime("%Y-%m-%dT%H:%M:%SZ").tolist(), dtype=object)
            self._arrays[symbol] = cols
        return self._arrays[symbol]

    def _daily_rows(
        self,
        symbols: list[str],
        start: pd.Timestamp,
        end: pd.Timestamp,
        adjustment: str,
        last: dt.date | None,
    ) -> list[tuple[str, dict[str, object]]]:
        rows: list[tuple[str, dict[str, object]]] = []
        if last is None:
            return rows
        lo = np.datetime64(start.tz_convert(UTC).tz_localize(None) if start.tzinfo else start, "s")
        hi = np.datetime64(end.tz_convert(UTC).tz_localize(None) if end.tzinfo else end, "s")
        for symbol in sorted(symbols):
            a = self._series(symbol)
            n = int(np.searchsorted(a["day"], np.datetime64(last, "D"), side="right"))  # visible bars
            if n == 0:
                continue
            later = np.ones(n)
            later[:-1] = np.cumprod(a["split"][:n][::-1])[::-1][1:]
            scale = np.ones(n) if adjustment == "raw" else 1 / later
            if adjustment == "all":
                scale = a["adjusted_close"][:n] / a["close"][:n]
            keep = np.flatnonzero((a["stamp"][:n] >= lo) & (a["stamp"][:n] <= hi))
            for i in keep:
                s = scale[i]
                volume = a["volume"][i] if adjustment == "raw" else a["volume"][i] / s
                rows.append(
                    (
                        symbol,
                        {
                            "t": a["text"][i],
                            "o": round(float(a["open"][i]) * s, 4),
                            "h": round(float(a["high"][i]) * s, 4),
                            "l": round(float(a["low"][i]) * s, 4),
                            "c": round(float(a["close"][i]) * s, 4),
                            "v": float(volume),
                            "n": 100,
                            "vw": round(float(a["close"][i]) * s, 4),
                        },
                    )
                )
        return rows

    def minute_rows(
        self, symbols: list[str], start: str, end: str, now: dt.datetime
    ) -> list[tuple[str, dict[str, object]]]:
        """Visible minute bars of the request (raw), symbol-major."""
        if not len(self.minutes):
            return []
        m = self.minutes
        ends = m["t"] + pd.Timedelta(minutes=1)
        keep = (
            m["symbol"].isin(symbols)
            & (m["t"] >= pd.Timestamp(start))
            & (m["t"] <= pd.Timestamp(end))
            & (ends <= pd.Timestamp(now))
        )
        part = m[keep].sort_values(["symbol", "t"])
        return [(str(r["symbol"]), _encode(r["t"], r, 1.0, float(r["volume"]))) for _, r in part.iterrows()]


def _encode(stamp: pd.Timestamp, row: pd.Series, scale: float, volume: float) -> dict[str, object]:
    return {
        "t": pd.Timestamp(stamp).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "o": round(float(row["open"]) * scale, 4),
        "h": round(float(row["high"]) * scale, 4),
        "l": round(float(row["low"]) * scale, 4),
        "c": round(float(row["close"]) * scale, 4),
        "v": volume,
        "n": 100,
        "vw": round(float(row["close"]) * scale, 4),
    }


def _last_closed_day(now: dt.datetime) -> dt.date | None:
    """The latest session date whose close is at or before ``now``."""
    from .clock import last_close_before

    s = last_close_before(now)
    return None if s is None else s.day
