"""The chunked mode and the blocked loads of issue 14 give exactly the in-memory mode's run.

Small universes with tiny blocks (a few symbols), so that every block boundary, the merge of the
setup tables and the ranking across blocks are exercised; the synthetic source and a cached source.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import trading_playbook.core.scanners.chunked as block_scan
import trading_playbook.data.pack as pack
from trading_playbook.chunked import load_chunked
from trading_playbook.cli import app
from trading_playbook.config import parse_config as _parse
from trading_playbook.core.errors import ConfigError, DataError
from trading_playbook.core.panel import panel_from_arrays
from trading_playbook.core.scanners import DailyBreakoutScanner
from trading_playbook.data import BarCache, DataRequest, load_panel
from trading_playbook.data.api import load_arrays
from trading_playbook.data.estimate import check_fits, estimate_memory
from trading_playbook.engine import load_data, run_backtest

CONFIG = """
[data]
source = "synthetic"
synthetic_symbols = 23
synthetic_seed = 5
start = "2011-01-01"
end = "2014-12-31"

[scanner]
name = "daily_breakout"
preset = "relaxed"

[exit]
name = "smart_exits"

[portfolio]
max_positions = 4
"""


def parse_config(text: str):  # type: ignore[no-untyped-def]
    return _parse(tomllib.loads(text))


PANEL_FIELDS = ("open", "high", "low", "close", "volume", "raw_close", "available", "sessions")


def _same_run(a, b) -> None:  # type: ignore[no-untyped-def]
    assert a.trades == b.trades
    assert len(a.trades) > 20
    np.testing.assert_array_equal(a.equity.equity, b.equity.equity)
    np.testing.assert_array_equal(a.equity.cash, b.equity.cash)
    assert a.metrics == b.metrics


def test_chunked_synthetic_run_equals_the_in_memory_run_on_both_engines() -> None:
    cfg = parse_config(CONFIG)
    memory = run_backtest(cfg)
    chunked = run_backtest(
        cfg, workspace=load_chunked(cfg, cfg.data_request(), block_symbols=4, scan_symbols=3)
    )
    _same_run(memory, chunked)
    reference = run_backtest(cfg, engine="reference")
    assert reference.trades == chunked.trades
    assert chunked.data["mode"] == "chunked" and chunked.data["fingerprint"] == memory.data["fingerprint"]


def test_chunked_cache_run_equals_the_in_memory_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bars, _ = load_arrays(
        DataRequest(source="synthetic", synthetic_symbols=17, start="2012-01-01", end="2015-06-30")
    )
    cache = BarCache(tmp_path / "cache")
    cache.store("syn", bars)
    monkeypatch.setattr(pack, "PACK_BLOCK_SYMBOLS", 5)  # row groups (blocks) of 5 symbols
    cache.repack("syn")
    text = CONFIG.replace(
        'source = "synthetic"', f'source = "cache"\npath = "syn"\ncache_dir = "{tmp_path / "cache"}"'
    )
    cfg = parse_config(text)
    memory = run_backtest(cfg)
    chunked = run_backtest(cfg.with_overrides({"data.mode": "chunked"}))
    _same_run(memory, chunked)


def test_blocked_cache_and_synthetic_loads_equal_the_whole_bar_panel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    request = DataRequest(
        source="synthetic", synthetic_symbols=19, start="2013-01-01", end="2014-12-31", adjustment="all"
    )
    bars, _ = load_arrays(request)
    cache = BarCache(tmp_path / "cache")
    cache.store("syn", bars)
    monkeypatch.setattr(pack, "PACK_BLOCK_SYMBOLS", 4)
    cache.repack("syn")
    for adjustment in ("split", "all", "raw"):
        whole, _ = load_arrays(
            DataRequest(source="synthetic", synthetic_symbols=19, start="2013-01-01", end="2014-12-31")
        )
        expected = panel_from_arrays(whole.codes, whole.symbols, whole.day, dict(whole.values), adjustment)
        for source in ("synthetic", "cache"):
            req = (
                DataRequest(
                    source="synthetic",
                    synthetic_symbols=19,
                    start="2013-01-01",
                    end="2014-12-31",
                    adjustment=adjustment,
                )
                if source == "synthetic"
                else DataRequest(
                    source="cache", path="syn", cache_dir=str(tmp_path / "cache"), adjustment=adjustment
                )
            )
            panel, _ = load_panel(req)
            assert panel.symbols == expected.symbols
            for name in PANEL_FIELDS:
                np.testing.assert_array_equal(
                    getattr(panel, name), getattr(expected, name), err_msg=f"{source} {adjustment} {name}"
                )
            np.testing.assert_array_equal(panel.split, expected.split)


def test_large_panels_scan_in_blocks_with_the_same_trades(monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = parse_config(CONFIG)
    whole = run_backtest(cfg)
    monkeypatch.setattr(block_scan, "BLOCK_SCAN_SYMBOLS", 0)  # every panel counts as large
    monkeypatch.setattr(block_scan, "BLOCK_SYMBOLS", 2)
    calls = []
    scan = DailyBreakoutScanner.scan
    monkeypatch.setattr(
        DailyBreakoutScanner,
        "scan",
        lambda self, panel, *a: calls.append(panel.n_symbols) or scan(self, panel, *a),
    )
    streamed = run_backtest(cfg)  # the breakout scanner streams a large panel whole, keeping its hits
    assert calls == [23]
    _same_run(whole, streamed)
    calls.clear()
    monkeypatch.setattr(DailyBreakoutScanner, "streams_hits", False)  # as a per-symbol scanner that does not
    blocked = run_backtest(cfg)
    assert calls == [2] * 11 + [1]
    _same_run(whole, blocked)


def test_chunked_mode_refuses_what_it_cannot_do_exactly(tmp_path: Path) -> None:
    cfg = parse_config(CONFIG).with_overrides({"data.mode": "chunked"})
    with pytest.raises(ConfigError, match="needs the whole panel"):
        load_data(cfg)  # e.g. check-lookahead, research, paper
    ws = load_data(cfg, chunked_ok=True)
    assert ws.chunked
    with pytest.raises(ConfigError, match="fast engine"):
        run_backtest(cfg, workspace=ws, engine="reference")
    with pytest.raises(ConfigError, match="remove \\[data\\] symbols"):
        load_data(cfg, symbols=["SYN001"], chunked_ok=True)
    on_file = parse_config(CONFIG.replace('source = "synthetic"', 'source = "file"\npath = "x.parquet"'))
    with pytest.raises(ConfigError, match="ingest the data first"):
        load_chunked(on_file, on_file.data_request())
    BarCache(tmp_path / "c").store(
        "one", load_arrays(DataRequest(source="synthetic", synthetic_symbols=2))[0]
    )
    no_pack = parse_config(
        CONFIG.replace(
            'source = "synthetic"', f'source = "cache"\npath = "one"\ncache_dir = "{tmp_path / "c"}"'
        )
    )
    with pytest.raises(DataError, match="through its pack"):
        load_chunked(no_pack, no_pack.data_request())


def test_the_estimate_refuses_a_load_that_will_not_fit_and_names_the_fix(tmp_path: Path) -> None:
    request = DataRequest(source="synthetic", synthetic_symbols=20_000, start="1996-01-01", end="2020-12-31")
    estimate = estimate_memory(request)
    assert estimate is not None and estimate.symbols == 20_000 and 6_200 < estimate.sessions < 6_400
    assert estimate.chunked_mode < estimate.memory_mode
    with pytest.raises(
        DataError, match=r"20,000 symbols x 6,\d{3} sessions needs about [\d.]+ GB.*mode = \"chunked\""
    ):
        check_fits(request, available=estimate.chunked_mode + 1)
    with pytest.raises(DataError, match="even the chunked mode"):
        check_fits(request, available=estimate.chunked_mode - 1)
    chunked = DataRequest(
        source="synthetic", synthetic_symbols=20_000, start="1996-01-01", end="2020-12-31", mode="chunked"
    )
    assert check_fits(chunked, available=1) is not None  # the chunked mode is not refused
    bars, _ = load_arrays(
        DataRequest(source="synthetic", synthetic_symbols=3, start="2015-01-01", end="2015-12-31")
    )
    BarCache(tmp_path / "c").store("three", bars)
    from_catalog = estimate_memory(DataRequest(source="cache", path="three", cache_dir=str(tmp_path / "c")))
    assert from_catalog is not None and from_catalog.symbols == 3 and 250 <= from_catalog.sessions <= 262


def test_cli_chunked_flag_runs_the_chunked_mode(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLAYBOOK_HOME", str(tmp_path / "home"))
    config = tmp_path / "c.toml"
    config.write_text(CONFIG)
    runner = CliRunner()
    out = tmp_path / "run"
    result = runner.invoke(
        app, ["backtest", str(config), "--chunked", "--out", str(out), "--no-charts", "--no-record"]
    )
    assert result.exit_code == 0, result.output
    assert '"mode": "chunked"' in (out / "result.json").read_text()
