"""Charts of the ML report (matplotlib, Agg): calibration per fold, AUC by fold, the rule score's
win rate by score, and the equity curves of the portfolio comparison. Each returns PNG bytes."""

from __future__ import annotations

import io
import math
from collections.abc import Mapping
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

__all__ = ["auc_chart", "calibration_chart", "equity_chart", "render_charts", "rule_score_chart"]


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def calibration_chart(rows: list[Mapping[str, Any]], kind: str, target: str) -> bytes:
    """One panel per fold: mean outcome against mean prediction by prediction bin."""
    mine = [r for r in rows if r["kind"] == kind]
    n = max(1, len(mine))
    cols = min(4, n)
    nrows = math.ceil(n / cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(3.2 * cols, 2.8 * nrows), squeeze=False)
    for ax, row in zip(axes.flat, mine, strict=False):
        bins = row["calibration"]
        x = [b["predicted"] for b in bins]
        y = [b["observed"] for b in bins]
        lo = min([*x, *y, 0.0]) if target != "win" else 0.0
        hi = max([*x, *y, 1.0]) if target != "win" else 1.0
        ax.plot([lo, hi], [lo, hi], color="#999", lw=0.8, ls="--")
        ax.plot(x, y, marker="o", ms=3, color="#1f77b4")
        ax.set_title(f"fold {row['fold']} ({row['test_start'][:4]})", fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(mine) :]:
        ax.axis("off")
    what = "win rate" if target == "win" else "mean R"
    fig.suptitle(f"Calibration of {kind}: observed {what} against prediction (test windows)", fontsize=10)
    return _png(fig)


def auc_chart(rows: list[Mapping[str, Any]]) -> bytes:
    """AUC per fold for every model and for the rule score; 0.5 is no skill."""
    fig, ax = plt.subplots(figsize=(8, 3.5))
    for kind in sorted({r["kind"] for r in rows}):
        pts = [(r["fold"], r["auc"]) for r in rows if r["kind"] == kind and r["auc"] is not None]
        if pts:
            dashed = kind == "rule_score"
            ax.plot(
                [p[0] for p in pts],
                [p[1] for p in pts],
                marker="o",
                label=kind,
                ls="--" if dashed else "-",
                color="black" if dashed else None,
            )
    ax.axhline(0.5, color="#c44", lw=0.8)
    ax.set_xlabel("fold")
    ax.set_ylabel("out-of-sample AUC")
    ax.legend(fontsize=8)
    ax.set_title("Does the score rank winners above losers? (0.5 = no better than chance)", fontsize=10)
    return _png(fig)


def rule_score_chart(summary: Mapping[str, Any]) -> bytes:
    """Win rate and mean R of the traded setups by rule score (out-of-sample windows)."""
    buckets = summary["by_score"]
    fig, ax = plt.subplots(figsize=(7, 3.2))
    if buckets:
        x = np.array([b["score_from"] for b in buckets])
        ax.bar(x, [b["win_rate"] for b in buckets], color="#1f77b4", alpha=0.7, label="win rate")
        ax2 = ax.twinx()
        ax2.plot(x, [b["mean_r"] for b in buckets], color="#d62728", marker="o", label="mean R")
        ax2.axhline(0.0, color="#d62728", lw=0.6, ls=":")
        ax2.set_ylabel("mean R", color="#d62728")
    ax.set_xlabel("rule score (floor)")
    ax.set_ylabel("win rate")
    ax.set_title("Rule score against outcome (every setup of the test windows)", fontsize=10)
    return _png(fig)


def equity_chart(portfolio: Mapping[str, Any]) -> bytes:
    """Equity curves: rule score (black), learned variants (colours), random draws (grey)."""
    fig, ax = plt.subplots(figsize=(9, 4))
    for run in portfolio["runs"]:
        dates = np.array(run["dates"], dtype="datetime64[D]")
        if run["group"] == "random":
            ax.plot(dates, run["equity"], color="#bbb", lw=0.8)
        elif run["group"] == "rule":
            ax.plot(dates, run["equity"], color="black", lw=1.6, label=run["label"])
        else:
            ax.plot(dates, run["equity"], lw=1.1, label=run["label"])
    ax.plot([], [], color="#bbb", label="random order draws")
    ax.set_yscale("log")
    ax.legend(fontsize=7, ncol=2)
    ax.set_title("Out-of-sample portfolio: same capital and slots, different setup order", fontsize=10)
    return _png(fig)


def render_charts(doc: Mapping[str, Any]) -> dict[str, bytes]:
    """Every chart of the report by file name."""
    rows = doc["folds"]
    charts = {"auc_by_fold.png": auc_chart(rows), "rule_score.png": rule_score_chart(doc["rule_score"])}
    for kind in doc["settings"]["models"]:
        charts[f"calibration_{kind}.png"] = calibration_chart(rows, kind, doc["settings"]["target"])
    if doc.get("portfolio"):
        charts["equity.png"] = equity_chart(doc["portfolio"])
    return charts
