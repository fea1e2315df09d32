"""Metrics and reports of a real engine run (facade, shared data, 40 symbols, 2004-2009).

Accounting identities tie the metrics to the engine's own output: the final equity is the starting
capital plus the sum of trade P&L (every position is closed by END_OF_TEST), and the figures in
result.json, trades.csv and the registry agree.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest

from trading_playbook.testing import shared_data_path

DATA = shared_data_path(Path(__file__).parent) or Path("shared/data/sp500_daily.parquet")
pytestmark = pytest.mark.skipif(not DATA.exists(), reason=f"shared data not found at {DATA}")

SYMBOLS = ["AAPL", "ADBE", "AMZN", "CAT", "COST", "CSCO", "CVX", "DE", "DIS", "EBAY", "EMR", "F", "GE", "GILD",
           "GS", "HD", "HON", "IBM", "INTC", "JNJ", "JPM", "KO", "LOW", "MCD", "MMM", "MO", "MRK", "MSFT", "NKE",
           "ORCL", "PEP", "PFE", "PG", "QCOM", "T", "TXN", "UNH", "UPS", "WMT", "XOM"]  # fmt: skip


@pytest.fixture(scope="module")
def real_run(tmp_path_factory: pytest.TempPathFactory):
    from trading_playbook.config import parse_config
    from trading_playbook.engine import load_data, run_backtest

    cfg = parse_config(
        {
            "data": {"source": "file", "path": str(DATA), "start": "2004-01-02", "end": "2009-12-31"},
            "scanner": {"name": "daily_breakout", "preset": "relaxed"},
            "exit": {"name": "smart_exits"},
            "portfolio": {"starting_capital": 100000, "max_positions": 5},
            "report": {"benchmark_symbol": "AAPL"},
        }
    )
    workspace = load_data(cfg, symbols=SYMBOLS)
    result = run_backtest(cfg, workspace=workspace)
    return result, workspace.panel, tmp_path_factory.mktemp("real")


def test_metrics_agree_with_the_engine_output(real_run) -> None:
    result, _, _ = real_run
    m = result.metrics
    assert m["trades"] == len(result.trades) > 30
    assert m["final_equity"] == pytest.approx(float(result.equity.equity[-1]))
    # every position is closed at the end, so equity growth is the sum of trade P&L
    assert m["final_equity"] - 100000.0 == pytest.approx(sum(t.pnl for t in result.trades), abs=1e-6)
    assert m["net_pnl"] == pytest.approx(sum(t.pnl for t in result.trades))
    assert sum(r["count"] for r in m["exit_reasons"].values()) == m["trades"]
    assert set(m["benchmarks"]) == {"equal_weight", "AAPL"}
    assert "40 symbols" in m["benchmarks"]["equal_weight"]["label"]
    assert m["validation"]["sample_size_status"] in {"PRELIMINARY", "ADEQUATE"}
    assert m["first_session"] == "2004-01-02" and m["last_session"] == "2009-12-31"


def test_reports_of_the_real_run(real_run, monkeypatch: pytest.MonkeyPatch) -> None:
    from trading_playbook.history import get_run, load_document, record_run
    from trading_playbook.reports import load_result, write_run
    from trading_playbook.reports.json_result import validate_document

    result, panel, out = real_run
    monkeypatch.setenv("PLAYBOOK_HOME", str(out / "home"))
    written = write_run(
        result, out / "run", panel=panel, formats=("json", "csv", "md")
    )  # charts: tested elsewhere
    doc = load_result(written["result_json"])
    validate_document(doc)
    assert len(doc["equity"]) == len(result.equity) and len(doc["trades"]) == len(result.trades)
    assert len(doc["benchmarks"]["AAPL"]["values"]) == len(doc["equity"])
    keys = [(t["entry_date"], t["symbol"]) for t in doc["trades"]]
    assert keys == sorted(keys)
    with written["trades_csv"].open() as fh:
        rows = list(csv.DictReader(fh))
    assert math.fsum(float(r["pnl"]) for r in rows) == pytest.approx(doc["metrics"]["net_pnl"])
    md = written["report_md"].read_text()
    assert doc["metrics"]["verdict"] in md and "## Exit reasons" in md
    run_id = record_run(result, out / "run")
    assert get_run(run_id).data_fingerprint == result.data.get("fingerprint")
    assert load_document(run_id) == doc
