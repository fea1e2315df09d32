"""Restarts and reconciliation of an Alpaca account: a runner that dies between an order's submission
and its fill, or between the fill and the journal write, is replaced by a new one that reconciles and
ends like the uninterrupted run, placing nothing twice; a position the journal cannot explain blocks
entries with a report until --adopt or --flatten resolves it.

The deaths here are simulated inside the test process (the runner stopped, or a ``BaseException``
raised by the journal's fault hook), which lets a test look at the runner's parts. Real ``kill -9``s
of ``playbook paper run`` processes at the same moments (and more) are in
``test_alpaca_process_kills.py``."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from fakes.alpaca import FakeAlpaca
from trading_playbook.paper import queries
from trading_playbook.paper.account import init_account, open_account
from trading_playbook.paper.alpaca_adopt import adopt, flatten
from trading_playbook.paper.alpaca_book import AlpacaBook
from trading_playbook.paper.alpaca_reconcile import reconcile
from trading_playbook.paper.alpaca_runtime import make_runtime
from trading_playbook.paper.journal import set_fault_hook, writes_so_far

from .alpaca_harness import FIRST, MarketClock, market_bars, run_account, start_fake, write_config
from .test_alpaca_account_faults import no_order_twice, summary

HOME = "home"


class Killed(BaseException):
    """The process dies here (no handler of the runner catches it)."""


@pytest.fixture(scope="module")
def bars():
    return market_bars()


def started(tmp: Path, bars) -> FakeAlpaca:
    fake = start_fake(bars)
    write_config(tmp / "s.toml", fake, tmp / "cache")
    init_account(tmp / "s.toml", "alp", broker="alpaca", start=FIRST, home=tmp / HOME)
    return fake


def test_killed_between_submission_and_fill(tmp_path: Path, bars, keys, baseline) -> None:
    fake = started(tmp_path, bars)
    try:
        first = MarketClock(fake)
        first.at("2018-01-02 19:05", lambda: first.parts.runtime.stop.set())  # dies after the 19:00 send
        run_account("alp", fake, tmp_path / HOME, sessions=6, clock=first)
        assert fake.order("tp-alp-2018-01-02-main-XOM-entry").status == "accepted"
        fake.advance_to("2018-01-03 12:00")  # the entry fills while no process runs; its event is lost
        assert fake.order("tp-alp-2018-01-02-main-XOM-entry").status == "filled"
        second = run_account("alp", fake, tmp_path / HOME, sessions=5)
        no_order_twice(fake)
        assert summary(tmp_path / HOME, fake) == baseline
        logs = [m["message"] for m in queries.log_messages("alp", tmp_path / HOME)]
        assert any("XOM: Alpaca holds 392, the journal 0 (+392 not booked yet): explained" in m for m in logs)
        stop = fake.order("tp-alp-2018-01-03-main-XOM-stop-open")
        assert stop.submitted_at == dt.datetime(
            2018, 1, 3, 17, 0, tzinfo=dt.UTC
        )  # placed by the recovery at 12:00
        assert second.runner.failures == []
    finally:
        fake.stop()


def test_killed_between_fill_and_journal_write(tmp_path: Path, bars, keys, baseline) -> None:
    fake = started(tmp_path, bars)

    def arm() -> None:
        start = writes_so_far()

        def hook(n: int) -> None:
            if n == start + 1:  # the first write of the 01-03 step; the fills are not journaled yet
                raise Killed

        set_fault_hook(hook)

    try:
        clock = MarketClock(fake)
        clock.at("2018-01-03 15:44", arm)
        with pytest.raises(Killed):
            run_account("alp", fake, tmp_path / HOME, sessions=6, clock=clock)
        set_fault_hook(None)
        assert [h["date"] for h in queries.equity_history("alp", tmp_path / HOME)] == ["2018-01-02"]
        run_account("alp", fake, tmp_path / HOME, sessions=5)
        no_order_twice(fake)
        assert summary(tmp_path / HOME, fake) == baseline
    finally:
        set_fault_hook(None)
        fake.stop()


def test_unexplained_position_blocks_entries_until_adopted(tmp_path: Path, bars, keys) -> None:
    fake = started(tmp_path, bars)
    home = tmp_path / HOME
    try:
        clock = MarketClock(fake)
        clock.at("2018-01-03 10:00", lambda: fake.manual_trade("MSFT", "buy", 50))  # bought by hand
        run = run_account("alp", fake, home, sessions=3, clock=clock)  # 01-02, 01-03, 01-04
        report = run.runner.runtime.last_reconciliation.report()
        assert "MSFT: Alpaca holds 50, the journal 0: +50 share(s) the journal cannot explain" in report
        assert "playbook paper reconcile --account alp --adopt" in report and "--flatten" in report
        events = {e["client_order_id"]: e for e in queries.events("alp", home)}
        blocked = [e for e in events.values() if e.get("code") == "BLOCKED"]
        assert {e["symbol"] for e in blocked} == {"FB", "V"}  # decided on 01-03, never sent
        assert "tp-alp-2018-01-03-main-FB-entry" not in {o.client_order_id for o in fake.orders()}
        # the exits and stops of what the account holds went on as usual
        assert fake.order("tp-alp-2018-01-03-main-XOM-stop-open").status == "new"
        account, journal = open_account("alp", home)
        trading = make_runtime(account.playbook_config()).trading
        try:
            outcome = adopt("alp", journal, trading)
        finally:
            journal.close()
        [action] = outcome.actions
        assert action.startswith("MSFT: adopted 50 share(s) at ") and action.endswith(
            "(Alpaca's average entry price)"
        )
        # positions older than any order history still reconcile: Alpaca lists no closed order any more
        fake.broker.history_start = fake.clock.now()
        run_account("alp", fake, home, sessions=1)
        held = {p["symbol"]: p["original_shares"] for p in queries.positions("alp", home)}
        assert held.get("MSFT") == 50
        assert reconcile("alp", AlpacaBook(account.path), trading).unexplained == []
    finally:
        fake.stop()


def test_flatten_sells_what_the_journal_does_not_hold(tmp_path: Path, bars, keys) -> None:
    fake = started(tmp_path, bars)
    home = tmp_path / HOME
    try:
        run_account("alp", fake, home, sessions=1)
        fake.advance_to("2018-01-03 10:00")
        fake.manual_trade("MSFT", "buy", 20)
        account, journal = open_account("alp", home)
        trading = make_runtime(account.playbook_config()).trading
        try:
            outcome = flatten("alp", journal, trading, now=fake.clock.now())
        finally:
            journal.close()
        assert outcome.actions == [
            "MSFT: selling 20 share(s) (tp-alp-2018-01-03-reconcile-MSFT-flatten, now)"
        ]
        assert "MSFT" not in fake.positions()
        assert reconcile("alp", AlpacaBook(account.path), trading).unexplained == []
    finally:
        fake.stop()
