"""``playbook paper drift``: what the paper account did against what the backtest says it should have.

The backtest of the account's config is re-run (fast engine) over the sessions the account has
processed, and compared trade by trade, keyed by (sleeve, symbol, entry date):

- ``same``: both closed the trade with the same exit date, reason, shares and P&L (1e-9 relative);
  ``open``: both still hold it (the backtest closes it END_OF_TEST on the account's last session, an
  exit the account has not made; an exit queued for the next open counts as open too);
- ``different``: both have the trade but the exit, the shares, the fills or the P&L differ;
- ``missed``: only the backtest has it; ``extra``: only the account has it.

Every fill of the account is priced against the model price of its bar (the open for NEXT_OPEN
orders, the close for CLOSE orders, ``min(open, stop)`` for a stop, the stated price of a PRICE
order): the realised slippage in basis points, against the trader, beside the configured
``slippage_bps``. On a simulated account everything is ``same``/``open`` and the slippage drift is 0;
a broker that fills 10 bps worse shows +10 bps on every fill.

Known, documented differences: a paper account never sells END_OF_DATA (it cannot know a symbol's
data has ended), so a symbol that stopped trading shows as ``different``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from trading_playbook.core.errors import PlaybookError
from trading_playbook.paper import queries
from trading_playbook.paper.account import AccountError, account_from_meta, account_path

__all__ = ["compute_drift"]

_REL = 1e-9


def _close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return a == b or abs(a - b) <= _REL * max(abs(a), abs(b), 1.0)


def compute_drift(name: str, *, home: Path | None = None, workspace: Any = None) -> dict[str, Any]:
    """The drift document of account ``name`` (JSON-able; rendered by :mod:`.drift_report`)."""
    from trading_playbook.engine import load_data, portfolio_settings, run_backtest

    meta = queries.account_meta(name, home)  # read-only: drift never opens the journal for writing
    history = queries.equity_history(name, home)
    if not history:
        raise AccountError(f"paper account {name!r} has not processed a session yet; step it first")
    account = account_from_meta(meta, account_path(name, home))
    cfg = account.playbook_config()
    ws = workspace if workspace is not None else load_data(cfg)
    first, last = history[0]["date"], history[-1]["date"]
    backtest = run_backtest(cfg, workspace=ws, start=first, end=last, engine="fast", metrics=False)
    configured = portfolio_settings(cfg).slippage_bps
    trades = _compare_trades(name, home, backtest.trades, last)
    fills = _fill_slippage(name, home, ws.panel, configured)
    equity = _compare_equity(history, backtest.equity)
    return {
        "account": name,
        "config_hash": account.config_hash,
        "broker": account.broker,
        "first_session": first,
        "last_session": last,
        "summary": _summary(trades, fills, equity, configured),
        "sleeves": _per_sleeve(trades),
        "trades": trades,
        "fills": fills,
        "equity": equity,
    }


# ---------------------------------------------------------------------------------------- trades
def _compare_trades(name: str, home: Path | None, backtest: list[Any], last: str) -> list[dict[str, Any]]:
    paper: dict[tuple[str, str, str], dict[str, Any]] = {}
    for t in queries.trades(name, home):
        paper[(t["sleeve"], t["symbol"], t["entry_date"])] = {**t, "open": False}
    for p in queries.positions(name, home):
        paper[(p["sleeve"], p["symbol"], p["entry_date"])] = {
            "sleeve": p["sleeve"], "symbol": p["symbol"], "entry_date": p["entry_date"],
            "entry_price": p["entry_price"], "shares": p["original_shares"], "exit_date": None,
            "exit_reason": None, "exit_price": None, "pnl": p["unrealised_pnl"], "open": True,
        }  # fmt: skip
    model = {(t.sleeve, t.symbol, t.entry_date.isoformat()): t.to_dict() for t in backtest}
    rows = []
    for key in sorted(set(paper) | set(model), key=lambda k: (k[2], k[1], k[0])):
        p, b = paper.get(key), model.get(key)
        rows.append(_trade_row(key, p, b, last))
    return rows


def _trade_row(
    key: tuple[str, str, str], p: Mapping[str, Any] | None, b: Mapping[str, Any] | None, last: str
) -> dict[str, Any]:
    sleeve, symbol, entry = key
    status = _status(p, b, last)
    row: dict[str, Any] = {"sleeve": sleeve, "symbol": symbol, "entry_date": entry, "status": status}
    for prefix, t in (("paper", p), ("backtest", b)):
        for field in ("entry_price", "shares", "exit_date", "exit_reason", "exit_price", "pnl"):
            row[f"{prefix}_{field}"] = None if t is None else t.get(field)
    both = p is not None and b is not None and not p["open"] and status != "open"
    row["pnl_difference"] = (p["pnl"] - b["pnl"]) if both and p and b else None
    if p is not None and b is not None:
        row["entry_price_difference_bps"] = (p["entry_price"] / b["entry_price"] - 1.0) * 1e4
    else:
        row["entry_price_difference_bps"] = None
    return row


def _status(p: Mapping[str, Any] | None, b: Mapping[str, Any] | None, last: str) -> str:
    if p is None:
        return "missed"
    if b is None:
        return "extra"
    entry_same = p["shares"] == b["shares"] and _close(p["entry_price"], b["entry_price"])
    if p["open"]:
        still_open = b["exit_reason"] == "END_OF_TEST" and b["exit_date"] == last
        return "open" if still_open and entry_same else "different"
    same = (
        entry_same
        and p["exit_date"] == b["exit_date"]
        and p["exit_reason"] == b["exit_reason"]
        and _close(p["exit_price"], b["exit_price"])
        and _close(p["pnl"], b["pnl"])
    )
    return "same" if same else "different"


# ---------------------------------------------------------------------------------------- fills
def _fill_slippage(name: str, home: Path | None, panel: Any, configured: float) -> list[dict[str, Any]]:
    orders = {i["client_order_id"]: i for i in queries.intents(name, home)}
    out = []
    for fill in queries.fills(name, home):
        intent = orders.get(fill["client_order_id"], {})
        model = _model_price(panel, fill, intent)
        sign = 1.0 if fill["side"] == "buy" else -1.0
        # rounded to 1e-6 bps: float noise of the price arithmetic is not drift
        realised = round(sign * (fill["price"] / model - 1.0) * 1e4, 6) if model else None
        out.append(
            {
                "client_order_id": fill["client_order_id"],
                "session": fill["session"],
                "phase": fill["phase"],
                "sleeve": fill["sleeve"],
                "symbol": fill["symbol"],
                "side": fill["side"],
                "shares": fill["shares"],
                "price": fill["price"],
                "model_price": model,
                "realised_bps": realised,
                "drift_bps": None if realised is None else round(realised - configured, 6),
            }
        )
    return out


def _model_price(panel: Any, fill: Mapping[str, Any], intent: Mapping[str, Any]) -> float | None:
    """The bar price the backtest would fill this order at, before slippage."""
    try:
        t = int(np.searchsorted(panel.sessions, np.datetime64(fill["session"], "D")))
        col = panel.symbol_index(fill["symbol"])
    except PlaybookError:
        return None
    if t >= panel.n_sessions or not panel.available[t, col]:
        return None
    if intent.get("timing") == "price" and intent.get("price") is not None:
        return float(intent["price"])
    if fill["phase"] == "open":
        return float(panel.open[t, col])
    if fill["phase"] == "intraday":
        level = intent.get("stop_price")
        opening = float(panel.open[t, col])
        return opening if level is None else min(opening, float(level))
    return float(panel.close[t, col])


# ---------------------------------------------------------------------------------------- equity, summary
def _compare_equity(history: list[dict[str, Any]], curve: Any) -> list[dict[str, Any]]:
    model = {str(d): float(e) for d, e in zip(curve.dates.astype("datetime64[D]"), curve.equity, strict=True)}
    return [
        {"date": row["date"], "paper": row["equity"], "backtest": model.get(row["date"])} for row in history
    ]


def _summary(
    trades: list[dict[str, Any]], fills: list[dict[str, Any]], equity: list[dict[str, Any]], configured: float
) -> dict[str, Any]:
    counts = {
        k: sum(1 for t in trades if t["status"] == k)
        for k in ("same", "open", "different", "missed", "extra")
    }
    drifts = [f["drift_bps"] for f in fills if f["drift_bps"] is not None]
    realised = [f["realised_bps"] for f in fills if f["realised_bps"] is not None]
    # the backtest sells everything END_OF_TEST on the last session: compare the sessions before it
    gaps = [abs(e["paper"] - e["backtest"]) for e in equity[:-1] if e["backtest"] is not None]
    pnl_diff = [t["pnl_difference"] for t in trades if t["pnl_difference"] is not None]
    zero = (
        counts["different"] == counts["missed"] == counts["extra"] == 0
        and all(abs(d) <= 1e-6 for d in drifts)
        and all(g == 0.0 for g in gaps)
    )
    return {
        **counts,
        "trades_paper": sum(1 for t in trades if t["paper_shares"] is not None),
        "trades_backtest": sum(1 for t in trades if t["backtest_shares"] is not None),
        "fills": len(fills),
        "configured_slippage_bps": configured,
        "mean_realised_slippage_bps": _mean(realised),
        "mean_slippage_drift_bps": _mean(drifts),
        "max_abs_slippage_drift_bps": max((abs(d) for d in drifts), default=0.0),
        "pnl_difference_closed_trades": math.fsum(pnl_diff),
        "max_equity_difference": max(gaps, default=0.0),
        "final_equity_paper": equity[-1]["paper"],
        "zero_drift": zero,
    }


def _per_sleeve(trades: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for t in trades:
        s = out.setdefault(
            t["sleeve"], {"same": 0, "open": 0, "different": 0, "missed": 0, "extra": 0, "paper_pnl": 0.0,
                          "backtest_pnl": 0.0}
        )  # fmt: skip
        s[t["status"]] += 1
        if t["status"] != "open":
            s["paper_pnl"] += t["paper_pnl"] or 0.0
            s["backtest_pnl"] += t["backtest_pnl"] or 0.0
    for s in out.values():
        s["pnl_difference"] = s["paper_pnl"] - s["backtest_pnl"]
    return out


def _mean(values: list[float]) -> float | None:
    return math.fsum(values) / len(values) if values else None
