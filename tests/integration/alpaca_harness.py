"""Shared pieces of the Alpaca account tests: the fake market on real data, configs, a clock that moves
the fake market, and helpers to run an account through sessions."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from fakes.alpaca import FakeAlpaca, to_utc
from fakes.alpaca.clock import sessions_between
from trading_playbook.paper.alpaca_runner import AlpacaRunner, RunnerParts

from .data_fixtures import shared_slice

# 20 liquid S&P 500 stocks without a split in 2016-2019; 2018-01-02..2018-02-13 has entries, exits at
# the close and two hard stops under the relaxed preset
UNIVERSE = [
    "AMZN", "AAPL", "FB", "MSFT", "NFLX", "TSLA", "NVDA", "BAC", "GOOGL", "JPM",
    "BA", "MU", "AMD", "WFC", "C", "INTC", "T", "GE", "XOM", "V",
]  # fmt: skip
FIRST, LAST = "2018-01-02", "2018-02-13"
HISTORY = "2016-07-01"


def market_bars() -> pd.DataFrame:
    return shared_slice(UNIVERSE, HISTORY, "2018-03-31")


def write_config(path: Path, fake: FakeAlpaca, cache: Path, **extra: str) -> Path:
    """A config trading ``UNIVERSE`` through ``fake``; ``extra`` adds TOML lines per table."""
    symbols = ", ".join(f'"{s}"' for s in UNIVERSE)
    tables = {
        "data": f'source = "alpaca"\nsymbols = [{symbols}]\ncache_dir = "{cache}"\nurl = "{fake.url}"\nfeed = "iex"',
        "scanner": 'name = "daily_breakout"\npreset = "relaxed"',
        "exit": 'name = "smart_exits"',
        "portfolio": "max_positions = 3\nslippage_bps = 0",
        "broker": (
            f'trading_url = "{fake.url}"\ntrading_stream_url = "{fake.trading_stream_url}"\n'
            f'data_stream_url = "{fake.data_stream_url}"\nfill_wait_seconds = 5\nclose_wait_seconds = 60'
        ),
    }
    for table, lines in extra.items():
        tables[table] = (tables.get(table, "") + "\n" + lines).strip()
    path.write_text("\n\n".join(f"[{name}]\n{body}" for name, body in tables.items()) + "\n")
    return path


class MarketClock:
    """The runner's clock: sleeping moves the fake market forward.

    A sleep first lets the trade stream finish the work it has queued (a start-up recovery), and a
    long sleep stops just after each session's open (and each delayed fill) and waits until the
    trade stream has worked through the fills (a new position's first stop is placed then, as a live process would),
    before the market moves on. ``at(time, action)`` runs a test's action (a fault, an outage) when
    the market reaches that time.
    """

    def __init__(self, fake: FakeAlpaca) -> None:
        self.fake = fake
        self.parts: RunnerParts | None = None
        self.naps = 0
        self.actions: list[tuple[dt.datetime, Callable[[], Any]]] = []

    def at(self, when: str, action: Callable[[], Any]) -> None:
        """Run ``action`` when the market clock reaches ``when`` (New York time)."""
        self.actions.append((to_utc(when), action))
        self.actions.sort(key=lambda a: a[0])

    def now(self) -> dt.datetime:
        return self.fake.clock.now()

    def sleep(self, seconds: float, stop: threading.Event) -> None:
        # first the work already queued (a new runner's start-up recovery places a filled entry's
        # stop now, as a live process would, not hours later when the market has moved on)
        self.settle()
        target = self.now() + dt.timedelta(seconds=seconds)
        while self.now() < target and not stop.is_set():
            now = self.now()
            opens = [s.open + dt.timedelta(seconds=1) for s in sessions_between(now.date(), target.date())]
            releases = [
                t + dt.timedelta(seconds=1) for t in self.fake.broker.release_times()
            ]  # delayed fills
            marks = [t for t in [*opens, *releases, *(a[0] for a in self.actions)] if now < t <= target]
            self.fake.advance_to(min([*marks, target]))
            self.settle()
            while self.actions and self.actions[0][0] <= self.now():
                self.actions.pop(0)[1]()
                self.settle()
        self.naps += 1

    def settle(self) -> None:
        """Let every published event be delivered and handled."""
        self.fake.wait_delivered()
        if self.parts is not None:
            time.sleep(0.01)
            self.parts.updates.wait_idle()


@dataclass
class Run:
    runner: AlpacaRunner
    stepped: int


def run_account(
    name: str,
    fake: FakeAlpaca,
    home: Path,
    *,
    sessions: int,
    clock: MarketClock | None = None,
    before: Callable[[AlpacaRunner], Any] | None = None,
    log: Callable[[str], None] = lambda message: None,
) -> Run:
    """Run Alpaca account ``name`` for ``sessions`` decisions (fast reconnects, short timeouts)."""
    from trading_playbook.paper.account import open_account
    from trading_playbook.paper.alpaca_runtime import make_runtime

    clock = clock or MarketClock(fake)
    account, journal = open_account(name, home)
    journal.close()
    runtime = make_runtime(
        account.playbook_config(), live=bool(account.broker.get("live")), clock=clock,
        timeout=(2.0, 1.0), backoff=0.01, max_retries=3,
    )  # fmt: skip
    runner = AlpacaRunner(
        name,
        clock=clock,
        home=home,
        log=log,
        reconnect_backoff=0.05,
        reconnect_max_backoff=0.2,
        runtime=runtime,
    )
    clock.parts = runner.parts
    if before is not None:
        before(runner)
    stepped = runner.run(max_sessions=sessions)
    return Run(runner, stepped)


def start_fake(bars: pd.DataFrame, **kwargs: Any) -> FakeAlpaca:
    """A started fake, its clock on the evening before ``FIRST``."""
    return FakeAlpaca(bars, now=to_utc("2017-12-29 20:00"), **kwargs).start()
