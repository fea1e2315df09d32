"""The drift report's SVG chart: equity of paper and backtest over the slippage drift histogram,
hand-worked bins, gaps, empty input, escaping and determinism; and its place in drift.md/drift.html."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from trading_playbook.paper.drift_chart import drift_bins, drift_chart
from trading_playbook.paper.drift_report import render_drift

NS = "{http://www.w3.org/2000/svg}"


def _doc(equity: list[tuple[str, float | None, float | None]], drifts: list[float | None]) -> dict:  # type: ignore[type-arg]
    return {
        "account": "<acct & co>",
        "equity": [{"date": d, "paper": p, "backtest": b} for d, p, b in equity],
        "fills": [{"drift_bps": v} for v in drifts],
    }


def test_drift_bins_are_forty_equal_bins_over_the_range() -> None:
    counts, edges = drift_bins(np.array([1.0, 3.0, 2.0]))
    assert counts.size == 40 and edges[0] == 1.0 and edges[-1] == 3.0
    assert (counts[0], counts[20], counts[39], counts.sum()) == (1, 1, 1, 3)  # 2.0 opens bin 20
    counts, edges = drift_bins(np.zeros(5))  # a zero-drift account: one bp around zero
    assert (edges[0], edges[-1]) == (-0.5, 0.5) and counts[20] == 5 and counts.sum() == 5


def _paths(root: ET.Element, label: str) -> list[ET.Element]:
    return [p for p in root.iter(f"{NS}path") if p.get("data-series") == label]


def test_chart_draws_both_curves_with_the_backtest_gap_and_the_histogram() -> None:
    doc = _doc(
        [("2024-01-02", 100_000.0, 100_000.0), ("2024-01-03", 100_500.0, None),
         ("2024-01-04", 101_000.0, 100_900.0), ("2024-01-05", 100_800.0, 100_700.0)],
        [0.0, 10.0, None, 10.0],
    )  # fmt: skip
    svg = drift_chart(doc)
    assert svg == drift_chart(doc)  # same document, same bytes
    root = ET.fromstring(svg)
    assert root.get("aria-label") == "Paper account <acct & co> against its backtest"
    assert "<acct" not in svg
    (paper,) = _paths(root, "paper account")
    (backtest,) = _paths(root, "backtest")
    assert paper.get("d").count("M") == 1 and backtest.get("d").count("M") == 2  # the None is a gap
    assert backtest.get("stroke-dasharray") and not paper.get("stroke-dasharray")
    bars = [r for r in root.iter(f"{NS}rect") if r.get("class") == "bar"]
    assert [int(b.get("data-count")) for b in bars] == [1, 2]  # 0 bps once, 10 bps twice
    legend = [g.get("data-label") for g in root.iter(f"{NS}g") if g.get("class") == "legend-entry"]
    assert legend == ["paper account", "backtest"]


def test_empty_panels_say_so() -> None:
    root = ET.fromstring(drift_chart(_doc([], [None])))
    assert [t.text for t in root.iter(f"{NS}text") if t.get("class") == "empty"] == [
        "No sessions yet",
        "No fills yet",
    ]


def test_markdown_links_and_html_inlines_the_svg(tmp_path: Path) -> None:
    doc = _doc([("2024-01-02", 100_000.0, 100_000.0)], [])
    doc |= {
        "first_session": "2024-01-02", "last_session": "2024-01-02", "config_hash": "abc",
        "broker": {"kind": "simulated"}, "sleeves": {}, "trades": [],
        "summary": {k: 0 for k in ("trades_paper", "trades_backtest", "same", "open", "different", "missed",
                                   "extra", "fills")} | {"configured_slippage_bps": 5.0, "mean_realised_slippage_bps": None,
                   "mean_slippage_drift_bps": None, "max_abs_slippage_drift_bps": None,
                   "pnl_difference_closed_trades": 0.0, "max_equity_difference": 0.0, "zero_drift": True},
    }  # fmt: skip
    written = render_drift(doc, tmp_path)
    assert written["chart"] == tmp_path / "charts" / "drift.svg"
    assert written["chart"].read_text() == drift_chart(doc)
    assert "![drift](charts/drift.svg)" in written["drift_md"].read_text()
    html = written["drift_html"].read_text()
    assert drift_chart(doc) in html and "<img" not in html
    assert not list(tmp_path.rglob("*.png"))
