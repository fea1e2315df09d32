"""The trade page's stop replay against the engines: replaying a run's exit rules over each symbol's bars
must end every trade on its recorded exit date with its recorded reason, for every built-in exit family
and both fill conventions; and a hand-worked position pins the levels drawn."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from trading_playbook.config import parse_config
from trading_playbook.core.exits.spec import ExitSpec, HardStop, TrailingStop, TrailTier
from trading_playbook.core.panel import Panel, panel_from_arrays
from trading_playbook.engine import build_sleeves, portfolio_settings
from trading_playbook.history import load_document
from trading_playbook.web.bars import BarsUnavailable, load_symbol_bars
from trading_playbook.web.replay import replay_stops

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "sp500_daily.parquet"


def _replay_all(doc: dict, panel_of: Callable[[str], Panel]) -> list[tuple[int, str]]:
    """(trade number, what went wrong) for every trade the replay does not reproduce."""
    cfg = parse_config(doc["config"])
    sleeves = {s.name: s for s in build_sleeves(cfg)}
    settings = portfolio_settings(cfg)
    misses = []
    panels: dict[str, Panel] = {}
    for n, trade in enumerate(doc["trades"], start=1):
        symbol = trade["symbol"]
        if symbol not in panels:
            panels[symbol] = panel_of(symbol)
        path = replay_stops(panels[symbol], sleeves[trade["sleeve"]].exit, trade,
                            entry_fill=settings.entry_fill, exit_fill=settings.exit_fill)  # fmt: skip
        if not path.matches:
            misses.append(
                (n, f"{trade['exit_date']} {trade['exit_reason']} vs {path.exit_date} {path.exit_reason}")
            )
    return misses


@pytest.mark.parametrize("variant", ["smart", "scaled", "hybrid"])
def test_replay_reproduces_every_recorded_exit_on_synthetic_runs(web_home, variant: str) -> None:
    doc = load_document(web_home.runs[variant], db_path=web_home.registry)
    assert len(doc["trades"]) > 50
    # the symbols' bars loaded one by one, as the trade page loads them
    assert _replay_all(doc, lambda symbol: load_symbol_bars(doc, symbol, Path.cwd()).panel) == []


@pytest.mark.skipif(not SHARED.exists(), reason="needs the shared S&P 500 data")
@pytest.mark.parametrize(
    ("exit_name", "portfolio"),
    [("scaled_exits", {"exit_fill": "next_open"}), ("hybrid_trailing", {"entry_fill": "close"})],
)
def test_replay_reproduces_every_exit_on_the_shared_data(
    tmp_path: Path, exit_name: str, portfolio: dict
) -> None:
    from trading_playbook.engine import load_data, run_backtest
    from trading_playbook.reports import result_document

    raw = {"data": {"source": "file", "path": str(SHARED.resolve())}, "scanner": {"name": "daily_breakout", "preset": "moderate"},
           "exit": {"name": exit_name}, "portfolio": {"max_positions": 10, **portfolio}}  # fmt: skip
    cfg = parse_config(raw)
    workspace = load_data(cfg)
    result = run_backtest(cfg, workspace=workspace, start="2018-01-01", end="2018-12-31")
    doc = result_document(result, created_at="2024-01-01T00:00:00Z")
    assert len(doc["trades"]) > 100
    # one column of the loaded panel per symbol (test_symbol_bars_match_the_panel shows it is the same)
    assert _replay_all(doc, lambda symbol: workspace.panel.select([symbol])) == []


@pytest.mark.skipif(not SHARED.exists(), reason="needs the shared S&P 500 data")
def test_symbol_bars_match_the_panel_the_backtest_loaded(tmp_path: Path) -> None:
    """A symbol loaded alone has the bars of the full load (split factors are per symbol)."""
    from trading_playbook.engine import load_data

    raw = {"data": {"source": "file", "path": "sp500_daily.parquet"}}
    workspace = load_data(parse_config({"data": {"source": "file", "path": str(SHARED.resolve())}}))
    for symbol in ("AAPL", "NVDA", "GE"):  # AAPL and NVDA split several times
        alone = load_symbol_bars({"config": raw}, symbol, SHARED.resolve().parent).panel
        full = workspace.panel.select([symbol])
        keep = full.available[:, 0]
        assert np.array_equal(np.asarray(alone.sessions), np.asarray(full.sessions)[keep])
        for name in ("open", "high", "low", "close", "volume"):
            assert np.array_equal(getattr(alone, name)[:, 0], getattr(full, name)[keep, 0]), (symbol, name)


def _one_symbol_panel(closes: list[float]) -> object:
    """A one-symbol panel with open = close, high = close + 1, low = close - 1 (split-free)."""
    n = len(closes)
    close = np.array(closes, dtype=np.float64)
    columns = {
        "open": close,
        "high": close + 1.0,
        "low": close - 1.0,
        "close": close,
        "volume": np.full(n, 1e6),
    }
    days = np.arange(np.datetime64("2024-01-01"), np.datetime64("2024-01-01") + n).astype("datetime64[D]")
    return panel_from_arrays(np.zeros(n, dtype=np.int64), ("TEST",), days, columns, "raw")


def test_hand_worked_resting_trail_path() -> None:
    """Entry 100 at the open of day 0; 10 % hard stop (90); a resting trail at 95 % of the peak high once
    the peak high is 10 % up. Highs 101, 106, 111, 116, 113, 106: the trail is first set at day 2's close
    (0.95 * 111 = 105.45) and rests from day 3; day 3's close raises it to 0.95 * 116 = 110.2; day 4's low
    111 stays above it, day 5's low 104 does not: TRAILING_STOP at min(open 105, 110.2) = 105."""
    panel = _one_symbol_panel([100.0, 105.0, 110.0, 115.0, 112.0, 105.0])
    spec = ExitSpec(name="hand", hard_stop=0.10, rules=(
        HardStop(pct=0.10),
        TrailingStop(tiers=(TrailTier(min_profit=0.10, value=0.95, mode="pct"),), basis="resting"),
    ))  # fmt: skip
    days = [str(d) for d in np.asarray(panel.sessions).astype("datetime64[D]")]
    trade = {"symbol": "TEST", "entry_date": days[0], "exit_date": days[5], "entry_price": 100.0, "shares": 10,
             "exit_reason": "TRAILING_STOP"}  # fmt: skip
    path = replay_stops(panel, spec, trade, entry_fill="next_open", exit_fill="close")
    assert path.matches and path.dates == days
    assert path.resting[:3] == [90.0, 90.0, 90.0]  # only the hard stop until the trail is defined
    assert path.resting[3:] == pytest.approx([0.95 * 111.0, 0.95 * 116.0, 0.95 * 116.0])
    assert path.resting_reason == ["HARD_STOP"] * 3 + ["TRAILING_STOP"] * 3


def test_a_replay_that_disagrees_is_reported_not_drawn() -> None:
    panel = _one_symbol_panel([100.0, 101.0, 102.0, 103.0])
    spec = ExitSpec(name="hand", hard_stop=0.10, rules=(HardStop(pct=0.10),))
    days = [str(d) for d in np.asarray(panel.sessions).astype("datetime64[D]")]
    trade = {
        "symbol": "TEST",
        "entry_date": days[0],
        "exit_date": days[2],
        "entry_price": 100.0,
        "shares": 10,
        "exit_reason": "HARD_STOP",
    }  # the bars never reach 90: this record is not what these rules did
    path = replay_stops(panel, spec, trade, entry_fill="next_open", exit_fill="close")
    assert not path.matches and path.exit_date is None
    from trading_playbook.web.trade_chart import trade_figure

    figure = trade_figure(panel, {**trade, "exit_price": 102.0, "initial_stop": 90.0}, path, {})
    names = [t["name"] for t in figure["data"]]
    assert "Initial stop 90.00" in names and "Resting stop (intraday)" not in names  # only what is certain


def test_bars_of_a_missing_data_file_say_where_to_start(tmp_path: Path) -> None:
    doc = {"config": {"data": {"source": "file", "path": "nowhere/bars.parquet"}}}
    with pytest.raises(BarsUnavailable, match="not found from"):
        load_symbol_bars(doc, "AAPL", tmp_path)
    cache = {"config": {"data": {"source": "cache"}}}
    with pytest.raises(BarsUnavailable, match="opens no cache"):
        load_symbol_bars(cache, "AAPL", tmp_path)


def test_dates_are_iso_sessions() -> None:
    panel = _one_symbol_panel([10.0, 11.0])
    assert [str(d) for d in np.asarray(panel.sessions).astype("datetime64[D]")] == [
        dt.date(2024, 1, 1).isoformat(),
        dt.date(2024, 1, 2).isoformat(),
    ]
