"""Compare: two or more runs' equity curves and statistics side by side, config differences highlighted."""

from __future__ import annotations

from typing import Any

import numpy as np
from fastapi import APIRouter, Request
from starlette.responses import Response

from trading_playbook.history import HEADLINE_METRICS
from trading_playbook.reports._content import strategy_label
from trading_playbook.web.downsample import downsample
from trading_playbook.web.figures import PALETTE, drawdown_series, line_layout, log_toggle
from trading_playbook.web.render import render
from trading_playbook.web.store import Store
from trading_playbook.web.tables import flatten

router = APIRouter()

MAX_RUNS = 8
#: Metrics where a larger value is better (max drawdown is negative: larger is shallower).
HIGHER_IS_BETTER = {"total_return", "cagr", "sharpe", "sortino", "calmar", "max_drawdown", "win_rate",
                    "profit_factor", "expectancy", "expectancy_r"}  # fmt: skip
SIGNED_PERCENT = {"total_return", "cagr", "max_drawdown"}
RATE = {"annual_volatility", "exposure", "win_rate"}
LABELS = {
    "sample_size_status": "Sample size", "total_return": "Total return", "cagr": "CAGR",
    "annual_volatility": "Annual volatility", "sharpe": "Sharpe", "sortino": "Sortino", "calmar": "Calmar",
    "max_drawdown": "Max drawdown", "exposure": "Exposure", "turnover": "Turnover (per year)",
    "trades": "Trades", "trades_per_year": "Trades per year", "win_rate": "Win rate",
    "profit_factor": "Profit factor", "expectancy": "Expectancy ($ per trade)", "expectancy_r": "Expectancy (R)",
    "avg_sessions_held": "Sessions held (average)",
}  # fmt: skip


def _label(run_id: str, doc: dict[str, Any]) -> str:
    name = (doc.get("config") or {}).get("name") or strategy_label(doc.get("config") or {})
    return f"{run_id[-6:]} {name}".strip()


def _curves(ids: list[str], docs: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    equity_traces, dd_traces = [], []
    for k, (run_id, doc) in enumerate(zip(ids, docs, strict=True)):
        dates = [r["date"] for r in doc["equity"]]
        equity = np.array([r["equity"] for r in doc["equity"]], dtype=np.float64)
        start = float(doc.get("starting_capital") or (equity[0] if equity.size else 1.0)) or 1.0
        colour = PALETTE[k % len(PALETTE)]
        x, y = downsample(dates, equity / start)
        equity_traces.append({"type": "scatter", "mode": "lines", "x": x, "y": y, "name": _label(run_id, doc),
                              "line": {"color": colour, "width": 1.8}})  # fmt: skip
        x, y = downsample(dates, drawdown_series(equity))
        dd_traces.append({"type": "scatter", "mode": "lines", "x": x, "y": y, "name": _label(run_id, doc),
                          "line": {"color": colour, "width": 1.2}})  # fmt: skip
    equity_layout = line_layout("Growth of $1", y_format=".2f", height=400)
    equity_layout["updatemenus"] = log_toggle()
    dd_layout = line_layout("Drawdown", y_format=".0%", height=260)
    return {"data": equity_traces, "layout": equity_layout}, {"data": dd_traces, "layout": dd_layout}


def _kind(key: str) -> str:
    """How a metric is formatted: signed percent, rate (unsigned percent), money or a plain number."""
    if key in SIGNED_PERCENT:
        return "pct"
    if key in RATE:
        return "rate"
    return "money" if key == "expectancy" else "num"


def _metric_rows(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    statuses = [(d["metrics"].get("validation") or {}).get("sample_size_status") for d in docs]
    rows.append({"key": "sample_size_status", "label": LABELS["sample_size_status"], "values": statuses,
                 "best": None, "kind": "text"})  # fmt: skip
    for key in HEADLINE_METRICS:
        values = [d["metrics"].get(key) for d in docs]
        numeric = [
            v for v in values if isinstance(v, int | float) and not isinstance(v, bool) and np.isfinite(v)
        ]
        best = None
        if key in HIGHER_IS_BETTER and len(numeric) == len(values) and len(set(numeric)) > 1:
            best = values.index(max(numeric))
        kind = _kind(key)
        rows.append({"key": key, "label": LABELS.get(key, key), "values": values, "best": best, "kind": kind})
    return rows


def _config_rows(docs: list[dict[str, Any]]) -> tuple[list[tuple[str, list[Any]]], list[tuple[str, Any]]]:
    """(differing keys with each run's value, keys all runs share) over config, window and data."""
    flat = []
    for d in docs:
        cells = flatten(d.get("config") or {})
        m = d["metrics"]
        cells["window"] = f"{m.get('first_session')} to {m.get('last_session')}"
        cells["engine"] = d.get("engine")
        cells["data.fingerprint"] = (d.get("data") or {}).get("fingerprint")
        flat.append(cells)
    keys = sorted(set().union(*flat))
    differing, shared = [], []
    for key in keys:
        values = [f.get(key) for f in flat]
        if all(repr(v) == repr(values[0]) for v in values):
            shared.append((key, values[0]))
        else:
            differing.append((key, values))
    return differing, shared


@router.get("/compare")
def compare_page(request: Request) -> Response:
    store: Store = request.app.state.store
    ids = list(dict.fromkeys(request.query_params.getlist("run")))[:MAX_RUNS]
    if len(ids) < 2:
        context = {"nav": "runs", "ids": ids, "too_few": True}
        return render(request, "compare.html", context, status_code=400)
    docs = [store.document(run_id) for run_id in ids]
    equity, drawdown = _curves(ids, docs)
    differing, shared = _config_rows(docs)
    context = {
        "nav": "runs",
        "ids": ids,
        "labels": [_label(i, d) for i, d in zip(ids, docs, strict=True)],
        "docs": docs,
        "equity": equity,
        "drawdown": drawdown,
        "metric_rows": _metric_rows(docs),
        "differing": differing,
        "shared": shared,
        "too_few": False,
    }
    return render(request, "compare.html", context)
