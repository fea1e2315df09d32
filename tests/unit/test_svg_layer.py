"""The SVG layer's helpers, by hand: 1-2-5 steps, nice axes, log and date ticks, scales, the pixel
thinning of long series, path data with gaps, and the escaping of text and attributes."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from trading_playbook.reports._axes import decimals_for, money, number_label
from trading_playbook.reports._svg import (
    Canvas,
    LinearScale,
    LogScale,
    date_ticks,
    day_numbers,
    escape,
    log_ticks,
    nice_step,
    nice_ticks,
    num,
    pixel_extremes,
    polyline,
    quoteattr,
)


@pytest.mark.parametrize(
    ("span", "target", "step"),
    [
        (100, 5, 20),
        (0.7, 5, 0.2),
        (1, 10, 0.1),
        (7, 7, 1),
        (30, 4, 10),
        (45, 6, 10),
        (3, 6, 0.5),
        (1e6, 5, 2e5),
    ],
)
def test_nice_step_is_one_two_or_five_times_a_power_of_ten(span: float, target: int, step: float) -> None:
    assert nice_step(span, target) == pytest.approx(step)


def test_nice_ticks_widen_the_domain_to_whole_steps() -> None:
    assert nice_ticks(3, 97) == (0, 100, [0, 20, 40, 60, 80, 100])
    assert nice_ticks(-0.27, 0.61, 4) == (-0.5, 1.0, [-0.5, 0.0, 0.5, 1.0])  # 0.88 / 4 = 0.22 -> 0.5
    assert nice_ticks(0.1, 0.3, 2) == (0.1, 0.3, [0.1, 0.2, 0.3])  # no 0.30000000000000004
    assert nice_ticks(0, 3.2, 6, integer=True) == (0, 4, [0, 1, 2, 3, 4])  # counts: no half ticks


def test_nice_ticks_of_an_empty_or_broken_interval() -> None:
    lo, hi, ticks = nice_ticks(5.0, 5.0)
    assert lo < 5.0 < hi and len(ticks) >= 3
    assert nice_ticks(0.0, 0.0)[2] == [-1.0, -0.5, 0.0, 0.5, 1.0]
    assert nice_ticks(math.nan, math.inf)[:2] == (0.0, 1.0)
    assert all(math.copysign(1.0, t) > 0 for t in nice_ticks(-1, 1)[2] if t == 0)  # no "-0"


def test_log_ticks() -> None:
    assert log_ticks(90_000, 2_600_000) == [100_000, 200_000, 500_000, 1_000_000, 2_000_000]
    assert log_ticks(1, 1e9) == [10.0**p for p in range(10)]  # 1-2-5 would give 28: powers only
    assert log_ticks(1_100, 1_900) == [1_200, 1_400, 1_600, 1_800]  # no power inside: nice ticks


def test_date_ticks_by_year_month_and_day() -> None:
    days = day_numbers(["1999-11-01", "2021-12-31"])
    years = date_ticks(days[0], days[1], target=12)
    assert [label for _, label in years] == [str(y) for y in range(2000, 2022, 2)]
    assert years[0][0] == day_numbers(["2000-01-01"])[0]
    months = date_ticks(*day_numbers(["2021-02-15", "2021-09-30"]), target=8)
    assert [label for _, label in months] == ["Mar 2021", "Apr", "May", "Jun", "Jul", "Aug", "Sep"]
    across = date_ticks(*day_numbers(["2020-08-15", "2021-05-30"]), target=5)  # 9 months: every 2nd
    assert [label for _, label in across] == ["Sep 2020", "Nov", "2021", "Mar", "May"]
    short = date_ticks(*day_numbers(["2021-01-01", "2021-01-08"]), target=10)
    assert [label for _, label in short][:3] == ["Jan 1 2021", "Jan 2", "Jan 3"] and len(short) == 8


def test_scales_map_the_domain_onto_the_drawing() -> None:
    y = LinearScale(0.0, 100.0, 400.0, 0.0)  # upwards
    assert (y(0), y(25), y(100)) == (400.0, 300.0, 0.0)
    assert np.isnan(y.many(np.array([np.nan]))[0])
    log = LogScale(10.0, 1000.0, 0.0, 200.0)
    assert log(100.0) == pytest.approx(100.0) and np.isnan(log.many(np.array([0.0, -1.0]))).all()
    assert LinearScale(5.0, 5.0, 0.0, 10.0)(5.0) == 5.0  # an empty domain: the middle


def test_pixel_extremes_keep_every_extreme_and_the_ends_of_each_column() -> None:
    columns = np.repeat(np.arange(3.0), 4) + 0.5  # 3 pixel columns of 4 points
    values = np.array([5, 1, 9, 4, 2, 2, 2, 2, 7, 3, 8, 6], dtype=np.float64)
    assert pixel_extremes(columns, values).tolist() == [0, 1, 2, 3, 4, 7, 8, 9, 10, 11]
    big = np.random.default_rng(3).normal(size=10_000).cumsum()
    px = np.linspace(0, 500, big.size)
    keep = pixel_extremes(px, big)
    assert keep.size <= 4 * 501 and {int(big.argmin()), int(big.argmax()), 0, big.size - 1} <= set(
        keep.tolist()
    )
    for column in range(501):  # the drawn extent of every column is the data's
        inside = np.floor(px) == column
        kept = np.zeros(big.size, dtype=bool)
        kept[keep] = True
        assert big[inside].min() == big[inside & kept].min() and big[inside].max() == big[inside & kept].max()


def test_pixel_extremes_keep_gaps() -> None:
    values = np.array([1.0, 2.0, np.nan, 3.0, 4.0, 5.0, 6.0, 7.0])
    keep = pixel_extremes(np.zeros(8), values).tolist()
    assert {1, 2, 3} <= set(keep)  # the gap and its neighbours: the line stays broken there


def test_polyline_breaks_at_non_finite_points() -> None:
    xs = np.array([0.0, 1.0, 2.0, 3.0, 4.0])
    # tenths of a unit, each point after the first of a run relative to the one before
    assert polyline(xs, np.array([1.0, 2.0, np.nan, 4.0, np.inf])) == "M0,10l10,10M30,40"
    assert polyline(xs + 0.04, np.array([1.26, 1.31, 1.29, 0.54, 0.5])) == "M0,13l10,0 10,0 10,-8 10,0"
    assert polyline(np.zeros(0), np.zeros(0)) == ""


def test_path_data_is_scaled_back_with_its_stroke() -> None:
    canvas = Canvas(100, 50, "t", chart="t")
    canvas.path(polyline(np.array([1.0, 2.0]), np.array([3.0, 4.0])), stroke="#000000", width=1.6, dash="6 3")
    path = ET.fromstring(canvas.render()).find("{http://www.w3.org/2000/svg}path")
    assert path.get("transform") == "scale(0.1)" and path.get("stroke-width") == "16"
    assert path.get("stroke-dasharray") == "60 30" and path.get("d") == "M10,30l10,10"


def test_number_formats() -> None:
    assert [num(v) for v in (12.0, 3.45, -0.04, 1e3)] == ["12", "3.5", "0", "1000"]
    assert [decimals_for(s) for s in (5.0, 0.5, 0.25, 2e-3)] == [0, 1, 2, 3]
    assert [number_label(5)(v) for v in (-20.0, 0.0, 15.0, 1500.0)] == ["-20", "0", "15", "1,500"]
    assert [number_label(0.5, signed=True)(v) for v in (-1.5, 0.0, 2.0)] == ["-1.5", "0", "+2.0"]
    assert [money(v) for v in (100_000.0, 2_500.0, 0.5)] == ["$100,000", "$2,500", "$0.50"]


def test_text_and_attributes_are_escaped() -> None:
    hostile = "<script>alert('x')</script> & \"quotes\""
    canvas = Canvas(100, 50, hostile, chart="test")
    canvas.text(10, 10, hostile)
    canvas.rect(0, 0, 5, 5, "#000000", tip=hostile, data_reason=hostile)
    svg = canvas.render()
    assert "<script" not in svg
    root = ET.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    assert root.get("aria-label") == hostile and root.find(f"{ns}title").text == hostile
    assert root.find(f"{ns}text").text == hostile
    rect = root.findall(f"{ns}rect")[-1]
    assert rect.get("data-reason") == hostile and rect.find(f"{ns}title").text == hostile
    assert root.get("viewBox") == "0 0 100 50" and (root.get("width"), root.get("height")) == ("100", "50")


@pytest.mark.parametrize(
    "text",
    ["plain", "<script>alert('x')</script>", "a & b \"c\" 'd'", "line\nbreak\tand\rreturn", "é ☃ 𝄞", ""],
)
def test_escapes_are_those_of_xml_sax_saxutils(text: str) -> None:
    # the layer escapes by itself (saxutils' imports cost 50-80 ms); the bytes are the standard
    # library's for text, and a double-quoted attribute that parses back to the same string
    from xml.sax.saxutils import escape as sax_escape

    assert escape(text) == sax_escape(text)
    attribute = quoteattr(text)
    assert attribute.startswith('"') and attribute.endswith('"')
    element = ET.fromstring(f"<e a={attribute}>{escape(text)}</e>")
    assert element.get("a") == text and (element.text or "") == text.replace("\r", "\n")
