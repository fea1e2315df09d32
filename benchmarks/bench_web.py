"""Benchmark of the dashboard (issue 12): the runs page with 1,000 runs and a run page with 10,000 trades.

Run: ``.venv/bin/python benchmarks/bench_web.py``. Builds a throwaway playbook home (1,000 recorded runs,
one of them a 21-year run with 10,000 trades and two benchmark curves), then times full page renders
through the ASGI app in this process (routing, read-only SQLite, templates, figures, gzip off): the
first request of each page (cold: the stored document is decompressed and parsed) and the best of five
afterwards (warm: the parsed document is memoised), wall time and CPU time (on a busy shared machine the
CPU time is the closer estimate of the wall time on an idle one). Also times the trade-table fragment sorted by P&L on
its last page, and reports how many points the equity chart ships (server-side downsampling). The bar
is 1.0 s per page; the load average is printed beside the figures (a busy machine slows everything).
"""

from __future__ import annotations

import dataclasses
import os
import re
import tempfile
import time
from pathlib import Path

import numpy as np

from trading_playbook import history
from trading_playbook.core.metrics import BenchmarkSeries, compute_metrics
from trading_playbook.history import record_run, registry_path
from trading_playbook.reports import result_document
from trading_playbook.reports.samples import random_run

ISSUE_BAR_SECONDS = 1.0
RUNS = 1_000
TRADES = 10_000
SESSIONS = 5_400  # 21 years of sessions, like the shared S&P 500 data


def _with_metrics(run: object, seed: int) -> tuple[object, BenchmarkSeries]:
    n = len(run.equity)  # type: ignore[attr-defined]
    rng = np.random.default_rng(seed)
    curves = {
        "equal_weight": np.cumprod(1.0 + rng.normal(0.0003, 0.009, n)),
        "SPY": np.cumprod(1.0 + rng.normal(0.0003, 0.011, n)),
    }
    bench = BenchmarkSeries(
        run.equity.dates, curves, {"equal_weight": "Equal weight", "SPY": "SPY buy & hold"}
    )  # type: ignore[attr-defined]
    return dataclasses.replace(run, metrics=compute_metrics(run, benchmark=bench)), bench  # type: ignore[call-overload]


def build_home(home: Path) -> str:
    """Record ``RUNS`` runs in ``home``; returns the id of the 10,000-trade run."""
    db = registry_path(home)
    history.git_commit = lambda cwd=None: None  # setup only: 1,000 `git rev-parse` calls add nothing
    big, bench = _with_metrics(random_run(n_sessions=SESSIONS, n_trades=TRADES, seed=1), 1)
    big_id = record_run(
        big, db_path=db, document=result_document(big, created_at="2024-06-01T12:00:00Z", benchmark=bench)
    )  # type: ignore[arg-type]
    templates = []
    for seed in range(10):  # ten distinct small runs, recorded 99 or 100 times each under other names
        run, bench = _with_metrics(random_run(n_sessions=1_260, n_trades=40, seed=100 + seed), seed)
        templates.append((run, result_document(run, created_at="2024-01-01T00:00:00Z", benchmark=bench)))  # type: ignore[arg-type]
    for i in range(RUNS - 1):
        run, doc = templates[i % len(templates)]
        stamp = f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:00Z"
        config = {**run.config, "name": f"sweep {i:04d}"}  # type: ignore[attr-defined]
        named = dataclasses.replace(run, config=config)  # type: ignore[call-overload]
        record_run(named, db_path=db, document={**doc, "config": config, "created_at": stamp})
    return big_id


def timed(client: object, url: str) -> tuple[float, float, str]:
    """Wall and CPU seconds of one request (the app runs in this process: CPU time is its work)."""
    start, cpu = time.perf_counter(), time.process_time()
    response = client.get(url)  # type: ignore[attr-defined]
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu
    assert response.status_code == 200, (url, response.status_code, response.text[:300])
    return seconds, cpu_seconds, response.text


def main() -> None:
    from fastapi.testclient import TestClient

    from trading_playbook.web.app import ServeSettings, create_app

    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        start = time.perf_counter()
        big_id = build_home(home)
        print(f"home with {RUNS} runs (one with {TRADES:,} trades over {SESSIONS:,} sessions) built in "
              f"{time.perf_counter() - start:.1f} s")  # fmt: skip
        client = TestClient(create_app(ServeSettings(home=home)))
        pages = {
            f"runs page ({RUNS} runs)": "/runs",
            f"run page ({TRADES:,} trades)": f"/runs/{big_id}",
            "trade table sorted by P&L, last page": f"/runs/{big_id}/trades?sort=pnl&dir=desc&page=200",
            "trade table filtered (symbol S1, losers)": f"/runs/{big_id}/trades?symbol=S1&outcome=loss",
        }
        worst = 0.0
        print(f"{'':42s} {'cold wall':>10s} {'(CPU)':>9s} {'warm wall':>10s} {'(CPU)':>9s}")
        for label, url in pages.items():
            cold, cold_cpu, text = timed(client, url)
            warm, warm_cpu, _ = min(timed(client, url) for _ in range(5))
            worst = max(worst, cold, warm)
            print(f"{label:42s} {cold * 1000:7.1f} ms {cold_cpu * 1000:6.1f} ms {warm * 1000:7.1f} ms "
                  f"{warm_cpu * 1000:6.1f} ms  {len(text) / 1024:5.0f} KiB")  # fmt: skip
        page = timed(client, f"/runs/{big_id}")[2]
        equity = re.search(r'id="chart-equity-data">(.*?)</script>', page, re.S)
        points = equity.group(1).count(",") if equity else 0
        print(
            f"equity chart: {SESSIONS:,} sessions x 3 series shipped as ~{points:,} numbers (M4 downsampling)"
        )
        verdict = "within" if worst < ISSUE_BAR_SECONDS else "OVER"
        print(f"slowest page {worst:.3f} s: {verdict} the issue's {ISSUE_BAR_SECONDS:.1f} s bar")
        print(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f} "
              f"on {os.cpu_count()} CPUs")  # fmt: skip


if __name__ == "__main__":
    main()
