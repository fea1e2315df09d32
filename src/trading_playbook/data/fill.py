"""Filling the cache from a source: fetch only the sessions the cache does not cover yet."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from trading_playbook.core.errors import SourceError
from trading_playbook.data.cache import BarCache
from trading_playbook.data.calendar import last_completed_session, missing_runs, xnys_sessions
from trading_playbook.data.model import normalize_symbol
from trading_playbook.data.source import BarSource, source_arrays
from trading_playbook.data.validate import ValidationPolicy, validate_bars

__all__ = ["FillReport", "fill_cache"]


@dataclass
class FillReport:
    """What a fill fetched: one (symbols, first, last) tuple per source request."""

    source: str
    fetches: list[tuple[tuple[str, ...], str, str]] = field(default_factory=list)
    rows: int = 0
    missing: tuple[str, ...] = ()
    repairs: list[dict[str, str]] = field(default_factory=list)


def fill_cache(
    cache: BarCache,
    source: BarSource,
    symbols: Sequence[str],
    start: str,
    end: str,
    *,
    adjustment: str = "split",
    validation: ValidationPolicy = "reject",
    progress: Callable[[int, int], None] | None = None,
    final_through: str | None = None,
) -> FillReport:
    """Fetch the XNYS sessions of ``start``..``end`` that ``cache`` lacks for ``symbols`` and store them.

    Coverage is per (source, symbol, adjustment) in the catalog; symbols missing the same runs of
    sessions share one multi-symbol request. Each missing run is widened by one session into stored
    data on both sides so split coefficients at its edges can be derived (see ``data.alpaca``).
    A fetched range is marked covered even for symbols without bars in it (before a listing), but
    a symbol with no bars at all is reported in ``missing`` and not marked. Sessions after
    ``final_through`` (default: the last completed session, i.e. before today) are not fetched: their
    bars may still change; a live feed passes today's session once its close is past.
    """
    name = source.name
    kind = "all" if adjustment == "all" else "split"
    final = np.datetime64(final_through, "D") if final_through else last_completed_session()
    stop = min(np.datetime64(str(end), "D"), final)
    wanted = xnys_sessions(start, stop)
    report = FillReport(name)
    if wanted.shape[0] == 0:
        return report
    names = sorted({normalize_symbol(s) for s in symbols})
    groups: dict[tuple[tuple[str, str], ...], list[str]] = defaultdict(list)
    for symbol in names:
        covered: list[tuple[np.datetime64, np.datetime64]] = [
            (np.datetime64(a, "D"), np.datetime64(b, "D"))
            for a, b in cache.catalog.coverage(name, symbol, kind)
        ]
        gaps = missing_runs(wanted, covered)
        if gaps:
            widened = tuple(_widen(a, b, covered) for a, b in gaps)
            groups[widened].append(symbol)
    total = sum(len(k) for k in groups)
    if not total:
        return report
    done = 0
    missing: set[str] = set()
    fetched = sorted(s for members in groups.values() for s in members)
    options = {
        "start": str(start),
        "end": str(end),
        "adjustment": adjustment,
        "feed": getattr(source, "feed", ""),
    }
    with cache.writing(name, fetched, kind="fetch", origin=name, options=options) as write:
        for ranges, members in groups.items():
            for first, last in ranges:
                _fetch_run(cache, source, members, first, last, kind, validation, report, missing)
                done += 1
                if progress is not None:
                    progress(done, total)
        report.missing = tuple(sorted(s for s in missing if cache.catalog.entry(name, s) is None))
        write.narrow(s for s in fetched if s not in report.missing)
    return report


def _widen(
    first: np.datetime64, last: np.datetime64, covered: list[tuple[np.datetime64, np.datetime64]]
) -> tuple[str, str]:
    """The run extended by one session into stored data at each end (when stored data touches it)."""
    around = xnys_sessions(first - np.timedelta64(10, "D"), last + np.timedelta64(10, "D"))
    i = int(np.searchsorted(around, first))
    j = int(np.searchsorted(around, last))
    before = around[i - 1] if i > 0 else None
    after = around[j + 1] if j + 1 < around.shape[0] else None

    def inside(day: np.datetime64 | None) -> bool:
        return day is not None and any(a <= day <= b for a, b in covered)

    lo = before if inside(before) else first
    hi = after if inside(after) else last
    return str(lo), str(hi)


def _fetch_run(
    cache: BarCache,
    source: BarSource,
    members: list[str],
    first: str,
    last: str,
    kind: str,
    validation: ValidationPolicy,
    report: FillReport,
    missing: set[str],
) -> None:
    name = source.name
    try:
        bars = source_arrays(source, members, first, last)
    except SourceError as exc:
        cache.catalog.record(name, members, first, last, 0, "error", str(exc)[:500])
        raise
    bars, repairs = validate_bars(bars, validation)
    report.repairs.extend(repairs.records())
    report.fetches.append((tuple(members), first, last))
    got = set(bars.symbols)
    if len(bars):
        cache.store(name, bars, {s: (first, last) for s in got}, adjustment=kind, repairs=repairs.records())
    empty = [s for s in members if s not in got]
    known = [s for s in empty if cache.catalog.entry(name, s) is not None]
    if known:
        cache.add_coverage(name, known, first, last, kind)
    missing.update(s for s in empty if s not in known)
    report.rows += len(bars)
    cache.catalog.record(name, members, first, last, len(bars), "ok", f"{len(got)} symbol(s) with bars")
