"""Benchmark: the whole ML pipeline (issue 16) on the full shared data, and its out-of-sample figures.

Run: ``.venv/bin/python benchmarks/bench_ml.py [--out DIR] [--models logistic,hgb,lightgbm]``

Every setup of ``daily_breakout`` (moderate preset) on the 504 S&P 500 stocks, 2000-01-03 to the end of
the data, is labelled with its single smart-exits trade; logistic regression, HistGradientBoosting and
LightGBM are trained on rolling 5-year windows and tested on the following year (purged, 5-session
embargo, tuned inside each training fold); the report compares the learned ranking and filter with the
rule score and with random order in a 10-slot portfolio over the out-of-sample years. Prints the timings
(with the load average) and the report's out-of-sample verdict; the report stays in ``--out``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "sp500_daily.parquet"


def bench_config():  # type: ignore[no-untyped-def]
    from trading_playbook.config import parse_config

    return parse_config(
        {
            "data": {
                "source": "file",
                "path": str(DATA.resolve()),
                "adjustment": "split",
                "start": "2000-01-03",
            },
            "scanner": {"name": "daily_breakout", "preset": "moderate"},
            "exit": {"name": "smart_exits"},
            "portfolio": {"max_positions": 10},
            "report": {"benchmark_symbol": None},
            "ml": {
                "features": [
                    "atr_pct:10",
                    "sma_slope:50:20",
                    "close_sma:50",
                    "breadth:50",
                    "index_trend:200",
                ],
                "models": ["logistic", "hgb", "lightgbm"],
                "embargo": 5,
                "filter_quantiles": [0.5],
                "random_draws": 5,
            },
        }
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("bench-ml-out"))
    parser.add_argument("--models", default=None, help="comma-separated kinds (default: all three)")
    parser.add_argument("--train", default="5y")
    parser.add_argument("--test", default="1y")
    args = parser.parse_args()

    from trading_playbook.engine import load_data
    from trading_playbook.ml.dataset import build_dataset
    from trading_playbook.ml.pipeline import train_and_report

    load_before = os.getloadavg()
    cfg = bench_config()
    t0 = time.perf_counter()
    workspace = load_data(cfg)
    t_load = time.perf_counter() - t0
    t0 = time.perf_counter()
    dataset = build_dataset(cfg, workspace)
    t_dataset = time.perf_counter() - t0
    kinds = tuple(args.models.split(",")) if args.models else None
    t0 = time.perf_counter()
    doc, _ = train_and_report(
        cfg,
        workspace,
        args.out,
        train=args.train,
        test=args.test,
        models=kinds,
        dataset=dataset,
        progress=lambda message: print(f"  {message}", flush=True),
    )
    t_train = time.perf_counter() - t0
    load_after = os.getloadavg()

    frame = dataset.frame
    traded = frame[frame["traded"]]
    print(
        f"data: {workspace.panel.n_symbols} symbols, {workspace.panel.n_sessions} sessions, loaded in {t_load:.1f} s"
    )
    print(
        f"dataset: {len(frame)} setups ({len(traded)} traded, win rate {traded['win'].mean():.3f}, "
        f"mean R {traded['r_multiple'].mean():.3f}) labelled in {t_dataset:.1f} s"
    )
    print(
        f"train + report: {t_train:.1f} s; load average before {load_before[0]:.2f}, after {load_after[0]:.2f}"
    )
    print()
    for kind, s in doc["summary"].items():
        print(
            f"{kind:>10}: mean OOS AUC {s['auc']:.3f} over {s['folds']} folds ({s['folds_auc_above_half']} > 0.5)"
            + (
                f", Brier {s['brier']:.4f} vs base rate {s['brier_base']:.4f}"
                if s["brier"] is not None
                else ""
            )
        )
    port = doc["portfolio"]
    print(f"\nportfolio {port['start']} .. {port['end']} (Sharpe, CAGR, max drawdown, trades):")
    for run in port["runs"]:
        m = run["metrics"]
        print(
            f"  {run['label']:<26} {m['sharpe']:.3f}  {m['cagr']:.4f}  {m['max_drawdown']:.3f}  {m['trades']}"
        )
    print()
    print(doc["verdict"]["headline"])
    for line in doc["verdict"]["lines"]:
        print(" -", line)
    print(f"\nreport: {args.out / 'ml_report.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
