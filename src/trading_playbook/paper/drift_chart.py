"""The drift report's chart as SVG text (:mod:`~trading_playbook.reports._svg`): the paper account's
equity against its backtest's over the slippage drift of each fill (realised minus configured, bps)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from trading_playbook.reports._axes import (
    LegendEntry,
    date_axis,
    headings,
    legend,
    message,
    money,
    y_axis,
)
from trading_playbook.reports._bar_charts import histogram_axes, histogram_bars
from trading_playbook.reports._svg import Box, Canvas, LinearScale, day_numbers, nice_ticks, text_width
from trading_playbook.reports.charts import series_path
from trading_playbook.reports.palette import BENCHMARK_DASHES, PALETTE, RULE, STRATEGY_COLOUR

__all__ = ["drift_bins", "drift_chart"]

PAPER_COLOUR, BACKTEST_COLOUR, DRIFT_COLOUR = STRATEGY_COLOUR, PALETTE[3], PALETTE[4]
_WIDTH, _HEIGHT, _BINS = 960.0, 640.0, 40


def drift_chart(doc: Mapping[str, Any]) -> str:
    """Equity of the paper account (solid) and of its backtest (dashed; gaps where it has none) on a
    date axis, over the histogram of the slippage drift per fill; each panel says so when it is empty."""
    title = f"Paper account {doc['account']} against its backtest"
    canvas = Canvas(_WIDTH, _HEIGHT, title, chart="drift")
    top = headings(canvas, title)
    equity_box = Box(0, top + 8, 0, 320)
    drift_box = Box(0, equity_box.bottom + 62, _WIDTH - 20, _HEIGHT - equity_box.bottom - 62 - 50)
    _equity_panel(canvas, equity_box, doc["equity"])
    drifts = np.array([f["drift_bps"] for f in doc["fills"] if f["drift_bps"] is not None], dtype=np.float64)
    _drift_panel(canvas, drift_box, drifts[np.isfinite(drifts)])
    return canvas.render()


def _equity_panel(canvas: Canvas, frame: Box, rows: list[Mapping[str, Any]]) -> None:
    paper = np.array([np.nan if r["paper"] is None else r["paper"] for r in rows], dtype=np.float64)
    model = np.array([np.nan if r["backtest"] is None else r["backtest"] for r in rows], dtype=np.float64)
    values = np.concatenate((paper, model))
    values = values[np.isfinite(values)]
    if values.size == 0:
        message(canvas, Box(90, frame.top, _WIDTH - 110, frame.height), "No sessions yet")
        return
    lo, hi, ticks = nice_ticks(float(values.min()), float(values.max()), 6)
    left = 40 + max(text_width(money(t), 11.0) for t in ticks)
    box = Box(left, frame.top, _WIDTH - 20 - left, frame.height)
    dates = day_numbers([r["date"] for r in rows])
    first, last = float(dates[0]), float(dates[-1])
    x = LinearScale(first - 0.5, last + 0.5, box.left, box.right)
    y = LinearScale(lo, hi, box.bottom, box.top)
    date_axis(canvas, box, x)
    y_axis(canvas, box, y, ticks, money, "Equity ($)", title_x=16.0)
    xs = x.many(dates)
    dash = BENCHMARK_DASHES[1]
    series_path(
        canvas, xs, y.many(model), BACKTEST_COLOUR, 2.0, "backtest", dash=dash, class_="series backtest"
    )
    series_path(canvas, xs, y.many(paper), PAPER_COLOUR, 2.0, "paper account", class_="series paper")
    canvas.rect(box.left, box.top, box.width, box.height, "none", stroke=RULE)
    legend(canvas, box.left + 10, box.top + 8, [
        LegendEntry("paper account", PAPER_COLOUR),
        LegendEntry("backtest", BACKTEST_COLOUR, dash=dash),
    ])  # fmt: skip


def drift_bins(drifts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Counts and edges of the drifts (bps): 40 equal bins from the lowest to the highest; when every
    drift is the same (a zero-drift account), 40 bins over one basis point centred on it."""
    lo, hi = float(drifts.min()), float(drifts.max())
    if hi == lo:
        lo, hi = lo - 0.5, hi + 0.5
    return np.histogram(drifts, bins=_BINS, range=(lo, hi))


def _drift_panel(canvas: Canvas, frame: Box, drifts: np.ndarray) -> None:
    if drifts.size == 0:
        message(canvas, Box(90, frame.top, _WIDTH - 110, frame.height), "No fills yet")
        return
    counts, edges = drift_bins(drifts)
    box, x, y = histogram_axes(
        canvas, frame, edges, float(counts.max()) * 1.1, y_ticks=4, pad=0.03,
        x_title="Slippage drift per fill (realised - configured, bps)", y_title="Fills", signed=True,
        title_x=16.0,
    )  # fmt: skip

    def bar(a: float, b: float, count: int) -> tuple[str, str, str] | None:
        fills = f"{count:,} fill" if count == 1 else f"{count:,} fills"
        return ("bar", DRIFT_COLOUR, f"{a:+.3f} to {b:+.3f} bps: {fills}") if count else None

    histogram_bars(canvas, x, y, edges, counts, bar)
    canvas.line(box.left, box.bottom, box.right, box.bottom, RULE)
