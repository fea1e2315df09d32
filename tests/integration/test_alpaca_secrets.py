"""Secret hygiene: every Alpaca path runs with test keys at DEBUG logging, through faults, reconnections
and refusals; then every output is searched for the keys (log text, exception messages, every file
written: cache, catalog, intraday store). The keys must appear nowhere, in plain text or hex."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from fakes.alpaca import KEY, SECRET, FakeAlpaca, HttpFault, synth_minutes
from trading_playbook.core.errors import PlaybookError
from trading_playbook.data import BarCache, fill_cache
from trading_playbook.data.alpaca import AlpacaSource

from .data_fixtures import shared_slice
from .test_alpaca_live import SESSION, SYMBOLS, live, real_bar, stored, wait_until

WRONG = SECRET + "-wrong"


def _forms(secret: str) -> set[str]:
    """The secret and every 8-character piece of it, as text and as hex (a frame log shows binary
    frames as elided hex, so a piece of the key is already a leak)."""
    pieces = {secret[i : i + 8] for i in range(len(secret) - 7)}
    return pieces | {p.encode().hex(" ") for p in pieces} | {p.encode().hex() for p in pieces}


FORMS = _forms(KEY) | _forms(SECRET) | _forms(WRONG[-8:])


def assert_clean(text: str, where: str) -> None:
    for form in FORMS:
        assert form not in text, f"a piece of a key ({form!r}) appears in {where}"


def assert_files_clean(root: Path) -> None:
    for path in root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            for key in (KEY, SECRET):
                assert key.encode() not in data, f"a key appears in {path}"


@pytest.fixture
def keys_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ALPACA_API_KEY", raising=False)
    monkeypatch.delenv("ALPACA_SECRET_KEY", raising=False)
    monkeypatch.setenv("APCA_API_KEY_ID", KEY)
    monkeypatch.setenv("APCA_API_SECRET_KEY", SECRET)


def test_data_and_live_paths_never_show_the_keys(keys_env: None, tmp_path: Path, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    bars = shared_slice(SYMBOLS, "2019-11-01", "2020-01-10")
    errors: list[str] = []
    fake = FakeAlpaca(bars, now="2020-01-03 09:00")
    for symbol in SYMBOLS:
        fake.market.add_minutes(synth_minutes(symbol, SESSION, real_bar(bars, symbol, SESSION)))
    cache = BarCache(tmp_path / "cache")
    with fake:
        # historical fetch through 429, 5xx and an error body that echoes the keys
        fake.inject(HttpFault(429, retry_after=0))
        fake.inject(HttpFault(502))
        src = AlpacaSource("iex", base_url=fake.url, backoff=0.01)
        fill_cache(cache, src, SYMBOLS, "2019-11-01", "2019-12-31")
        fake.inject(HttpFault(401, message=f"bad key {KEY} / {SECRET}"))
        with pytest.raises(PlaybookError) as echoed:
            fill_cache(
                cache,
                AlpacaSource("iex", base_url=fake.url, max_retries=0),
                SYMBOLS,
                "2019-11-01",
                "2020-01-02",
            )
        errors.append(str(echoed.value))
        # the live feed: connect, a gap and its back-fill, the final bars
        with live(fake, cache) as feed:
            feed.wait_connected()
            wait_until(lambda: fake.streams.subscribed("bars") == set(SYMBOLS))
            fake.advance_to("2020-01-03 12:00")
            wait_until(lambda: len(stored(feed)) == 4)
            fake.drop_streams("data")
            wait_until(lambda: feed.connections == 2)
            feed.wait_backfills()
            fake.advance_to("2020-01-03 16:00")
            feed.finalize(SESSION)
            # a second owner, refused by the server (connection limit)
            other = live(fake, BarCache(tmp_path / "other"))
            other.start()
            try:
                with pytest.raises(PlaybookError) as refused:
                    other.wait_connected()
                errors.append(str(refused.value))
            finally:
                other.stop()
    assert "back-filled the stream gap" in caplog.text and "Alpaca request" in caplog.text
    assert_clean(caplog.text, "the log")
    for record in caplog.records:
        assert_clean(repr(record.args), "log record arguments")
    for text in errors:
        assert_clean(text, "an error message")
    assert_files_clean(tmp_path)


def test_refused_keys_never_show(tmp_path: Path, caplog, monkeypatch) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.delenv("ALPACA_API_KEY", raising=False)
    monkeypatch.delenv("ALPACA_SECRET_KEY", raising=False)
    monkeypatch.setenv("APCA_API_KEY_ID", KEY)
    monkeypatch.setenv("APCA_API_SECRET_KEY", WRONG)
    bars = shared_slice(SYMBOLS, "2019-12-01", "2020-01-10")
    with FakeAlpaca(bars, now="2020-01-03 09:00") as fake:
        feed = live(fake, BarCache(tmp_path / "cache")).start()
        try:
            with pytest.raises(PlaybookError) as refused:
                feed.wait_connected()
        finally:
            feed.stop()
        with pytest.raises(PlaybookError) as denied:
            AlpacaSource("iex", base_url=fake.url, max_retries=0).fetch(SYMBOLS, "2019-12-01", "2019-12-31")
    for text in (str(refused.value), str(denied.value), caplog.text):
        assert_clean(text, "the output")
    assert_files_clean(tmp_path)


def test_account_paths_never_show_the_keys(keys_env: None, tmp_path: Path, caplog) -> None:
    """A paper account on the fake: init, the runner with both streams, a hand-made trade and its
    reconciliation report, a dropped trade stream, adopt; at DEBUG logging."""
    from trading_playbook.paper import queries
    from trading_playbook.paper.account import init_account, open_account
    from trading_playbook.paper.alpaca_adopt import adopt
    from trading_playbook.paper.alpaca_runtime import make_runtime

    from .alpaca_harness import FIRST, MarketClock, market_bars, run_account, start_fake, write_config

    caplog.set_level(logging.DEBUG)
    fake = start_fake(market_bars())
    texts: list[str] = []
    try:
        write_config(tmp_path / "s.toml", fake, tmp_path / "cache")
        account = init_account(
            tmp_path / "s.toml", "alp", broker="alpaca", start=FIRST, home=tmp_path / "home"
        )
        texts.append(str(account.broker))
        clock = MarketClock(fake)
        clock.at("2018-01-03 10:00", lambda: fake.manual_trade("MSFT", "buy", 5))
        clock.at("2018-01-03 11:00", lambda: fake.drop_streams("trade"))
        run = run_account("alp", fake, tmp_path / "home", sessions=2, clock=clock)
        texts.append(run.runner.runtime.last_reconciliation.report())
        texts.append(repr(run.runner.runtime))
        _, journal = open_account("alp", tmp_path / "home")
        try:
            texts.extend(adopt("alp", journal, make_runtime(account.playbook_config()).trading).actions)
        finally:
            journal.close()
        texts.extend(str(m) for m in queries.log_messages("alp", tmp_path / "home"))
    finally:
        fake.stop()
    assert "disagree" in texts[1]
    assert_clean(caplog.text, "the log")
    for record in caplog.records:
        assert_clean(repr(record.args), "log record arguments")
    for text in texts:
        assert_clean(text, "an output")
    assert_files_clean(tmp_path)
