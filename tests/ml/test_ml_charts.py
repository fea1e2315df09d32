"""The ML report's SVG charts: content, hand-worked geometry, empty input, escaping, determinism."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import pytest

from trading_playbook.ml.charts import (
    auc_chart,
    calibration_chart,
    equity_chart,
    render_charts,
    rule_score_chart,
)

NS = "{http://www.w3.org/2000/svg}"


def _row(kind: str, fold: int, auc: float | None, bins: list[tuple[float, float]]) -> dict[str, Any]:
    return {"kind": kind, "fold": fold, "auc": auc, "test_start": f"{2014 + fold}-01-02",
            "calibration": [{"predicted": p, "observed": o} for p, o in bins]}  # fmt: skip


ROWS = [
    _row("<hgb>", 0, 0.6, [(0.2, 0.25), (0.6, 0.5)]),
    _row("<hgb>", 1, None, []),
    _row("rule_score", 0, 0.45, [(0.3, 0.3)]),
    _row("rule_score", 1, 0.55, [(0.3, 0.3)]),
]


def _svg(text: str) -> ET.Element:
    return ET.fromstring(text)  # well-formed, or this raises


def _series(root: ET.Element, label: str) -> list[ET.Element]:
    return [e for e in root.iter() if e.get("data-series") == label]


def test_auc_chart_draws_each_kind_with_the_rule_score_dashed() -> None:
    svg = auc_chart(ROWS)
    assert svg == auc_chart(ROWS) and "<hgb>" not in svg
    root = _svg(svg)
    hgb_path, hgb_dots = _series(root, "<hgb>")
    rule_path, rule_dots = _series(root, "rule_score")
    assert len(hgb_dots) == 1 and len(rule_dots) == 2  # the fold without an AUC has no point
    assert rule_path.get("stroke-dasharray") and not hgb_path.get("stroke-dasharray")
    legend = [g.get("data-label") for g in root.iter(f"{NS}g") if g.get("class") == "legend-entry"]
    assert legend == ["<hgb>", "rule_score", "no skill (0.5)"]
    (chance,) = [e for e in root.iter(f"{NS}line") if e.get("class") == "chance"]
    # AUC 0.45..0.6 (ticks every 0.05): 0.5 sits a third of the way up from the 0.45 tick to the 0.60
    ticks = {t.text: float(t.get("y")) for t in root.iter(f"{NS}text") if t.text in ("0.45", "0.60")}
    expected = ticks["0.45"] + (ticks["0.60"] - ticks["0.45"]) / 3
    assert float(chance.get("y1")) == pytest.approx(expected, abs=0.11)  # coordinates have one decimal


def test_calibration_panels_and_their_diagonal() -> None:
    root = _svg(calibration_chart(ROWS, "<hgb>", "win"))
    titles = [t.text for t in root.iter(f"{NS}text") if t.get("class") == "panel-title"]
    assert titles == ["fold 0 (2014)", "fold 1 (2015)"]
    assert [t.text for t in root.iter(f"{NS}text") if t.get("class") == "empty"] == ["No predictions"]
    (dots,) = [g for g in root.iter(f"{NS}g") if g.get("class") == "markers"]
    assert len(dots) == 2
    diagonal = next(e for e in root.iter(f"{NS}line") if e.get("class") == "diagonal")
    frame = next(r for r in root.iter(f"{NS}rect") if r.get("stroke") and r.get("fill") == "none")
    left, top = float(frame.get("x")), float(frame.get("y"))
    right, bottom = left + float(frame.get("width")), top + float(frame.get("height"))
    assert [float(diagonal.get(k)) for k in ("x1", "y1", "x2", "y2")] == [left, bottom, right, top]
    empty = _svg(calibration_chart(ROWS, "absent", "r"))
    assert [t.text for t in empty.iter(f"{NS}text") if t.get("class") == "empty"] == ["No folds"]


def test_rule_score_bars_on_a_zero_to_one_axis() -> None:
    summary = {"by_score": [{"score_from": 3, "win_rate": 1.0, "mean_r": 0.5},
                            {"score_from": 4, "win_rate": 0.5, "mean_r": -0.25}]}  # fmt: skip
    root = _svg(rule_score_chart(summary))
    bars = {
        b.get("data-score"): float(b.get("height")) for b in root.iter(f"{NS}rect") if b.get("class") == "bar"
    }
    assert bars["4"] * 2 == bars["3"]  # half the win rate, half the bar
    assert len(_series(root, "mean R")[1]) == 2
    empty = _svg(rule_score_chart({"by_score": []}))
    assert [t.text for t in empty.iter(f"{NS}text") if t.get("class") == "empty"] == ["No setups"]


def _run(group: str, label: str, equity: list[float | None]) -> dict[str, Any]:
    dates = [f"2015-01-{d:02d}" for d in range(2, 2 + len(equity))]
    return {"group": group, "label": label, "dates": dates, "equity": equity}


def test_equity_chart_draws_every_run_and_one_entry_for_the_random_draws() -> None:
    portfolio = {"runs": [_run("rule", "rule score", [1e5, 1.1e5, 1.2e5]),
                          _run("random", "random #1", [1e5, 0.9e5, 0.95e5]),
                          _run("random", "random #2", [1e5, None, 1.05e5]),
                          _run("learned", "hgb <rank> & co", [1e5, 1.3e5, 1.4e5])]}  # fmt: skip
    svg = equity_chart(portfolio)
    assert svg == equity_chart(portfolio) and "<rank>" not in svg
    root = _svg(svg)
    legend = [g.get("data-label") for g in root.iter(f"{NS}g") if g.get("class") == "legend-entry"]
    assert legend == ["rule score", "hgb <rank> & co", "random order draws"]
    paths = [p.get("data-series") for p in root.iter(f"{NS}path") if p.get("data-series")]
    assert paths == ["random #1", "random #2", "hgb <rank> & co", "rule score"]  # the rule score on top
    (gapped,) = [p for p in root.iter(f"{NS}path") if p.get("data-series") == "random #2"]
    assert gapped.get("d").count("M") == 2
    empty = _svg(equity_chart({"runs": [_run("rule", "rule score", [])]}))
    assert [t.text for t in empty.iter(f"{NS}text") if t.get("class") == "empty"] == ["No equity"]


def test_render_charts_names_svg_files() -> None:
    doc = {"folds": ROWS, "rule_score": {"by_score": []}, "settings": {"models": ["<hgb>"], "target": "win"}}
    assert list(render_charts(doc)) == ["auc_by_fold.svg", "rule_score.svg", "calibration_<hgb>.svg"]
