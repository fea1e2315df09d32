"""``playbook paper run`` for an Alpaca account: the streams, and a session schedule that fits Alpaca.

One process owns both streams of the account (``trade_updates`` and the market data of its universe)
and steps it on this schedule, New York time, every XNYS session (early closes included):

- **at start**: every session that closed while nothing ran is caught up with its final bars (REST
  into the cache; orders of those sessions that could not be placed in time end ``LATE``), deferred
  ``opg`` orders are sent if their window is open, and missed order events are read over REST;
- **open**: fills arrive on the trade stream; each new position's first stop is placed at once;
- **``decide_minutes_before_close`` before the close** (15 by default): the step of the session runs
  on the day's bar so far (the stream's daily bar, else its minute bars): exits at the close go out as
  ``cls`` orders before Alpaca's cut-off, ten minutes before the close, and the step waits for them;
  entries for the next open are deferred to 19:00;
- **after the close**: the session's final bar is fetched over REST into the cache (differences from
  the stream's bar are logged);
- **19:00**: the deferred ``opg`` orders are sent.

The kill switch (``<account>.halt``) is checked at every wake: the open entry orders are cancelled
and the runner stops. The clock is injectable (tests drive a fake Alpaca with it).
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from trading_playbook.config import PlaybookConfig
from trading_playbook.core.errors import ConfigError, PlaybookError
from trading_playbook.core.panel import Panel, panel_from_arrays
from trading_playbook.data.alpaca_live import LiveBars
from trading_playbook.data.cache import BarCache
from trading_playbook.data.calendar import session_hours, xnys_sessions
from trading_playbook.data.model import BarArrays, concat_arrays
from trading_playbook.paper.account import Account, open_account, step_account
from trading_playbook.paper.alpaca_book import AlpacaBook
from trading_playbook.paper.alpaca_broker import AlpacaBroker, Clock
from trading_playbook.paper.alpaca_guards import cancel_open_entries, halt_path
from trading_playbook.paper.alpaca_orders import NY, in_opg_blackout
from trading_playbook.paper.alpaca_runtime import AlpacaRuntime, install_runtime, make_runtime, remove_runtime
from trading_playbook.paper.alpaca_stream import TradeUpdates

__all__ = ["AlpacaRunner", "RunnerParts"]

_HISTORY_DAYS = 550  # calendar days of bars before the first session (252-session windows and more)


@dataclass
class RunnerParts:
    """The live pieces of a running account (for tests and status)."""

    runtime: AlpacaRuntime
    bars: LiveBars
    updates: TradeUpdates
    book: AlpacaBook


class AlpacaRunner:
    """Runs one Alpaca account until ``stop`` is set (see the module docstring)."""

    def __init__(
        self,
        name: str,
        *,
        clock: Clock,
        stop: threading.Event | None = None,
        home: Path | None = None,
        runtime: AlpacaRuntime | None = None,
        log: Callable[[str], None] = print,
        reconnect_backoff: float = 1.0,
        reconnect_max_backoff: float = 30.0,
    ) -> None:
        self.name = name
        self.clock = clock
        self.stop = stop or threading.Event()
        self.home = home
        self.log = log
        account, journal = open_account(name, home)
        journal.close()
        if account.broker.get("kind") != "alpaca":
            raise ConfigError(
                f"paper account {name!r} trades with the {account.broker.get('kind')} broker, not Alpaca"
            )
        self.account: Account = account
        self.cfg: PlaybookConfig = account.playbook_config()
        if self.cfg.data.source != "alpaca" or not self.cfg.data.symbols:
            raise ConfigError(
                f"paper account {name!r}: an Alpaca account streams its universe, so its config needs "
                '[data] source = "alpaca" and symbols = [...]'
            )
        self.runtime = runtime or make_runtime(self.cfg, live=bool(account.broker.get("live")), clock=clock)
        self.runtime.stop = self.stop
        self.lead = dt.timedelta(minutes=self.cfg.broker.decide_minutes_before_close)
        self.cache = BarCache(self.cfg.data.cache_dir)
        history = account.start - dt.timedelta(days=_HISTORY_DAYS)
        self.bars = LiveBars(
            self.cfg.data.symbols, cache=self.cache, history_start=history.isoformat(), feed=self.cfg.data.feed,
            endpoints=self.runtime.endpoints, clock=clock.now, reconnect_backoff=reconnect_backoff,
            reconnect_max_backoff=reconnect_max_backoff,
        )  # fmt: skip
        self.book = AlpacaBook(account.path)
        self.updates = TradeUpdates(
            name, self.book, self.runtime.trading, self.runtime.credentials, self.runtime.endpoints,
            fallback=self.cfg.broker.opg_fallback, clock=clock.now, reconnect_backoff=reconnect_backoff,
            reconnect_max_backoff=reconnect_max_backoff,
        )  # fmt: skip
        self.finalized: set[dt.date] = set()
        self.daily_wait = 10.0  # seconds to wait at a decision for the stream's daily bars
        self.failures: list[str] = []
        self.retry = dt.timedelta(seconds=60)  # wait after a failed step before the next try
        self.stepped = 0

    @property
    def parts(self) -> RunnerParts:
        return RunnerParts(self.runtime, self.bars, self.updates, self.book)

    # ------------------------------------------------------------------ the loop
    def run(self, *, max_sessions: int | None = None) -> int:
        """Until ``stop`` (or ``max_sessions`` sessions stepped); returns the sessions stepped."""
        install_runtime(self.name, self.runtime)
        self.bars.start()
        self.updates.start()
        try:
            self.bars.wait_connected()
            self.updates.wait_connected()
            self._prime()
            self.log(
                f"{self._stamp()} Alpaca runner for {self.name!r}: "
                + "; ".join(self.runtime.endpoints.describe())
            )
            while not self.stop.is_set():
                if self._halted():
                    break
                self._catch_up()
                self._flush()
                if max_sessions is not None and self.stepped >= max_sessions:
                    break
                wake = self._next_action()
                if wake is None:
                    continue
                self.clock.sleep(max(0.0, (wake - self.clock.now()).total_seconds()), self.stop)
        finally:
            self.updates.stop()
            self.bars.stop()
            remove_runtime(self.name)
        self.log(
            f"{self._stamp()} Alpaca runner for {self.name!r} stopped ({self.stepped} session(s) stepped)"
        )
        return self.stepped

    def _next_action(self) -> dt.datetime | None:
        """Do what is due now (a decision, a finalisation); else the next moment something is due."""
        now = self.clock.now()
        today = now.astimezone(NY).date()
        hours = session_hours(today)
        last = self._last_processed()
        if hours is not None and (last is None or last < today) and today >= self.account.start:
            closed = hours[1]
            decide = closed - self.lead
            if decide <= now < closed:
                if self._decide(today):
                    return None
                return min(closed, now + self.retry)  # a failed step: try again shortly
            if now < decide:
                return decide
        if hours is not None and now >= hours[1] and today not in self.finalized and last == today:
            self._finalize(today)
            return None
        evening = dt.datetime.combine(today, dt.time(19, 0), NY).astimezone(dt.UTC)
        upcoming = [t for t in self._coming_decisions(now) if t > now]
        if hours is not None and now < evening:
            upcoming.append(evening)  # deferred opg orders go out
        if hours is not None and last == today and today not in self.finalized and now < hours[1]:
            upcoming.append(hours[1] + dt.timedelta(minutes=1))  # the final bar after the close
        if not in_opg_blackout(now) and any(h.handling == "deferred" for h in self.book.all_handling()):
            upcoming.append(now + self.retry)  # deferred orders that could not be sent yet
        return min(upcoming)

    def _coming_decisions(self, now: dt.datetime) -> list[dt.datetime]:
        day = now.astimezone(NY).date()
        out = []
        for d in xnys_sessions(day, day + dt.timedelta(days=10))[:3]:
            hours = session_hours(d)
            if hours is not None:
                out.append(hours[1] - self.lead)
        return out

    # ------------------------------------------------------------------ actions
    def _decide(self, session: dt.date) -> bool:
        """The step of ``session`` on the day so far (before the cls cut-off)."""
        missing = self.bars.wait_daily(session, timeout=self.daily_wait)
        if missing:
            self.log(
                f"{self._stamp()} no daily bar from the stream for {', '.join(missing)}; using their minute bars"
            )
        panel = self._panel(provisional=self.bars.provisional(session))
        result = self._step(session, panel, "on the day so far")
        if result is None:
            return False
        self.stepped += len(result.logs)
        return True

    def _step(self, session: dt.date, panel: Panel, how: str) -> Any:
        """One step; a failure is logged and the runner goes on (the next wake tries again)."""
        try:
            result = step_account(self.name, until=session, home=self.home, panel=panel)
        except PlaybookError as exc:
            self.failures.append(str(exc))
            self.log(f"{self._stamp()} the step of {session} failed: {exc}; trying again at the next wake")
            return None
        self._report(result, how)
        return result

    def _catch_up(self) -> None:
        """Every closed session not processed yet: final bars into the cache, then its step."""
        now = self.clock.now()
        last = self._last_processed()
        first = max(
            self.account.start, (last or self.account.start - dt.timedelta(days=1)) + dt.timedelta(days=1)
        )
        today = now.astimezone(NY).date()
        if first > today:
            return
        for raw in xnys_sessions(first, today):
            day = dt.date.fromisoformat(str(raw))
            hours = session_hours(day)
            assert hours is not None
            if hours[1] > now:
                break
            self._finalize(day)
            result = self._step(day, self._panel(), "caught up on final bars")
            if result is None:
                return
            self.stepped += len(result.logs)

    def _prime(self) -> None:
        """Fill the cache with the universe's history through the last session that has closed."""
        now = self.clock.now()
        today = now.astimezone(NY).date()
        for raw in reversed(xnys_sessions(today - dt.timedelta(days=10), today)):
            day = dt.date.fromisoformat(str(raw))
            hours = session_hours(day)
            if hours is not None and hours[1] <= now:
                self._finalize(day)
                return

    def _finalize(self, session: dt.date) -> None:
        report = self.bars.finalize(session)
        self.finalized.add(session)
        for line in report.differences:
            self.log(f"{self._stamp()} final bar differs from the stream's: {line}")

    def _flush(self) -> None:
        try:
            sent = self._broker().flush_deferred()
        except PlaybookError as exc:
            self.failures.append(str(exc))
            self.log(f"{self._stamp()} sending the deferred opg orders failed: {exc}; trying again shortly")
            return
        if sent:
            self.log(f"{self._stamp()} sent {len(sent)} deferred opg order(s)")

    def _halted(self) -> bool:
        path = halt_path(self.account.path)
        if not path.exists():
            return False
        cancelled = cancel_open_entries(self.book, self.runtime.trading)
        self.log(
            f"{self._stamp()} HALTED by {path}: cancelled {len(cancelled)} open entry order(s); stopping"
        )
        return True

    # ------------------------------------------------------------------ helpers
    def _broker(self) -> AlpacaBroker:
        from trading_playbook.engine import portfolio_settings

        return AlpacaBroker(
            self.runtime.trading, self.book, account=self.name, settings=portfolio_settings(self.cfg), clock=self.clock,
            policy=self.runtime.policy, stop=self.stop,
        )  # fmt: skip

    def _panel(self, provisional: BarArrays | None = None) -> Panel:
        """The cached bars of the universe, plus the day so far when given (split 1, no dividend)."""
        bars = self.cache.read(
            self.bars.source.name, self.cfg.data.symbols, adjustment=self.cfg.data.adjustment, packed=False
        )
        if provisional is not None and len(provisional):
            extra = dict(provisional.values)
            extra["split"] = np.where(np.isnan(extra["split"]), 1.0, extra["split"])
            if "adjusted_close" in bars.values:
                extra["adjusted_close"] = extra["close"].copy()
            day = provisional.day
            keep = ~np.isin(day, bars.day)  # once the session's final bars are cached they win
            part = BarArrays(
                provisional.symbols,
                provisional.codes[keep],
                day[keep],
                {k: v[keep] for k, v in extra.items()},
                provisional.origin,
            )
            bars = concat_arrays([bars, part], origin=bars.origin)
        order = np.lexsort((bars.day, bars.codes))
        values = {k: v[order] for k, v in bars.values.items()}
        return panel_from_arrays(
            bars.codes[order], bars.symbols, bars.day[order], values, self.cfg.data.adjustment
        )

    def _last_processed(self) -> dt.date | None:
        last = self.book.last_state()
        return None if last is None else last[0]

    def _report(self, result: Any, how: str) -> None:
        for log in result.logs:
            self.log(
                f"{self._stamp()} stepped {log.date} {how}: equity {log.row[0]:,.2f}, {log.row[2]} position(s)"
            )
        reconciliation = self.runtime.last_reconciliation
        if reconciliation is not None and reconciliation.unexplained:
            self.log(reconciliation.report())

    def _stamp(self) -> str:
        return self.clock.now().isoformat(timespec="seconds")
