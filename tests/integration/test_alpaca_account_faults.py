"""Injected faults on an Alpaca account over six sessions (opg entries, first stops, an entry cash
cannot fully pay, a cls exit): recoverable faults end exactly like the fault-free run, with no order
placed twice and no fill lost; the others end with a clear reason in the journal."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from fakes.alpaca import FakeAlpaca, HttpFault, OrderFault
from trading_playbook.paper import queries
from trading_playbook.paper.account import init_account
from trading_playbook.paper.alpaca_book import AlpacaBook

from .alpaca_harness import FIRST, MarketClock, market_bars, run_account, start_fake, write_config

SESSIONS = 6  # 2018-01-02 .. 2018-01-09


@pytest.fixture(scope="module")
def bars():
    return market_bars()


def account_run(
    tmp: Path, bars, *, clock_actions=(), faults=(), config: dict[str, str] | None = None, before=None
):
    fake = start_fake(bars)
    try:
        for fault in faults:
            fake.inject(fault)
        write_config(tmp / "s.toml", fake, tmp / "cache", **(config or {}))
        init_account(tmp / "s.toml", "alp", broker="alpaca", start=FIRST, home=tmp / "home")
        clock = MarketClock(fake)
        for when, action in clock_actions:
            clock.at(when, lambda action=action: action(fake))
        run = run_account("alp", fake, tmp / "home", sessions=SESSIONS, clock=clock, before=before)
        assert run.stepped == SESSIONS and fake.server_errors == []
        return fake, run
    finally:
        fake.stop()


def summary(home: Path, fake: FakeAlpaca) -> dict[str, Any]:
    trades = [
        (
            t["symbol"],
            t["entry_date"],
            t["exit_date"],
            t["shares"],
            t["entry_price"],
            t["exit_price"],
            t["exit_reason"],
        )
        for t in queries.trades("alp", home)
    ]
    held = [
        (p["symbol"], p["entry_date"], p["original_shares"], p["entry_price"])
        for p in queries.positions("alp", home)
    ]
    return {
        "trades": trades,
        "positions": held,
        "alpaca": fake.positions(),
        "equity": queries.equity_history("alp", home)[-1],
    }


def no_order_twice(fake: FakeAlpaca) -> None:
    ids = [o.client_order_id for o in fake.orders()]
    assert len(ids) == len(set(ids))


def test_http_faults_on_orders_and_reads(tmp_path: Path, bars, keys, baseline) -> None:
    faults = [
        HttpFault(429, method="POST", path="/v2/orders", retry_after=0),  # the first entry at 19:00
        HttpFault(500, method="POST", path="/v2/orders", when="after"),  # the first stop at the fill
        HttpFault("drop", method="POST", path="/v2/orders", when="after"),
        HttpFault("hang", method="POST", path="/v2/orders", when="after", seconds=1.5),
        HttpFault(503, method="GET", path="/v2/positions"),  # a read during reconciliation
        HttpFault(502, method="GET", path="/v2/orders:by_client_order_id", times=2),
    ]
    fake, run = account_run(tmp_path, bars, faults=faults)
    assert fake.faults.http == []  # every fault happened
    no_order_twice(fake)
    assert summary(tmp_path / "home", fake) == baseline
    assert run.runner.failures == []


def test_stream_outage_delayed_fill_and_expired_opg_recover(tmp_path: Path, bars, keys, baseline) -> None:
    def outage(fake: FakeAlpaca) -> None:
        fake.streams.paused.add("trade")
        fake.drop_streams("trade")

    def back(fake: FakeAlpaca) -> None:
        fake.streams.paused.discard("trade")
        deadline = time.monotonic() + 30
        while fake.streams.count("trade") == 0:  # the subscriber reconnects (then recovers over REST)
            assert time.monotonic() < deadline
            time.sleep(0.01)

    actions = [
        ("2018-01-03 19:30", outage),  # down over the open of 01-04: FB and V fill unseen
        ("2018-01-04 11:00", back),
    ]
    faults = [
        OrderFault("delay", symbol="XOM", until="2018-01-03 10:00"),  # XOM's fill is reported late
        OrderFault("expire", symbol="V"),  # V's opg expires: the day fallback buys it
    ]
    fake, run = account_run(tmp_path, bars, clock_actions=actions, faults=faults)
    no_order_twice(fake)
    assert summary(tmp_path / "home", fake) == baseline
    book = AlpacaBook(tmp_path / "home" / "paper" / "alp.sqlite")
    recovered = {u["client_order_id"] for u in book.updates() if u["source"] == "rest"}
    assert {"tp-alp-2018-01-03-main-FB-entry", "tp-alp-2018-01-03-main-V-entry"} <= recovered
    assert fake.order("tp-alp-2018-01-03-main-V-entry").status == "expired"
    assert fake.order("tp-alp-2018-01-03-main-V-entry-day").filled_qty > 0
    xom_stop = fake.order("tp-alp-2018-01-03-main-XOM-stop-open")
    assert xom_stop.submitted_at.isoformat().startswith(
        "2018-01-03T15:00:01"
    )  # placed when the late fill came
    assert run.runner.updates.connections >= 2


def test_unrecoverable_faults_end_with_a_reason(tmp_path: Path, bars, keys, baseline) -> None:
    faults = [
        HttpFault(503, method="POST", path="/v2/orders", times=10_000),  # XOM's entry can never be sent
        OrderFault("expire", symbol="V"),
        OrderFault("reject", symbol="FB"),
    ]

    def slow_retries(runner) -> None:
        import datetime as dt

        runner.retry = dt.timedelta(hours=2)

    def heal(fake: FakeAlpaca) -> None:
        fake.faults.http.clear()

    actions = [("2018-01-03 09:00", heal)]  # Alpaca answers again after XOM's open has passed
    fake, run = account_run(
        tmp_path,
        bars,
        faults=faults,
        clock_actions=actions,
        config={"broker": 'opg_fallback = "skip"'},
        before=slow_retries,
    )
    events = {e["client_order_id"]: e for e in queries.events("alp", tmp_path / "home")}
    xom = events["tp-alp-2018-01-02-main-XOM-entry"]
    assert xom["code"] == "LATE" and "sending failed" in xom["message"] and "HTTP 503" in xom["message"]
    v = events["tp-alp-2018-01-03-main-V-entry"]
    assert (v["code"], v["message"]) == ("EXPIRED", "the opg order expired unfilled; fallback: skip")
    fb = events["tp-alp-2018-01-03-main-FB-entry"]
    assert fb["code"] == "REJECTED"
    assert run.runner.failures and all("could not be placed" in f for f in run.runner.failures)
    assert "tp-alp-2018-01-02-main-XOM-entry" not in {o.client_order_id for o in fake.orders()}
    assert summary(tmp_path / "home", fake)["trades"] != baseline["trades"]
