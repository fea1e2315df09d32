"""The optimisation heatmap as SVG: the best eligible trial per cell, hand-worked, and the SVG's
content, escaping, empty input and determinism."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET

import numpy as np
import pandas as pd

from trading_playbook.reports.palette import SEQUENTIAL, sequential_colour
from trading_playbook.research.heatmap import heatmap_grid, heatmap_svg
from trading_playbook.research.params import parse_params

NS = "{http://www.w3.org/2000/svg}"


def _table(rows: list[tuple[int, str, int, float, bool]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["a.x", "b.kind", "c.z", "objective", "eligible"])


# a.x down the rows (1, 2), b.kind across (<lo>, hi&); c.z a third varied parameter
SPECS = parse_params(["a.x=1:2:1", "b.kind=<lo>,hi&", "c.z=5,6"])
TABLE = _table(
    [
        (1, "<lo>", 5, 0.5, True),
        (1, "<lo>", 6, 0.75, True),  # the best over c.z
        (1, "hi&", 5, 2.0, False),  # not eligible: left out, the cell stays empty
        (2, "<lo>", 5, 1.0, True),
        (2, "hi&", 5, -0.25, True),
        (2, "hi&", 6, float("nan"), True),  # no finite objective: ignored
    ]
)


def test_each_cell_holds_the_best_eligible_finite_trial() -> None:
    grid = heatmap_grid(TABLE, "b.kind", "a.x", SPECS[1].values, SPECS[0].values)
    assert grid.shape == (2, 2)
    assert grid[0, 0] == 0.75 and math.isnan(grid[0, 1])
    assert grid[1, 0] == 1.0 and grid[1, 1] == -0.25


def test_sequential_colour_runs_along_the_stops() -> None:
    assert sequential_colour(0.0) == SEQUENTIAL[0] and sequential_colour(1.0) == SEQUENTIAL[-1]
    assert sequential_colour(0.5) == SEQUENTIAL[2] and sequential_colour(2.0) == SEQUENTIAL[-1]
    # halfway between #440154 and #3b528b: (0x44+0x3b)/2 = 63.5 -> 64, (0x01+0x52)/2 = 41.5 -> 42,
    # (0x54+0x8b)/2 = 111.5 -> 112 (round half to even: 64, 42, 112)
    assert sequential_colour(0.125) == "#402a70"
    assert sequential_colour(float("nan")) == SEQUENTIAL[0]


def test_heatmap_svg_cells_values_and_escaping() -> None:
    svg = heatmap_svg(TABLE, SPECS, objective="sharpe")
    assert svg == heatmap_svg(TABLE, SPECS, objective="sharpe")  # same input, same bytes
    root = ET.fromstring(svg)  # well-formed, the hostile labels escaped
    assert "<lo>" not in svg and "&lt;lo&gt;" in svg and "hi&amp;" in svg
    cells = [r for r in root.iter(f"{NS}rect") if (r.get("class") or "").startswith("cell")]
    assert len(cells) == 4
    assert sorted(c.get("data-value") for c in cells if c.get("data-value")) == ["-0.25", "0.75", "1"]
    assert [c.get("class") for c in cells].count("cell missing") == 1
    by_value = {c.get("data-value"): c.get("fill") for c in cells}
    assert by_value["1"] == SEQUENTIAL[-1] and by_value["-0.25"] == SEQUENTIAL[0]
    values = [t.text for t in root.iter(f"{NS}text") if t.get("class") == "value"]
    assert sorted(values) == ["-0.25", "0.75", "1.00"]
    texts = {t.text for t in root.iter(f"{NS}text")}
    assert {"a.x", "b.kind", "sharpe (eligible trials)", "best over c.z"} <= texts


def test_heatmap_without_an_eligible_trial_says_so() -> None:
    table = TABLE.assign(eligible=False)
    root = ET.fromstring(heatmap_svg(table, SPECS, objective="cagr"))
    assert [t.text for t in root.iter(f"{NS}text") if t.get("class") == "empty"] == ["No eligible trial"]
    assert not [r for r in root.iter(f"{NS}rect") if (r.get("class") or "").startswith("cell")]


def test_a_flat_objective_and_a_large_grid() -> None:
    specs = parse_params(["a.x=1:20:1", "b.kind=1:10:1"])
    rows = [(x, y, 0, 1.5, True) for x in range(1, 21) for y in range(1, 11)]
    table = pd.DataFrame(rows, columns=["a.x", "b.kind", "c.z", "objective", "eligible"])
    root = ET.fromstring(heatmap_svg(table, specs, objective="sharpe"))
    cells = [r for r in root.iter(f"{NS}rect") if r.get("class") == "cell"]
    assert len(cells) == 200 and {c.get("fill") for c in cells} == {SEQUENTIAL[2]}  # all equal: the middle
    assert not [t for t in root.iter(f"{NS}text") if t.get("class") == "value"]  # > 150 cells: no values
    assert np.isfinite(float(root.get("width")))
