"""Paper accounts: positions with their stops and unrealised P&L, pending orders, fills, equity, the
decision log of the last session and the drift against the backtest, refreshed while a daemon steps.

Everything comes from :mod:`trading_playbook.paper.queries` (journals opened read-only). The open page
polls ``/paper/NAME/live?v=VERSION`` with HTMX; the answer is ``204 No Content`` (nothing swapped)
until the journal has a new session, trade, order or log line, so an idle page costs one small query.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from trading_playbook.core.errors import PlaybookError
from trading_playbook.web.figures import clean, line_layout
from trading_playbook.web.render import render
from trading_playbook.web.store import PageNotFound, PageUnavailable, Store

router = APIRouter()

ACCOUNT_NAME = re.compile(r"[A-Za-z0-9_]{1,40}")  # the names paper.account accepts
RECENT_TRADES = 20
RECENT_FILLS = 30


def _queries() -> Any:
    try:
        from trading_playbook.paper import queries
    except ImportError as exc:  # pragma: no cover - the paper package ships with the playbook
        raise PageUnavailable(
            "Paper accounts unavailable", f"this installation has no paper package: {exc}"
        ) from exc
    return queries


def _account_name(store: Store, name: str) -> str:
    """``name`` when an account of that name exists in the home (looked up, never used as a path first)."""
    if not ACCOUNT_NAME.fullmatch(name):
        raise PageNotFound("No such paper account", f"{name!r} is not an account name (letters, digits, _)")
    names = {a["name"] for a in _queries().list_accounts(store.home)}
    if name not in names:
        raise PageNotFound("No such paper account", f"no paper account {name!r} in {store.home / 'paper'}")
    return name


@router.get("/paper")
def paper_list(request: Request) -> Response:
    store: Store = request.app.state.store
    accounts = _queries().list_accounts(store.home)
    return render(
        request, "paper_list.html", {"nav": "paper", "accounts": accounts, "where": store.home / "paper"}
    )


def _live(store: Store, name: str) -> dict[str, Any]:
    q = _queries()
    try:
        summary = q.account_summary(name, store.home)
        last = summary["last_session"]
        history = q.equity_history(name, store.home)
        context = {
            "name": name,
            "summary": summary,
            "positions": q.positions(name, store.home),
            "pending": q.pending_orders(name, store.home),
            "fills": q.fills(name, store.home, session=last) if last else [],
            "recent_fills": q.fills(name, store.home)[-RECENT_FILLS:][::-1],
            "decisions": q.decisions(name, store.home, session=last) if last else [],
            "trades": q.trades(name, store.home)[-RECENT_TRADES:][::-1],
            "log": q.log_messages(name, store.home, limit=8)[::-1],
        }
    except PlaybookError as exc:
        raise PageUnavailable("This paper account cannot be read", str(exc)) from exc
    context["equity"] = _equity_figure(history, summary["starting_capital"])
    context["version"] = _version(context)
    return context


def _version(context: dict[str, Any]) -> str:
    """Changes whenever the journal has something new to show."""
    s = context["summary"]
    last_log = context["log"][0]["at"] if context["log"] else ""
    return f"{s['sessions']}.{s['last_session']}.{s['trades']}.{len(context['pending'])}.{last_log}"


def _equity_figure(history: list[dict[str, Any]], capital: float) -> dict[str, Any]:
    dates = [r["date"] for r in history]
    trace = {"type": "scatter", "mode": "lines", "x": dates, "y": clean([r["equity"] for r in history]),
             "name": "Paper equity", "line": {"color": "#0969da", "width": 2}}  # fmt: skip
    layout = line_layout("Paper account equity", y_format="$,.0f", height=300)
    layout["shapes"] = [{"type": "line", "xref": "paper", "x0": 0, "x1": 1, "y0": capital, "y1": capital,
                         "line": {"color": "#8c959f", "dash": "dot", "width": 1}}]  # fmt: skip
    return {"data": [trace], "layout": layout}


@router.get("/paper/{name}")
def paper_page(name: str, request: Request) -> Response:
    store: Store = request.app.state.store
    name = _account_name(store, name)
    context = {"nav": "paper", "poll": request.app.state.settings.poll_seconds, **_live(store, name)}
    return render(request, "paper.html", context)


@router.get("/paper/{name}/live")
def paper_live(name: str, request: Request) -> Response:
    """The live part of the page; 204 (HTMX keeps what it shows) while nothing changed."""
    store: Store = request.app.state.store
    name = _account_name(store, name)
    context = _live(store, name)
    if request.query_params.get("v") == context["version"]:
        return Response(status_code=204)
    context["poll"] = request.app.state.settings.poll_seconds
    response = render(request, "_paper_live.html", context)
    response.headers["HX-Trigger"] = "paper-stepped"  # the drift section reloads for the new session
    return response


@router.get("/paper/{name}/drift")
def paper_drift(name: str, request: Request) -> Response:
    """The drift against the backtest of the same config over the same sessions (recomputed per session)."""
    from trading_playbook.paper.drift import compute_drift
    from trading_playbook.web.bars import READABLE_SOURCES

    store: Store = request.app.state.store
    name = _account_name(store, name)
    q = _queries()
    summary = q.account_summary(name, store.home)
    key = ("drift", name, summary["sessions"], summary["last_session"])

    def compute() -> dict[str, Any]:
        if not summary["sessions"]:
            return {"error": "the account has not processed a session yet"}
        source = q.account_meta(name, store.home)["config"]["data"]["source"]
        if source not in READABLE_SOURCES:  # loading it would open the bar cache read-write
            return {
                "error": f"the dashboard does not load {source!r} data; run `playbook paper drift --account {name}`"
            }
        try:  # relative data paths resolve against the folder the account was created in
            return {"drift": compute_drift(name, home=store.home)}
        except PlaybookError as exc:
            return {"error": str(exc)}

    result = store.memo.get(key, compute)
    context: dict[str, Any] = {"name": name, **result}
    if "drift" in result:
        context["figure"] = _drift_figure(result["drift"])
        context["differences"] = [t for t in result["drift"]["trades"] if t["status"] not in ("same", "open")]
    return render(request, "_paper_drift.html", context)


def _drift_figure(drift: dict[str, Any]) -> dict[str, Any]:
    rows = drift["equity"]
    dates = [r["date"] for r in rows]
    traces = [
        {"type": "scatter", "mode": "lines", "x": dates, "y": clean([r["backtest"] for r in rows]),
         "name": "Backtest of the same config", "line": {"color": "#8c959f", "width": 3}},
        {"type": "scatter", "mode": "lines", "x": dates, "y": clean([r["paper"] for r in rows]),
         "name": "Paper account", "line": {"color": "#0969da", "width": 1.5}},
    ]  # fmt: skip
    return {"data": traces, "layout": line_layout("Paper against the backtest", y_format="$,.0f", height=300)}
