"""PNG charts of a result document (matplotlib, Agg, object API: no pyplot global state).

Four charts: ``equity`` (equity against the buy-and-hold benchmarks, drawdown panel below),
``monthly_returns`` (year x month heatmap), ``trade_returns`` (histogram of trade returns) and
``exit_reasons`` (count and average return per reason); a fifth, ``coverage``
(:mod:`~trading_playbook.reports.coverage`), when the run had a point-in-time universe. Each copes with empty input by saying so
in the picture instead of failing.
"""

from __future__ import annotations

import functools
import struct
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib import dates as mdates
from matplotlib import ticker
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.cm import ScalarMappable
from matplotlib.collections import PathCollection, PolyCollection
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.path import Path
from matplotlib.textpath import TextPath
from matplotlib.transforms import Affine2D

from trading_playbook._chart_fork import Renderer
from trading_playbook._chart_worker import CHART_NAMES

__all__ = ["CHART_NAMES", "chart_renderers", "prepare_figures", "render_charts", "warm_caches"]

# the names live with the chart worker (the command links them in report.md before they are drawn)
_DPI = 110
_STRATEGY = "#0969da"
_BENCH_COLOURS = ("#8c959f", "#bf8700", "#8250df")
_POS, _NEG = "#2da44e", "#cf222e"
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


# Each chart's figure, axes and tick objects before any data: about a fifth of a chart's time, which
# the chart worker spends ahead while it waits for the run (:func:`prepare_figures`). The ticks are
# matplotlib's Tick objects, made lazily on the first draw at about a millisecond each; the counts
# are those the charts of the full shared-data run and of the synthetic demo use (a chart needing
# more makes the rest, one needing fewer leaves the extra ones undrawn).
_TICKS_AHEAD: dict[str, tuple[tuple[int, int, int], ...]] = {  # per axes: (x major, y major, y minor)
    "equity": ((10, 16, 30), (10, 6, 1)),
    "monthly_returns": ((12, 23, 1),),
    "trade_returns": ((8, 11, 1),),
    "exit_reasons": ((11, 6, 1), (11, 6, 1)),
}
_prepared: dict[str, Figure] = {}  # built ahead, each used by one chart (never drawn twice)


def _skeleton(name: str, size: tuple[float, float]) -> Figure:
    """A chart's figure and axes before any data."""
    fig = Figure(figsize=size, dpi=_DPI)
    if name == "equity":  # equity over its drawdown
        fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    elif name == "exit_reasons":  # counts beside average returns
        fig.subplots(1, 2, sharey=True)
    else:
        fig.subplots()
    return fig


def prepare_figures(stop: Callable[[], bool] | None = None) -> None:
    """Build every chart's figure, axes and ticks ahead, for the next drawing of each in this process
    (the chart worker, while the command runs), and load what a first drawing loads (the fonts at the
    charts' sizes, the heatmap's colour map, the monthly labels' glyph outlines). The pictures are the
    same bytes either way. ``stop`` is asked before each chart's figure: when it says so (the run's
    values have arrived), the rest are left to the charts themselves."""
    warm_caches()
    for name, ticks in _TICKS_AHEAD.items():
        if stop is not None and stop():
            return
        fig = _skeleton(name, (11, 5))
        for ax, (x_major, y_major, y_minor) in zip(fig.axes, ticks, strict=True):
            ax.xaxis.get_major_ticks(x_major)
            ax.xaxis.get_minor_ticks(1)
            ax.yaxis.get_major_ticks(y_major)
            ax.yaxis.get_minor_ticks(y_minor)
        _prepared[name] = fig


@functools.cache
def warm_caches() -> None:
    """Draw a tiny figure with text at every size the charts use and a heatmap, and build the glyph
    outlines of the monthly labels: what the first drawing of each chart would otherwise load (once
    a process; a fork inherits it)."""
    _glyphs(8)
    _glyphs(6)
    fig = Figure(figsize=(2, 1), dpi=_DPI)
    ax = fig.subplots()
    heat = ScalarMappable(norm=Normalize(vmin=-1.0, vmax=1.0), cmap="RdYlGn")
    ax.imshow(heat.to_rgba(np.ma.masked_invalid([[-1.0, np.nan, 1.0]]), bytes=True), interpolation="nearest")
    for size in (9, 10, 11, 13):
        ax.text(0.5, 0.5, "Warm-up 0.5% $", fontsize=size)
    FigureCanvasAgg(fig).draw()  # type: ignore[no-untyped-call]


def _figure(name: str, size: tuple[float, float]) -> tuple[Figure, list[Axes]]:
    """The chart's figure at ``size`` inches and its axes: the one prepared ahead, else a new one."""
    fig = _prepared.pop(name, None)
    if fig is None:
        fig = _skeleton(name, size)
    else:
        fig.set_size_inches(size)
    return fig, list(fig.axes)


def _margins(fig: Figure, left: float, right: float, top: float, bottom: float, **space: float) -> None:
    """Fixed margins in inches (a layout engine would measure every label first, which cost about as
    much as drawing the chart)."""
    width, height = fig.get_size_inches()
    fig.subplots_adjust(
        left=left / width, right=1.0 - right / width, top=1.0 - top / height, bottom=bottom / height, **space
    )


def _label_inches(labels: Sequence[str], size: float = 10.0) -> float:
    """A generous width of the longest label in inches (DejaVu Sans: digits are 0.64 em, few glyphs
    are wider than 0.7 em), so fixed margins never clip a tick label."""
    return max((len(label) for label in labels), default=0) * 0.7 * size / 72.0


def _tick_labels(ax: Axes, axis: str = "y") -> list[str]:
    """The major tick labels the axis will show (its locator and formatter on its current limits)."""
    which = ax.yaxis if axis == "y" else ax.xaxis
    low, high = sorted(ax.get_ylim() if axis == "y" else ax.get_xlim())
    values = [v for v in which.get_major_locator()() if low <= v <= high]
    formatter = which.get_major_formatter()
    formatter.set_locs(values)
    return [formatter(v, k) for k, v in enumerate(values)]


def _png(fig: Figure) -> bytes:
    """The figure as an opaque RGB PNG at :data:`_DPI` (:func:`_encode_png`)."""
    fig.set_dpi(_DPI)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()  # type: ignore[no-untyped-call]
    return _encode_png(np.asarray(canvas.buffer_rgba())[..., :3])  # type: ignore[no-untyped-call]


def _encode_png(rgb: np.ndarray) -> bytes:
    """An 8-bit RGB PNG of ``rgb`` (height x width x 3, ``uint8``). Every row is filtered "Up" (its
    difference from the row above: mostly zeros in a chart) and deflated at zlib level 1: the same
    pixels in files as small as Pillow's (which tries five filters a row) in half the time, and the
    encoding was a sixth of the charts' time."""
    height, width, _ = rgb.shape
    rows = np.empty((height, width * 3 + 1), dtype=np.uint8)
    rows[:, 0] = 2  # filter type Up; the row above the first counts as zeros
    pixels = rows[:, 1:].reshape(height, width, 3)  # a view: each row's bytes after its filter type
    pixels[0] = rgb[0]
    np.subtract(rgb[1:], rgb[:-1], out=pixels[1:])  # uint8 wraps modulo 256, as PNG's filters do
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8 bits, RGB, deflate, no interlace
    return b"".join(
        (
            b"\x89PNG\r\n\x1a\n",
            _png_chunk(b"IHDR", header),
            _png_chunk(b"IDAT", zlib.compress(rows.data, 1)),
            _png_chunk(b"IEND", b""),
        )
    )


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(data, zlib.crc32(kind)))


def _empty(ax: Axes, message: str) -> None:
    ax.text(0.5, 0.5, message, ha="center", va="center", fontsize=13, color="#57606a", transform=ax.transAxes)
    ax.set_xticks([])
    ax.set_yticks([])


def _trades(n: int) -> str:
    return f"{n:,} trade" if n == 1 else f"{n:,} trades"


def _subtitle(doc: Mapping[str, Any]) -> str:
    m = doc["metrics"]
    return f"{m.get('first_session') or '?'} to {m.get('last_session') or '?'} · {_trades(m['trades'])}"


def _money_axis(ax: Axes, series: list[Any]) -> None:
    """Dollar ticks; a log scale when the curves span more than 4x, so no curve flattens the others."""
    values = np.concatenate([np.asarray(v, dtype=np.float64).ravel() for v in series])
    values = values[np.isfinite(values) & (values > 0)]
    dollars = ticker.FuncFormatter(lambda x, _pos: f"${x:,.0f}")
    if values.size and values.max() / values.min() > 4.0:
        ax.set_yscale("log")
        ax.yaxis.set_major_locator(ticker.LogLocator(base=10.0, subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_minor_formatter(ticker.NullFormatter())
        ax.set_ylabel("Equity ($, log scale)")
    else:
        ax.set_ylabel("Equity ($)")
    ax.yaxis.set_major_formatter(dollars)


def equity_chart(doc: Mapping[str, Any]) -> bytes:
    rows = doc["equity"]
    fig, (top, bottom) = _figure("equity", (11, 6.5))
    _margins(fig, left=1.4, right=0.2, top=0.75, bottom=0.4, hspace=0.08)
    benches = doc.get("benchmarks") or {}
    heading = "Equity against buy & hold" if benches else "Equity (no benchmark data)"
    fig.suptitle(f"{heading}\n{_subtitle(doc)}", fontsize=13)
    if not rows:
        _empty(top, "No sessions")
        bottom.set_axis_off()
        return _png(fig)
    # numbers on a date axis: matplotlib converts datetime objects one by one (a tenth of a second here)
    dates = mdates.date2num(np.array([r["date"] for r in rows], dtype="datetime64[D]"))  # type: ignore[no-untyped-call]
    equity = np.array([r["equity"] for r in rows], dtype=np.float64)
    start = float(doc["starting_capital"])
    marker = "o" if len(rows) < 3 else None
    top.plot(dates, equity, color=_STRATEGY, lw=1.6, marker=marker, label="Strategy", zorder=3)
    for colour, name in zip(
        _BENCH_COLOURS, sorted(benches, key=lambda k: (k != "equal_weight", k)), strict=False
    ):
        values = np.array([np.nan if v is None else v for v in benches[name]["values"]], dtype=np.float64)
        finite = values[np.isfinite(values)]
        if finite.size:
            top.plot(
                dates,
                values / finite[0] * start,
                color=colour,
                lw=1.1,
                marker=marker,
                label=benches[name]["label"],
            )
    top.axhline(start, color="#d0d7de", lw=0.8, zorder=1)
    _money_axis(top, [line.get_ydata() for line in top.get_lines()])
    top.legend(loc="upper left", frameon=False)
    top.grid(alpha=0.3)
    peaks = np.maximum.accumulate(np.concatenate(([start], equity)))[1:]
    drawdown = (equity / peaks - 1.0) * 100.0
    bottom.fill_between(dates, drawdown, 0.0, color=_NEG, alpha=0.35, lw=0)
    bottom.plot(dates, drawdown, color=_NEG, lw=0.8, marker=marker)
    bottom.set_ylabel("Drawdown (%)")
    bottom.set_ylim(min(float(drawdown.min()) * 1.1, -1.0), 0.5)
    bottom.grid(alpha=0.3)
    if len(rows) < 3:  # a very short run: a few days either side instead of years of empty axis
        bottom.set_xlim(dates[0] - 3.0, dates[-1] + 3.0)
    locator = mdates.AutoDateLocator(minticks=4, maxticks=12)  # type: ignore[no-untyped-call]
    bottom.xaxis.set_major_locator(locator)
    bottom.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]
    left = 0.45 + max(_label_inches(_tick_labels(top)), _label_inches(_tick_labels(bottom)))
    _margins(fig, left=left, right=0.2, top=0.75, bottom=0.4, hspace=0.08)
    return _png(fig)


def monthly_chart(doc: Mapping[str, Any]) -> bytes:
    monthly = doc["metrics"]["monthly_returns"]
    years = sorted({k[:4] for k in monthly})
    fig, (ax,) = _figure("monthly_returns", (11, max(2.6, 0.36 * len(years) + 1.6)))
    _margins(fig, left=0.55, right=0.8, top=0.4, bottom=0.35)
    ax.set_title("Monthly returns (%)", fontsize=13)
    if not years:
        _empty(ax, "No sessions")
        return _png(fig)
    grid = np.full((len(years), 12), np.nan)
    for key, value in monthly.items():
        if value is not None:
            grid[years.index(key[:4]), int(key[5:7]) - 1] = value * 100.0
    limit = max(float(np.nanmax(np.abs(grid))) if np.isfinite(grid).any() else 1.0, 1.0)
    # the cells coloured here, one pixel each, and stretched by the image (nearest neighbour: the
    # same pixels as matplotlib colouring the stretched values, at a third of the cost)
    colours = ScalarMappable(norm=Normalize(vmin=-limit, vmax=limit), cmap="RdYlGn")
    ax.imshow(colours.to_rgba(np.ma.masked_invalid(grid), bytes=True), aspect="auto", interpolation="nearest")
    rows, cols = np.nonzero(np.isfinite(grid))
    values = grid[rows, cols]
    dark = np.abs(values) > 0.6 * limit
    for colour, chosen in (("white", dark), ("black", ~dark)):
        labels = [f"{v:+.1f}" for v in values[chosen]]
        centres = np.column_stack([cols[chosen], rows[chosen]]).astype(np.float64)
        ax.add_collection(_label_collection(fig, ax, labels, centres, 8 if len(years) <= 25 else 6, colour))
    ax.set_xticks(range(12), _MONTHS)
    ax.set_yticks(range(len(years)), years)
    ax.tick_params(length=0)
    fig.colorbar(colours, ax=ax, label="Return (%)", shrink=0.9, pad=0.01, fraction=0.08)
    return _png(fig)


_LABEL_GLYPHS = "0123456789+-."


@functools.cache
def _glyphs(size: float) -> dict[str, tuple[np.ndarray, np.ndarray, float]]:
    """Outline, path codes and advance (points) of each character of a number label at ``size``."""
    prop = FontProperties(size=size)
    zero_right = TextPath((0, 0), "0", prop=prop).get_extents().x1
    glyphs = {}
    for ch in _LABEL_GLYPHS:
        path = TextPath((0, 0), ch, prop=prop)
        advance = TextPath((0, 0), ch + "0", prop=prop).get_extents().x1 - zero_right
        glyphs[ch] = (np.asarray(path.vertices, dtype=np.float64), np.asarray(path.codes), float(advance))
    return glyphs


def _label_path(text: str, size: float) -> Path:
    """``text`` (digits, sign, point) as one outline centred on (0, 0), in points."""
    glyphs = _glyphs(size)
    verts, codes, x = [], [], 0.0
    for ch in text:
        outline, kinds, advance = glyphs[ch]
        verts.append(outline + np.array([x, 0.0]))
        codes.append(kinds)
        x += advance
    zero = glyphs["0"][0]
    middle = (x / 2.0, (float(zero[:, 1].min()) + float(zero[:, 1].max())) / 2.0)
    return Path(np.concatenate(verts) - middle, np.concatenate(codes))


def _label_collection(
    fig: Figure, ax: Axes, labels: list[str], centres: np.ndarray, size: float, colour: str
) -> PathCollection:
    """Number labels centred on data points, drawn as one collection of glyph outlines: the same
    text as one ``Text`` artist per label (a year x month grid has 250+), at a fraction of the cost."""
    return PathCollection(
        [_label_path(text, size) for text in labels],
        offsets=centres,
        offset_transform=ax.transData,
        transform=Affine2D().scale(1.0 / 72.0) + fig.dpi_scale_trans,
        facecolors=colour,
        edgecolors="none",
        linewidths=0.0,
    )


def trade_returns_chart(doc: Mapping[str, Any]) -> bytes:
    returns = (
        np.array([t["pnl_pct"] for t in doc["trades"] if t["pnl_pct"] is not None], dtype=np.float64) * 100.0
    )
    fig, (ax,) = _figure("trade_returns", (9, 5))
    _margins(fig, left=0.75, right=0.15, top=0.4, bottom=0.55)
    ax.set_title(f"Distribution of trade returns ({_trades(returns.size)})", fontsize=13)
    if returns.size == 0:
        _empty(ax, "No trades")
        return _png(fig)
    # the view spans the 0.5-99.5 percentiles so a single freak trade cannot squash the histogram;
    # trades beyond it are counted in the end bars and said so in the legend
    lo_view, hi_view = (
        np.percentile(returns, [0.5, 99.5]) if returns.size >= 200 else (returns.min(), returns.max())
    )
    shown = np.clip(returns, lo_view, hi_view)
    outside = int(np.sum((returns < lo_view) | (returns > hi_view)))
    # bins of equal width with 0 on an edge, so every bar is wholly a gain or a loss
    n_bins = int(np.clip(np.sqrt(returns.size) * 2, 5, 80))
    width = max(float(hi_view - lo_view) / n_bins, 0.1)
    lo, hi = np.floor(lo_view / width), np.floor(hi_view / width) + 1
    bins = np.arange(lo, hi + 1) * width
    counts, edges = np.histogram(shown, bins=bins)
    # one collection of bars, not one patch each (a patch costs about a millisecond to add and draw)
    bars = [
        ((a, 0.0), (a, c), (b, c), (b, 0.0)) for a, b, c in zip(edges[:-1], edges[1:], counts, strict=True)
    ]
    colours = [_NEG if a < 0 else _POS for a in edges[:-1]]
    ax.add_collection(PolyCollection(bars, facecolors=colours, edgecolors="white", linewidths=0.5))
    ax.set_xlim(
        float(edges[0]) - 0.05 * (edges[-1] - edges[0]), float(edges[-1]) + 0.05 * (edges[-1] - edges[0])
    )
    ax.set_ylim(0.0, max(float(counts.max()), 1.0) * 1.05)
    if outside:
        ax.plot(
            [],
            [],
            " ",
            label=f"{outside:,} trades outside {lo_view:+.0f}% to {hi_view:+.0f}% (in the end bars)",
        )
    ax.axvline(0.0, color="black", lw=0.8)
    mean, median = float(returns.mean()), float(np.median(returns))
    ax.axvline(mean, color=_STRATEGY, lw=1.5, ls="--", label=f"mean {mean:+.2f}%")
    ax.axvline(median, color="#8250df", lw=1.5, ls=":", label=f"median {median:+.2f}%")
    ax.set_xlabel("Trade return (%)")
    ax.set_ylabel("Trades")
    ax.yaxis.set_major_locator(ticker.MaxNLocator(integer=True))
    ax.legend(frameon=False)
    ax.grid(alpha=0.3, axis="y")
    return _png(fig)


def exit_reasons_chart(doc: Mapping[str, Any]) -> bytes:
    reasons = doc["metrics"]["exit_reasons"]
    order = sorted(reasons, key=lambda r: (reasons[r]["count"], r))
    fig, (left, right) = _figure("exit_reasons", (11, max(2.8, 0.5 * len(order) + 1.6)))
    _margins(fig, left=0.3 + _label_inches(order), right=0.15, top=0.65, bottom=0.55, wspace=0.05)
    fig.suptitle("Exit reasons", fontsize=13)
    if not order:
        _empty(left, "No trades")
        right.set_axis_off()
        return _png(fig)
    counts = [reasons[r]["count"] for r in order]
    avg = [(reasons[r]["avg_return"] or 0.0) * 100.0 for r in order]
    left.barh(order, counts, color=_STRATEGY)
    for i, r in enumerate(order):
        rate = reasons[r]["win_rate"]
        label = f" {counts[i]}  (win {rate * 100:.0f}%)" if rate is not None else f" {counts[i]}"
        left.text(counts[i], i, label, va="center", fontsize=9)
    left.set_xlim(0, max(counts) * 1.45)
    left.xaxis.set_major_locator(ticker.MaxNLocator(integer=True))
    left.set_xlabel("Trades")
    left.set_title("Count and win rate", fontsize=11)
    right.barh(order, avg, color=[_POS if a >= 0 else _NEG for a in avg])
    right.axvline(0.0, color="black", lw=0.8)
    span = max(max(abs(a) for a in avg), 0.5)
    right.set_xlim(-span * 1.35, span * 1.35)
    for i, a in enumerate(avg):
        right.text(a, i, f" {a:+.2f}% ", va="center", ha="left" if a >= 0 else "right", fontsize=9)
    right.set_xlabel("Average trade return (%)")
    right.set_title("Average return", fontsize=11)
    for ax in (left, right):
        ax.grid(alpha=0.3, axis="x")
    return _png(fig)


_RENDERERS = {
    "equity": equity_chart,
    "monthly_returns": monthly_chart,
    "trade_returns": trade_returns_chart,
    "exit_reasons": exit_reasons_chart,
}


def chart_renderers(doc: Mapping[str, Any]) -> dict[str, Renderer]:
    """The function drawing each chart of a result document, by name (in :data:`CHART_NAMES` order),
    plus ``coverage`` when the run had a point-in-time universe."""
    renderers: dict[str, Renderer] = {name: _RENDERERS[name] for name in CHART_NAMES}
    if (doc.get("data") or {}).get("coverage"):
        from trading_playbook.reports.coverage import coverage_chart

        renderers["coverage"] = coverage_chart
    return renderers


def render_charts(doc: Mapping[str, Any], names: Iterable[str] | None = None) -> dict[str, bytes]:
    """Every chart of a result document as PNG bytes, keyed by name (in :data:`CHART_NAMES` order),
    plus ``coverage`` when the run had a point-in-time universe; only ``names`` when given."""
    renderers = chart_renderers(doc)
    wanted = set(renderers if names is None else names)
    return {name: draw(doc) for name, draw in renderers.items() if name in wanted}
