"""A run: key statistics and verdict, the charts, exit reasons, the trade table and each trade's page."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from trading_playbook.core.errors import PlaybookError
from trading_playbook.reports._content import strategy_label
from trading_playbook.web import figures
from trading_playbook.web.render import render
from trading_playbook.web.store import PageNotFound, Store
from trading_playbook.web.tables import TRADE_COLUMNS, TradeQuery, flatten, trade_page

router = APIRouter()


def _trade_context(run_id: str, doc: dict[str, Any], request: Request) -> dict[str, Any]:
    query = TradeQuery.parse(request.query_params)
    trades = doc["trades"]
    return {
        "run_id": run_id,
        "query": query,
        "params": query.params(),
        "page": trade_page(trades, query),
        "total_trades": len(trades),
        "columns": TRADE_COLUMNS,
        "reasons": sorted(doc["metrics"].get("exit_reasons") or {}),
    }


@router.get("/runs/{run_id}")
def run_page(run_id: str, request: Request) -> Response:
    store: Store = request.app.state.store
    record = store.run(run_id)
    doc = store.document(run_id)
    m = doc["metrics"]
    charts = store.memo.get(("run charts", run_id), lambda: _run_charts(doc))
    context = {
        "nav": "runs",
        "record": record,
        "doc": doc,
        "m": m,
        "v": m.get("validation") or {},
        "strategy": strategy_label(doc.get("config") or {}),
        "charts": charts,
        "config_rows": flatten(doc.get("config") or {}),
        "benchmarks": m.get("benchmarks") or {},
        **_trade_context(run_id, doc, request),
    }
    return render(request, "run.html", context)


def _run_charts(doc: dict[str, Any]) -> dict[str, Any]:
    """Every figure of the run page (memoised per run: a recorded run never changes)."""
    m = doc["metrics"]
    return {
        "equity": figures.equity_figure(doc),
        "drawdown": figures.drawdown_figure(doc),
        "rolling_sharpe": figures.rolling_sharpe_figure(doc),
        "exposure": figures.exposure_figure(doc),
        "monthly": figures.monthly_heatmap(m.get("monthly_returns") or {}, m.get("yearly_returns") or {}),
        "exit_reasons": figures.exit_reason_figure(m.get("exit_reasons") or {}),
        "returns": figures.trade_returns_figure(doc["trades"]),
    }


@router.get("/runs/{run_id}/trades")
def trades_fragment(run_id: str, request: Request) -> Response:
    """The trade table alone: HTMX swaps it on sorting, filtering and paging."""
    store: Store = request.app.state.store
    doc = store.document(run_id)
    return render(request, "_trades_table.html", _trade_context(run_id, doc, request))


@router.get("/runs/{run_id}/trades/{number}")
def trade_detail(run_id: str, number: str, request: Request) -> Response:
    """One trade: its figures, partial exits and the candlestick chart with entry, stops and exits."""
    store: Store = request.app.state.store
    doc = store.document(run_id)
    trades = doc["trades"]
    if not number.isdigit() or not 1 <= int(number) <= len(trades):
        raise PageNotFound(
            "No such trade", f"run {run_id} has trades 1 to {len(trades)}; {number!r} is not one"
        )
    n = int(number)
    trade = dict(trades[n - 1])
    trade["final_fill"] = final_fill_price(trade)
    figure, note = _trade_chart(store, request, doc, trade)
    context = {
        "nav": "runs",
        "run_id": run_id,
        "doc": doc,
        "n": n,
        "count": len(trades),
        "trade": trade,
        "figure": figure,
        "chart_note": note,
    }
    return render(request, "trade.html", context)


def final_fill_price(trade: dict[str, Any]) -> float | None:
    """The price of the last sale: ``exit_price`` is the share-weighted mean of every exit fill."""
    partials = trade.get("partial_exits") or []
    sold = sum(int(p["shares"]) for p in partials)
    left = int(trade["shares"]) - sold
    if left <= 0 or not isinstance(trade.get("exit_price"), int | float):
        return None
    return (
        float(trade["exit_price"]) * int(trade["shares"])
        - sum(float(p["shares"]) * float(p["price"]) for p in partials)
    ) / left


def _trade_chart(
    store: Store, request: Request, doc: dict[str, Any], trade: dict[str, Any]
) -> tuple[Any, str]:
    """The candlestick figure and a note on what it shows (or why it is missing)."""
    from trading_playbook.engine import build_sleeves, portfolio_settings
    from trading_playbook.web.bars import BarsUnavailable, load_symbol_bars
    from trading_playbook.web.replay import replay_stops
    from trading_playbook.web.trade_chart import trade_figure

    data_root = request.app.state.settings.data_root
    key = ("bars", doc.get("config_hash"), doc.get("created_at"), trade["symbol"])
    try:
        bars = store.memo.get(key, lambda: load_symbol_bars(doc, trade["symbol"], data_root))
    except BarsUnavailable as exc:
        return None, str(exc)
    cfg = bars.config
    try:
        sleeve = next(s for s in build_sleeves(cfg) if s.name == trade.get("sleeve", "main"))
    except (StopIteration, PlaybookError) as exc:  # no such sleeve, or an exit not registered here
        return trade_figure(bars.panel, trade, None, {}), f"the exit rules cannot be rebuilt here ({exc})"
    from trading_playbook.core.exits.protocol import as_exit_engine

    engine = as_exit_engine(sleeve.exit)
    settings = portfolio_settings(cfg)
    path = replay_stops(
        bars.panel, sleeve.exit, trade, entry_fill=settings.entry_fill, exit_fill=settings.exit_fill
    )
    periods = {k: v for k, v in engine.indicator_needs().items() if k in ("sma", "ema")}
    figure = trade_figure(bars.panel, trade, path, periods)
    if path.matches:
        note = "Stops replayed from the run's exit rules; the replay ends on the recorded exit."
    else:
        note = (
            f"The replay of the exit rules ended at {path.exit_date or 'no exit'} ({path.exit_reason or '—'}), "
            f"not at the recorded {trade['exit_date']} ({trade['exit_reason']}), so only the recorded fills "
            "and the initial stop are drawn."
        )
    return figure, note
