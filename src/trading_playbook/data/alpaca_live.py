"""Live market data from Alpaca: the market-data stream for a universe, gaps back-filled over REST, and
the final daily bar after the close into the daily cache.

One :class:`LiveBars` per cache folder and per Alpaca account owns the stream (Alpaca allows one
market-data connection per account): a file lock in the cache folder stops a second process, and
the server's "connection limit exceeded" answer stops a second machine; both end in a
:class:`~trading_playbook.core.errors.SourceError` naming what to stop.

What happens to each kind of bar
--------------------------------
- **Minute bars** (channel ``bars``) are validated and stored in ``intraday.sqlite``
  (:mod:`trading_playbook.data.alpaca_intraday`).
- **Daily bars** (channel ``dailyBars``: the session so far) are validated and kept as provisional
  bars. :meth:`LiveBars.provisional` gives the day so far for a decision before the close (the
  stream's daily bar, else the minute bars aggregated).
- **The final daily bar** comes over REST after the close: :meth:`LiveBars.finalize` fills the daily
  cache through that session with :func:`~trading_playbook.data.fill.fill_cache` (validated, split
  coefficients derived as for any Alpaca fetch, every missing session back-filled, so a process that
  was down for days catches up), then compares the stream's bars with the REST bars and reports and
  logs every difference. The REST bar is the one kept.

Gaps
----
Every (re)connection of the stream during or after a session is a possible gap: from the end of the
last stored minute (or the session's open) to the moment of connection. It is recorded and back-filled
with the REST minute bars of the universe; a back-fill that fails stays open and is retried by
:meth:`LiveBars.backfill_open_gaps`. ``silence_timeout`` (seconds) also turns a mute connection into a
reconnection, hence a gap.

Keys are used in the stream handshake only: the websocket frame log (which would show them) is kept
at INFO, and log records of the stream loggers pass a :class:`RedactingFilter`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import datetime as dt
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from trading_playbook.core.errors import SourceError
from trading_playbook.data.alpaca import AlpacaSource
from trading_playbook.data.alpaca_intraday import Gap, IntradayStore, MinuteBar, bar_problem
from trading_playbook.data.alpaca_settings import (
    AlpacaEndpoints,
    Credentials,
    RedactingFilter,
    load_credentials,
    redact,
    resolve_endpoints,
)
from trading_playbook.data.cache import BarCache
from trading_playbook.data.calendar import session_hours
from trading_playbook.data.fill import FillReport, fill_cache
from trading_playbook.data.model import BarArrays, concat_arrays, normalize_symbol

__all__ = ["FinalizeReport", "LiveBars"]

log = logging.getLogger(__name__)
_WS_LOG = logging.getLogger("trading_playbook.data.alpaca_live.websocket")
_WS_LOG.setLevel(logging.INFO)  # frame-level DEBUG lines would show the authentication frame
_STREAM_LOGGERS = ("alpaca.data.live.websocket", _WS_LOG.name)
_NY = "America/New_York"


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class FinalizeReport:
    """What :meth:`LiveBars.finalize` did for one session."""

    session: dt.date
    fill: FillReport
    missing: tuple[str, ...] = ()  # symbols without a final bar for the session
    differences: list[str] = field(default_factory=list)  # stream bar vs REST bar, one line each


def _install_redaction(credentials: Credentials) -> None:
    for name in _STREAM_LOGGERS:
        logger = logging.getLogger(name)
        if not any(
            isinstance(f, RedactingFilter) and f.secrets == credentials.secrets for f in logger.filters
        ):
            logger.addFilter(RedactingFilter(credentials.secrets))


def _bar_from_message(msg: dict[str, Any]) -> MinuteBar:
    stamp = msg["t"]
    t = stamp.to_datetime() if hasattr(stamp, "to_datetime") else dt.datetime.fromisoformat(str(stamp))
    return MinuteBar(
        normalize_symbol(str(msg["S"])),
        t.astimezone(dt.UTC),
        float(msg["o"]),
        float(msg["h"]),
        float(msg["l"]),
        float(msg["c"]),
        float(msg["v"]),
    )


def _session_of(t: dt.datetime) -> dt.date:
    """The New York date of an instant (a daily bar is stamped at midnight New York time)."""
    import pandas as pd

    return pd.Timestamp(t).tz_convert(_NY).date()  # type: ignore[no-any-return]


class LiveBars:
    """The market-data stream of one universe, its gaps, provisional bars and the final daily bars.

    Parameters
    ----------
    symbols
        The universe (the account's symbols).
    cache
        The daily cache the final bars go into; ``intraday.sqlite`` lives in its folder.
    history_start
        First session the daily cache must hold for these symbols (``finalize`` back-fills from it).
    feed
        ``iex`` or ``sip``.
    endpoints
        Resolved URLs (default: from the environment, see :mod:`trading_playbook.data.alpaca_settings`).
    clock
        Returns the current aware UTC time (injected by tests and the daemon).
    silence_timeout
        Seconds without market data after which the connection is treated as dead (None: never).
    reconnect_backoff, reconnect_max_backoff
        First and longest wait before reconnecting, in seconds (the wait doubles per failed attempt).
    """

    def __init__(
        self,
        symbols: Sequence[str],
        *,
        cache: BarCache,
        history_start: str,
        feed: str = "iex",
        endpoints: AlpacaEndpoints | None = None,
        clock: Callable[[], dt.datetime] = _utc_now,
        silence_timeout: float | None = None,
        reconnect_backoff: float = 1.0,
        reconnect_max_backoff: float = 30.0,
    ) -> None:
        if not symbols:
            raise SourceError("the live feed needs at least one symbol")
        self.symbols = tuple(sorted({normalize_symbol(s) for s in symbols}))
        self.cache = cache
        self.history_start = history_start
        self.feed = feed.lower()
        self.endpoints = endpoints or resolve_endpoints()
        self.clock = clock
        self.silence_timeout = silence_timeout
        self.reconnect_backoff = reconnect_backoff
        self.reconnect_max_backoff = reconnect_max_backoff
        self.source = AlpacaSource(self.feed, base_url=self.endpoints.data.url)
        self.store = IntradayStore(cache.root / "intraday.sqlite")
        self.rejected: list[str] = []  # invalid bars received, one line each
        self.connections = 0
        self.fatal: str | None = None
        self._credentials: Credentials | None = None
        self._stream: Any = None
        self._thread: threading.Thread | None = None
        self._connected = threading.Event()
        self._daily_arrived = threading.Condition()
        self._lock: Any = None
        self._backfills: list[asyncio.Future[Any]] = []

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> LiveBars:
        """Take the stream lock, connect and subscribe (in a background thread)."""
        from filelock import FileLock, Timeout

        self._credentials = load_credentials(error=SourceError)
        _install_redaction(self._credentials)
        lock = FileLock(str(self.cache.root / "locks" / "alpaca-market-stream.lock"))
        try:
            lock.acquire(timeout=0)
        except Timeout:
            raise SourceError(
                f"another process owns the Alpaca market-data stream of the cache at {self.cache.root}; "
                "stop it first (one process owns the streams)"
            ) from None
        self._lock = lock
        self._stream = self._make_stream()
        self._thread = threading.Thread(target=self._run, name="alpaca-market-stream", daemon=True)
        self._thread.start()
        log.info(
            "Alpaca market-data stream for %d symbol(s) at %s", len(self.symbols), self.endpoints.data_stream
        )
        return self

    def stop(self) -> None:
        """Disconnect, wait for the stream thread and running back-fills, release the lock."""
        stream, thread = self._stream, self._thread
        if stream is not None and thread is not None and stream._loop is not None:

            async def shutdown() -> None:
                await stream.stop_ws()
                await stream.close()  # wakes the receive wait at once (alpaca-py polls every 5 s)

            # the loop ends by itself when the stream was refused; then there is nothing to stop (the
            # loop is closed: RuntimeError; or it stops while shutdown() is pending: the future is
            # cancelled). A shutdown slower than 5 s is left to the thread join below.
            with contextlib.suppress(RuntimeError, concurrent.futures.CancelledError, TimeoutError):
                asyncio.run_coroutine_threadsafe(shutdown(), stream._loop).result(timeout=5)
        if thread is not None:
            thread.join(timeout=15)
        self._stream = self._thread = None
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def __enter__(self) -> LiveBars:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def wait_connected(self, timeout: float = 30.0) -> None:
        """Block until the stream is connected and authenticated, or raise what stopped it."""
        deadline = time.monotonic() + timeout
        while not self._connected.is_set():
            if self.fatal is not None:
                raise SourceError(self.fatal)
            if time.monotonic() > deadline:
                raise SourceError(
                    f"the Alpaca market-data stream did not connect within {timeout:.0f} s "
                    f"({self.endpoints.data_stream}); check the network, the feed and the keys"
                )
            time.sleep(0.02)
        if self.fatal is not None:
            raise SourceError(self.fatal)

    # ------------------------------------------------------------------ the stream
    def _make_stream(self) -> Any:
        from alpaca.data.enums import DataFeed
        from alpaca.data.live import StockDataStream

        owner = self
        assert self._credentials is not None

        class _Stream(StockDataStream):  # type: ignore[misc]
            """alpaca-py's stream, telling its owner about every (re)connection and fatal refusal."""

            async def _start_ws(self) -> None:
                try:
                    await super()._start_ws()
                except ValueError as exc:
                    text = str(exc)
                    if "connection limit" in text or "auth" in text:
                        owner._refused(text)
                        self._should_run = False
                        if self._stop_stream_event is not None:
                            self._stop_stream_event.set()
                    raise
                owner._on_connect()

        stream = _Stream(
            self._credentials.key_id,
            self._credentials.secret,
            raw_data=True,
            feed=DataFeed(self.feed),
            url_override=self.endpoints.data_stream_for(self.feed),
            websocket_params={"ping_interval": 10, "ping_timeout": 180, "max_queue": 1024, "logger": _WS_LOG},
            data_timeout=self.silence_timeout,
        )
        stream._reconnect_min_backoff = self.reconnect_backoff
        stream._reconnect_max_backoff = self.reconnect_max_backoff
        stream.subscribe_bars(self._on_minute, *self.symbols)
        stream.subscribe_daily_bars(self._on_daily, *self.symbols)
        return stream

    def _run(self) -> None:
        asyncio.run(self._stream._run_forever())

    def _refused(self, text: str) -> None:
        secrets = self._credentials.secrets if self._credentials else ()
        if "connection limit" in text:
            self.fatal = (
                "Alpaca refused the market-data stream: connection limit exceeded (another process or machine "
                "streams with these keys; one process owns the streams)"
            )
        else:
            self.fatal = redact(
                f"Alpaca refused the market-data stream keys ({text}); check the keys", secrets
            )
        log.error("%s", self.fatal)

    def _on_connect(self) -> None:
        gap = self._gap_at(self.clock(), "connected" if self.connections == 0 else "reconnected")
        if gap is not None:
            loop = asyncio.get_running_loop()
            self._backfills.append(loop.run_in_executor(None, self._backfill, gap))
        self.connections += 1  # counted once the gap (if any) is being back-filled
        self._connected.set()

    def _gap_at(self, now: dt.datetime, reason: str) -> Gap | None:
        """The stretch of today's session the stream has not delivered, as of ``now``."""
        hours = session_hours(_session_of(now))
        if hours is None or now <= hours[0]:
            return None
        opened, closed = hours
        last = self.store.last_minute(self.source.name, self.symbols)
        start = max(opened, last + dt.timedelta(minutes=1)) if last is not None else opened
        end = min(now, closed)
        if start >= end:
            return None
        return self.store.add_gap(self.source.name, Gap(start, end, reason))

    async def _on_minute(self, msg: dict[str, Any]) -> None:
        bar = self._checked(msg, "minute")
        if bar is not None:
            self.store.put_minutes(self.source.name, [bar], "stream")

    async def _on_daily(self, msg: dict[str, Any]) -> None:
        bar = self._checked(msg, "daily")
        if bar is not None:
            self.store.put_daily(self.source.name, _session_of(bar.t), bar)
            with self._daily_arrived:
                self._daily_arrived.notify_all()

    def _checked(self, msg: dict[str, Any], kind: str) -> MinuteBar | None:
        try:
            bar = _bar_from_message(msg)
        except (KeyError, TypeError, ValueError) as exc:
            self.rejected.append(f"malformed {kind} bar message ({type(exc).__name__})")
            log.warning("rejected a malformed %s bar from the Alpaca stream: %s", kind, type(exc).__name__)
            return None
        problem = bar_problem(bar)
        if problem is not None:
            line = f"{kind} bar of {bar.symbol} at {bar.t.isoformat()}: {problem}"
            self.rejected.append(line)
            log.warning("rejected an invalid %s", line)
            return None
        return bar

    # ------------------------------------------------------------------ gaps
    def _backfill(self, gap: Gap) -> Gap:
        """Fetch the universe's minute bars of ``gap`` over REST and store the valid ones."""
        try:
            frames = self.source.minute_bars(self.symbols, gap.start, gap.end)
        except SourceError as exc:
            gap.error = str(exc)[:500]
            log.warning("back-fill of the stream gap %s..%s failed: %s", gap.start, gap.end, gap.error)
            self.store.close_gap(gap)
            return gap
        bars = []
        for symbol, frame in frames.items():
            for row in frame.itertuples(index=False):
                bar = MinuteBar(
                    symbol, row.t.to_pydatetime(), row.open, row.high, row.low, row.close, row.volume
                )
                problem = bar_problem(bar)
                if problem is None and gap.start <= bar.t < gap.end:
                    bars.append(bar)
                elif problem is not None:
                    self.rejected.append(f"minute bar of {symbol} at {bar.t.isoformat()}: {problem}")
        gap.bars = self.store.put_minutes(self.source.name, bars, "rest")
        gap.error = None
        self.store.close_gap(gap)
        log.info(
            "back-filled the stream gap %s..%s (%s) with %d minute bar(s)",
            gap.start,
            gap.end,
            gap.reason,
            gap.bars,
        )
        return gap

    def wait_backfills(self, timeout: float = 30.0) -> list[Gap]:
        """Wait for the back-fills started by (re)connections; the gaps they handled."""
        done = []
        for future in list(self._backfills):
            done.append(asyncio.run_coroutine_threadsafe(_wrap(future), self._stream._loop).result(timeout))
        return done

    def backfill_open_gaps(self) -> list[Gap]:
        """Retry every gap whose back-fill has not succeeded yet (synchronously)."""
        return [self._backfill(g) for g in self.store.gaps(self.source.name, open_only=True)]

    # ------------------------------------------------------------------ daily bars
    def wait_daily(self, session: dt.date, timeout: float = 10.0) -> tuple[str, ...]:
        """Wait (up to ``timeout`` seconds) until the stream's daily bar of ``session`` has come for
        every symbol; the symbols still without one."""
        deadline = time.monotonic() + timeout
        with self._daily_arrived:
            while True:
                have = self.store.daily(self.source.name, session)
                missing = tuple(s for s in self.symbols if s not in have)
                left = deadline - time.monotonic()
                if not missing or left <= 0:
                    return missing
                self._daily_arrived.wait(min(left, 0.5))

    def provisional(self, session: dt.date) -> BarArrays:
        """The day so far for each symbol: the stream's daily bar, else the stored minute bars aggregated.

        Raw prices; ``split`` is NaN (unknown until the REST bar after the close). Symbols without
        any data of the session are left out.
        """
        daily = self.store.daily(self.source.name, session)
        hours = session_hours(session)
        minutes = [] if hours is None else self.store.minutes(self.source.name, self.symbols, *hours)
        parts = []
        for symbol in self.symbols:
            bar = daily.get(symbol) or _aggregate([m for m in minutes if m.symbol == symbol])
            if bar is None:
                continue
            values = {
                k: np.array([getattr(bar, k)], np.float64) for k in ("open", "high", "low", "close", "volume")
            }
            values["split"] = np.array([np.nan])
            day = np.array([np.datetime64(session, "D")])
            parts.append(
                BarArrays((symbol,), np.zeros(1, np.int64), day, values, "Alpaca stream (provisional)")
            )
        return concat_arrays(parts, origin="Alpaca stream (provisional)")

    def finalize(self, session: dt.date) -> FinalizeReport:
        """After the close: the final bars of ``session`` (and any missing before it) into the daily cache."""
        hours = session_hours(session)
        if hours is None:
            raise SourceError(f"{session} is not an XNYS session; nothing to finalize")
        if self.clock() < hours[1]:
            raise SourceError(
                f"the session {session} has not closed yet (close {hours[1].isoformat()}); finalize after it"
            )
        report = fill_cache(
            self.cache,
            self.source,
            self.symbols,
            self.history_start,
            session.isoformat(),
            final_through=session.isoformat(),
        )
        final = self.cache.read(self.source.name, self.symbols, packed=False)
        day = np.datetime64(session, "D")
        rows = {
            final.symbols[c]: i
            for i, (c, d) in enumerate(zip(final.codes, final.day, strict=True))
            if d == day
        }
        out = FinalizeReport(session, report, tuple(s for s in self.symbols if s not in rows))
        for symbol, bar in sorted(self.store.daily(self.source.name, session).items()):
            if symbol not in rows:
                continue
            i = rows[symbol]
            for name in ("open", "high", "low", "close", "volume"):
                rest, streamed = float(final.values[name][i]), float(getattr(bar, name))
                if not np.isclose(rest, streamed, rtol=1e-9, atol=0.0):
                    out.differences.append(f"{symbol} {session} {name}: stream {streamed:g}, REST {rest:g}")
        for line in out.differences:
            log.warning("stream and REST disagree (the REST bar is kept): %s", line)
        if out.missing:
            log.warning("no final bar for %s on %s", ", ".join(out.missing), session)
        return out


def _aggregate(minutes: list[MinuteBar]) -> MinuteBar | None:
    if not minutes:
        return None
    return MinuteBar(
        minutes[0].symbol,
        minutes[0].t,
        minutes[0].open,
        max(m.high for m in minutes),
        min(m.low for m in minutes),
        minutes[-1].close,
        sum(m.volume for m in minutes),
    )


async def _wrap(future: asyncio.Future[Any]) -> Any:
    return await future
