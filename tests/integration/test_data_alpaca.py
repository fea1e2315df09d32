"""Alpaca source against a real HTTP server on 127.0.0.1 (no internet)."""

from __future__ import annotations

import logging
import time

import numpy as np
import pytest

from fakes.alpaca import KEY, SECRET, FakeAlpaca, HttpFault
from trading_playbook.core.errors import SourceError
from trading_playbook.data import AlpacaSource, BarCache, DataRequest, fill_cache, load_panel

from .data_fixtures import shared_slice


@pytest.fixture
def keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALPACA_API_KEY", KEY)
    monkeypatch.setenv("ALPACA_SECRET_KEY", SECRET)


@pytest.fixture
def fake() -> FakeAlpaca:
    # real AAPL (7:1 split on 2014-06-09) and MSFT bars of 2014
    return FakeAlpaca(shared_slice(["AAPL", "MSFT"], "2014-01-01", "2014-12-31"), page_size=50)


def source(server: FakeAlpaca, **kw: object) -> AlpacaSource:
    return AlpacaSource("iex", base_url=server.url, backoff=0.01, **kw)  # type: ignore[arg-type]


def test_pagination_and_split_derivation(fake: FakeAlpaca, keys: None, tmp_path) -> None:
    with fake as server:
        bars = source(server).fetch(["AAPL", "MSFT"], "2014-05-01", "2014-07-31")
    # 64 sessions x 2 symbols = 128 bars; pages of 50 -> 3 pages, for raw and for split: 6 requests
    reqs = fake.bar_requests()
    assert len(reqs) == 6
    assert [r.params.get("page_token") for r in reqs[:3]] == [None, "50", "100"]
    assert {r.params["adjustment"] for r in reqs} == {"raw", "split"}
    assert all(r.params["feed"] == "iex" and r.params["timeframe"] == "1Day" for r in reqs)
    assert len(bars) == 128
    aapl = bars[bars["symbol"] == "AAPL"].set_index("date")
    assert aapl.loc["2014-06-09", "split"] == 7.0
    assert np.isnan(aapl["split"].iloc[0])  # first bar of a fetch: unknown, cache keeps/sets 1.0
    assert (aapl["split"].iloc[1:].drop(index="2014-06-09") == 1.0).all()
    expected = shared_slice(["AAPL"], "2014-05-01", "2014-07-31").set_index("date")
    np.testing.assert_allclose(aapl["close"].to_numpy(), expected["close"].to_numpy())
    np.testing.assert_allclose(aapl["volume"].to_numpy(), expected["volume"].to_numpy(float))


def test_gap_filling_fetches_only_missing_sessions(fake: FakeAlpaca, keys: None, tmp_path) -> None:
    cache = BarCache(tmp_path / "cache")
    with fake as server:
        src = source(server)
        first = fill_cache(cache, src, ["AAPL", "MSFT"], "2014-01-01", "2014-03-31")
        n_first = len(fake.bar_requests())
        second = fill_cache(cache, src, ["AAPL", "MSFT"], "2014-01-01", "2014-06-30")
        n_second = len(fake.bar_requests()) - n_first
        third = fill_cache(cache, src, ["AAPL", "MSFT"], "2014-02-01", "2014-06-30")
        n_third = len(fake.bar_requests()) - n_first - n_second
    assert first.fetches == [(("AAPL", "MSFT"), "2014-01-02", "2014-03-31")]
    # only April..June is missing; the run is widened one session back (2014-03-31) into stored data
    assert second.fetches == [(("AAPL", "MSFT"), "2014-03-31", "2014-06-30")]
    # 63 sessions x 2 symbols = 126 bars -> 3 pages x 2 adjustments
    assert n_second == 6
    assert all(r.params["start"].startswith("2014-03-31") for r in fake.bar_requests()[n_first:])
    assert third.fetches == [] and n_third == 0
    panel, info = load_panel(
        DataRequest(source="cache", path=src.name, cache_dir=str(cache.root), symbols=("AAPL",))
    )
    assert info["first_session"] == "2014-01-02" and info["last_session"] == "2014-06-30"
    j = panel.symbol_index("AAPL")
    raw = shared_slice(["AAPL"], "2014-01-01", "2014-06-30")
    assert panel.available[:, j].sum() == len(raw)
    # split-adjusted closes are continuous across the 7:1 split fetched in the second run
    k = panel.session_index("2014-06-09")
    assert panel.split[k, j] == 7.0
    assert abs(panel.close[k, j] / panel.close[k - 1, j] - 1) < 0.02


def test_split_on_first_missing_session_is_seen(fake: FakeAlpaca, keys: None, tmp_path) -> None:
    cache = BarCache(tmp_path / "cache")
    with fake as server:
        src = source(server)
        fill_cache(cache, src, ["AAPL"], "2014-05-01", "2014-06-06")  # last stored: Friday before the split
        fill_cache(cache, src, ["AAPL"], "2014-05-01", "2014-06-30")  # the split day is the first missing one
    bars = cache.read(src.name, ["AAPL"])
    split = dict(zip(bars.day.astype(str), bars.values["split"], strict=True))
    assert split["2014-06-09"] == 7.0
    assert sum(v != 1.0 for v in split.values()) == 1


def test_429_honours_retry_after(fake: FakeAlpaca, keys: None) -> None:
    fake.inject(HttpFault(429, retry_after=1))
    with fake as server:
        bars = source(server).fetch(["MSFT"], "2014-01-01", "2014-01-31")
    reqs = fake.bar_requests()
    assert len(bars) == 21
    assert len(reqs) == 2 + 1  # raw (after one 429), split
    assert reqs[1].at - reqs[0].at >= 0.95  # waited Retry-After: 1 s, not the 0.01 s backoff


def test_500_is_retried_with_backoff(fake: FakeAlpaca, keys: None) -> None:
    fake.inject(HttpFault(500))
    fake.inject(HttpFault(503))
    with fake as server:
        bars = source(server).fetch(["MSFT"], "2014-01-01", "2014-01-31")
    assert len(bars) == 21
    assert len(fake.bar_requests()) == 4


def test_persistent_500_raises_and_is_logged(fake: FakeAlpaca, keys: None, tmp_path) -> None:
    fake.inject(HttpFault(500, times=3))
    cache = BarCache(tmp_path / "cache")
    with fake as server, pytest.raises(SourceError, match="HTTP 500"):
        fill_cache(cache, source(server, max_retries=2), ["MSFT"], "2014-01-01", "2014-01-31")
    assert len(fake.bar_requests()) == 3  # first try + 2 retries
    assert cache.catalog.entries() == []
    assert cache.catalog.fetch_log()[0]["status"] == "error"


def test_malformed_body_raises(fake: FakeAlpaca, keys: None) -> None:
    fake.inject(HttpFault("malformed"))
    with fake as server, pytest.raises(SourceError, match="malformed"):
        source(server).fetch(["AAPL"], "2014-01-01", "2014-01-31")


def test_unknown_symbol_reported(fake: FakeAlpaca, keys: None, tmp_path, monkeypatch) -> None:
    cache = BarCache(tmp_path / "cache")
    with fake as server:
        report = fill_cache(cache, source(server), ["AAPL", "ZZZZ"], "2014-01-01", "2014-01-31")
        assert report.missing == ("ZZZZ",)
        assert [e.symbol for e in cache.catalog.entries()] == ["AAPL"]
        monkeypatch.setenv("PLAYBOOK_ALPACA_DATA_URL", server.url)
        with pytest.raises(SourceError, match="ZZZZ"):
            load_panel(
                DataRequest(
                    source="alpaca",
                    symbols=("AAPL", "ZZZZ"),
                    start="2014-01-01",
                    end="2014-01-31",
                    cache_dir=str(cache.root),
                )
            )


def test_load_panel_through_alpaca(fake: FakeAlpaca, keys: None, tmp_path, monkeypatch) -> None:
    with fake as server:
        monkeypatch.setenv("PLAYBOOK_ALPACA_DATA_URL", server.url)
        request = DataRequest(
            source="alpaca",
            symbols=("AAPL", "MSFT"),
            start="2014-01-01",
            end="2014-12-31",
            cache_dir=str(tmp_path / "c"),
            adjustment="all",
        )
        panel, info = load_panel(request)
        n = len(fake.bar_requests())
        again, info2 = load_panel(request)
        np.testing.assert_array_equal(again.close, panel.close)
        assert len(fake.bar_requests()) == n  # warm cache: no request
    assert info["fingerprint"] == info2["fingerprint"]
    assert panel.n_symbols == 2 and info["rows"] == 2 * 252
    assert {r.params["adjustment"] for r in fake.bar_requests()} == {"raw", "split", "all"}


def test_missing_keys(monkeypatch) -> None:
    monkeypatch.delenv("ALPACA_API_KEY", raising=False)
    monkeypatch.delenv("ALPACA_SECRET_KEY", raising=False)
    with pytest.raises(SourceError, match="ALPACA_API_KEY"):
        AlpacaSource(base_url="http://127.0.0.1:9").fetch(["AAPL"], "2014-01-01", "2014-01-31")


def test_keys_never_in_logs_or_files(fake: FakeAlpaca, keys: None, tmp_path, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    fake.inject(HttpFault(429, retry_after=0))
    fake.inject(HttpFault(500))
    cache = BarCache(tmp_path / "cache")
    with fake as server:
        src = source(server)
        fill_cache(cache, src, ["AAPL", "MSFT"], "2014-01-01", "2014-02-28")
        fake.inject(HttpFault(500, times=10))
        with pytest.raises(SourceError) as failure:
            fill_cache(cache, source(server, max_retries=1), ["AAPL"], "2014-03-01", "2014-03-31")
    assert all(r.authorized for r in fake.requests)  # the keys did reach the server, in headers
    assert caplog.records  # urllib3 and our logger did log
    for secret in (KEY, SECRET):
        assert secret not in caplog.text
        assert secret not in str(failure.value)
        for path in tmp_path.rglob("*"):
            if path.is_file():
                assert secret.encode() not in path.read_bytes(), path
    time.sleep(0)


def test_conventional_key_names_and_the_url_setting(fake: FakeAlpaca, monkeypatch, tmp_path) -> None:
    monkeypatch.delenv("ALPACA_API_KEY", raising=False)
    monkeypatch.delenv("ALPACA_SECRET_KEY", raising=False)
    monkeypatch.setenv("APCA_API_KEY_ID", KEY)
    monkeypatch.setenv("APCA_API_SECRET_KEY", SECRET)
    monkeypatch.setenv("APCA_API_DATA_URL", "http://127.0.0.1:9")  # the [data] url setting wins over it
    with fake as server:
        request = DataRequest(
            source="alpaca",
            symbols=("MSFT",),
            start="2014-01-01",
            end="2014-01-31",
            cache_dir=str(tmp_path / "c"),
            url=server.url,
        )
        panel, _ = load_panel(request)
    assert panel.n_symbols == 1 and all(r.authorized for r in fake.requests)


def test_an_error_body_echoing_the_keys_is_redacted(fake: FakeAlpaca, keys: None) -> None:
    fake.inject(HttpFault(403, message=f"forbidden: key {KEY} secret {SECRET}", times=10))
    with fake as server, pytest.raises(SourceError) as failure:
        source(server, max_retries=0).fetch(["MSFT"], "2014-01-01", "2014-01-31")
    assert "HTTP 403" in str(failure.value) and "***" in str(failure.value)
    assert KEY not in str(failure.value) and SECRET not in str(failure.value)
