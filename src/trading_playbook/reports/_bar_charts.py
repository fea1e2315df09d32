"""The report's two bar charts as SVG text: the trade-return histogram and the exit reasons; and the
histogram's axes and bars (:func:`histogram_axes`, :func:`histogram_bars`), which the paper drift chart
shares."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from trading_playbook.core import _order_stats
from trading_playbook.reports._axes import (
    LegendEntry,
    headings,
    legend,
    message,
    number_label,
    trades_text,
    x_axis,
    y_axis,
)
from trading_playbook.reports._svg import (
    Box,
    Canvas,
    LinearScale,
    escape,
    nice_ticks,
    num,
    quoteattr,
    text_width,
)
from trading_playbook.reports.palette import GAIN, LOSS, PALETTE, RULE, STRATEGY_COLOUR, TEXT

__all__ = ["exit_reasons_chart", "histogram_axes", "histogram_bars", "histogram_bins", "trade_returns_chart"]

MEDIAN_COLOUR = PALETTE[4]


def histogram_bins(returns: np.ndarray) -> tuple[np.ndarray, np.ndarray, tuple[float, float], int]:
    """Counts and edges of the trade returns (%), the view they span and how many trades lie beyond it.

    The view spans the 0.5-99.5 percentiles (from 200 trades on) so a single freak trade cannot
    squash the histogram; trades beyond it are counted in the end bars. The bins have equal width
    with 0 on an edge, so every bar is wholly a gain or a loss.
    """
    lo_view, hi_view = (
        (float(v) for v in _order_stats.percentiles(returns, [0.5, 99.5]))
        if returns.size >= 200
        else (float(returns.min()), float(returns.max()))
    )
    outside = int(np.sum((returns < lo_view) | (returns > hi_view)))
    n_bins = int(np.clip(np.sqrt(returns.size) * 2, 5, 80))
    width = max((hi_view - lo_view) / n_bins, 0.1)
    lo, hi = np.floor(lo_view / width), np.floor(hi_view / width) + 1
    edges = np.arange(lo, hi + 1) * width
    counts, edges = np.histogram(np.clip(returns, lo_view, hi_view), bins=edges)
    return counts, edges, (lo_view, hi_view), outside


def trade_returns_chart(doc: Mapping[str, Any]) -> str:
    """Histogram of the trade returns (%), losses red and gains green, with the mean and the median."""
    raw = np.array(
        [np.nan if t["pnl_pct"] is None else t["pnl_pct"] for t in doc["trades"]], dtype=np.float64
    )
    returns = raw[np.isfinite(raw)] * 100.0
    title = f"Distribution of trade returns ({trades_text(returns.size)})"
    canvas = Canvas(860, 480, title, chart="trade_returns")
    top = headings(canvas, title)
    if returns.size == 0:
        message(canvas, Box(70, top + 8, 770, 480 - top - 60), "No trades")
        return canvas.render()
    counts, edges, (lo_view, hi_view), outside = histogram_bins(returns)
    headroom = 1.1 + 0.08 * (3 if outside else 2)  # the legend's lines sit above the tallest bar
    box, x, y = histogram_axes(
        canvas, Box(0, top + 8, 840, 480 - top - 60), edges, max(float(counts.max()), 1.0) * headroom,
        y_ticks=6, pad=0.05, x_title="Trade return (%)", y_title="Trades",
    )  # fmt: skip

    def bar(a: float, b: float, count: int) -> tuple[str, str, str]:
        kind, colour = ("loss", LOSS) if a < 0 else ("gain", GAIN)
        return f"bar {kind}", colour, f"{a:+.2f}% to {b:+.2f}%: {trades_text(count)}"

    histogram_bars(canvas, x, y, edges, counts, bar)
    canvas.line(x(0.0), box.top, x(0.0), box.bottom, TEXT, 1.0, class_="zero")
    mean, median = float(returns.mean()), float(_order_stats.median(returns))
    canvas.line(
        x(mean), box.top, x(mean), box.bottom, STRATEGY_COLOUR, 1.8, stroke_dasharray="6 4", class_="mean"
    )
    canvas.line(
        x(median), box.top, x(median), box.bottom, MEDIAN_COLOUR, 1.8, stroke_dasharray="2 3", class_="median"
    )
    entries = [
        LegendEntry(f"mean {mean:+.2f}%", STRATEGY_COLOUR, dash="6 4"),
        LegendEntry(f"median {median:+.2f}%", MEDIAN_COLOUR, dash="2 3"),
    ]
    if outside:
        note = f"{outside:,} trades outside {lo_view:+.0f}% to {hi_view:+.0f}% (in the end bars)"
        entries.insert(0, LegendEntry(note, key="none"))
    legend(canvas, box.right - 10, box.top + 8, entries, anchor="end")
    canvas.rect(box.left, box.top, box.width, box.height, "none", stroke=RULE)
    return canvas.render()


def _step(ticks: list[float]) -> float:
    return ticks[1] - ticks[0] if len(ticks) > 1 else 1.0


def histogram_axes(
    canvas: Canvas,
    frame: Box,
    edges: np.ndarray,
    y_top: float,
    *,
    y_ticks: int,
    pad: float,
    x_title: str,
    y_title: str,
    signed: bool = False,
    title_x: float | None = None,
) -> tuple[Box, LinearScale, LinearScale]:
    """The axes of a histogram in ``frame`` (its left edge is where the count labels end): counts
    from 0 to about ``y_top`` (``y_ticks`` ticks), the bins' ``edges`` with ``pad`` of their span
    either side. Returns the plot box and the x and y scales."""
    _, y_hi, counts_ticks = nice_ticks(0.0, y_top, y_ticks, integer=True)
    left = 40 + max(text_width(f"{t:,.0f}", 11.0) for t in counts_ticks)
    box = Box(left, frame.top, frame.right - left, frame.height)
    margin = pad * float(edges[-1] - edges[0])
    x = LinearScale(float(edges[0]) - margin, float(edges[-1]) + margin, box.left, box.right)
    y = LinearScale(0.0, y_hi, box.bottom, box.top)
    _, _, x_ticks = nice_ticks(x.lo, x.hi, 8)
    x_ticks = x.within(x_ticks)
    x_axis(canvas, box, x, x_ticks, number_label(_step(x_ticks), signed=signed), x_title, grid=False)
    y_axis(canvas, box, y, counts_ticks, lambda t: f"{t:,.0f}", y_title, title_x=title_x)
    return box, x, y


def histogram_bars(
    canvas: Canvas,
    x: LinearScale,
    y: LinearScale,
    edges: np.ndarray,
    counts: np.ndarray,
    bar: Callable[[float, float, int], tuple[str, str, str] | None],
) -> None:
    """One ``<rect>`` per bin; ``bar(lo, hi, count)`` gives its class, fill and tooltip, or None to
    leave the bin out."""
    bars = []
    for a, b, count in zip(edges[:-1].tolist(), edges[1:].tolist(), counts.tolist(), strict=True):
        style = bar(a, b, count)
        if style is None:
            continue
        class_, colour, title = style
        bars.append(
            f'<rect class="{class_}" data-count="{count}" x="{num(x(a))}" y="{num(y(count))}" '
            f'width="{num(x(b) - x(a))}" height="{num(y(0.0) - y(count))}" fill="{colour}">'
            f"<title>{title}</title></rect>"
        )
    canvas.group(bars, class_="bars", stroke="#ffffff", stroke_width=0.5)


def exit_reasons_chart(doc: Mapping[str, Any]) -> str:
    """Per exit reason (the most frequent on top): the trade count with its win rate, and the average
    trade return (%)."""
    reasons = doc["metrics"]["exit_reasons"]
    order = sorted(reasons, key=lambda r: (-reasons[r]["count"], r))
    pitch = 30.0
    canvas = Canvas(960, 32 + 30 + max(len(order), 3) * pitch + 48, "Exit reasons", chart="exit_reasons")
    top = headings(canvas, "Exit reasons") + 24
    height = max(len(order), 3) * pitch
    left = 16 + max((text_width(r, 12.0) for r in order), default=60.0)
    if not order:
        message(canvas, Box(left, top, 940 - left, height), "No trades")
        return canvas.render()
    half = (940 - left - 48) / 2  # the gap leaves room for the counts' last tick label
    counts_box, returns_box = Box(left, top, half, height), Box(left + half + 48, top, half, height)
    for k, reason in enumerate(order):
        canvas.text(
            left - 8, top + (k + 0.5) * pitch, reason, size=12.0, anchor="end", fill=TEXT, class_="reason"
        )
    _count_panel(canvas, counts_box, order, reasons, pitch)
    _return_panel(canvas, returns_box, order, reasons, pitch)
    return canvas.render()


def _panel_title(canvas: Canvas, box: Box, title: str) -> None:
    canvas.text(
        box.left + box.width / 2,
        box.top - 12,
        title,
        size=13.0,
        anchor="middle",
        fill=TEXT,
        class_="panel-title",
    )


def _count_panel(
    canvas: Canvas, box: Box, order: list[str], reasons: Mapping[str, Any], pitch: float
) -> None:
    counts = [int(reasons[r]["count"]) for r in order]
    _, hi, ticks = nice_ticks(0.0, max(counts) * 1.45, 5, integer=True)
    x = LinearScale(0.0, hi, box.left, box.right)
    _panel_title(canvas, box, "Count and win rate")
    x_axis(canvas, box, x, ticks, lambda t: f"{t:,.0f}", "Trades")
    bars, labels = [], []
    for k, (reason, count) in enumerate(zip(order, counts, strict=True)):
        y = box.top + k * pitch + 4
        rate = reasons[reason].get("win_rate")
        text = f"{count:,}  (win {rate * 100:.0f}%)" if rate is not None else f"{count:,}"
        bars.append(
            f'<rect class="bar count" data-reason={quoteattr(reason)} data-count="{count}" x="{num(x(0.0))}" '
            f'y="{num(y)}" width="{num(x(count) - x(0.0))}" height="{num(pitch - 8)}" fill="{STRATEGY_COLOUR}"/>'
        )
        labels.append(
            f'<text x="{num(x(count) + 4)}" y="{num(y + pitch / 2 - 4)}" dy="0.35em">{escape(text)}</text>'
        )
    canvas.group(bars, class_="bars")
    canvas.group(labels, class_="bar-labels", font_size=11.0, fill=TEXT)
    canvas.rect(box.left, box.top, box.width, box.height, "none", stroke=RULE)


def _return_panel(
    canvas: Canvas, box: Box, order: list[str], reasons: Mapping[str, Any], pitch: float
) -> None:
    averages = [float(reasons[r].get("avg_return") or 0.0) * 100.0 for r in order]
    span = max(max(abs(a) for a in averages), 0.5) * 1.35
    _, _, ticks = nice_ticks(-span, span, 6)
    x = LinearScale(-span, span, box.left, box.right)
    _panel_title(canvas, box, "Average return")
    x_axis(
        canvas,
        box,
        x,
        x.within(ticks),
        number_label(_step(ticks)),
        "Average trade return (%)",
    )
    bars, labels = [], []
    for k, (reason, average) in enumerate(zip(order, averages, strict=True)):
        y = box.top + k * pitch + 4
        kind, colour = ("gain", GAIN) if average >= 0 else ("loss", LOSS)
        x0, x1 = sorted((x(0.0), x(average)))
        bars.append(
            f'<rect class="bar {kind}" data-reason={quoteattr(reason)} x="{num(x0)}" y="{num(y)}" '
            f'width="{num(x1 - x0)}" height="{num(pitch - 8)}" fill="{colour}"/>'
        )
        anchor, at = ("start", x1 + 4) if average >= 0 else ("end", x0 - 4)
        labels.append(
            f'<text x="{num(at)}" y="{num(y + pitch / 2 - 4)}" dy="0.35em" text-anchor="{anchor}">{average:+.2f}%</text>'
        )
    canvas.group(bars, class_="bars")
    canvas.group(labels, class_="bar-labels", font_size=11.0, fill=TEXT)
    canvas.line(x(0.0), box.top, x(0.0), box.bottom, TEXT, 0.8, class_="zero")
    canvas.rect(box.left, box.top, box.width, box.height, "none", stroke=RULE)
