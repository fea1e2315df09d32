"""The optimisation report's heatmap as SVG text: the objective over the first two parameters that
vary (the best eligible trial in each cell when more parameters vary), on the report charts' SVG layer
(:mod:`~trading_playbook.reports._svg`)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from trading_playbook.reports._axes import colour_bar, headings, message, number_label
from trading_playbook.reports._svg import Box, Canvas, LinearScale, nice_ticks, text_width
from trading_playbook.reports.palette import SEQUENTIAL, TEXT, ink_on, sequential_colour

if TYPE_CHECKING:
    import pandas as pd

    from trading_playbook.research.params import ParamSpec

__all__ = ["heatmap_grid", "heatmap_svg"]

_CELL_W, _CELL_H, _MAX_LABELLED = 64.0, 28.0, 150


def heatmap_grid(table: pd.DataFrame, x_key: str, y_key: str, x_values: Sequence[object],
                 y_values: Sequence[object]) -> np.ndarray:  # fmt: skip
    """The best objective of the eligible trials by (y value, x value); NaN where none (or none
    finite) fell in a cell. Values are matched by ``repr`` (``1`` and ``1.0`` are different cells,
    as the trials' parameters are)."""
    grid = np.full((len(y_values), len(x_values)), np.nan)
    x_pos = {repr(v): i for i, v in enumerate(x_values)}
    y_pos = {repr(v): i for i, v in enumerate(y_values)}
    data = table[table["eligible"]]
    for x_value, y_value, value in zip(data[x_key], data[y_key], data["objective"], strict=True):
        xi, yi = x_pos.get(repr(x_value)), y_pos.get(repr(y_value))
        value = float(value)
        if xi is None or yi is None or not math.isfinite(value):
            continue
        if math.isnan(grid[yi, xi]) or value > grid[yi, xi]:
            grid[yi, xi] = value
    return grid


def heatmap_svg(table: pd.DataFrame, specs: Sequence[ParamSpec], *, objective: str) -> str:
    """The heatmap of the first two varied parameters of ``specs`` (the first one down the rows, the
    second across), each cell's value written in it when there are at most 150 cells, with its colour
    bar; a message instead of cells when no trial was eligible. Needs two varied parameters."""
    varied = [s for s in specs if len(s.values) > 1]
    x_spec, y_spec = varied[1], varied[0]
    grid = heatmap_grid(table, x_spec.key, y_spec.key, x_spec.values, y_spec.values)
    x_labels, y_labels = [str(v) for v in x_spec.values], [str(v) for v in y_spec.values]
    others = [s.key for s in varied[2:]]
    title = f"{objective} (eligible trials)"
    subtitle = f"best over {', '.join(others)}" if others else None
    rotate = max(text_width(t, 11.0) for t in x_labels) > _CELL_W - 6
    below = 12 + (max(text_width(t, 11.0) for t in x_labels) if rotate else 14) + 30
    left = 40 + max(text_width(t, 11.0) for t in y_labels)
    plot_w = max(_CELL_W * len(x_labels), 240.0)
    top_space = 32.0 if subtitle is None else 52.0
    width = max(left + plot_w + 110, text_width(title, 16.0) + 40, text_width(subtitle or "", 12.0) + 40)
    height = top_space + 8 + _CELL_H * len(y_labels) + below
    canvas = Canvas(width, height, title + ("" if subtitle is None else f", {subtitle}"), chart="heatmap")
    top = headings(canvas, title, subtitle) + 8
    box = Box(left, top, plot_w, _CELL_H * len(y_labels))
    _axis_labels(canvas, box, x_labels, y_labels, (x_spec.key, y_spec.key), rotate)
    finite = grid[np.isfinite(grid)]
    if finite.size == 0:
        message(canvas, box, "No eligible trial")
        return canvas.render()
    lo, hi = float(finite.min()), float(finite.max())
    _cells(canvas, box, grid, (lo, hi), (x_labels, y_labels), (x_spec.key, y_spec.key))
    _colour_bar(canvas, Box(box.right + 14, box.top, 12, box.height), lo, hi, objective)
    return canvas.render()


def _share(value: float, lo: float, hi: float) -> float:
    return 0.5 if hi == lo else (value - lo) / (hi - lo)


def _axis_labels(canvas: Canvas, box: Box, x_labels: list[str], y_labels: list[str],
                 keys: tuple[str, str], rotate: bool) -> None:  # fmt: skip
    """Parameter values under the columns (turned upwards when wider than a column) and left of
    the rows (the first value at the bottom), and the two parameter names."""
    width = box.width / len(x_labels)
    for k, label in enumerate(x_labels):
        x = box.left + (k + 0.5) * width
        anchor = "end" if rotate else "middle"
        canvas.text(x, box.bottom + 12, label, size=11.0, anchor=anchor, rotate=rotate, class_="x-value")
    for k, label in enumerate(y_labels):
        y = box.bottom - (k + 0.5) * _CELL_H
        canvas.text(box.left - 8, y, label, size=11.0, anchor="end", class_="y-value")
    below = 12 + (max(text_width(t, 11.0) for t in x_labels) if rotate else 14) + 14
    canvas.text(box.left + box.width / 2, box.bottom + below, keys[0], size=12.0, anchor="middle",
                fill=TEXT, class_="axis-title")  # fmt: skip
    widest = max(text_width(t, 11.0) for t in y_labels)
    canvas.text(box.left - 22 - widest, box.top + box.height / 2, keys[1], size=12.0, anchor="middle",
                fill=TEXT, rotate=True, class_="axis-title")  # fmt: skip


def _cells(canvas: Canvas, box: Box, grid: np.ndarray, bounds: tuple[float, float],
           labels: tuple[list[str], list[str]], keys: tuple[str, str]) -> None:  # fmt: skip
    """One rectangle per cell (grey where no eligible trial), its value in it when few enough."""
    lo, hi = bounds
    width = box.width / grid.shape[1]
    written = grid.size <= _MAX_LABELLED
    values = []
    for yi in range(grid.shape[0]):
        y = box.bottom - (yi + 1) * _CELL_H
        for xi in range(grid.shape[1]):
            x, value = box.left + xi * width, float(grid[yi, xi])
            where = f"{keys[1]} = {labels[1][yi]}, {keys[0]} = {labels[0][xi]}"
            if not math.isfinite(value):
                canvas.rect(x, y, width, _CELL_H, "#f6f8fa", tip=f"{where}: no eligible trial",
                            class_="cell missing", stroke="#ffffff")  # fmt: skip
                continue
            fill = sequential_colour(_share(value, lo, hi))
            canvas.rect(x, y, width, _CELL_H, fill, tip=f"{where}: {value:.4g}", class_="cell",
                        data_value=f"{value:.4g}", stroke="#ffffff")  # fmt: skip
            if written:
                values.append((x + width / 2, y + _CELL_H / 2, f"{value:.2f}", ink_on(fill)))
    for x, y, text, ink in values:
        canvas.text(x, y, text, size=10.0, anchor="middle", fill=ink, class_="value")


def _colour_bar(canvas: Canvas, box: Box, lo: float, hi: float, objective: str) -> None:
    """The scale: a vertical gradient from the lowest value (bottom) to the highest (top), ticked
    (one tick, the value, when every cell holds the same)."""
    if hi == lo:
        ticks = (LinearScale(lo - 1.0, lo + 1.0, box.bottom, box.top), [lo], lambda _: f"{lo:.4g}")
    else:
        _, _, values = nice_ticks(lo, hi, 4)
        ticks = (LinearScale(lo, hi, box.bottom, box.top), values, number_label(values[1] - values[0]))
    colour_bar(canvas, box, "heatmap", tuple(reversed(SEQUENTIAL)), ticks, objective)
