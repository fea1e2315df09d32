"""Charts of the ML report as SVG text (:mod:`~trading_playbook.reports._svg`): calibration per fold,
AUC by fold, the rule score's win rate and mean R by score, and the equity curves of the portfolio
comparison. Each copes with empty input by saying so in the picture, and the same document always
gives the same bytes."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from trading_playbook.reports._axes import (
    LegendEntry,
    date_axis,
    headings,
    legend,
    message,
    money,
    number_label,
    x_axis,
    y_axis,
)
from trading_playbook.reports._svg import (
    Box,
    Canvas,
    LinearScale,
    LogScale,
    day_numbers,
    log_ticks,
    nice_ticks,
    num,
    polyline,
    text_width,
)
from trading_playbook.reports.charts import series_path
from trading_playbook.reports.palette import LOSS, PALETTE, RULE, STRATEGY_COLOUR, TEXT

__all__ = ["auc_chart", "calibration_chart", "equity_chart", "render_charts", "rule_score_chart"]

RULE_COLOUR = TEXT  # the rule score: near-black and dashed in every chart, the baseline to beat
RANDOM_COLOUR = "#afb8c1"
_PANEL_W, _PANEL_H = 240.0, 230.0


def _floats(values: Sequence[Any]) -> np.ndarray:
    """``values`` as floats, ``None`` (and anything not finite) as NaN."""
    return np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)


def _markers(canvas: Canvas, xs: np.ndarray, ys: np.ndarray, colour: str, label: str) -> None:
    """A dot on each finite point (the charts with few points: each one is a fold or a bin)."""
    dots = [
        f'<circle cx="{num(x)}" cy="{num(y)}" r="3"/>'
        for x, y in zip(xs.tolist(), ys.tolist(), strict=True)
        if math.isfinite(x) and math.isfinite(y)
    ]
    canvas.group(dots, class_="markers", fill=colour, data_series=label)


def _line(canvas: Canvas, xs: np.ndarray, ys: np.ndarray, colour: str, label: str, dash: str = "") -> None:
    canvas.path(
        polyline(xs, ys), stroke=colour, width=1.6, dash=dash or None, data_series=label, class_="series"
    )
    _markers(canvas, xs, ys, colour, label)


def _range_ticks(values: np.ndarray, *include: float, target: int = 5) -> tuple[float, float, list[float]]:
    finite = values[np.isfinite(values)]
    lo = min([float(finite.min()), *include]) if finite.size else min(include, default=0.0)
    hi = max([float(finite.max()), *include]) if finite.size else max(include, default=1.0)
    return nice_ticks(lo, hi, target)


def calibration_chart(rows: list[Mapping[str, Any]], kind: str, target: str) -> str:
    """One panel per fold (four a row): mean outcome against mean prediction by prediction bin, over
    the dashed diagonal of perfect calibration; win rates on 0..1, mean R on a range that holds 0..1."""
    mine = [r for r in rows if r["kind"] == kind]
    what = "win rate" if target == "win" else "mean R"
    title = f"Calibration of {kind}: observed {what} against prediction (test windows)"
    cols = min(4, max(1, len(mine)))
    width = max(cols * _PANEL_W + 20, text_width(title, 16.0) + 40)
    height = 40 + max(1, math.ceil(len(mine) / cols)) * _PANEL_H
    canvas = Canvas(width, height, title, chart=f"calibration_{kind}")
    top = headings(canvas, title)
    if not mine:
        message(canvas, Box(60, top + 8, width - 80, height - top - 30), "No folds")
        return canvas.render()
    for k, row in enumerate(mine):
        left, panel_top = 10 + (k % cols) * _PANEL_W, top + (k // cols) * _PANEL_H
        _calibration_panel(canvas, Box(left + 62, panel_top + 26, _PANEL_W - 80, _PANEL_H - 82), row, target)
    return canvas.render()


def _calibration_panel(canvas: Canvas, box: Box, row: Mapping[str, Any], target: str) -> None:
    bins = row["calibration"]
    xs, ys = _floats([b["predicted"] for b in bins]), _floats([b["observed"] for b in bins])
    if target == "win":
        lo, hi, ticks = nice_ticks(0.0, 1.0, 4)
    else:
        lo, hi, ticks = _range_ticks(np.concatenate((xs, ys)), 0.0, 1.0, target=4)
    x, y = LinearScale(lo, hi, box.left, box.right), LinearScale(lo, hi, box.bottom, box.top)
    label = number_label(ticks[1] - ticks[0])
    canvas.text(box.left + box.width / 2, box.top - 14, f"fold {row['fold']} ({str(row['test_start'])[:4]})",
                size=12.0, anchor="middle", fill=TEXT, class_="panel-title")  # fmt: skip
    x_axis(canvas, box, x, ticks, label, "predicted")
    y_axis(canvas, box, y, ticks, label, "observed")
    canvas.line(x(lo), y(lo), x(hi), y(hi), RULE, 1.0, stroke_dasharray="4 3", class_="diagonal")
    canvas.rect(box.left, box.top, box.width, box.height, "none", stroke=RULE)
    if not np.isfinite(xs + ys).any():
        canvas.text(box.left + box.width / 2, box.top + box.height / 2, "No predictions", size=12.0,
                    anchor="middle", class_="empty")  # fmt: skip
        return
    _line(canvas, x.many(xs), y.many(ys), STRATEGY_COLOUR, f"fold {row['fold']}")


def _kind_colours(kinds: Sequence[str]) -> dict[str, tuple[str, str]]:
    """(colour, dash) of each kind: the rule score near-black and dashed, the models the palette's."""
    models = [k for k in kinds if k != "rule_score"]
    colours = {k: (PALETTE[i % len(PALETTE)], "") for i, k in enumerate(models)}
    return colours | ({"rule_score": (RULE_COLOUR, "6 3")} if "rule_score" in kinds else {})


def _legend_box(canvas: Canvas, entries: Sequence[LegendEntry], top: float) -> float:
    """The legend right of the plot; returns the plot's right edge."""
    width = 30 + max(text_width(e.label, 12.0) for e in entries)
    legend(canvas, canvas.width - 14 - width, top, entries)
    return canvas.width - 30 - width


def auc_chart(rows: list[Mapping[str, Any]]) -> str:
    """Out-of-sample AUC per fold for every model and for the rule score (dashed), against the 0.5 of
    no skill."""
    title = "Does the score rank winners above losers? (0.5 = no better than chance)"
    canvas = Canvas(860, 380, title, chart="auc_by_fold")
    top = headings(canvas, title) + 8
    points = [
        (r["kind"], r["fold"], r["auc"]) for r in rows if r["auc"] is not None and math.isfinite(r["auc"])
    ]
    if not points:
        message(canvas, Box(70, top, 770, 380 - top - 50), "No fold has an AUC")
        return canvas.render()
    kinds = sorted({kind for kind, _, _ in points})
    styles = _kind_colours(kinds)
    entries = [LegendEntry(k, styles[k][0], dash=styles[k][1]) for k in kinds]
    entries.append(LegendEntry("no skill (0.5)", LOSS))
    right = _legend_box(canvas, entries, top)
    folds = np.array([f for _, f, _ in points], dtype=np.float64)
    lo, hi, y_ticks = _range_ticks(np.array([a for _, _, a in points]), 0.5, target=5)
    left = 40 + max(text_width(f"{t:.2f}", 11.0) for t in y_ticks)
    box = Box(left, top, right - left, 380 - top - 50)
    _, _, x_ticks = nice_ticks(float(folds.min()), float(folds.max()), 10, integer=True)
    x = LinearScale(float(folds.min()) - 0.5, float(folds.max()) + 0.5, box.left, box.right)
    y = LinearScale(lo, hi, box.bottom, box.top)
    x_axis(canvas, box, x, x.within(x_ticks), lambda t: f"{t:.0f}", "fold")
    y_axis(canvas, box, y, y_ticks, number_label(y_ticks[1] - y_ticks[0]), "out-of-sample AUC")
    canvas.line(box.left, y(0.5), box.right, y(0.5), LOSS, 1.0, class_="chance")
    for kind in kinds:
        mine = sorted((f, a) for k, f, a in points if k == kind)
        xs, ys = np.array([f for f, _ in mine], dtype=np.float64), np.array([a for _, a in mine])
        _line(canvas, x.many(xs), y.many(ys), styles[kind][0], kind, styles[kind][1])
    canvas.rect(box.left, box.top, box.width, box.height, "none", stroke=RULE)
    return canvas.render()


def rule_score_chart(summary: Mapping[str, Any]) -> str:
    """Win rate (bars, left axis) and mean R (line, right axis, dotted zero) of the traded setups by
    rule score (out-of-sample windows)."""
    title = "Rule score against outcome (every setup of the test windows)"
    canvas = Canvas(760, 360, title, chart="rule_score")
    top = headings(canvas, title) + 8
    buckets = summary["by_score"]
    if not buckets:
        message(canvas, Box(70, top, 620, 360 - top - 50), "No setups")
        return canvas.render()
    scores = np.array([b["score_from"] for b in buckets], dtype=np.float64)
    win, mean_r = _floats([b["win_rate"] for b in buckets]), _floats([b["mean_r"] for b in buckets])
    win_hi, win_ticks = (
        1.0,
        nice_ticks(0.0, 1.0, 5)[2],
    )  # a share: the whole 0..1, so bars compare across reports
    r_lo, r_hi, r_ticks = _range_ticks(mean_r, 0.0, target=5)
    left = 40 + max(text_width(f"{t:.2f}", 11.0) for t in win_ticks)
    entries = [LegendEntry("win rate", STRATEGY_COLOUR, key="patch"), LegendEntry("mean R", LOSS)]
    right = _legend_box(canvas, entries, top) - 34 - max(text_width(f"{t:+.2f}", 11.0) for t in r_ticks)
    box = Box(left, top, right - left, 360 - top - 50)
    x = LinearScale(float(scores.min()) - 0.6, float(scores.max()) + 0.6, box.left, box.right)
    y_win, y_r = LinearScale(0.0, win_hi, box.bottom, box.top), LinearScale(r_lo, r_hi, box.bottom, box.top)
    _, _, x_ticks = nice_ticks(float(scores.min()), float(scores.max()), 12, integer=True)
    x_axis(canvas, box, x, x.within(x_ticks), lambda t: f"{t:.0f}", "rule score (floor)")
    y_axis(canvas, box, y_win, win_ticks, number_label(win_ticks[1] - win_ticks[0]), "win rate")
    _right_axis(canvas, box, y_r, r_ticks, "mean R")
    bars = [
        f'<rect class="bar" data-score="{s:.0f}" x="{num(x(s - 0.4))}" y="{num(y_win(w))}" '
        f'width="{num(x(s + 0.4) - x(s - 0.4))}" height="{num(y_win(0.0) - y_win(w))}">'
        f"<title>score {s:.0f}: win rate {w:.3f}</title></rect>"
        for s, w in zip(scores.tolist(), win.tolist(), strict=True)
        if math.isfinite(w)
    ]
    canvas.group(bars, class_="bars", fill=STRATEGY_COLOUR, fill_opacity="0.7")
    canvas.line(box.left, y_r(0.0), box.right, y_r(0.0), LOSS, 0.8, stroke_dasharray="2 2", class_="zero-r")
    _line(canvas, x.many(scores), y_r.many(mean_r), LOSS, "mean R")
    canvas.rect(box.left, box.top, box.width, box.height, "none", stroke=RULE)
    return canvas.render()


def _right_axis(canvas: Canvas, box: Box, scale: LinearScale, ticks: Sequence[float], title: str) -> None:
    """Tick labels right of ``box`` (no grid: the left axis has it) and the title turned upwards."""
    label = number_label(ticks[1] - ticks[0], signed=True)
    parts = [
        f'<text x="{num(box.right + 6)}" y="{num(scale(t))}" dy="0.35em" fill="{LOSS}">{label(t)}</text>'
        for t in ticks
    ]
    canvas.group(parts, class_="axis y-axis right", font_size=11.0)
    widest = max(text_width(label(t), 11.0) for t in ticks)
    canvas.text(box.right + 20 + widest, box.top + box.height / 2, title, size=12.0, anchor="middle",
                fill=LOSS, rotate=True, class_="axis-title")  # fmt: skip


def equity_chart(portfolio: Mapping[str, Any]) -> str:
    """Equity curves on a log money axis: the rule score (near-black, dashed, on top), the learned
    variants (palette colours) and the random orderings (light grey, one legend entry)."""
    title = "Out-of-sample portfolio: same capital and slots, different setup order"
    canvas = Canvas(960, 460, title, chart="equity")
    top = headings(canvas, title) + 8
    runs = [r for r in portfolio["runs"] if r["dates"]]
    values = np.concatenate([_floats(r["equity"]) for r in runs]) if runs else np.empty(0)
    positive = values[np.isfinite(values) & (values > 0)]
    if positive.size == 0:
        message(canvas, Box(90, top, 850, 460 - top - 50), "No equity")
        return canvas.render()
    learned = [r for r in runs if r["group"] not in ("rule", "random")]
    colours = {id(r): PALETTE[(k + 1) % len(PALETTE)] for k, r in enumerate(learned)}
    entries = [LegendEntry(r["label"], RULE_COLOUR, dash="6 3") for r in runs if r["group"] == "rule"]
    entries += [LegendEntry(r["label"], colours[id(r)]) for r in learned]
    entries += (
        [LegendEntry("random order draws", RANDOM_COLOUR)]
        if any(r["group"] == "random" for r in runs)
        else []
    )
    right = _legend_box(canvas, entries, top)
    lo, hi = float(positive.min()) / 1.02, float(positive.max()) * 1.02
    ticks = log_ticks(lo, hi)
    left = 40 + max(text_width(money(t), 11.0) for t in ticks)
    box = Box(left, top, right - left, 460 - top - 50)
    days = [day_numbers(r["dates"]) for r in runs]
    first, last = min(float(d[0]) for d in days), max(float(d[-1]) for d in days)
    x, y = LinearScale(first - 0.5, last + 0.5, box.left, box.right), LogScale(lo, hi, box.bottom, box.top)
    date_axis(canvas, box, x)
    y_axis(canvas, box, y, ticks, money, "Equity ($, log scale)")
    order = {"random": 0, "rule": 2}  # greys underneath, the rule score on top
    for run, dates in sorted(zip(runs, days, strict=True), key=lambda p: order.get(p[0]["group"], 1)):
        group = run["group"]
        colour, width, dash = (
            (RANDOM_COLOUR, 0.8, "") if group == "random"
            else (RULE_COLOUR, 2.0, "6 3") if group == "rule"
            else (colours[id(run)], 1.4, "")
        )  # fmt: skip
        series_path(canvas, x.many(dates), y.many(_floats(run["equity"])), colour, width, run["label"],
                    dash=dash or None, class_=f"series {group}")  # fmt: skip
    canvas.rect(box.left, box.top, box.width, box.height, "none", stroke=RULE)
    return canvas.render()


def render_charts(doc: Mapping[str, Any]) -> dict[str, str]:
    """Every chart of the report (SVG text) by file name."""
    rows = doc["folds"]
    charts = {"auc_by_fold.svg": auc_chart(rows), "rule_score.svg": rule_score_chart(doc["rule_score"])}
    for kind in doc["settings"]["models"]:
        charts[f"calibration_{kind}.svg"] = calibration_chart(rows, kind, doc["settings"]["target"])
    if doc.get("portfolio"):
        charts["equity.svg"] = equity_chart(doc["portfolio"])
    return charts
