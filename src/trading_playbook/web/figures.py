"""Plotly figures of a run as plain dicts (``{"data": [...], "layout": {...}}``), built on the server.

Plain dicts, not ``plotly.graph_objects``: building is then a few list operations, and the browser's
plotly.js (served by the app from the ``plotly`` wheel) draws them. Long series are downsampled
(:mod:`trading_playbook.web.downsample`); NaN becomes ``None`` (a gap) so the JSON stays valid.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from trading_playbook.reports._content import MONTHS
from trading_playbook.reports.palette import BENCHMARK_COLOURS, PALETTE, STRATEGY_COLOUR  # the report's too
from trading_playbook.web.downsample import downsample, json_floats

__all__ = [
    "PALETTE",
    "ROLLING_SHARPE_WINDOW",
    "drawdown_figure",
    "equity_figure",
    "exit_reason_figure",
    "exposure_figure",
    "line_layout",
    "monthly_heatmap",
    "rolling_sharpe",
    "rolling_sharpe_figure",
    "sharpe_window",
    "trade_returns_figure",
]

#: Sessions in the rolling Sharpe window (about six months of trading).
ROLLING_SHARPE_WINDOW = 126
SESSIONS_PER_YEAR = 252


def clean(values: Any) -> list[float | None]:
    """Plain floats with NaN/inf/None as ``None`` (JSON null: a gap in the line)."""
    return json_floats(np.asarray(values, dtype=np.float64))


def line_layout(title: str, *, y_title: str = "", y_format: str = "", height: int = 360) -> dict[str, Any]:
    """The layout every time-series chart shares."""
    return {
        "title": {"text": title, "x": 0.01, "font": {"size": 14}},
        "height": height,
        "margin": {"l": 60, "r": 20, "t": 40, "b": 40},
        "hovermode": "x unified",
        "showlegend": True,
        "legend": {"orientation": "h", "y": -0.15},
        "xaxis": {"type": "date", "showgrid": True, "gridcolor": "#eaeef2"},
        "yaxis": {
            "title": {"text": y_title},
            "tickformat": y_format,
            "gridcolor": "#eaeef2",
            "zeroline": False,
        },
        "plot_bgcolor": "#ffffff",
        "paper_bgcolor": "#ffffff",
    }


def _line(x: Sequence[Any], y: Any, name: str, colour: str, **extra: Any) -> dict[str, Any]:
    xs, ys = downsample(x, y)
    return {"type": "scatter", "mode": "lines", "x": xs, "y": ys, "name": name,
            "line": {"color": colour, "width": 1.6}, **extra}  # fmt: skip


def _equity_arrays(doc: Mapping[str, Any]) -> tuple[list[str], np.ndarray]:
    rows = doc["equity"]
    return [r["date"] for r in rows], np.array([r["equity"] for r in rows], dtype=np.float64)


def log_toggle() -> list[dict[str, Any]]:
    """Plotly buttons that switch the y axis between linear and log scale (no page script needed)."""
    return [
        {
            "type": "buttons",
            "direction": "right",
            "x": 1.0,
            "xanchor": "right",
            "y": 1.12,
            "yanchor": "bottom",
            "showactive": True,
            "buttons": [
                {"label": "Linear", "method": "relayout", "args": [{"yaxis.type": "linear"}]},
                {"label": "Log", "method": "relayout", "args": [{"yaxis.type": "log"}]},
            ],
        }
    ]


def equity_figure(doc: Mapping[str, Any]) -> dict[str, Any]:
    """Growth of $1: the strategy against each stored buy-and-hold benchmark, linear/log toggle."""
    dates, equity = _equity_arrays(doc)
    start = float(doc.get("starting_capital") or (equity[0] if equity.size else 1.0)) or 1.0
    traces = [
        _line(dates, equity / start, "Strategy", STRATEGY_COLOUR, line={"color": STRATEGY_COLOUR, "width": 2})
    ]
    benches = doc.get("benchmarks") or {}
    for k, name in enumerate(sorted(benches, key=lambda b: (b != "equal_weight", b))):
        bench = benches[name]
        traces.append(
            _line(dates, bench.get("values") or [], str(bench.get("label", name)), BENCHMARK_COLOURS[k % 3])
        )
    layout = line_layout(
        "Equity against buy & hold (growth of $1)", y_title="growth of $1", y_format=".2f", height=420
    )
    layout["updatemenus"] = log_toggle()
    return {"data": traces, "layout": layout}


def drawdown_series(equity: np.ndarray) -> np.ndarray:
    """Drawdown from the running peak, <= 0 (0 at each new high)."""
    if equity.size == 0:
        return equity
    peak = np.maximum.accumulate(equity)
    return equity / peak - 1.0


def drawdown_figure(doc: Mapping[str, Any]) -> dict[str, Any]:
    dates, equity = _equity_arrays(doc)
    trace = _line(dates, drawdown_series(equity), "Drawdown", "#cf222e", fill="tozeroy",
                  fillcolor="rgba(207,34,46,0.18)")  # fmt: skip
    layout = line_layout("Drawdown", y_format=".0%", height=240)
    layout["showlegend"] = False
    return {"data": [trace], "layout": layout}


def rolling_sharpe(
    equity: np.ndarray, window: int = ROLLING_SHARPE_WINDOW, risk_free: float = 0.0
) -> np.ndarray:
    """Annualised Sharpe ratio of the daily returns over the last ``window`` sessions (NaN before)."""
    out = np.full(equity.shape[0], np.nan)
    if equity.size <= window:
        return out
    returns = np.diff(equity) / equity[:-1] - risk_free / SESSIONS_PER_YEAR
    csum = np.concatenate(([0.0], np.cumsum(returns)))
    csq = np.concatenate(([0.0], np.cumsum(returns * returns)))
    sums = csum[window:] - csum[:-window]
    squares = csq[window:] - csq[:-window]
    mean = sums / window
    var = np.maximum(squares / window - mean * mean, 0.0) * window / (window - 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        sharpe = np.where(var > 0, mean / np.sqrt(var) * math.sqrt(SESSIONS_PER_YEAR), np.nan)
    out[window:] = sharpe  # the window of returns ending at session t (returns t-window+1..t)
    return out


def sharpe_window(sessions: int) -> int:
    """The rolling window: six months, or a third of a run shorter than a year (at least 20 sessions)."""
    return ROLLING_SHARPE_WINDOW if sessions >= 2 * ROLLING_SHARPE_WINDOW else max(20, sessions // 3)


def rolling_sharpe_figure(doc: Mapping[str, Any]) -> dict[str, Any]:
    dates, equity = _equity_arrays(doc)
    rf = float((doc.get("metrics") or {}).get("risk_free_rate") or 0.0)
    window = sharpe_window(len(dates))
    trace = _line(dates, rolling_sharpe(equity, window, risk_free=rf), "Rolling Sharpe", "#8250df")
    layout = line_layout(f"Rolling Sharpe ratio ({window} sessions, annualised)", y_format=".1f", height=260)
    layout["showlegend"] = False
    layout["shapes"] = [{"type": "line", "xref": "paper", "x0": 0, "x1": 1, "y0": 0, "y1": 0,
                         "line": {"color": "#8c959f", "width": 1, "dash": "dot"}}]  # fmt: skip
    if len(dates) <= window:
        layout["annotations"] = [{"text": f"too few sessions ({len(dates)}) for a rolling window", "xref": "paper",
                                  "yref": "paper", "x": 0.5, "y": 0.5, "showarrow": False}]  # fmt: skip
    return {"data": [trace], "layout": layout}


def exposure_figure(doc: Mapping[str, Any]) -> dict[str, Any]:
    rows = doc["equity"]
    dates = [r["date"] for r in rows]
    exposure = _line(dates, [r.get("exposure") for r in rows], "Exposure (market value / equity)", "#1a7f37",
                     fill="tozeroy", fillcolor="rgba(26,127,55,0.15)")  # fmt: skip
    positions = _line(dates, [r.get("positions") for r in rows], "Open positions (right axis)", "#9a6700",
                      yaxis="y2", opacity=0.55, line={"color": "#9a6700", "width": 1, "shape": "hv"})  # fmt: skip
    layout = line_layout("Exposure and open positions", y_format=".0%", height=260)
    layout["yaxis2"] = {"overlaying": "y", "side": "right", "rangemode": "tozero", "showgrid": False}
    return {"data": [exposure, positions], "layout": layout}


def monthly_heatmap(
    monthly: Mapping[str, Any], yearly: Mapping[str, Any] | None = None, title: str = "Monthly returns"
) -> dict[str, Any]:
    """Years x months heatmap of returns (red losses, green gains, white around zero); each year's
    total is in its row label."""
    years = sorted({key[:4] for key in monthly})
    z = [[_finite(monthly.get(f"{y}-{m:02d}")) for m in range(1, 13)] for y in years]
    finite = [abs(v) for row in z for v in row if v is not None]
    bound = max(finite) if finite else 0.01
    trace = {
        "type": "heatmap",
        "x": list(MONTHS),
        "y": years,
        "z": z,
        "zmid": 0,
        "zmin": -bound,
        "zmax": bound,
        "colorscale": [[0, "#cf222e"], [0.5, "#ffffff"], [1, "#1a7f37"]],
        "texttemplate": "%{z:.1%}",
        "textfont": {"size": 10},
        "hovertemplate": "%{y} %{x}: %{z:.2%}<extra></extra>",
        "colorbar": {"tickformat": ".0%", "thickness": 12},
        "xgap": 1,
        "ygap": 1,
    }
    layout = {
        "title": {"text": title, "x": 0.01, "font": {"size": 14}},
        "height": max(220, 90 + 24 * len(years)),
        "margin": {"l": 90, "r": 20, "t": 70, "b": 20},
        "yaxis": {
            "type": "category",
            "autorange": "reversed",
            "tickvals": years,
            "ticktext": [_year_label(y, (yearly or {}).get(y)) for y in years],
        },
        "xaxis": {"type": "category", "side": "top"},
        "plot_bgcolor": "#ffffff",
    }
    return {"data": [trace], "layout": layout}


def _year_label(year: str, total: Any) -> str:
    value = _finite(total)
    return year if value is None else f"{year} ({value:+.1%})"


def _finite(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def exit_reason_figure(reasons: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Trades per exit reason (bars) with their total P&L in the hover."""
    order = sorted(reasons, key=lambda r: (reasons[r].get("count", 0), r))
    trace = {
        "type": "bar",
        "orientation": "h",
        "y": order,
        "x": [reasons[r].get("count", 0) for r in order],
        "marker": {"color": [_pnl_colour(reasons[r].get("total_pnl")) for r in order]},
        "customdata": [
            [_finite(reasons[r].get("total_pnl")), _finite(reasons[r].get("avg_r"))] for r in order
        ],
        "hovertemplate": "%{y}: %{x} trades, P&L %{customdata[0]:$,.0f}, avg %{customdata[1]:.2f} R<extra></extra>",
    }
    layout = {
        "title": {
            "text": "Exits by reason (green: net profit, red: net loss)",
            "x": 0.01,
            "font": {"size": 14},
        },
        "height": max(200, 70 + 28 * len(order)),
        "margin": {"l": 130, "r": 20, "t": 40, "b": 30},
        "xaxis": {"title": {"text": "trades"}, "gridcolor": "#eaeef2"},
        "plot_bgcolor": "#ffffff",
    }
    return {"data": [trace], "layout": layout}


def _pnl_colour(value: Any) -> str:
    v = _finite(value)
    return "#8c959f" if v is None or v == 0 else ("#1a7f37" if v > 0 else "#cf222e")


def trade_returns_figure(trades: Sequence[Mapping[str, Any]], bins: int = 40) -> dict[str, Any]:
    """Histogram of trade returns, binned on the server (10,000 trades ship as 40 bars)."""
    values = np.array(
        [t["pnl_pct"] for t in trades if _finite(t.get("pnl_pct")) is not None], dtype=np.float64
    )
    counts, edges = np.histogram(values, bins=bins) if values.size else (np.zeros(0), np.zeros(1))
    centres = (edges[:-1] + edges[1:]) / 2
    trace = {
        "type": "bar",
        "x": centres.tolist(),
        "y": counts.tolist(),
        "width": float(edges[1] - edges[0]) if values.size else 0.0,
        "marker": {"color": ["#cf222e" if c < 0 else "#1a7f37" for c in centres]},
        "hovertemplate": "%{x:.1%}: %{y} trades<extra></extra>",
    }
    layout = {
        "title": {"text": "Distribution of trade returns", "x": 0.01, "font": {"size": 14}},
        "height": 240,
        "margin": {"l": 50, "r": 20, "t": 40, "b": 40},
        "xaxis": {"tickformat": ".0%", "gridcolor": "#eaeef2"},
        "yaxis": {"title": {"text": "trades"}, "gridcolor": "#eaeef2"},
        "bargap": 0.05,
        "plot_bgcolor": "#ffffff",
    }
    return {"data": [trace], "layout": layout}
