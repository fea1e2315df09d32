"""The report's SVG charts: well-formed, the expected elements with the document's values, every text
escaped, empty, one-point and non-finite inputs drawn with a message instead of a failure, and the
same bytes for the same document."""

from __future__ import annotations

import copy
import dataclasses
import re
import xml.etree.ElementTree as ET
from typing import Any

import numpy as np
import pytest

from trading_playbook.core.metrics import BenchmarkSeries, compute_metrics
from trading_playbook.reports.charts import CHART_NAMES, chart_names, ink_on, render_charts
from trading_playbook.reports.json_result import result_document
from trading_playbook.reports.samples import random_run

NS = "{http://www.w3.org/2000/svg}"
HOSTILE = "<script>alert(1)</script> & \"q\" 'x'"


def _document(
    n_sessions: int = 700, n_trades: int = 120, seed: int = 5, bench: bool = True
) -> dict[str, Any]:
    run = random_run(n_sessions=n_sessions, n_trades=n_trades, seed=seed)
    curves = None
    if bench and n_sessions:
        values = {"equal_weight": np.linspace(1.0, 1.3, n_sessions), "SPY": np.linspace(1.0, 0.9, n_sessions)}
        curves = BenchmarkSeries(run.equity.dates, values, {"equal_weight": "Equal weight", "SPY": "SPY"})
    run = dataclasses.replace(run, metrics=compute_metrics(run, benchmark=curves))
    return dict(result_document(run, created_at="2021-01-01T00:00:00Z", benchmark=curves))


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    return _document()


@pytest.fixture(scope="module")
def svgs(doc: dict[str, Any]) -> dict[str, ET.Element]:
    return {name: ET.fromstring(svg) for name, svg in render_charts(doc).items()}


def _all(root: ET.Element, tag: str, cls: str) -> list[ET.Element]:
    return [e for e in root.iter(f"{NS}{tag}") if cls in (e.get("class") or "").split()]


def _texts(root: ET.Element) -> list[str]:
    return ["".join(e.itertext()) for e in root.iter(f"{NS}text")]


def _axis_ticks(root: ET.Element, axis: str) -> list[str]:
    groups = [g for g in root.iter(f"{NS}g") if axis in (g.get("class") or "").split()]
    return [t.text or "" for g in groups for t in g.iter(f"{NS}text")]


def test_every_chart_is_an_accessible_scalable_svg(svgs: dict[str, ET.Element]) -> None:
    assert list(svgs) == list(CHART_NAMES)
    for name, root in svgs.items():
        assert root.tag == f"{NS}svg" and root.get("role") == "img" and root.get("aria-label"), name
        assert root.get("viewBox") == f"0 0 {root.get('width')} {root.get('height')}", name
        assert root[0].tag == f"{NS}title" and root[0].text == root.get("aria-label"), name


def test_equity_chart_has_the_series_the_legend_and_ticks_in_range(doc: dict, svgs: dict) -> None:
    root = svgs["equity"]
    strategy = _all(root, "path", "strategy")
    benchmarks = [p.get("data-series") for p in _all(root, "path", "benchmark")]
    assert len(strategy) == 1 and benchmarks == ["SPY", "Equal weight"]  # drawn under the strategy
    legend = [g.get("data-label") for g in _all(root, "g", "legend-entry")]
    assert legend == ["Strategy", "Equal weight", "SPY"]
    texts = _texts(root)
    assert "Equity against buy & hold" in texts and "Drawdown (%)" in texts
    assert f"{doc['metrics']['first_session']} to {doc['metrics']['last_session']} · 120 trades" in texts
    # the money ticks lie between the lowest and highest value drawn (padded by a step at most)
    equity = np.array([r["equity"] for r in doc["equity"]])
    money = [
        float(t.replace("$", "").replace(",", "")) for t in _axis_ticks(root, "y-axis") if t.startswith("$")
    ]
    step = money[1] - money[0]
    assert money == sorted(money) and money[0] >= min(equity.min(), 0.9 * 100_000) - step
    assert money[-1] <= max(equity.max(), 1.3 * doc["starting_capital"]) + step
    years = [t for t in _axis_ticks(root, "x-axis") if t]
    first, last = int(doc["equity"][0]["date"][:4]), int(doc["equity"][-1]["date"][:4])
    assert years and all(first <= int(y[-4:]) <= last + 1 for y in years if y[-4:].isdigit())


def test_equity_chart_uses_a_log_axis_when_the_curves_span_more_than_4x(doc: dict) -> None:
    steep = copy.deepcopy(doc)
    for k, row in enumerate(steep["equity"]):
        row["equity"] = 100_000.0 * 1.003**k  # x8 over 700 sessions
    texts = _texts(ET.fromstring(render_charts(steep, ["equity"])["equity"]))
    assert "Equity ($, log scale)" in texts and "$1,000,000" not in texts and "$500,000" in texts
    assert "Equity ($)" in _texts(ET.fromstring(render_charts(doc, ["equity"])["equity"]))


def test_a_long_curve_is_thinned_to_the_pixel_and_stays_small() -> None:
    long = _document(n_sessions=5400, n_trades=3000, seed=1)
    svg = render_charts(long, ["equity"])["equity"]
    root = ET.fromstring(svg)
    points = len(_all(root, "path", "strategy")[0].get("d").split())
    assert points <= 4 * 960 and len(svg) < 100_000


def test_monthly_heatmap_has_one_cell_per_month_with_its_value(doc: dict, svgs: dict) -> None:
    root = svgs["monthly_returns"]
    monthly = doc["metrics"]["monthly_returns"]
    cells = {c.get("data-month"): c for c in _all(root, "rect", "cell") if "missing" not in c.get("class")}
    assert set(cells) == {k for k, v in monthly.items() if v is not None}
    for month, cell in cells.items():
        value = monthly[month] * 100.0
        assert cell.get("data-value") == f"{value:+.1f}"
        red, green = int(cell.get("fill")[1:3], 16), int(cell.get("fill")[3:5], 16)
        assert (green > red) if value > 0 else (red > green) if value < 0 else True, month
        assert ("gain" if value > 0 else "loss" if value < 0 else "flat") in cell.get("class")
    values = sorted(t.text for t in next(g for g in root.iter(f"{NS}g") if g.get("class") == "values"))
    assert values == sorted(c.get("data-value") for c in cells.values())
    years = sorted({m[:4] for m in monthly})
    assert [t.text for t in root.iter(f"{NS}text") if t.get("class") == "year"] == years
    assert len(_all(root, "rect", "cell")) == 12 * len(years)  # the months without a return: blank


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_monthly_heatmap_of_one_sign_only(sign: float) -> None:
    monthly = {f"2020-{m:02d}": sign * 0.01 * m for m in range(1, 13)}
    doc = {"metrics": {"monthly_returns": monthly}}
    root = ET.fromstring(
        render_charts({**_document(5, 1, bench=False), **doc}, ["monthly_returns"])["monthly_returns"]
    )
    cells = _all(root, "rect", "cell")
    assert len(cells) == 12 and all(("gain" if sign > 0 else "loss") in c.get("class") for c in cells)
    assert cells[11].get("data-value") == f"{sign * 12:+.1f}"
    assert cells[11].get("fill") == ("#1a7f37" if sign > 0 else "#cf222e")  # the strongest: full colour


def test_monthly_heatmap_skips_missing_and_non_finite_months() -> None:
    monthly = {"2020-01": 0.02, "2020-02": None, "2020-03": float("nan"), "2020-04": float("inf")}
    root = ET.fromstring(
        render_charts(
            {**_document(5, 1, bench=False), "metrics": {"monthly_returns": monthly}}, ["monthly_returns"]
        )["monthly_returns"]
    )
    shown = [c.get("data-month") for c in _all(root, "rect", "cell") if "missing" not in c.get("class")]
    assert shown == ["2020-01"] and not re.search(r"nan|inf", ET.tostring(root, encoding="unicode"), re.I)


def test_trade_histogram_counts_every_finite_trade(doc: dict, svgs: dict) -> None:
    root = svgs["trade_returns"]
    counts = [int(b.get("data-count")) for b in _all(root, "rect", "bar")]
    assert sum(counts) == len(doc["trades"]) == 120
    returns = np.array([t["pnl_pct"] for t in doc["trades"]]) * 100.0
    labels = [g.get("data-label") for g in _all(root, "g", "legend-entry")]
    assert labels == [f"mean {returns.mean():+.2f}%", f"median {np.median(returns):+.2f}%"]
    for bar in _all(root, "rect", "bar"):  # wholly a gain or a loss: 0 is on an edge
        assert ("loss" in bar.get("class")) == (bar.get("fill") == "#cf222e")
    ticks = [float(t) for t in _axis_ticks(root, "x-axis")]
    assert ticks == sorted(ticks) and ticks[0] <= 0.0 <= ticks[-1]


def test_trade_histogram_ignores_non_finite_returns(doc: dict) -> None:
    odd = copy.deepcopy(doc)
    odd["trades"][0]["pnl_pct"] = float("nan")
    odd["trades"][1]["pnl_pct"] = float("inf")
    odd["trades"][2]["pnl_pct"] = None
    root = ET.fromstring(render_charts(odd, ["trade_returns"])["trade_returns"])
    assert sum(int(b.get("data-count")) for b in _all(root, "rect", "bar")) == 117
    assert "Distribution of trade returns (117 trades)" in _texts(root)


def test_exit_reasons_one_bar_per_reason_with_its_count(doc: dict, svgs: dict) -> None:
    root = svgs["exit_reasons"]
    reasons = doc["metrics"]["exit_reasons"]
    bars = {b.get("data-reason"): int(b.get("data-count")) for b in _all(root, "rect", "count")}
    assert bars == {r: v["count"] for r, v in reasons.items()}
    shown = [t.text for t in root.iter(f"{NS}text") if t.get("class") == "reason"]
    assert shown == sorted(reasons, key=lambda r: (-reasons[r]["count"], r))  # the most frequent on top
    averages = _all(root, "rect", "gain") + _all(root, "rect", "loss")
    assert len(averages) == len(reasons)


def test_hostile_names_are_escaped(doc: dict) -> None:
    odd = copy.deepcopy(doc)
    reasons = odd["metrics"]["exit_reasons"]
    reasons[HOSTILE] = reasons.pop(next(iter(reasons)))
    odd["benchmarks"]["SPY"]["label"] = HOSTILE
    named = HOSTILE.replace("/", "")  # the chart names the universe file, the last part of its path
    odd["data"] = {"coverage": _coverage(universe=f"lists/{named}.csv")}
    svgs = render_charts(odd)
    for name, svg in svgs.items():
        assert "<script" not in svg, name
        ET.fromstring(svg)
    root = ET.fromstring(svgs["exit_reasons"])
    assert HOSTILE in [t.text for t in root.iter(f"{NS}text")]
    assert HOSTILE in [b.get("data-reason") for b in _all(root, "rect", "count")]
    assert HOSTILE in [g.get("data-label") for g in _all(ET.fromstring(svgs["equity"]), "g", "legend-entry")]
    assert f"Universe coverage: {named}.csv (policy hold)" in _texts(ET.fromstring(svgs["coverage"]))


def _coverage(universe: str = "lists/sp500.csv", n: int = 300) -> dict[str, Any]:
    dates = [str(d) for d in np.arange(np.datetime64("2010-01-04"), np.datetime64("2010-01-04") + n)]
    members = [500] * n
    with_data = [480 - k // 10 for k in range(n)]
    return {
        "universe": universe,
        "policy": "hold",
        "member_days": 500 * n,
        "unseen_share": 0.1,
        "no_data_share": 0.06,
        "sessions": {
            "date": dates,
            "members": members,
            "with_data": with_data,
            "with_bar": [w - 5 for w in with_data],
        },
    }


def test_coverage_chart(doc: dict) -> None:
    with_universe = {**doc, "data": {"coverage": _coverage()}}
    assert chart_names(with_universe) == (*CHART_NAMES, "coverage")
    root = ET.fromstring(render_charts(with_universe)["coverage"])
    assert [p.get("data-series") for p in _all(root, "path", "series")] == [
        "members",
        "members with a price series",
        "members with a bar that session",
    ]
    assert len(_all(root, "path", "unseen")) == 1
    texts = _texts(root)
    assert (
        "Universe coverage: sp500.csv (policy hold)" in texts
        and "10.0 % of 150,000 member-days not seen" in texts
    )
    assert [g.get("data-label") for g in _all(root, "g", "legend-entry")] == [
        "not seen",
        "members",
        "members with a price series",
        "members with a bar that session",
    ]


def test_empty_and_one_point_documents_draw_a_message_or_a_dot() -> None:
    empty = {**_document(1, 1, bench=False), "equity": [], "trades": [], "benchmarks": {}}
    empty["metrics"] = {
        "first_session": None,
        "last_session": None,
        "trades": 0,
        "monthly_returns": {},
        "exit_reasons": {},
    }
    for name, svg in render_charts({**empty, "data": {"coverage": _coverage(n=0)}}).items():
        messages = [t.text for t in ET.fromstring(svg).iter(f"{NS}text") if t.get("class") == "empty"]
        assert messages == ["No trades" if name in ("trade_returns", "exit_reasons") else "No sessions"], name
    one = _document(1, 1, seed=3)
    svgs = {
        name: ET.fromstring(svg)
        for name, svg in render_charts({**one, "data": {"coverage": _coverage(n=1)}}).items()
    }
    assert len(_all(svgs["equity"], "circle", "marker")) == 4  # strategy, 2 benchmarks, drawdown
    assert len(_all(svgs["coverage"], "circle", "marker")) == 3
    assert len(_all(svgs["trade_returns"], "rect", "bar")) >= 1


def test_non_finite_equity_is_a_gap_or_a_message(doc: dict) -> None:
    odd = copy.deepcopy(doc)
    odd["equity"][100]["equity"] = float("nan")
    odd["equity"][101]["equity"] = float("inf")
    root = ET.fromstring(render_charts(odd, ["equity"])["equity"])
    assert _all(root, "path", "strategy")[0].get("d").count("M") == 2  # the line breaks at the gap
    for row in odd["equity"]:
        row["equity"] = None
    odd["benchmarks"] = {}
    root = ET.fromstring(render_charts(odd, ["equity"])["equity"])
    assert [t.text for t in root.iter(f"{NS}text") if t.get("class") == "empty"] == [
        "No finite equity values"
    ]


def test_the_same_document_gives_the_same_bytes(doc: dict) -> None:
    assert render_charts(doc) == render_charts(copy.deepcopy(doc))


def test_cell_text_takes_the_ink_that_contrasts_more() -> None:
    # WCAG contrast: white on the full gain/loss colours, the dark text on pale cells
    assert ink_on("#1a7f37") == ink_on("#cf222e") == "#ffffff"
    assert ink_on("#ffffff") == ink_on("#76b287") == "#1f2328"
