"""The parts every report chart shares, drawn on a :class:`~trading_playbook.reports._svg.Canvas`:
titles, axes with ticks and grid lines, legends and the message an empty chart shows."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from trading_playbook.reports._svg import (
    Box,
    Canvas,
    LinearScale,
    date_ticks,
    escape,
    num,
    quoteattr,
    text_width,
)
from trading_playbook.reports.palette import GRID, MUTED, RULE, TEXT

__all__ = [
    "LegendEntry",
    "colour_bar",
    "date_axis",
    "decimals_for",
    "headings",
    "legend",
    "message",
    "money",
    "number_label",
    "trades_text",
    "x_axis",
    "y_axis",
]

TITLE_SIZE, SUBTITLE_SIZE, LABEL_SIZE, TICK_SIZE = 16.0, 12.0, 12.0, 11.0


def money(value: float) -> str:
    """Dollars as the money axis shows them (``$12,500``; ``$0.50`` below a dollar)."""
    return f"${value:,.2f}" if 0 < abs(value) < 1 else f"${value:,.0f}"


def headings(canvas: Canvas, title: str, subtitle: str | None = None) -> float:
    """The chart's title (and subtitle) centred at the top; returns the height they take."""
    canvas.text(
        canvas.width / 2, 18, title, size=TITLE_SIZE, anchor="middle", fill=TEXT, weight="600", class_="title"
    )
    if subtitle is None:
        return 32.0
    canvas.text(canvas.width / 2, 38, subtitle, size=SUBTITLE_SIZE, anchor="middle", class_="subtitle")
    return 52.0


def y_axis(
    canvas: Canvas,
    box: Box,
    scale: LinearScale,
    ticks: Sequence[float],
    label: Callable[[float], str],
    title: str | None = None,
    *,
    grid: bool = True,
    title_x: float | None = None,
) -> None:
    """Tick labels left of ``box`` (grid lines across it) and the axis title turned upwards (at
    ``title_x`` when given: panels stacked one over the other align their titles)."""
    parts = []
    for tick in ticks:
        y = scale(tick)
        if grid:
            parts.append(_line(box.left, y, box.right, y, GRID))
        parts.append(_tick_text(box.left - 6, y, label(tick), "end"))
    canvas.group(parts, class_="axis y-axis", font_size=TICK_SIZE)
    if title:
        widest = max((text_width(label(t), TICK_SIZE) for t in ticks), default=0.0)
        x = box.left - 14 - widest if title_x is None else title_x
        canvas.text(
            x,
            box.top + box.height / 2,
            title,
            size=LABEL_SIZE,
            anchor="middle",
            fill=TEXT,
            rotate=True,
            class_="axis-title",
        )


def x_axis(
    canvas: Canvas,
    box: Box,
    scale: LinearScale,
    ticks: Sequence[float],
    label: Callable[[float], str] | Sequence[str],
    title: str | None = None,
    *,
    grid: bool = True,
) -> None:
    """Tick labels below ``box`` (grid lines up through it) and the axis title below them;
    ``label`` is a formatter or the labels themselves."""
    labels = list(label) if isinstance(label, Sequence) else [label(t) for t in ticks]
    parts = []
    for tick, text in zip(ticks, labels, strict=True):
        x = scale(tick)
        if grid:
            parts.append(_line(x, box.top, x, box.bottom, GRID))
        parts.append(_line(x, box.bottom, x, box.bottom + 4, RULE))
        parts.append(_tick_text(x, box.bottom + 14, text, "middle"))
    canvas.group(parts, class_="axis x-axis", font_size=TICK_SIZE)
    if title:
        canvas.text(
            box.left + box.width / 2,
            box.bottom + 34,
            title,
            size=LABEL_SIZE,
            anchor="middle",
            fill=TEXT,
            class_="axis-title",
        )


def _line(x1: float, y1: float, x2: float, y2: float, stroke: str) -> str:
    return f'<line x1="{num(x1)}" y1="{num(y1)}" x2="{num(x2)}" y2="{num(y2)}" stroke="{stroke}"/>'


def _tick_text(x: float, y: float, text: str, anchor: str) -> str:
    return f'<text x="{num(x)}" y="{num(y)}" dy="0.35em" text-anchor="{anchor}" fill="{MUTED}">{escape(text)}</text>'


@dataclass(frozen=True)
class LegendEntry:
    """One legend line: a label and its key (``line`` with a dash pattern, ``patch``, or ``none``)."""

    label: str
    colour: str = MUTED
    key: str = "line"
    dash: str = ""


def legend(
    canvas: Canvas, x: float, y: float, entries: Sequence[LegendEntry], *, anchor: str = "start"
) -> None:
    """Entries stacked downwards from (``x``, ``y``), on a white backing so grid lines do not cross
    the text; ``anchor="end"`` right-aligns the block at ``x``."""
    width = 30 + max((text_width(e.label, LABEL_SIZE) for e in entries), default=0.0)
    left = x - width if anchor == "end" else x
    parts = [
        f'<rect x="{num(left - 4)}" y="{num(y - 4)}" width="{num(width + 8)}" height="{num(18 * len(entries) + 8)}" '
        'fill="#ffffff" fill-opacity="0.85"/>'
    ]
    for k, entry in enumerate(entries):
        middle = y + 9 + 18 * k
        key = ""
        if entry.key == "line":
            dash = f' stroke-dasharray="{entry.dash}"' if entry.dash else ""
            key = f'<line x1="{num(left)}" y1="{num(middle)}" x2="{num(left + 22)}" y2="{num(middle)}" stroke="{entry.colour}" stroke-width="2"{dash}/>'
        elif entry.key == "patch":
            key = f'<rect x="{num(left + 4)}" y="{num(middle - 6)}" width="14" height="12" fill="{entry.colour}"/>'
        text = f'<text x="{num(left + 30)}" y="{num(middle)}" dy="0.35em" fill="{TEXT}">{escape(entry.label)}</text>'
        parts.append(f'<g class="legend-entry" data-label={quoteattr(entry.label)}>{key}{text}</g>')
    canvas.group(parts, class_="legend", font_size=LABEL_SIZE)


def message(canvas: Canvas, box: Box, text: str) -> None:
    """The message a chart without data shows in its plot area (``No sessions``, ``No trades``)."""
    canvas.rect(box.left, box.top, box.width, box.height, "none", stroke=RULE)
    canvas.text(
        box.left + box.width / 2, box.top + box.height / 2, text, size=15.0, anchor="middle", class_="empty"
    )


def trades_text(n: int) -> str:
    return f"{n:,} trade" if n == 1 else f"{n:,} trades"


def decimals_for(step: float) -> int:
    """Decimals that show a tick step exactly (``5`` -> 0, ``0.5`` -> 1, ``0.25`` -> 2)."""
    for places in range(7):
        if abs(round(step, places) - step) < 1e-9 * max(1.0, abs(step)):
            return places
    return 6


def number_label(step: float, *, signed: bool = False) -> Callable[[float], str]:
    """A tick formatter with the decimals ``step`` needs (``-20``, ``0.5``; ``+5`` when ``signed``)."""
    places = decimals_for(step)
    sign = "+" if signed else ""
    return lambda value: f"{value + 0.0:{sign},.{places}f}" if value else "0"


def date_axis(canvas: Canvas, box: Box, scale: LinearScale, *, labels: bool = True) -> None:
    """Vertical grid lines at the date ticks of the scale's span, with their labels when ``labels``."""
    ticks = date_ticks(scale.lo, scale.hi, target=max(4, int(box.width // 70)))
    positions = [t for t, _ in ticks]
    x_axis(canvas, box, scale, positions, [label for _, label in ticks] if labels else ["" for _ in ticks])


def colour_bar(
    canvas: Canvas,
    box: Box,
    name: str,
    colours: Sequence[str],
    ticks: tuple[LinearScale, Sequence[float], Callable[[float], str]],
    title: str,
) -> None:
    """A heatmap's scale: a vertical gradient through ``colours`` (top to bottom, evenly spaced; the
    gradient's id is ``<name>-scale``), framed; ``ticks`` is (the values' scale on the bar, the tick
    values, their label), ticks outside the scale's domain left out; ``title`` upwards on the right."""
    stops = "".join(
        f'<stop offset="{k / (len(colours) - 1):g}" stop-color="{colour}"/>'
        for k, colour in enumerate(colours)
    )
    canvas.element(
        "defs", f'<linearGradient id="{name}-scale" x1="0" y1="0" x2="0" y2="1">{stops}</linearGradient>'
    )
    canvas.rect(
        box.left, box.top, box.width, box.height, f"url(#{name}-scale)", stroke=RULE, class_="colour-bar"
    )
    scale, values, label = ticks
    for tick in scale.within(values):
        canvas.line(box.right, scale(tick), box.right + 4, scale(tick), MUTED)
        canvas.text(box.right + 7, scale(tick), label(tick), size=10.0)
    canvas.text(
        box.right + 52, box.top + box.height / 2, title, size=12.0, anchor="middle", fill=TEXT, rotate=True
    )
