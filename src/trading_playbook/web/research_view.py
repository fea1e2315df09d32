"""What the research pages show, read from an output folder: tables, figures and plain-words verdicts.

An optimisation folder holds ``summary.json`` and ``trials.parquet`` (``research/report.py``); a
walk-forward folder ``summary.json``, ``folds.parquet``, ``stability.csv`` and ``oos/result.json``.
A missing file (a run still in progress, or interrupted) is a :class:`PageUnavailable` naming it.
"""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from trading_playbook.web.figures import PALETTE, clean
from trading_playbook.web.store import PageUnavailable

__all__ = [
    "DSR_BAR",
    "fold_figure",
    "heatmap_figure",
    "overfitting_verdict",
    "parallel_figure",
    "param_keys",
    "read_table",
    "stability_figure",
]

DSR_BAR = 0.95
METRIC_COLUMNS = ("m.sharpe", "m.cagr", "m.max_drawdown", "m.trades", "m.win_rate", "m.profit_factor")


def read_table(path: Path, what: str) -> pd.DataFrame:
    """A Parquet or CSV table of a research folder."""
    try:
        if path.suffix == ".parquet":
            return pd.read_parquet(path)
        return pd.read_csv(path)
    except FileNotFoundError as exc:
        raise PageUnavailable(
            f"{what} is incomplete",
            f"{path.name} is missing in {path.parent} (still running, or interrupted?)",
        ) from exc
    except Exception as exc:  # pyarrow/pandas raise many types for a damaged file
        raise PageUnavailable(f"{what} cannot be read", f"{path} is not a readable table: {exc}") from exc


def param_keys(summary: dict[str, Any]) -> list[str]:
    """The swept parameter keys (``"exit.time_stop=10,17"`` -> ``"exit.time_stop"``)."""
    return [str(p).split("=", 1)[0] for p in summary.get("params") or []]


def overfitting_verdict(dsr: dict[str, Any] | None, pbo: dict[str, Any] | None) -> tuple[str, str]:
    """A plain-words reading of the deflated Sharpe ratio and the PBO, and its tone (good/warning/bad)."""
    parts = []
    tone = "good"
    if dsr is None:
        parts.append("The deflated Sharpe ratio was not computed (no eligible trial).")
        tone = "bad"
    else:
        value, n = float(dsr["dsr"]), int(dsr.get("n_trials") or 0)
        if value >= DSR_BAR:
            parts.append(
                f"Deflated Sharpe ratio {value:.3f}: the best trial's Sharpe ratio is unlikely to be the luck "
                f"of picking the best of {n} trials (passes the {DSR_BAR} bar)."
            )
        else:
            parts.append(
                f"Deflated Sharpe ratio {value:.3f}: below the {DSR_BAR} bar, so the best of {n} trials could "
                "well be luck; do not trust its figures yet."
            )
            tone = "bad" if value < 0.5 else "warning"
    if pbo is None:
        parts.append("The probability of backtest overfitting was not computed.")
    else:
        value = float(pbo["pbo"])
        share = f"{value:.0%}"
        if value < 0.1:
            parts.append(
                f"PBO {share}: the in-sample winner stayed in the top half out of sample in nearly every split."
            )
        elif value < 0.5:
            parts.append(f"PBO {share}: the in-sample winner fell to the bottom half out of sample in {share} of splits; "
                         "selection helps, with some overfitting.")  # fmt: skip
            tone = "warning" if tone == "good" else tone
        else:
            parts.append(f"PBO {share}: the in-sample winner fell to the bottom half out of sample in {share} of splits; "
                         "the ranking is mostly noise.")  # fmt: skip
            tone = "bad"
    return " ".join(parts), tone


def heatmap_figure(
    table: pd.DataFrame, x_key: str, y_key: str, objective: str, others: list[str]
) -> dict[str, Any]:
    """Objective over two parameters (eligible trials; the best over the other parameters per cell)."""
    data = table[table["eligible"].astype(bool)] if "eligible" in table else table
    xs = sorted(table[x_key].dropna().unique().tolist(), key=_order)
    ys = sorted(table[y_key].dropna().unique().tolist(), key=_order)
    grid = np.full((len(ys), len(xs)), np.nan)
    x_pos = {repr(v): i for i, v in enumerate(xs)}
    y_pos = {repr(v): i for i, v in enumerate(ys)}
    for xv, yv, value in zip(data[x_key], data[y_key], data["objective"], strict=True):
        xi, yi = x_pos.get(repr(xv)), y_pos.get(repr(yv))
        if xi is None or yi is None or not math.isfinite(float(value)):
            continue
        if math.isnan(grid[yi, xi]) or value > grid[yi, xi]:
            grid[yi, xi] = value
    trace = {
        "type": "heatmap",
        "x": [str(v) for v in xs],
        "y": [str(v) for v in ys],
        "z": [clean(row) for row in grid.tolist()],
        "colorscale": "Viridis",
        "texttemplate": "%{z:.2f}",
        "hovertemplate": f"{x_key}=%{{x}}<br>{y_key}=%{{y}}<br>{objective}=%{{z:.3f}}<extra></extra>",
        "colorbar": {"title": {"text": objective}, "thickness": 12},
        "xgap": 1,
        "ygap": 1,
    }
    best_over = f" (best over {', '.join(others)})" if others else ""
    layout = {
        "title": {"text": f"{objective} by {y_key} and {x_key}{best_over}", "x": 0.01, "font": {"size": 14}},
        "height": max(300, 120 + 40 * len(ys)),
        "margin": {"l": 90, "r": 20, "t": 40, "b": 60},
        "xaxis": {"type": "category", "title": {"text": x_key}},
        "yaxis": {"type": "category", "title": {"text": y_key}},
    }
    return {"data": [trace], "layout": layout}


def _order(value: Any) -> tuple[int, Any]:
    return (
        (0, float(value))
        if isinstance(value, int | float) and not isinstance(value, bool)
        else (1, str(value))
    )


def parallel_figure(table: pd.DataFrame, keys: list[str], objective: str) -> dict[str, Any]:
    """Parallel coordinates: one line per ok trial across the parameters and the headline metrics."""
    data = table[table["status"] == "ok"] if "status" in table else table
    dims = []
    metrics = [c for c in METRIC_COLUMNS if c in data and c != f"m.{objective}"]  # the objective is one axis
    for key in [*keys, "objective", *metrics]:
        column = data[key]
        label = objective if key == "objective" else key.removeprefix("m.")
        if pd.api.types.is_numeric_dtype(column):
            dims.append(
                {"label": label, "values": clean(column.astype(float).tolist()), "tickformat": ".3~g"}
            )
        else:  # categorical parameter: integer codes with the values as tick labels
            cats = sorted(column.astype(str).unique().tolist())
            codes = [cats.index(v) for v in column.astype(str)]
            dims.append(
                {"label": label, "values": codes, "tickvals": list(range(len(cats))), "ticktext": cats}
            )
    colour = clean(data["objective"].astype(float).tolist()) if "objective" in data else None
    trace = {
        "type": "parcoords",
        "dimensions": dims,
        "line": {"color": colour, "colorscale": "Viridis", "showscale": True,
                 "colorbar": {"title": {"text": objective}, "thickness": 12}},
    }  # fmt: skip
    layout = {"height": 420, "margin": {"l": 80, "r": 80, "t": 60, "b": 30}}
    return {"data": [trace], "layout": layout}


def fold_figure(folds: pd.DataFrame, metric: str, title: str, fmt: str) -> dict[str, Any]:
    """In-sample vs out-of-sample ``metric`` per fold (grouped bars)."""
    labels = [f"fold {int(f)}<br>{s}" for f, s in zip(folds["fold"], folds["test_start"], strict=True)]
    traces = [
        {"type": "bar", "name": "in sample", "x": labels, "y": clean(folds[f"is_{metric}"].tolist()),
         "marker": {"color": "#8c959f"}},
        {"type": "bar", "name": "out of sample", "x": labels, "y": clean(folds[f"oos_{metric}"].tolist()),
         "marker": {"color": "#0969da"}},
    ]  # fmt: skip
    layout = {
        "title": {"text": title, "x": 0.01, "font": {"size": 14}},
        "barmode": "group",
        "height": 300,
        "margin": {"l": 60, "r": 20, "t": 40, "b": 60},
        "yaxis": {"tickformat": fmt, "gridcolor": "#eaeef2"},
        "legend": {"orientation": "h", "y": 1.12, "x": 1, "xanchor": "right"},
        "plot_bgcolor": "#ffffff",
    }
    return {"data": traces, "layout": layout}


def stability_figure(folds: pd.DataFrame, keys: list[str]) -> dict[str, Any]:
    """The value each fold chose for each parameter, one small panel per parameter."""
    n = max(1, len(keys))
    traces, layout = (
        [],
        {
            "title": {"text": "Chosen parameters per fold", "x": 0.01, "font": {"size": 14}},
            "height": 110 + 120 * n,
            "margin": {"l": 160, "r": 20, "t": 40, "b": 40},
            "showlegend": False,
            "plot_bgcolor": "#ffffff",
        },
    )
    gap = 0.08
    height = (1 - gap * (n - 1)) / n
    for i, key in enumerate(keys):
        axis = "" if i == 0 else str(i + 1)
        bottom = 1 - (i + 1) * height - i * gap
        values = folds[key].tolist() if key in folds else []
        traces.append({"type": "scatter", "mode": "lines+markers", "x": folds["fold"].astype(int).tolist(),
                       "y": [v if isinstance(v, int | float) else str(v) for v in values], "name": key,
                       "xaxis": f"x{axis}", "yaxis": f"y{axis}", "line": {"color": PALETTE[i % 8]}, "marker": {"size": 8}})  # fmt: skip
        layout[f"yaxis{axis}"] = {"domain": [max(0.0, bottom), bottom + height], "title": {"text": key},
                                  "gridcolor": "#eaeef2"}  # fmt: skip
        layout[f"xaxis{axis}"] = {"anchor": f"y{axis}", "dtick": 1, "zeroline": False, "title": {"text": "fold" if i == n - 1 else ""},
                                  "gridcolor": "#eaeef2"}  # fmt: skip
    return {"data": traces, "layout": layout}


def param_pairs(keys: list[str]) -> list[tuple[str, str]]:
    """Every (x, y) pair of distinct parameters, the report's default (second, first) first."""
    pairs = [(b, a) for a, b in itertools.combinations(keys, 2)]
    return pairs + [(a, b) for b, a in pairs]
