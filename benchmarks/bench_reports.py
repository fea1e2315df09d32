"""Speed of metrics and reports on a run the size of the full shared-data backtest.

A seeded synthetic run (5,400 sessions, 10,000 trades, two benchmark curves) stands in for the
2000-2021 S&P 500 run. Prints the warm time of each step. Run:
``.venv/bin/python benchmarks/bench_reports.py``.
"""

from __future__ import annotations

import dataclasses
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from trading_playbook.core.metrics import BenchmarkSeries, compute_metrics
from trading_playbook.reports import render_document, result_document
from trading_playbook.reports.charts import render_charts
from trading_playbook.reports.html import render_html
from trading_playbook.reports.json_result import dumps_canonical
from trading_playbook.reports.markdown import render_markdown
from trading_playbook.reports.samples import random_run


def best_of(repeat: int, fn: Callable[[], Any]) -> tuple[float, Any]:
    best, out = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def main() -> None:
    run = random_run(n_sessions=5400, n_trades=10_000, seed=1, start="2000-01-03")
    rng = np.random.default_rng(2)
    curves = {name: np.cumprod(1 + rng.normal(0.0004, 0.012, 5400)) for name in ("equal_weight", "AAPL")}
    bench = BenchmarkSeries(run.equity.dates, curves, {k: k for k in curves})
    t_metrics, metrics = best_of(3, lambda: compute_metrics(run, benchmark=bench, survivorship_warning=True))
    run = dataclasses.replace(run, metrics=metrics)
    t_doc, doc = best_of(3, lambda: result_document(run, created_at="2030-01-01T00:00:00Z", benchmark=bench))
    t_json, text = best_of(3, lambda: dumps_canonical(doc))
    t_charts, svgs = best_of(3, lambda: render_charts(doc))
    t_md, _ = best_of(3, lambda: render_markdown(doc, {k: f"charts/{k}.svg" for k in svgs}))
    t_html, _ = best_of(3, lambda: render_html(doc, svgs))
    with tempfile.TemporaryDirectory() as tmp:
        t_all, _ = best_of(2, lambda: render_document(doc, Path(tmp)))
        t_json_only, _ = best_of(3, lambda: render_document(doc, Path(tmp), formats=("json", "csv")))
    print("Run size: 5,400 sessions, 10,000 trades, 2 benchmark curves (warm, best of 2-3)")
    rows = [
        ("compute_metrics (incl. 2000-sample bootstraps)", t_metrics),
        ("result_document", t_doc),
        (f"dumps_canonical ({len(text) / 1e6:.1f} MB)", t_json),
        ("4 SVG charts (" + ", ".join(f"{k} {len(v) / 1e3:.0f} KB" for k, v in svgs.items()) + ")", t_charts),
        ("report.md", t_md),
        ("report.html", t_html),
        ("render_document json+csv", t_json_only),
        ("render_document, every format", t_all),
    ]
    for label, seconds in rows:
        print(f"  {label:<48} {seconds:7.3f} s")
    print(f"  charts share of a full render: {t_charts / t_all:.0%}")


if __name__ == "__main__":
    main()
