"""The report's charts of a result document, as SVG text (:mod:`~trading_playbook.reports._svg`).

Four charts: ``equity`` (equity against the buy-and-hold benchmarks, drawdown panel below),
``monthly_returns`` (year x month heatmap), ``trade_returns`` (histogram of trade returns) and
``exit_reasons`` (count and average return per reason, :mod:`~trading_playbook.reports._bar_charts`);
a fifth, ``coverage`` (:mod:`~trading_playbook.reports.coverage`), when the run had a point-in-time
universe. Each copes with empty input by saying so in the picture instead of failing, and the same
document always gives the same bytes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np

from trading_playbook.reports._axes import (
    LegendEntry,
    colour_bar,
    date_axis,
    headings,
    legend,
    message,
    money,
    number_label,
    trades_text,
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
    pixel_extremes,
    polyline,
    text_width,
)
from trading_playbook.reports.palette import (
    BENCHMARK_COLOURS,
    BENCHMARK_DASHES,
    GAIN,
    LOSS,
    RULE,
    STRATEGY_COLOUR,
    TEXT,
    ink_on,
    rgb,
)

__all__ = ["CHART_NAMES", "chart_names", "equity_chart", "monthly_chart", "render_charts"]

CHART_NAMES = ("equity", "monthly_returns", "trade_returns", "exit_reasons")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

Renderer = Callable[[Mapping[str, Any]], str]


def chart_names(doc: Mapping[str, Any]) -> tuple[str, ...]:
    """The charts a document gets: :data:`CHART_NAMES`, plus ``coverage`` for a point-in-time universe."""
    coverage = (doc.get("data") or {}).get("coverage")
    return (*CHART_NAMES, "coverage") if coverage else CHART_NAMES


def series_path(
    canvas: Canvas, xs: np.ndarray, ys: np.ndarray, colour: str, width: float, label: str, **attributes: Any
) -> None:
    """One line through (``xs``, ``ys``) in drawing units: its points thinned to those that show at one
    pixel per column (:func:`~trading_playbook.reports._svg.pixel_extremes`), and a dot per point
    when there are fewer than three (a line of one point is invisible)."""
    keep = pixel_extremes(xs, ys)
    canvas.path(
        polyline(xs[keep], ys[keep]),
        stroke=colour,
        width=width,
        data_series=label,
        stroke_linecap="round",
        **attributes,
    )
    if xs.size < 3:
        for x, y in zip(xs.tolist(), ys.tolist(), strict=True):
            if math.isfinite(x) and math.isfinite(y):
                canvas.element("circle", cx=x, cy=y, r=3.5, fill=colour, class_="marker", data_series=label)


def _money_axis(values: np.ndarray) -> tuple[type[LinearScale], float, float, list[float], str]:
    """The equity panel's y scale (kind, domain), ticks and title: a log scale when the curves span
    more than 4x, so no curve flattens the others."""
    positive = values[np.isfinite(values) & (values > 0)]
    if positive.size and positive.max() / positive.min() > 4.0:
        lo, hi = float(positive.min()) / 1.05, float(positive.max()) * 1.05
        return LogScale, lo, hi, log_ticks(lo, hi), "Equity ($, log scale)"
    finite = values[np.isfinite(values)]
    lo, hi, ticks = nice_ticks(float(finite.min()), float(finite.max()), 6)
    return LinearScale, lo, hi, ticks, "Equity ($)"


def _equity_series(doc: Mapping[str, Any]) -> list[tuple[str, np.ndarray, str, str, float]]:
    """(label, values, colour, dash, width) of the strategy and each benchmark rescaled to the
    starting capital (the equal-weight one first)."""
    start = float(doc["starting_capital"])
    equity = np.array(
        [np.nan if r["equity"] is None else r["equity"] for r in doc["equity"]], dtype=np.float64
    )
    series = [("Strategy", equity, STRATEGY_COLOUR, "", 2.0)]
    benches = doc.get("benchmarks") or {}
    for k, name in enumerate(sorted(benches, key=lambda b: (b != "equal_weight", b))):
        values = np.array([np.nan if v is None else v for v in benches[name]["values"]], dtype=np.float64)
        finite = values[np.isfinite(values) & (values != 0)]
        if finite.size:
            colour, dash = BENCHMARK_COLOURS[k % 3], BENCHMARK_DASHES[k % 3]
            series.append(
                (str(benches[name].get("label", name)), values / finite[0] * start, colour, dash, 1.4)
            )
    return series


def equity_chart(doc: Mapping[str, Any]) -> str:
    """Equity against the buy-and-hold benchmarks (money axis, log when they span more than 4x) over
    the drawdown panel, on a date axis."""
    m = doc["metrics"]
    benches = doc.get("benchmarks") or {}
    heading = "Equity against buy & hold" if benches else "Equity (no benchmark data)"
    subtitle = (
        f"{m.get('first_session') or '?'} to {m.get('last_session') or '?'} · {trades_text(m['trades'])}"
    )
    canvas = Canvas(960, 600, f"{heading}, {subtitle}", chart="equity")
    top = headings(canvas, heading, subtitle)
    rows = doc["equity"]
    series = _equity_series(doc) if rows else []
    values = np.concatenate([s[1] for s in series]) if series else np.zeros(0)
    if not np.isfinite(values).any():
        message(canvas, Box(90, top + 8, 850, 500), "No sessions" if not rows else "No finite equity values")
        return canvas.render()
    start = float(doc["starting_capital"])
    equity = series[0][1]
    peaks = np.fmax.accumulate(np.concatenate(([start], equity)))[1:]
    with np.errstate(divide="ignore", invalid="ignore"):
        drawdown = (equity / peaks - 1.0) * 100.0
    kind, money_lo, money_hi, money_ticks, money_title = _money_axis(np.concatenate((values, [start])))
    deepest = max(min(_finite_min(drawdown) * 1.1, -1.0), -100.0)  # a drawdown ends at -100 %
    dd_lo, _, dd_ticks = nice_ticks(deepest, 0.0, 4)
    labels = [money(t) for t in money_ticks] + [number_label(dd_ticks[1] - dd_ticks[0])(t) for t in dd_ticks]
    left = 40 + max(text_width(label, 11.0) for label in labels)
    upper = Box(left, top + 8, 950 - left, 360)
    lower = Box(left, upper.bottom + 14, upper.width, 600 - upper.bottom - 14 - 36)
    money_scale = kind(money_lo, money_hi, upper.bottom, upper.top)
    dates = day_numbers([r["date"] for r in rows])
    first, last = float(dates[0]), float(dates[-1])
    if len(rows) < 3:  # a very short run: a few days either side instead of an empty axis
        first, last = first - 3.0, last + 3.0
    x_upper = LinearScale(first, last, upper.left, upper.right)
    xs = x_upper.many(dates)
    date_axis(canvas, upper, x_upper, labels=False)
    y_axis(canvas, upper, money_scale, money_ticks, money, money_title, title_x=16.0)
    canvas.line(
        upper.left, money_scale(start), upper.right, money_scale(start), RULE, 1.2, class_="start-capital"
    )
    for k in reversed(range(len(series))):  # the strategy (the first) drawn last, on top
        label, ys, colour, dash, width = series[k]
        role = "benchmark" if k else "strategy"
        series_path(
            canvas,
            xs,
            money_scale.many(ys),
            colour,
            width,
            label,
            dash=dash or None,
            class_=f"series {role}",
        )
    legend(canvas, upper.left + 10, upper.top + 8, [LegendEntry(s[0], s[2], dash=s[3]) for s in series])
    canvas.rect(upper.left, upper.top, upper.width, upper.height, "none", stroke=RULE)
    _drawdown_panel(
        canvas, lower, LinearScale(first, last, lower.left, lower.right), dates, drawdown, (dd_lo, dd_ticks)
    )
    return canvas.render()


def _finite_min(values: np.ndarray) -> float:
    finite = values[np.isfinite(values)]
    return float(finite.min()) if finite.size else 0.0


def _drawdown_panel(
    canvas: Canvas,
    box: Box,
    x: LinearScale,
    dates: np.ndarray,
    drawdown: np.ndarray,
    axis: tuple[float, list[float]],
) -> None:
    """The drawdown from the running peak (%, the starting capital the first peak) as a filled area."""
    lo, ticks = axis
    y = LinearScale(lo, 0.5, box.bottom, box.top)
    date_axis(canvas, box, x)
    y_axis(canvas, box, y, ticks, number_label(ticks[1] - ticks[0]), "Drawdown (%)", title_x=16.0)
    xs, ys = x.many(dates), y.many(drawdown)
    finite = np.flatnonzero(np.isfinite(ys))
    if finite.size:
        keep = finite[pixel_extremes(xs[finite], ys[finite])]
        zero = y(0.0)
        # the line's points, then back along zero
        area = polyline(
            np.concatenate((xs[keep], xs[keep[[-1, 0]]])), np.concatenate((ys[keep], [zero, zero]))
        )
        canvas.path(area + "Z", fill=LOSS, fill_opacity="0.3", class_="drawdown-area")
    series_path(canvas, xs, ys, LOSS, 1.0, "Drawdown", class_="series drawdown")
    canvas.line(box.left, y(0.0), box.right, y(0.0), TEXT, 0.8)
    canvas.rect(box.left, box.top, box.width, box.height, "none", stroke=RULE)


def _cell_colour(value: float, limit: float) -> str:
    """White at zero to the gain (green) or loss (red) colour at ``limit``."""
    share = min(abs(value) / limit, 1.0)
    target = GAIN if value > 0 else LOSS
    return "#" + "".join(f"{round(255 + (c - 255) * share):02x}" for c in rgb(target))


def _monthly_grid(monthly: Mapping[str, Any], years: list[str]) -> np.ndarray:
    """Returns in % by (year, month); NaN where a month has none (or no finite one)."""
    grid = np.full((len(years), 12), np.nan)
    for key, value in monthly.items():
        if isinstance(value, int | float) and math.isfinite(value):
            grid[years.index(key[:4]), int(key[5:7]) - 1] = value * 100.0
    return grid


def monthly_chart(doc: Mapping[str, Any]) -> str:
    """Years x months heatmap of the monthly returns (%), each cell's value written in it, on a
    diverging scale symmetric about zero (red losses, green gains), with its colour bar."""
    monthly = doc["metrics"]["monthly_returns"]
    years = sorted({key[:4] for key in monthly})
    pitch = 24.0 if len(years) <= 25 else 17.0
    canvas = Canvas(
        960, 32 + 24 + max(len(years), 4) * pitch + 16, "Monthly returns (%)", chart="monthly_returns"
    )
    top = headings(canvas, "Monthly returns (%)") + 24
    box = Box(56, top, 960 - 56 - 96, max(len(years), 4) * pitch)
    if not years:
        message(canvas, box, "No sessions")
        return canvas.render()
    grid = _monthly_grid(monthly, years)
    limit = max(float(np.nanmax(np.abs(grid))) if np.isfinite(grid).any() else 1.0, 1.0)
    width = box.width / 12
    for month, name in enumerate(_MONTHS):
        canvas.text(
            box.left + (month + 0.5) * width, top - 12, name, size=12.0, anchor="middle", class_="month"
        )
    size = 11.0 if pitch > 20 else 9.0
    cells, labels = [], []
    for row, year in enumerate(years):
        y = box.top + row * pitch
        canvas.text(box.left - 8, y + pitch / 2, year, size=12.0, anchor="end", class_="year")
        for month in range(12):
            cells.append(
                _cell(
                    grid[row, month],
                    f"{year}-{month + 1:02d}",
                    (box.left + month * width, y, width, pitch),
                    limit,
                )
            )
            value = grid[row, month]
            if np.isfinite(value):
                ink = ink_on(_cell_colour(value, limit))
                labels.append(
                    f'<text x="{box.left + (month + 0.5) * width:.1f}" y="{y + pitch / 2:.1f}" dy="0.35em" '
                    f'fill="{ink}">{value:+.1f}</text>'
                )
    canvas.group(cells, class_="cells", stroke="#ffffff")
    canvas.group(labels, class_="values", font_size=size, text_anchor="middle")
    _colour_bar(canvas, Box(box.right + 14, box.top, 12, box.height), limit)
    return canvas.render()


def _cell(value: float, month: str, rect: tuple[float, float, float, float], limit: float) -> str:
    x, y, w, h = rect
    if not np.isfinite(value):
        return f'<rect class="cell missing" data-month="{month}" x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" fill="#f6f8fa"/>'
    kind = "gain" if value > 0 else "loss" if value < 0 else "flat"
    return (
        f'<rect class="cell {kind}" data-month="{month}" data-value="{value:+.1f}" x="{x:.1f}" y="{y:.1f}" '
        f'width="{w:.1f}" height="{h:.1f}" fill="{_cell_colour(value, limit)}"><title>{month}: {value:+.2f}%</title></rect>'
    )


def _colour_bar(canvas: Canvas, box: Box, limit: float) -> None:
    """The heatmap's scale: a vertical gradient from -limit (bottom) to +limit (top), ticked."""
    _, _, ticks = nice_ticks(-limit, limit, 4)
    scale = LinearScale(-limit, limit, box.bottom, box.top)
    label = number_label(ticks[1] - ticks[0], signed=True)
    colour_bar(canvas, box, "monthly_returns", (GAIN, "#ffffff", LOSS), (scale, ticks, label), "Return (%)")


def _renderers() -> dict[str, Renderer]:
    from trading_playbook.reports._bar_charts import exit_reasons_chart, trade_returns_chart
    from trading_playbook.reports.coverage import coverage_chart

    return {
        "equity": equity_chart,
        "monthly_returns": monthly_chart,
        "trade_returns": trade_returns_chart,
        "exit_reasons": exit_reasons_chart,
        "coverage": coverage_chart,
    }


def render_charts(doc: Mapping[str, Any], names: Iterable[str] | None = None) -> dict[str, str]:
    """Every chart of a result document as SVG text, keyed by name (in :func:`chart_names` order);
    only ``names`` when given."""
    renderers = _renderers()
    wanted = chart_names(doc) if names is None else tuple(n for n in chart_names(doc) if n in set(names))
    return {name: renderers[name](doc) for name in wanted}
