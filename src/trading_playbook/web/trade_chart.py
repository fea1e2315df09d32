"""The trade page's chart: candlesticks of the symbol around the trade, with its fills and stops.

Drawn: the bars from ``BEFORE`` sessions before the entry to ``AFTER`` after the exit; the moving
averages the exit rules read; the entry fill, each partial exit and the final exit as markers at
their fill prices; the initial stop; and, when the replay reproduced the recorded exit, the resting
stop and the close trail session by session (see :mod:`trading_playbook.web.replay`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from trading_playbook.core import indicators
from trading_playbook.core.panel import Panel
from trading_playbook.web.figures import clean
from trading_playbook.web.replay import StopPath

__all__ = ["AFTER", "BEFORE", "trade_figure"]

BEFORE = 60
AFTER = 20
_MA_COLOURS = ("#9a6700", "#8250df", "#0a3069")


def _window(dates: list[str], trade: Mapping[str, Any]) -> tuple[int, int]:
    entry = int(np.searchsorted(np.array(dates), trade["entry_date"]))
    exit_ = int(np.searchsorted(np.array(dates), trade["exit_date"]))
    return max(0, entry - BEFORE), min(len(dates), exit_ + AFTER + 1)


def _marker(
    x: list[str], y: list[float], name: str, symbol: str, colour: str, text: list[str]
) -> dict[str, Any]:
    return {
        "type": "scatter",
        "mode": "markers",
        "x": x,
        "y": y,
        "name": name,
        "text": text,
        "hovertemplate": "%{text}<extra></extra>",
        "marker": {"symbol": symbol, "size": 13, "color": colour, "line": {"color": "#1f2328", "width": 1}},
    }


def _moving_averages(
    panel: Panel, periods: Mapping[str, set[int]], lo: int, hi: int, x: list[str]
) -> list[dict[str, Any]]:
    traces = []
    k = 0
    for kind, fn in (("sma", indicators.sma), ("ema", indicators.ema)):
        for n in sorted(periods.get(kind, ())):
            values = fn(panel.close, n, panel.available)[lo:hi, 0]
            traces.append({"type": "scatter", "mode": "lines", "x": x, "y": clean(values.tolist()),
                           "name": f"{kind.upper()} {n}", "hoverinfo": "skip",
                           "line": {"color": _MA_COLOURS[k % 3], "width": 1.2}})  # fmt: skip
            k += 1
    return traces


def trade_figure(
    panel: Panel, trade: Mapping[str, Any], path: StopPath | None, ma_periods: Mapping[str, set[int]]
) -> dict[str, Any]:
    """The candlestick figure of ``trade`` on its one-symbol ``panel``."""
    dates = [str(d) for d in np.asarray(panel.sessions).astype("datetime64[D]")]
    lo, hi = _window(dates, trade)
    x = dates[lo:hi]
    candles = {
        "type": "candlestick",
        "x": x,
        "open": clean(panel.open[lo:hi, 0].tolist()),
        "high": clean(panel.high[lo:hi, 0].tolist()),
        "low": clean(panel.low[lo:hi, 0].tolist()),
        "close": clean(panel.close[lo:hi, 0].tolist()),
        "name": str(trade["symbol"]),
        "increasing": {"line": {"color": "#1a7f37"}},
        "decreasing": {"line": {"color": "#cf222e"}},
    }
    traces: list[dict[str, Any]] = [candles, *_moving_averages(panel, ma_periods, lo, hi, x)]
    stop = trade.get("initial_stop")
    replayed = path is not None and path.matches and any(v is not None for v in path.resting)
    if isinstance(stop, int | float) and not replayed:  # else the resting stop line starts there
        traces.append({"type": "scatter", "mode": "lines", "x": [trade["entry_date"], trade["exit_date"]],
                       "y": [stop, stop], "name": f"Initial stop {stop:,.2f}",
                       "line": {"color": "#cf222e", "dash": "dash", "width": 1.2}})  # fmt: skip
    if path is not None and path.matches:
        traces += _stop_path(path)
    traces.append(_marker([trade["entry_date"]], [trade["entry_price"]], "Entry", "triangle-up", "#0969da",
                          [f"Entry {trade['shares']} @ {trade['entry_price']:,.2f}"]))  # fmt: skip
    partials = trade.get("partial_exits") or []
    if partials:
        traces.append(_marker([p["date"] for p in partials], [p["price"] for p in partials], "Partial exit",
                              "diamond", "#d4a72c",
                              [f"{p['reason']}: {p['shares']} @ {p['price']:,.2f}" for p in partials]))  # fmt: skip
    final = trade.get("final_fill") or trade["exit_price"]
    traces.append(_marker([trade["exit_date"]], [final], "Exit", "triangle-down", "#1f2328",
                          [f"{trade['exit_reason']} @ {final:,.2f}"]))  # fmt: skip
    layout = {
        "title": {"text": f"{trade['symbol']}: {trade['entry_date']} to {trade['exit_date']}", "x": 0.01,
                  "font": {"size": 14}},
        "height": 520,
        "margin": {"l": 60, "r": 20, "t": 40, "b": 40},
        "hovermode": "x",
        "xaxis": {"type": "date", "rangeslider": {"visible": False}, "rangebreaks": [{"bounds": ["sat", "mon"]}],
                  "gridcolor": "#eaeef2"},
        "yaxis": {"title": {"text": "price (adjusted)"}, "gridcolor": "#eaeef2"},
        "legend": {"orientation": "h", "y": -0.1},
        "plot_bgcolor": "#ffffff",
        "shapes": [{"type": "rect", "xref": "x", "yref": "paper", "x0": trade["entry_date"],
                    "x1": trade["exit_date"], "y0": 0, "y1": 1, "fillcolor": "rgba(9,105,218,0.06)",
                    "line": {"width": 0}, "layer": "below"}],
    }  # fmt: skip
    return {"data": traces, "layout": layout}


def _stop_path(path: StopPath) -> list[dict[str, Any]]:
    traces = []
    if any(v is not None for v in path.resting):
        traces.append({"type": "scatter", "mode": "lines", "x": path.dates, "y": path.resting,
                       "name": "Resting stop (intraday)", "text": path.resting_reason,
                       "hovertemplate": "%{text} %{y:,.2f}<extra></extra>",
                       "line": {"color": "#bf3989", "shape": "hv", "width": 1.6}})  # fmt: skip
    if any(v is not None for v in path.close_trail):
        traces.append({"type": "scatter", "mode": "lines", "x": path.dates, "y": path.close_trail,
                       "name": "Close trail", "hovertemplate": "close trail %{y:,.2f}<extra></extra>",
                       "line": {"color": "#8250df", "shape": "hv", "dash": "dot", "width": 1.6}})  # fmt: skip
    return traces
