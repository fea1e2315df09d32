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

    A long sleep stops just after each session's open and waits until the trade stream has worked
    through the morning's fills (a new position's first stop is placed then, as a live process would),
    before the market moves on.
    """

    def __init__(self, fake: FakeAlpaca) -> None:
        self.fake = fake
        self.parts: RunnerParts | None = None
        self.naps = 0

    def now(self) -> dt.datetime:
        return self.fake.clock.now()

    def sleep(self, seconds: float, stop: threading.Event) -> None:
        target = self.now() + dt.timedelta(seconds=seconds)
        while self.now() < target and not stop.is_set():
            now = self.now()
            opens = [
                s.open
                for s in sessions_between(now.date(), target.date())
                if now < s.open + dt.timedelta(seconds=1) <= target
            ]
            step = min([o + dt.timedelta(seconds=1) for o in opens] + [target])
            self.fake.advance_to(step)
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
    before: Callable[[RunnerParts], Any] | None = None,
) -> Run:
    """Run Alpaca account ``name`` for ``sessions`` decisions (fast reconnects)."""
    clock = clock or MarketClock(fake)
    runner = AlpacaRunner(name, clock=clock, home=home, log=lambda m: None, reconnect_backoff=0.05)
    clock.parts = runner.parts
    if before is not None:
        before(runner.parts)
    stepped = runner.run(max_sessions=sessions)
    return Run(runner, stepped)


def start_fake(bars: pd.DataFrame, **kwargs: Any) -> FakeAlpaca:
    """A started fake, its clock on the evening before ``FIRST``."""
    return FakeAlpaca(bars, now=to_utc("2017-12-29 20:00"), **kwargs).start()
