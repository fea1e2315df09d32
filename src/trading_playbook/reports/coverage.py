"""How much of a point-in-time universe a run could see: the statement, the yearly table and the chart.

All of it is rendered from ``result.json``'s ``data.coverage`` block (written when the config has a
``[universe]``): per session the members, the members whose price series is in the data
(``with_data``) and the members with a bar that session (``with_bar``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["coverage_chart", "coverage_statement", "coverage_years"]


def _pct(value: float) -> str:
    return f"{100.0 * value:.1f} %"


def coverage_statement(coverage: Mapping[str, Any]) -> str:
    """One sentence: the share of member-days the run could not see, and why."""
    days = int(coverage["member_days"])
    unseen, no_data = float(coverage["unseen_share"]), float(coverage["no_data_share"])
    name = coverage.get("universe") or "the universe"
    policy = coverage.get("policy") or "hold"
    if days == 0:
        return f"Point-in-time universe {name} (policy {policy}): no member-days in the run's sessions."
    return (
        f"Point-in-time universe {name} (policy {policy}): the run could not see {_pct(unseen)} of the "
        f"{days:,} member-days ({_pct(no_data)} had no price series in the data, {_pct(unseen - no_data)} "
        "had no bar that session). Members it could not see could not be traded: the missing ones are "
        "mostly companies that later left the index, so the result is still optimistic by what they "
        "would have done."
    )


def coverage_years(coverage: Mapping[str, Any]) -> list[tuple[str, ...]]:
    """Rows per calendar year: sessions, mean members, mean with price data, mean with a bar, unseen %."""
    sessions = coverage["sessions"]
    years = np.array([d[:4] for d in sessions["date"]])
    members = np.asarray(sessions["members"], dtype=np.float64)
    with_data = np.asarray(sessions["with_data"], dtype=np.float64)
    with_bar = np.asarray(sessions["with_bar"], dtype=np.float64)
    rows: list[tuple[str, ...]] = []
    for year in sorted(set(years.tolist())):
        at = years == year
        total = members[at].sum()
        unseen = 1.0 - with_bar[at].sum() / total if total else 0.0
        rows.append(
            (
                year,
                str(int(at.sum())),
                f"{members[at].mean():.0f}",
                f"{with_data[at].mean():.0f}",
                f"{with_bar[at].mean():.0f}",
                _pct(unseen),
            )
        )
    return rows


def coverage_chart(doc: Mapping[str, Any]) -> str:
    """Members, members with price data and members with a bar, per session (SVG text); the
    members the run could not see shaded between the first and the last line."""
    from trading_playbook.reports._axes import LegendEntry, date_axis, headings, legend, message, y_axis
    from trading_playbook.reports._svg import (
        Box,
        Canvas,
        LinearScale,
        day_numbers,
        nice_ticks,
        pixel_extremes,
        polyline,
    )
    from trading_playbook.reports.charts import series_path
    from trading_playbook.reports.palette import BENCHMARK_COLOURS, LOSS, MUTED, RULE, STRATEGY_COLOUR

    coverage = doc["data"]["coverage"]
    sessions = coverage["sessions"]
    name = str(coverage.get("universe") or "").replace("\\", "/").rsplit("/", 1)[-1]  # a path: its file
    title = f"Universe coverage: {name} (policy {coverage.get('policy')})"
    subtitle = f"{100.0 * float(coverage['unseen_share']):.1f} % of {int(coverage['member_days']):,} member-days not seen"
    canvas = Canvas(960, 440, f"{title}, {subtitle}", chart="coverage")
    top = headings(canvas, title, subtitle)
    members = np.asarray(sessions["members"], dtype=np.float64)
    _, hi, ticks = nice_ticks(0.0, max(float(members.max(initial=0.0)) * 1.08, 1.0), 6, integer=True)
    box = Box(70, top + 8, 870, 440 - top - 8 - 36)
    if not sessions["date"]:
        message(canvas, box, "No sessions")
        return canvas.render()
    dates = day_numbers(sessions["date"])
    first, last = float(dates[0]), float(dates[-1])
    if dates.size < 3:
        first, last = first - 3.0, last + 3.0
    x, y = LinearScale(first, last, box.left, box.right), LinearScale(0.0, hi, box.bottom, box.top)
    date_axis(canvas, box, x)
    y_axis(canvas, box, y, ticks, lambda t: f"{t:,.0f}", "Symbols")
    xs = x.many(dates)
    with_data = np.asarray(sessions["with_data"], dtype=np.float64)
    with_bar = np.asarray(sessions["with_bar"], dtype=np.float64)
    # the unseen band, exact: up along the members, back along the members with a bar
    upper, lower = y.many(members), y.many(with_bar)
    keep = np.union1d(pixel_extremes(xs, upper), pixel_extremes(xs, lower))
    band = polyline(
        np.concatenate((xs[keep], xs[keep][::-1])), np.concatenate((upper[keep], lower[keep][::-1]))
    )
    canvas.path(band + "Z", fill=LOSS, fill_opacity="0.18", class_="unseen")
    lines = (
        ("members", members, MUTED, 1.6),
        ("members with a price series", with_data, BENCHMARK_COLOURS[1], 1.3),
        ("members with a bar that session", with_bar, STRATEGY_COLOUR, 1.6),
    )
    for label, values, colour, width in lines:
        series_path(canvas, xs, y.many(values), colour, width, label, class_="series")
    entries = [LegendEntry("not seen", LOSS, key="patch")] + [
        LegendEntry(label, colour) for label, _, colour, _ in lines
    ]
    legend(canvas, box.right - 10, box.bottom - 8 - 18 * len(entries), entries, anchor="end")
    canvas.rect(box.left, box.top, box.width, box.height, "none", stroke=RULE)
    return canvas.render()
