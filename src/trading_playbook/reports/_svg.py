"""A small SVG layer for the report's charts: scales, nice ticks, and the elements a chart is made of.

Everything is text built with the standard library (and numpy for the long series): no raster, no
plotting library. Coordinates are in the drawing's user units (the ``viewBox``, one unit a CSS pixel
at the natural size), written with one decimal, so the same values give the same bytes. All text
passes through :func:`escape` / :func:`quoteattr`: symbols and exit reasons are user data.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from trading_playbook.reports.palette import MUTED, TEXT

__all__ = [
    "PATH_UNITS",
    "Box",
    "Canvas",
    "LinearScale",
    "LogScale",
    "date_ticks",
    "day_numbers",
    "escape",
    "log_ticks",
    "nice_step",
    "nice_ticks",
    "num",
    "pixel_extremes",
    "polyline",
    "quoteattr",
    "text_width",
]

FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif"
_EPOCH = dt.date(1970, 1, 1)
# XML's escapes, as xml.sax.saxutils writes them; that module is not imported for them: it imports
# urllib.request, http.client and email (50-80 ms on the command's critical path, for three replacements)
_TEXT_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
_ATTR_ESCAPES = str.maketrans(
    {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "\n": "&#10;", "\r": "&#13;", "\t": "&#9;"}
)
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def num(value: float) -> str:
    """A coordinate as text: one decimal, ``.0`` and the sign of zero dropped (``12``, ``3.5``)."""
    text = f"{value:.1f}"
    if text.endswith(".0"):
        text = text[:-2]
    return "0" if text == "-0" else text


def text_width(text: str, size: float) -> float:
    """A generous width of ``text`` at font ``size`` (0.6 em a character: wider than the digits and
    most letters of the usual sans-serif fonts), for margins that never clip a label."""
    return 0.6 * size * len(text)


@dataclass(frozen=True)
class Box:
    """A plot area: its left and top edges, width and height, in user units."""

    left: float
    top: float
    width: float
    height: float

    @property
    def right(self) -> float:
        return self.left + self.width

    @property
    def bottom(self) -> float:
        return self.top + self.height


@dataclass(frozen=True)
class LinearScale:
    """Maps the data interval ``lo..hi`` onto the drawing interval ``start..end`` (either may run
    backwards: a y axis grows upwards)."""

    lo: float
    hi: float
    start: float
    end: float

    def __call__(self, value: float) -> float:
        return float(self.many(np.asarray([value], dtype=np.float64))[0])

    def within(self, ticks: Sequence[float]) -> list[float]:
        """The ``ticks`` inside the data interval ``lo..hi``."""
        return [t for t in ticks if self.lo <= t <= self.hi]

    def many(self, values: np.ndarray) -> np.ndarray:
        """The positions of many values at once (NaN stays NaN)."""
        span = self.hi - self.lo
        share = (values - self.lo) / span if span else np.full_like(values, 0.5)
        return self.start + share * (self.end - self.start)


@dataclass(frozen=True)
class LogScale(LinearScale):
    """A base-10 logarithmic scale (``lo`` and ``hi`` positive); values <= 0 map to NaN."""

    def many(self, values: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            logs = np.where(values > 0, np.log10(np.where(values > 0, values, 1.0)), np.nan)
        return LinearScale(math.log10(self.lo), math.log10(self.hi), self.start, self.end).many(logs)


def nice_step(span: float, target: int) -> float:
    """The smallest step of the form 1, 2 or 5 times a power of ten that splits ``span`` into at
    most ``target`` intervals (``nice_step(100, 5) == 20``, ``nice_step(0.7, 5) == 0.2``)."""
    raw = span / max(target, 1)
    if not math.isfinite(raw) or raw <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(raw))
    for multiple in (1.0, 2.0, 5.0, 10.0):
        if multiple * power >= raw * (1.0 - 1e-9):
            return multiple * power
    return 10.0 * power  # pragma: no cover (10 x power >= raw always)


def nice_ticks(
    lo: float, hi: float, target: int = 5, *, integer: bool = False
) -> tuple[float, float, list[float]]:
    """A nice axis over ``lo..hi``: the domain widened to whole steps and the ticks on it.

    ``nice_ticks(3, 97)`` is ``(0, 100, [0, 20, 40, 60, 80, 100])``. An empty interval is widened
    (by 1, or a tenth of the value) so it still has ticks; ``integer`` keeps steps of at least 1.
    """
    if not (math.isfinite(lo) and math.isfinite(hi)):
        lo, hi = 0.0, 1.0
    lo, hi = min(lo, hi), max(lo, hi)
    if hi == lo:
        pad = abs(lo) * 0.1 or 1.0
        lo, hi = lo - pad, hi + pad
    step = nice_step(hi - lo, target)
    if integer:
        step = max(1.0, float(round(step)))
    first, last = math.floor(lo / step + 1e-9), math.ceil(hi / step - 1e-9)
    ticks = [_clean(k * step) for k in range(first, last + 1)]
    return ticks[0], ticks[-1], ticks


def _clean(value: float) -> float:
    """``value`` without the float noise of ``k * step`` (``3 * 0.1`` -> ``0.3``), and no ``-0.0``."""
    return round(value, 10) + 0.0


def log_ticks(lo: float, hi: float) -> list[float]:
    """Ticks of a log axis over ``lo..hi`` (positive): 1, 2 and 5 times the powers of ten inside it,
    only the powers when that gives more than ten, and plain nice ticks when fewer than two."""
    first, last = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
    for multiples in ((1.0, 2.0, 5.0), (1.0,)):
        ticks = [
            _clean(m * 10.0**p)
            for p in range(first, last + 1)
            for m in multiples
            if lo * (1 - 1e-9) <= m * 10.0**p <= hi * (1 + 1e-9)
        ]
        if len(ticks) <= 10:
            break
    if len(ticks) < 2:
        ticks = [t for t in nice_ticks(lo, hi, 4)[2] if lo <= t <= hi]
    return ticks


def day_numbers(dates: Sequence[str]) -> np.ndarray:
    """ISO dates (``YYYY-MM-DD``) as days since 1970-01-01 (float, for the scales)."""
    return np.asarray(dates, dtype="datetime64[D]").astype(np.int64).astype(np.float64)


def date_ticks(first: float, last: float, target: int = 10) -> list[tuple[float, str]]:
    """Ticks of a date axis from day ``first`` to day ``last`` (days since 1970-01-01), with labels:
    whole years (``2004``) every 1, 2, 5, 10... years over a long span; months (``Mar``, a January
    or the first tick with its year) over a few months to years; days (``Jan 4``) below two months."""
    start, end = _EPOCH + dt.timedelta(days=math.ceil(first)), _EPOCH + dt.timedelta(days=math.floor(last))
    span = last - first
    if span >= 3 * 365:
        step = next(s for s in (1, 2, 5, 10, 20, 50, 100) if (end.year - start.year) / s <= target)
        years = range(start.year + int((start.month, start.day) != (1, 1)), end.year + 1)
        return [(_day(dt.date(y, 1, 1)), str(y)) for y in years if y % step == 0]
    if span >= 60:
        months = (end.year - start.year) * 12 + end.month - start.month
        step = next(s for s in (1, 2, 3, 6, 12) if months / s <= target)
        ticks: list[tuple[float, str]] = []
        for k in range(start.year * 12 + start.month - 1 + (start.day != 1), end.year * 12 + end.month):
            year, month = divmod(k, 12)
            if month % step == 0:
                label = str(year) if month == 0 else _MONTHS[month] + ("" if ticks else f" {year}")
                ticks.append((_day(dt.date(year, month + 1, 1)), label))
        return ticks
    step = next(s for s in (1, 2, 5, 7, 14, 28) if span / s <= target)
    days = range(math.ceil(first), math.floor(last) + 1, step)
    labels = [_EPOCH + dt.timedelta(days=d) for d in days]
    return [
        (float(d), f"{_MONTHS[x.month - 1]} {x.day}" + ("" if k else f" {x.year}"))
        for k, (d, x) in enumerate(zip(days, labels, strict=True))
    ]


def _day(date: dt.date) -> float:
    return float((date - _EPOCH).days)


def pixel_extremes(columns: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Indices to draw of a line whose points fall in pixel ``columns`` (non-decreasing): in each
    column its first, last, lowest and highest point, so the drawn line is the same to the pixel and
    no extreme is lost (the M4 scheme, as :mod:`trading_playbook.web.downsample`, per pixel column);
    every non-finite value (a gap) and its neighbours are kept too."""
    n = values.shape[0]
    if n <= 4:
        return np.arange(n)
    column = np.floor(columns).astype(np.int64)
    starts = np.flatnonzero(np.concatenate(([True], column[1:] != column[:-1])))
    ends = np.concatenate((starts[1:], [n])) - 1
    group = np.repeat(np.arange(starts.size), np.diff(np.concatenate((starts, [n]))).astype(np.int64))
    finite = np.isfinite(values)
    lowest = np.lexsort((np.where(finite, values, np.inf), group))[starts]
    highest = np.lexsort((np.where(finite, -values, np.inf), group))[starts]
    gaps = np.flatnonzero(~finite)
    around = np.clip(np.concatenate((gaps - 1, gaps + 1)), 0, n - 1)
    kept = np.sort(np.concatenate((starts, ends, lowest, highest, gaps, around)))
    # each index once (np.unique's result; np.unique itself imports numpy.ma to ask whether it is masked)
    return kept[np.concatenate(([True], kept[1:] != kept[:-1]))]


def escape(text: str) -> str:
    """``text`` as XML character data: ``&``, ``<`` and ``>`` escaped (``xml.sax.saxutils.escape``)."""
    return text.translate(_TEXT_ESCAPES)


def quoteattr(value: str) -> str:
    """``value`` as a double-quoted XML attribute value: ``&``, ``<``, ``>``, ``"`` and the line breaks
    and tabs (which an XML parser would turn into spaces) escaped."""
    return '"' + value.translate(_ATTR_ESCAPES) + '"'


PATH_UNITS = 10  # path data in tenths of a unit: whole numbers, exact to a tenth of a pixel


def polyline(xs: np.ndarray, ys: np.ndarray) -> str:
    """Path data through the points for :meth:`Canvas.path`: in tenths of a unit (whole numbers), each
    point after the first of a run relative to the one before (``l``: a few digits a point instead of
    two absolute coordinates, the positions rounded first so the steps add up exactly), a new ``M``
    after each non-finite point (a gap in the line)."""
    finite = np.isfinite(xs) & np.isfinite(ys)
    tenths_x = np.round(np.where(finite, xs, 0.0) * PATH_UNITS).astype(np.int64)
    tenths_y = np.round(np.where(finite, ys, 0.0) * PATH_UNITS).astype(np.int64)
    edges = np.flatnonzero(np.diff(np.concatenate(([False], finite, [False])).astype(np.int8)))
    parts: list[str] = []
    for start, stop in zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True):
        parts.append(f"M{tenths_x[start]},{tenths_y[start]}")
        if stop - start > 1:
            steps_x = np.diff(tenths_x[start:stop]).tolist()
            steps_y = np.diff(tenths_y[start:stop]).tolist()
            parts.append("l" + " ".join(f"{a},{b}" for a, b in zip(steps_x, steps_y, strict=True)))
    return "".join(parts)


def _attrs(values: dict[str, object]) -> str:
    """`` key="value"`` pairs (``_`` in a key becomes ``-``; ``None`` values left out), escaped."""
    return "".join(
        f" {key.rstrip('_').replace('_', '-')}={quoteattr(value if isinstance(value, str) else num(value) if isinstance(value, float) else str(value))}"
        for key, value in values.items()
        if value is not None
    )


class Canvas:
    """One SVG document being built: elements are appended in drawing order, :meth:`render` wraps
    them in the ``<svg>`` root with a ``viewBox``, a size, a ``<title>`` and an ``aria-label``."""

    def __init__(self, width: float, height: float, title: str, *, chart: str) -> None:
        self.width, self.height, self.title, self.chart = width, height, title, chart
        self.parts: list[str] = []

    def element(self, tag: str, content: str | None = None, /, **attributes: object) -> None:
        """``<tag attributes/>``, or with ``content`` (already markup) inside."""
        attrs = _attrs(attributes)
        self.parts.append(f"<{tag}{attrs}/>" if content is None else f"<{tag}{attrs}>{content}</{tag}>")

    def text(
        self,
        x: float,
        y: float,
        content: str,
        *,
        size: float = 11.0,
        anchor: str = "start",
        fill: str = MUTED,
        weight: str | None = None,
        rotate: bool = False,
        **attributes: object,
    ) -> None:
        """``content`` (escaped) centred vertically on ``y``; ``rotate`` turns it to read upwards."""
        self.element(
            "text",
            escape(content),
            x=float(x),
            y=float(y),
            dy="0.35em",
            font_size=float(size),
            text_anchor=None if anchor == "start" else anchor,
            fill=fill,
            font_weight=weight,
            transform=f"rotate(-90 {num(x)} {num(y)})" if rotate else None,
            **attributes,
        )

    def line(
        self,
        x1: float,
        y1: float,
        x2: float,
        y2: float,
        stroke: str,
        width: float = 1.0,
        **attributes: object,
    ) -> None:
        self.element(
            "line", x1=float(x1), y1=float(y1), x2=float(x2), y2=float(y2), stroke=stroke,
            stroke_width=float(width), **attributes,
        )  # fmt: skip

    def rect(
        self,
        x: float,
        y: float,
        width: float,
        height: float,
        fill: str,
        *,
        tip: str | None = None,
        **attributes: object,
    ) -> None:
        """A rectangle; ``tip`` becomes its ``<title>`` (the browser's tooltip)."""
        self.element(
            "rect",
            None if tip is None else f"<title>{escape(tip)}</title>",
            x=float(x), y=float(y), width=float(max(width, 0.0)), height=float(max(height, 0.0)), fill=fill,
            **attributes,
        )  # fmt: skip

    def path(
        self,
        data: str,
        *,
        stroke: str = "none",
        width: float | None = None,
        fill: str = "none",
        dash: str | None = None,
        **attributes: object,
    ) -> None:
        """A path of :func:`polyline` data (tenths of a unit, scaled back here; the stroke ``width``
        and ``dash`` pattern are given in units, as everywhere else)."""
        if data:
            self.element(
                "path", d=data, transform=f"scale({1 / PATH_UNITS})", fill=fill, stroke=stroke,
                stroke_width=None if width is None else float(width * PATH_UNITS),
                stroke_dasharray=" ".join(num(float(d) * PATH_UNITS) for d in dash.split()) if dash else None,
                stroke_linejoin="round" if stroke != "none" else None, **attributes,
            )  # fmt: skip

    def group(self, parts: Iterable[str], **attributes: object) -> None:
        """Wrap elements (markup) in a ``<g>``."""
        self.parts.append(f"<g{_attrs(attributes)}>{''.join(parts)}</g>")

    def render(self) -> str:
        """The SVG document (UTF-8 text, no XML declaration: it is also inlined in ``report.html``)."""
        root = _attrs(
            {
                "xmlns": "http://www.w3.org/2000/svg",
                "width": num(self.width),
                "height": num(self.height),
                "viewBox": f"0 0 {num(self.width)} {num(self.height)}",
                "role": "img",
                "aria-label": self.title,
                "class": f"chart chart-{self.chart}",
                "font-family": FONT,
                "fill": TEXT,
            }
        )
        background = f'<rect width="{num(self.width)}" height="{num(self.height)}" fill="#ffffff"/>'
        body = "\n".join(self.parts)
        return f"<svg{root}>\n<title>{escape(self.title)}</title>\n{background}\n{body}\n</svg>\n"
