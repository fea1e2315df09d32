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
    rows = []
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


def coverage_chart(doc: Mapping[str, Any]) -> bytes:
    """Members, members with price data and members with a bar, per session (PNG)."""
    from matplotlib import dates as mdates
    from matplotlib.figure import Figure

    from trading_playbook.reports.charts import _margins, _png

    coverage = doc["data"]["coverage"]
    sessions = coverage["sessions"]
    fig = Figure(figsize=(11, 4.8))
    ax = fig.subplots()
    _margins(fig, left=0.85, right=0.2, top=0.75, bottom=0.4)
    name = str(coverage.get("universe") or "").replace("\\", "/").rsplit("/", 1)[-1]  # a path: its file
    fig.suptitle(f"Universe coverage: {name} (policy {coverage.get('policy')})", fontsize=13)
    dates = mdates.date2num(np.array(sessions["date"], dtype="datetime64[D]"))  # type: ignore[no-untyped-call]
    members = np.asarray(sessions["members"], dtype=np.float64)
    with_data = np.asarray(sessions["with_data"], dtype=np.float64)
    with_bar = np.asarray(sessions["with_bar"], dtype=np.float64)
    ax.fill_between(dates, with_bar, members, color="#cf222e", alpha=0.18, lw=0, label="not seen")
    ax.plot(dates, members, color="#57606a", lw=1.4, label="members")
    ax.plot(dates, with_data, color="#bf8700", lw=1.1, label="members with a price series")
    ax.plot(dates, with_bar, color="#0969da", lw=1.4, label="members with a bar that session")
    ax.set_ylabel("Symbols")
    ax.set_ylim(0, max(float(members.max(initial=0.0)) * 1.08, 1.0))
    ax.set_title(
        f"{100.0 * float(coverage['unseen_share']):.1f} % of {int(coverage['member_days']):,} member-days not seen",
        fontsize=10,
    )
    ax.legend(loc="lower right", frameon=False)
    ax.grid(alpha=0.3)
    locator = mdates.AutoDateLocator(minticks=4, maxticks=12)  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]
    return _png(fig)
