"""`playbook data ingest|fetch|ls|verify` through typer's CliRunner on a temporary cache."""

from __future__ import annotations

import pandas as pd
from typer.testing import CliRunner

from fakes.alpaca import KEY, SECRET, FakeAlpaca
from trading_playbook.cli import app
from trading_playbook.core.errors import DataValidationError
from trading_playbook.data import BarCache

from .data_fixtures import shared_slice

runner = CliRunner()


def test_ingest_ls_verify(tmp_path) -> None:
    part = shared_slice(["AAPL", "BRK.B", "MSFT"], "2019-01-01", "2020-12-31")
    part.to_parquet(tmp_path / "mini.parquet")
    cache = str(tmp_path / "cache")
    result = runner.invoke(app, ["data", "ingest", str(tmp_path / "mini.parquet"), "--cache-dir", cache])
    assert result.exit_code == 0, result.output
    assert "ingested 1,515 bars of 3 symbols" in result.output and "source mini" in result.output
    result = runner.invoke(app, ["data", "ls", "--cache-dir", cache])
    assert result.exit_code == 0
    assert "BRK.B" in result.output and "2019-01-02" in result.output and "2020-12-31" in result.output
    result = runner.invoke(app, ["data", "verify", "--cache-dir", cache])
    assert result.exit_code == 0, result.output
    assert "ok" in result.output
    store = BarCache(cache)
    assert store.catalog.pack("mini") is not None  # ingest packs the source for fast loads
    pack = tmp_path / "cache" / "packs" / store.catalog.pack("mini").file
    pack.write_bytes(pack.read_bytes()[:-10])
    result = runner.invoke(app, ["data", "verify", "--cache-dir", cache])
    assert result.exit_code == 1 and "pack" in result.output
    assert store.catalog.pack("mini") is None
    # damage one file: verify fails, names it and quarantines it
    store = BarCache(cache)
    path = store.file_path(store.catalog.entry("mini", "MSFT"))
    path.write_bytes(path.read_bytes()[:-100])
    result = runner.invoke(app, ["data", "verify", "--cache-dir", cache])
    assert result.exit_code == 1
    assert "FAIL" in result.output and "MSFT" in result.output
    assert [e.symbol for e in BarCache(cache).catalog.entries()] == ["AAPL", "BRK.B"]


def test_ingest_rejects_then_repairs(tmp_path, monkeypatch) -> None:
    rows = pd.DataFrame(
        {
            "Ticker": ["AAA", "AAA"],
            "Day": ["2020-01-02", "2020-01-03"],
            "open": [10.0, 10.0],
            "high": [11.0, 9.0],
            "low": [9.0, 9.5],
            "close": [10.5, 9.2],
            "volume": [100, 100],
        }
    )
    rows.to_csv(tmp_path / "bad.csv", index=False)
    monkeypatch.setenv("PLAYBOOK_CACHE_DIR", str(tmp_path / "envcache"))
    args = ["data", "ingest", str(tmp_path / "bad.csv"), "--columns", "Ticker=symbol,Day=date"]
    result = runner.invoke(app, args)
    assert isinstance(result.exception, DataValidationError)
    assert "symbol AAA, date 2020-01-03: high 9 < low 9.5" in str(result.exception)
    result = runner.invoke(app, [*args, "--repair", "--source-name", "fixed"])
    assert result.exit_code == 0, result.output
    assert "repaired 1 row(s)" in result.output and "high_below_low: AAA 2020-01-03" in result.output
    assert [e.rows for e in BarCache(tmp_path / "envcache").catalog.entries("fixed")] == [1]


def test_fetch_from_alpaca(tmp_path, monkeypatch) -> None:
    fake = FakeAlpaca(shared_slice(["AAPL", "MSFT"], "2014-01-01", "2014-12-31"))
    monkeypatch.setenv("ALPACA_API_KEY", KEY)
    monkeypatch.setenv("ALPACA_SECRET_KEY", SECRET)
    cache = str(tmp_path / "cache")
    args = [
        "data",
        "fetch",
        "--source",
        "alpaca",
        "--symbols",
        "AAPL,MSFT",
        "--start",
        "2014-06-01",
        "--end",
        "2014-06-30",
        "--feed",
        "iex",
        "--cache-dir",
        cache,
    ]
    with fake as server:
        monkeypatch.setenv("APCA_API_DATA_URL", server.url)
        first = runner.invoke(app, args)
        second = runner.invoke(app, args)
        unknown = runner.invoke(app, [*args[:5], "NOPE", *args[6:]])
    assert first.exit_code == 0, first.output
    assert "fetched 42 bars in 1 request(s)" in first.output
    assert "nothing requested" in second.output
    assert unknown.exit_code == 1 and "NOPE" in unknown.output
    assert len(fake.bar_requests()) == 2 + 2
