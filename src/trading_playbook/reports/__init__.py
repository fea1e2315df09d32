"""Reports of a run: ``result.json``, ``trades.csv``, ``equity.csv``, ``report.md``, ``report.html``, SVG charts.

Everything is rendered from the ``result.json`` document, so a stored result re-renders exactly
(``playbook report ID``). Public API:

- :func:`write_run` -- metrics (if not computed yet), document and every report file of a run.
- :func:`render_document` -- the report files of an existing document (a stored ``result.json``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from trading_playbook.core.errors import PlaybookError
from trading_playbook.core.metrics import BenchmarkSeries, benchmark_from_panel, compute_metrics
from trading_playbook.core.panel import Panel
from trading_playbook.core.types import RunResult
from trading_playbook.reports.csv_files import write_equity_csv, write_trades_csv
from trading_playbook.reports.json_result import (
    SCHEMA_VERSION,
    PreparedRows,
    load_result,
    prepare_rows,
    result_document,
    write_canonical,
)

__all__ = [
    "FORMATS",
    "SCHEMA_VERSION",
    "PreparedRows",
    "load_result",
    "prepare_rows",
    "render_document",
    "result_document",
    "utc_now",
    "write_run",
]

FORMATS = ("json", "csv", "md", "html", "svg")
CHART_DIR = "charts"


def utc_now() -> str:
    """The current UTC time, ISO 8601 to the second (the ``created_at`` of new documents)."""
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _check_formats(formats: Iterable[str]) -> tuple[str, ...]:
    chosen = tuple(formats)
    unknown = [f for f in chosen if f not in FORMATS]
    if unknown:
        hint = " (the charts are SVG files since 2026-12: ask for 'svg')" if "png" in unknown else ""
        raise PlaybookError(f"unknown report format(s) {unknown}; choose from {list(FORMATS)}{hint}")
    return chosen


def render_document(
    doc: Mapping[str, Any],
    out_dir: Path,
    *,
    formats: Iterable[str] = FORMATS,
    timings: dict[str, float] | None = None,
    after_json: Callable[[Path], None] | None = None,
) -> dict[str, Path]:
    """Write the report files of a result document into ``out_dir``.

    ``timings``, when given, receives the seconds each file took (``report.json``, ``report.csv``,
    ``report.md``, ``charts``, ``report.html``). ``after_json``, when given, is called with the path
    of ``result.json`` as soon as that file is written (before the other files).

    Returns
    -------
    dict[str, Path]
        ``result_json``, ``trades_csv``, ``equity_csv``, ``report_md``, ``report_html`` and
        ``chart_<name>`` (``charts/<name>.svg``) for what was written.
    """
    chosen = _check_formats(formats)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    clock = _Stopwatch(timings)
    if "json" in chosen:  # first: the backtest's timed path ends when result.json exists
        written["result_json"] = write_canonical(doc, out / "result.json")
        clock.lap("report.json")
        if after_json is not None:
            after_json(written["result_json"])
    if "csv" in chosen:
        written["trades_csv"] = write_trades_csv(doc, out / "trades.csv")
        written["equity_csv"] = write_equity_csv(doc, out / "equity.csv")
        clock.lap("report.csv")
    if not {"md", "html", "svg"} & set(chosen):
        return written
    wants_charts = bool({"svg", "html"} & set(chosen))  # drawn when a file or the page shows them
    chart_files: dict[str, str] = {}
    if wants_charts:  # (report.md alone needs no chart code)
        from trading_playbook.reports.charts import chart_names

        chart_files = {name: f"{CHART_DIR}/{name}.svg" for name in chart_names(doc)}
    if "md" in chosen:
        from trading_playbook.reports.markdown import render_markdown

        # without the SVG files on disk a Markdown image link would dangle
        path = out / "report.md"
        path.write_text(render_markdown(doc, chart_files if "svg" in chosen else {}), encoding="utf-8")
        written["report_md"] = path
        clock.lap("report.md")
    svgs: dict[str, str] = {}
    if wants_charts:
        from trading_playbook.reports.charts import render_charts

        svgs = render_charts(doc)
        if "svg" in chosen:
            (out / CHART_DIR).mkdir(exist_ok=True)
            for name, svg in svgs.items():
                path = out / chart_files[name]
                path.write_text(svg, encoding="utf-8")
                written[f"chart_{name}"] = path
        clock.lap("charts")
    if "html" in chosen:
        from trading_playbook.reports.html import render_html

        path = out / "report.html"
        path.write_text(render_html(doc, svgs), encoding="utf-8")
        written["report_html"] = path
        clock.lap("report.html")
    return written


class _Stopwatch:
    """Seconds since the previous lap, written into a timings dict (nothing when there is none)."""

    def __init__(self, timings: dict[str, float] | None) -> None:
        self.timings = timings
        self.last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        if self.timings is not None:
            self.timings[name] = self.timings.get(name, 0.0) + now - self.last
        self.last = now


def _benchmark_symbol(result: RunResult) -> str | None:
    report_cfg = result.config.get("report") if isinstance(result.config, Mapping) else None
    symbol = report_cfg.get("benchmark_symbol") if isinstance(report_cfg, Mapping) else None
    return str(symbol) if symbol else None


def write_run(
    result: RunResult,
    out_dir: Path,
    *,
    panel: Panel | None = None,
    formats: Iterable[str] = FORMATS,
    benchmark: BenchmarkSeries | None = None,
    created_at: str | None = None,
    timings: dict[str, float] | None = None,
    rows: PreparedRows | None = None,
    after_json: Callable[[Path], None] | None = None,
) -> dict[str, Path]:
    """Write every report file of a run into ``out_dir``.

    Parameters
    ----------
    result : RunResult
        The run. When ``result.metrics`` is empty, metrics are computed here (seed 0, no
        survivorship flag): the facade normally computes them first with
        :func:`~trading_playbook.core.metrics.compute_metrics`.
    out_dir : Path
        The run's output folder (created when missing).
    panel : Panel, optional
        The run's panel: gives the buy-and-hold benchmark curves of the equity chart (and the
        named ``[report] benchmark_symbol`` when the config has one and the panel holds it).
    formats : iterable of str
        Any of ``json``, ``csv``, ``md``, ``html``, ``svg`` (the charts' files).
    benchmark : BenchmarkSeries, optional
        Use these curves instead of building them from ``panel``.
    created_at : str, optional
        The document's timestamp (default: now, UTC).
    timings : dict, optional
        Receives the seconds each step took (``report.document`` and those of
        :func:`render_document`).
    rows : PreparedRows, optional
        The document's rows, built ahead (:func:`prepare_rows`, e.g. while the metrics were
        computed); used only when they are this run's.
    after_json : callable, optional
        Called with the path of ``result.json`` as soon as it is written (see :func:`render_document`).

    Returns
    -------
    dict[str, Path]
        What was written (see :func:`render_document`).
    """
    chosen = _check_formats(formats)
    if benchmark is None and panel is not None and len(result.equity):
        symbol = _benchmark_symbol(result)
        if symbol is not None and symbol not in panel.symbols:
            symbol = None
        benchmark = benchmark_from_panel(panel, result.equity.dates[0], result.equity.dates[-1], symbol)
    if not result.metrics:
        result = dataclasses.replace(result, metrics=compute_metrics(result, benchmark=benchmark))
    clock = _Stopwatch(timings)
    doc = result_document(result, created_at=created_at or utc_now(), benchmark=benchmark, rows=rows)
    clock.lap("report.document")
    return render_document(doc, out_dir, formats=chosen, timings=timings, after_json=after_json)
