"""Guards of Alpaca accounts: init checks the keys and the account; live mode refuses to start without
every guard; the [live] limits, the kill switch and the dry run."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fakes.alpaca import KEY, SECRET, FakeAlpaca
from trading_playbook.cli import app
from trading_playbook.config import parse_config
from trading_playbook.core.broker import OrderIntent, Timing
from trading_playbook.core.errors import ConfigError
from trading_playbook.paper import queries
from trading_playbook.paper.account import init_account, open_account
from trading_playbook.paper.alpaca_book import AlpacaBook
from trading_playbook.paper.alpaca_guards import AccountGuard, check_live, halt_path
from trading_playbook.paper.alpaca_runner import AlpacaRunner
from trading_playbook.paper.alpaca_runtime import make_runtime

from .alpaca_harness import FIRST, MarketClock, market_bars, run_account, start_fake, write_config
from .test_fake_alpaca_orders import toy_bars

runner = CliRunner()


def said(result) -> str:
    """What a command printed, and the one-line error ``playbook`` prints for a PlaybookError."""
    return result.output + ("" if result.exception is None else str(result.exception))


LIVE = "max_order_value = 20000\nmax_exposure = 50000\nmax_orders_per_day = 2\nmax_daily_loss = 1000"


def test_check_live_names_every_missing_guard() -> None:
    cfg = parse_config({})
    with pytest.raises(ConfigError) as both:
        check_live(cfg, {})
    assert "ALPACA_PAPER=false (it is 'unset')" in str(both.value) and "[live] table" in str(both.value)
    with pytest.raises(ConfigError, match="ALPACA_PAPER=false \\(it is 'true'\\)"):
        check_live(
            parse_config(
                {"live": dict(max_order_value=1, max_exposure=1, max_orders_per_day=1, max_daily_loss=1)}
            ),
            {"ALPACA_PAPER": "true"},
        )
    limits = check_live(
        parse_config(
            {"live": dict(max_order_value=1, max_exposure=2, max_orders_per_day=3, max_daily_loss=4)}
        ),
        {"ALPACA_PAPER": "false"},
    )
    assert (limits.max_exposure, limits.max_orders_per_day) == (2, 3)
    with pytest.raises(ConfigError, match="max_daily_loss"):
        parse_config({"live": dict(max_order_value=1, max_exposure=2, max_orders_per_day=3)})


def test_init_checks_keys_account_and_live_guards(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PLAYBOOK_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("ALPACA_API_KEY", raising=False)
    monkeypatch.delenv("ALPACA_SECRET_KEY", raising=False)
    with FakeAlpaca(toy_bars(), now="2020-01-02 08:00") as fake:
        config = write_config(tmp_path / "c.toml", fake, tmp_path / "cache")
        args = [
            "paper",
            "init",
            str(config),
            "--account",
            "acct",
            "--broker",
            "alpaca",
            "--start",
            "2020-01-02",
        ]
        missing = runner.invoke(app, args)
        assert missing.exit_code == 1 and "ALPACA_API_KEY and ALPACA_SECRET_KEY" in said(missing)
        monkeypatch.setenv("ALPACA_API_KEY", KEY)
        monkeypatch.setenv("ALPACA_SECRET_KEY", SECRET)
        live = runner.invoke(app, [*args, "--live"])
        assert live.exit_code == 1 and "ALPACA_PAPER=false" in said(live) and "[live] table" in said(live)
        assert not (tmp_path / "home" / "paper" / "acct.sqlite").exists()  # nothing written
        monkeypatch.setenv("ALPACA_PAPER", "false")
        write_config(tmp_path / "live.toml", fake, tmp_path / "cache", live=LIVE)
        ok = runner.invoke(app, ["paper", "init", str(tmp_path / "live.toml"), *args[3:], "--live"])
        assert ok.exit_code == 0, ok.output
        assert "Alpaca LIVE account PA0FAKE0001 (ACTIVE)" in ok.output
        paper = runner.invoke(
            app,
            ["paper", "init", str(config), "--account", "p2", "--broker", "alpaca", "--start", "2020-01-02"],
        )
        assert paper.exit_code == 0 and "Alpaca paper account" in paper.output
    for text in map(said, (missing, live, ok, paper)):
        assert KEY not in text and SECRET not in text


def test_live_limits(tmp_path: Path, keys) -> None:
    with FakeAlpaca(toy_bars(), now="2020-01-02 10:00") as fake:
        write_config(tmp_path / "c.toml", fake, tmp_path / "cache", live=LIVE)
        account = init_account(
            tmp_path / "c.toml", "acct", broker="alpaca", start="2020-01-02", home=tmp_path
        )
        cfg = account.playbook_config()
        trading = make_runtime(cfg).trading
        book = AlpacaBook(account.path)
        alerts: list[str] = []
        guard = AccountGuard(
            account="acct", book=book, trading=trading, halt_file=halt_path(account.path), limits=cfg.live,
            price_of=lambda s: 100.0, alert=alerts.append,
        )  # fmt: skip
        day = dt.date(2020, 1, 2)

        def entry(symbol: str, shares: int) -> OrderIntent:
            return OrderIntent(
                f"tp-acct-2020-01-02-main-{symbol}-entry",
                day,
                "main",
                symbol,
                "entry",
                "buy",
                shares,
                Timing.NEXT_OPEN,
            )

        assert guard.refuse_entry(entry("AAA", 100), 100.0) is None
        assert "over [live] max_order_value 20,000.00" in guard.refuse_entry(entry("AAA", 201), 100.0)
        fake.manual_trade("AAA", "buy", 350)  # 35,000 held at 100
        assert "over [live] max_exposure 50,000.00" in guard.refuse_entry(entry("BBB", 160), 100.0)
        _, journal = open_account("acct", tmp_path)
        try:
            journal.record_intents([entry("BBB", 10), entry("CCC", 10)])
        finally:
            journal.close()
        book.set_handling(entry("BBB", 10).client_order_id, "placed")
        book.set_handling(entry("CCC", 10).client_order_id, "placed")
        assert "max_orders_per_day is 2" in guard.refuse_entry(entry("AAA", 1), 100.0)
        # a loss at the limit cancels the entry orders still open and refuses every new one
        guard.limits = cfg.live.model_copy(update={"max_orders_per_day": 10})
        fake.advance_to("2020-01-02 19:30")
        from alpaca.trading.enums import OrderSide, TimeInForce
        from alpaca.trading.requests import MarketOrderRequest

        trading.submit(
            MarketOrderRequest(
                symbol="BBB",
                qty=10,
                side=OrderSide.BUY,
                time_in_force=TimeInForce.OPG,
                client_order_id=entry("BBB", 10).client_order_id,
            )
        )
        fake.broker.last_equity = (
            float(trading.account()["equity"]) + 1_500
        )  # 1,500 lost since the last close
        refused = guard.refuse_entry(entry("DDD", 1), 10.0)
        assert refused is not None and "max_daily_loss" in refused
        assert fake.order(entry("BBB", 10).client_order_id).status == "canceled"
        assert alerts and "LIVE LIMIT BREACHED" in alerts[0]
        assert guard.refuse_entry(entry("EEE", 1), 10.0) == refused  # no new entries for the rest of the run


def test_kill_switch_halts_the_runner_and_cancels_open_entries(tmp_path: Path, keys) -> None:
    fake = start_fake(market_bars())
    try:
        write_config(tmp_path / "s.toml", fake, tmp_path / "cache")
        account = init_account(
            tmp_path / "s.toml", "alp", broker="alpaca", start=FIRST, home=tmp_path / "home"
        )
        clock = MarketClock(fake)
        clock.at("2018-01-02 19:05", lambda: clock.parts.runtime.stop.set())
        run_account("alp", fake, tmp_path / "home", sessions=5, clock=clock)
        entry = fake.order("tp-alp-2018-01-02-main-XOM-entry")
        assert entry.status == "accepted"  # sent at 19:00, resting for the open
        halt_path(account.path).write_text("halted\n")
        stepped = AlpacaRunner(
            "alp", clock=MarketClock(fake), home=tmp_path / "home", log=lambda m: None
        ).run()
        assert stepped == 0 and entry.status == "canceled"
        guard_text = AccountGuard(
            account="alp", book=AlpacaBook(account.path), trading=make_runtime(account.playbook_config()).trading,
            halt_file=halt_path(account.path), limits=None,
        ).refuse_entry(OrderIntent("x", dt.date(2018, 1, 3), "main", "FB", "entry", "buy", 1, Timing.NEXT_OPEN), 1.0)  # fmt: skip
        assert guard_text is not None and "playbook paper halt --account alp --resume" in guard_text
    finally:
        fake.stop()


def test_dry_run_prints_orders_and_changes_nothing(tmp_path: Path, keys) -> None:
    from trading_playbook.cli.paper_alpaca import dry_run_step

    fake = start_fake(market_bars())
    try:
        write_config(tmp_path / "s.toml", fake, tmp_path / "cache")
        init_account(tmp_path / "s.toml", "alp", broker="alpaca", start=FIRST, home=tmp_path / "home")
        clock = MarketClock(fake)
        clock.at("2018-01-03 15:41", lambda: clock.parts.runtime.stop.set())  # after the day's bar came
        run = run_account("alp", fake, tmp_path / "home", sessions=5, clock=clock)
        fake.advance_to("2018-01-03 15:45")
        panel = run.runner._panel(provisional=run.runner.bars.provisional(dt.date(2018, 1, 3)))
        orders_before = [(o.client_order_id, o.status) for o in fake.orders()]
        journal_file = (tmp_path / "home" / "paper" / "alp.sqlite").read_bytes()
        result, sent = dry_run_step(
            "alp", until="2018-01-03", home=tmp_path / "home", panel=panel, clock=MarketClock(fake)
        )
    finally:
        fake.stop()
    assert [log.date.isoformat() for log in result.logs] == ["2018-01-03"]
    assert any("FB" in line and "deferred to 19:00 ET" in line for line in sent)
    assert [(o.client_order_id, o.status) for o in fake.orders()] == orders_before  # nothing reached Alpaca
    assert (
        tmp_path / "home" / "paper" / "alp.sqlite"
    ).read_bytes() == journal_file  # the journal is untouched
    assert [h["date"] for h in queries.equity_history("alp", tmp_path / "home")] == ["2018-01-02"]
