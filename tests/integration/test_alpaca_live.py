"""Live market data through the fake Alpaca: stream, provisional bars, gaps back-filled, final bars cached."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator

import pandas as pd
import pytest

from fakes.alpaca import KEY, SECRET, Bar, FakeAlpaca, synth_minutes, to_utc
from trading_playbook.core.errors import SourceError
from trading_playbook.data import BarCache, DataRequest, load_panel
from trading_playbook.data.alpaca_live import LiveBars
from trading_playbook.data.alpaca_settings import resolve_endpoints

from .data_fixtures import shared_slice

SESSION = dt.date(2020, 1, 3)
SYMBOLS = ["AAPL", "MSFT"]


def wait_until(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.01)


def real_bar(bars: pd.DataFrame, symbol: str, day: dt.date) -> Bar:
    row = bars[(bars["symbol"] == symbol) & (bars["date"] == pd.Timestamp(day))].iloc[0]
    return Bar(row["open"], row["high"], row["low"], row["close"], float(row["volume"]))


@pytest.fixture(scope="module")
def bars() -> pd.DataFrame:
    return shared_slice(SYMBOLS, "2019-11-01", "2020-01-10")


@pytest.fixture
def fake(bars: pd.DataFrame, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeAlpaca]:
    monkeypatch.setenv("ALPACA_API_KEY", KEY)
    monkeypatch.setenv("ALPACA_SECRET_KEY", SECRET)
    running = FakeAlpaca(bars, now="2020-01-03 09:00")
    for symbol in SYMBOLS:
        running.market.add_minutes(synth_minutes(symbol, SESSION, real_bar(bars, symbol, SESSION)))
    with running:
        yield running
    assert running.server_errors == []


def live(fake: FakeAlpaca, cache: BarCache) -> LiveBars:
    endpoints = resolve_endpoints({"data_url": fake.url, "data_stream_url": fake.data_stream_url}, environ={})
    return LiveBars(
        SYMBOLS,
        cache=cache,
        history_start="2019-12-02",
        endpoints=endpoints,
        clock=fake.clock.now,
        reconnect_backoff=0.05,
    )


def stored(feed: LiveBars) -> list[tuple[str, dt.datetime, float]]:
    rows = feed.store.minutes(
        feed.source.name, feed.symbols, to_utc("2020-01-03 00:00"), to_utc("2020-01-04 00:00")
    )
    return [(m.symbol, m.t, m.close) for m in rows]


def expected_minutes(fake: FakeAlpaca) -> list[tuple[str, dt.datetime, float]]:
    m = fake.market.minutes.sort_values(["symbol", "t"])
    return [(str(r.symbol), r.t.to_pydatetime(), float(r.close)) for r in m.itertuples()]


def test_stream_to_provisional_bar_to_final_cache(fake: FakeAlpaca, bars: pd.DataFrame, tmp_path) -> None:
    cache = BarCache(tmp_path / "cache")
    with live(fake, cache) as feed:
        feed.wait_connected()
        wait_until(lambda: fake.streams.subscribed("dailyBars") == set(SYMBOLS))
        fake.advance_to("2020-01-03 15:45")  # three minutes each and the day's bar at the reveal
        wait_until(lambda: len(stored(feed)) == 6 and len(feed.store.daily(feed.source.name, SESSION)) == 2)
        assert stored(feed) == expected_minutes(fake)
        assert feed.store.gaps(feed.source.name) == []  # connected before the open: nothing missed
        day_so_far = feed.provisional(SESSION)
        with pytest.raises(SourceError, match="has not closed yet"):
            feed.finalize(SESSION)
        fake.advance_to("2020-01-03 16:00")
        report = feed.finalize(SESSION)
    for symbol in SYMBOLS:
        bar, j = real_bar(bars, symbol, SESSION), day_so_far.symbols.index(symbol)
        assert [day_so_far.values[k][j] for k in ("open", "high", "low", "close", "volume")] == [
            bar.open,
            bar.high,
            bar.low,
            bar.close,
            bar.volume,
        ]
    assert report.differences == [] and report.missing == ()
    assert report.fill.fetches == [(tuple(SYMBOLS), "2019-12-02", "2020-01-03")]
    # the next step sees the new session through the ordinary cache path
    panel, info = load_panel(DataRequest(source="cache", path=feed.source.name, cache_dir=str(cache.root)))
    assert info["last_session"] == "2020-01-03" and panel.n_symbols == 2
    j = panel.symbol_index("AAPL")
    assert panel.close[-1, j] == real_bar(bars, "AAPL", SESSION).close


def test_a_stream_gap_is_detected_and_back_filled(fake: FakeAlpaca, tmp_path) -> None:
    cache = BarCache(tmp_path / "cache")
    with live(fake, cache) as feed:
        feed.wait_connected()
        wait_until(lambda: fake.streams.subscribed("bars") == set(SYMBOLS))
        fake.advance_to("2020-01-03 12:00")
        wait_until(lambda: len(stored(feed)) == 4)
        fake.streams.paused.add("data")  # an outage: the socket drops and reconnections fail
        fake.drop_streams("data")
        wait_until(lambda: fake.streams.count("data", ready=False) == 0)
        fake.advance_to("2020-01-03 15:45")  # the 15:30 minutes and the reveal's daily bars are lost
        fake.streams.paused.discard("data")
        wait_until(lambda: feed.connections == 2)
        gaps = feed.wait_backfills()
        assert stored(feed) == expected_minutes(fake)
        assert feed.store.origins(feed.source.name) == {"stream": 4, "rest": 2}
        assert feed.store.daily(feed.source.name, SESSION) == {}  # lost with the connection ...
        day_so_far = feed.provisional(SESSION)  # ... so the minutes make the day so far
    [gap] = [g for g in gaps if g.reason == "reconnected"]
    assert gap.start == to_utc("2020-01-03 11:31") and gap.end == to_utc("2020-01-03 15:45")
    assert gap.bars == 2 and gap.error is None
    assert feed.store.gaps(feed.source.name, open_only=True) == []
    assert sorted(day_so_far.symbols) == SYMBOLS


def test_late_start_back_fills_the_morning(fake: FakeAlpaca, tmp_path) -> None:
    fake.advance_to("2020-01-03 13:00")  # the process starts after two of the minutes
    with live(fake, BarCache(tmp_path / "cache")) as feed:
        feed.wait_connected()
        [gap] = feed.wait_backfills()
        assert (gap.reason, gap.start, gap.bars) == ("connected", to_utc("2020-01-03 09:30"), 4)
        wait_until(lambda: fake.streams.subscribed("bars") == set(SYMBOLS))
        fake.advance_to("2020-01-03 15:45")
        wait_until(lambda: len(stored(feed)) == 6)
        assert stored(feed) == expected_minutes(fake)


def test_failed_back_fill_stays_open_and_is_retried(fake: FakeAlpaca, tmp_path) -> None:
    from fakes.alpaca import HttpFault

    fake.advance_to("2020-01-03 13:00")
    fake.inject(HttpFault(503, path="/v2/stocks/bars", times=50))
    with live(fake, BarCache(tmp_path / "cache")) as feed:
        feed.source.max_retries = 1
        feed.source.backoff = 0.01
        feed.wait_connected()
        [gap] = feed.wait_backfills()
        assert gap.error is not None and "503" in gap.error
        assert len(feed.store.gaps(feed.source.name, open_only=True)) == 1
        fake.faults.http.clear()
        [retried] = feed.backfill_open_gaps()
    assert retried.bars == 4 and feed.store.gaps(feed.source.name, open_only=True) == []


def test_stream_and_rest_differences_are_reported(
    fake: FakeAlpaca, bars: pd.DataFrame, tmp_path, caplog
) -> None:
    cache = BarCache(tmp_path / "cache")
    with live(fake, cache) as feed:
        feed.wait_connected()
        wait_until(lambda: fake.streams.subscribed("dailyBars") == set(SYMBOLS))
        fake.advance_to("2020-01-03 15:45")
        wait_until(lambda: len(feed.store.daily(feed.source.name, SESSION)) == 2)
        fake.streams.paused.add("data")
        fake.drop_streams("data")
        wait_until(lambda: fake.streams.count("data", ready=False) == 0)
        corrected = bars[(bars["symbol"] == "MSFT") & (bars["date"] == pd.Timestamp(SESSION))].copy()
        corrected["close"] = corrected["close"] - 0.25  # a late correction the stream never sent
        fake.market.add_daily(corrected)
        fake.advance_to("2020-01-03 16:00")
        report = feed.finalize(SESSION)
    assert report.differences == ["MSFT 2020-01-03 close: stream 158.62, REST 158.37"]
    assert "stream and REST disagree" in caplog.text
    final = cache.read(feed.source.name, ["MSFT"], packed=False)
    assert final.values["close"][-1] == corrected["close"].iloc[0]  # the REST bar is the one kept


def test_invalid_stream_bars_are_rejected(fake: FakeAlpaca, tmp_path) -> None:
    bad = pd.DataFrame(
        [
            {
                "symbol": "AAPL",
                "t": to_utc("2020-01-03 10:00"),
                "open": 300.0,
                "high": 290.0,
                "low": 295.0,
                "close": 296.0,
                "volume": 10.0,
            }
        ]
    )
    fake.market.add_minutes(bad)
    with live(fake, BarCache(tmp_path / "cache")) as feed:
        feed.wait_connected()
        wait_until(lambda: fake.streams.subscribed("bars") == set(SYMBOLS))
        fake.advance_to("2020-01-03 12:00")
        wait_until(lambda: len(stored(feed)) == 4 and len(feed.rejected) == 1)
    assert feed.rejected == ["minute bar of AAPL at 2020-01-03T15:00:00+00:00: high below low"]
    assert to_utc("2020-01-03 10:00") not in [t for _, t, _ in stored(feed)]


def test_one_process_owns_the_stream(fake: FakeAlpaca, tmp_path) -> None:
    cache = BarCache(tmp_path / "cache")
    with live(fake, cache) as feed:
        feed.wait_connected()
        with pytest.raises(SourceError, match="another process owns the Alpaca market-data stream"):
            live(fake, cache).start()
        other = live(fake, BarCache(tmp_path / "other-cache"))  # another machine, same keys
        other.start()
        try:
            with pytest.raises(SourceError, match="connection limit exceeded"):
                other.wait_connected()
        finally:
            other.stop()


def test_wrong_keys_stop_the_stream_with_a_clear_message(fake: FakeAlpaca, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("ALPACA_SECRET_KEY", "not-the-secret")
    feed = live(fake, BarCache(tmp_path / "cache")).start()
    try:
        with pytest.raises(SourceError, match="refused the market-data stream keys") as failure:
            feed.wait_connected()
    finally:
        feed.stop()
    assert "not-the-secret" not in str(failure.value)
