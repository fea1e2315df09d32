"""Read-only queries over paper-account journals, returning plain dicts (stable API).

``playbook paper status/history`` and the web dashboard build on these. Every function opens the
journal read-only (``file:...?mode=ro``), never locks the account, and returns JSON-able values
(floats that are not finite become None). Accounts are found by name under
``$PLAYBOOK_HOME/paper/`` (or ``home``).

Functions: :func:`list_accounts`, :func:`account_summary`, :func:`equity_history`,
:func:`positions`, :func:`pending_orders`, :func:`fills`, :func:`events`, :func:`trades`,
:func:`intents`, :func:`decisions`, :func:`log_messages`. The fields of each are listed in
``docs/paper-trading.md`` ("Reading an account").
"""

from __future__ import annotations

import contextlib
import json
import math
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from trading_playbook.paper.account import AccountError, account_path, paper_home

__all__ = [
    "account_meta",
    "account_summary",
    "decisions",
    "equity_history",
    "events",
    "fills",
    "intents",
    "list_accounts",
    "log_messages",
    "orders_of_state",
    "pending_orders",
    "positions",
    "trades",
]


@contextlib.contextmanager
def _read(name: str, home: Path | None) -> Iterator[sqlite3.Connection]:
    path = account_path(name, home)
    if not path.is_file():
        raise AccountError(f"no paper account {name!r} in {path.parent}")
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
    conn.row_factory = sqlite3.Row
    try:
        yield conn
    except sqlite3.Error as exc:
        raise AccountError(f"cannot read the journal of paper account {name!r} ({path}): {exc}") from exc
    finally:
        conn.close()


def _num(x: Any) -> Any:
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def _meta(conn: sqlite3.Connection) -> dict[str, Any]:
    return {r["key"]: json.loads(r["value"]) for r in conn.execute("SELECT key, value FROM meta")}


def _latest(conn: sqlite3.Connection) -> sqlite3.Row | None:
    row: sqlite3.Row | None = conn.execute("SELECT * FROM sessions ORDER BY session DESC LIMIT 1").fetchone()
    return row


def list_accounts(home: Path | None = None) -> list[dict[str, Any]]:
    """Every account: name, broker, start, last session, equity, cash, positions, config hash."""
    root = paper_home(home)
    out = []
    for path in sorted(root.glob("*.sqlite")) if root.is_dir() else []:
        try:
            out.append(account_summary(path.stem, home))
        except (AccountError, sqlite3.Error, KeyError):
            out.append({"name": path.stem, "error": "unreadable journal"})
    return out


def account_meta(name: str, home: Path | None = None) -> dict[str, Any]:
    """The journal's ``meta`` table (account, config, config_hash, config_path, broker, start, ...)."""
    with _read(name, home) as conn:
        return _meta(conn)


def account_summary(name: str, home: Path | None = None) -> dict[str, Any]:
    """Meta data and the latest marks of one account.

    Keys: ``name, path, created_at, broker, start, config_hash, config_path, starting_capital,
    sleeves, last_session, sessions, equity, cash, positions, exposure, total_return,
    sleeve_equity, trades``.
    """
    with _read(name, home) as conn:
        meta = _meta(conn)
        latest = _latest(conn)
        count = conn.execute("SELECT COUNT(*) FROM sessions").fetchone()[0]
        n_trades = conn.execute("SELECT COUNT(*) FROM trades").fetchone()[0]
    capital = float(meta["config"]["portfolio"]["starting_capital"])
    equity = latest["equity"] if latest is not None else capital
    sleeves = [s["name"] for s in meta["config"].get("sleeves") or []] or ["main"]
    return {
        "name": meta["account"],
        "path": str(account_path(name, home)),
        "created_at": meta["created_at"],
        "broker": meta["broker"],
        "start": meta["start"],
        "config_hash": meta["config_hash"],
        "config_path": meta.get("config_path"),
        "starting_capital": capital,
        "sleeves": sleeves,
        "last_session": latest["session"] if latest is not None else None,
        "sessions": count,
        "equity": equity,
        "cash": latest["cash"] if latest is not None else capital,
        "positions": latest["positions"] if latest is not None else 0,
        "exposure": latest["exposure"] if latest is not None else 0.0,
        "total_return": equity / capital - 1.0,
        "sleeve_equity": json.loads(latest["sleeve_equity_json"]) if latest is not None else {},
        "trades": n_trades,
    }


def equity_history(name: str, home: Path | None = None) -> list[dict[str, Any]]:
    """One row per processed session: ``date, equity, cash, positions, exposure, sleeves``."""
    with _read(name, home) as conn:
        rows = conn.execute(
            "SELECT session, equity, cash, positions, exposure, sleeve_equity_json FROM sessions ORDER BY session"
        ).fetchall()
    return [
        {
            "date": r["session"],
            "equity": r["equity"],
            "cash": r["cash"],
            "positions": r["positions"],
            "exposure": r["exposure"],
            "sleeves": json.loads(r["sleeve_equity_json"]),
        }
        for r in rows
    ]


def _state(conn: sqlite3.Connection) -> dict[str, Any] | None:
    latest = _latest(conn)
    return None if latest is None else json.loads(latest["state_json"])  # type: ignore[no-any-return]


def positions(name: str, home: Path | None = None) -> list[dict[str, Any]]:
    """Open positions after the last session.

    Keys: ``sleeve, symbol, entry_date, entry_price, shares, original_shares, initial_stop, stop,
    stop_reason, trail, last_close, market_value, unrealised_pnl, unrealised_pct, sessions_held,
    partial_taken, pending_exit_shares``.
    """
    with _read(name, home) as conn:
        state = _state(conn)
        if state is None:
            return []
        out = []
        for p in state["positions"]:
            held_since = conn.execute("SELECT COUNT(*) FROM sessions WHERE session > ?", (p["entry_date"],))
            ex = p["exit_state"]
            last_close = float(p["last_close"])
            market = p["held"] * last_close
            unrealised = (p["exit_value"] + market - p["original_shares"] * p["entry_price"]) - p[
                "commission"
            ]
            trails = [float(x) for x in ex["trails"] if math.isfinite(float(x))]
            stop = p.get("stop")
            out.append(
                {
                    "sleeve": p["sleeve"],
                    "symbol": p["symbol"],
                    "entry_date": p["entry_date"],
                    "entry_price": p["entry_price"],
                    "shares": p["held"],
                    "original_shares": p["original_shares"],
                    "initial_stop": ex["initial_stop"],
                    "stop": None if stop is None else stop["level"],
                    "stop_reason": None if stop is None else stop["reason"],
                    "trail": max(trails) if trails else None,
                    "last_close": _num(last_close),
                    "market_value": _num(market),
                    "unrealised_pnl": _num(unrealised),
                    "unrealised_pct": _num(unrealised / (p["original_shares"] * p["entry_price"])),
                    "sessions_held": held_since.fetchone()[0],
                    "partial_taken": ex["partial_taken"],
                    "pending_exit_shares": sum(x["shares"] for x in p["pending"]),
                }
            )
    return out


def pending_orders(name: str, home: Path | None = None) -> list[dict[str, Any]]:
    """Orders resting after the last session (:func:`orders_of_state`).

    An Alpaca account's orders also carry ``alpaca``: what the journal last knew of each at Alpaca
    (:func:`trading_playbook.paper.alpaca_book.alpaca_views`; no request is sent to Alpaca).
    """
    with _read(name, home) as conn:
        state = _state(conn)
        orders = [] if state is None else orders_of_state(state)
        if orders and _meta(conn)["broker"].get("kind") == "alpaca":
            from trading_playbook.paper.alpaca_book import alpaca_views

            views = alpaca_views(conn, [o["client_order_id"] for o in orders])
            for order in orders:
                order["alpaca"] = views[order["client_order_id"]]
    return orders


def orders_of_state(state: dict[str, Any]) -> list[dict[str, Any]]:
    """Entries and exits for the next open and resting stops of a saved portfolio state.

    Keys: ``client_order_id, kind`` (``entry``, ``exit``, ``stop``), ``sleeve, symbol, side, shares,
    stop_price, reason``.
    """
    out: list[dict[str, Any]] = []

    def add(
        order: dict[str, Any], kind: str, sleeve: str, symbol: str, side: str, stop: Any, reason: str
    ) -> None:
        out.append(
            {
                "client_order_id": order["client_order_id"],
                "kind": kind,
                "sleeve": sleeve,
                "symbol": symbol,
                "side": side,
                "shares": order["shares"],
                "stop_price": stop,
                "reason": reason,
            }
        )

    for e in state["entries"]:
        add(e, "entry", e["sleeve"], e["symbol"], "buy", None, "ENTRY")
    for p in state["positions"]:
        for x in p["pending"]:
            add(x, "exit", p["sleeve"], p["symbol"], "sell", None, x["reason"])
        if p.get("stop"):
            add(p["stop"], "stop", p["sleeve"], p["symbol"], "sell", p["stop"]["level"], p["stop"]["reason"])
    return out


_EVENT_KEYS = (
    "event_id", "type", "client_order_id", "session", "phase", "sleeve", "symbol", "side", "shares", "price",
    "commission", "reason", "reference_price", "code", "message",
)  # fmt: skip


def events(name: str, home: Path | None = None, *, session: str | None = None) -> list[dict[str, Any]]:
    """Every broker event (fills and cancellations) in arrival order (``session`` filters)."""
    where, args = ("WHERE session = ?", (session,)) if session else ("", ())
    with _read(name, home) as conn:
        rows = conn.execute(f"SELECT * FROM events {where} ORDER BY seq", args).fetchall()
    return [{k: r[k] for k in _EVENT_KEYS} for r in rows]


def fills(name: str, home: Path | None = None, *, session: str | None = None) -> list[dict[str, Any]]:
    """Fills in order: ``client_order_id, fill_id, session, phase, sleeve, symbol, side, shares, price,
    commission, reason, reference_price``."""
    keys = (
        "client_order_id", "fill_id", "session", "phase", "sleeve", "symbol", "side", "shares", "price",
        "commission", "reason", "reference_price",
    )  # fmt: skip
    out = []
    for e in events(name, home, session=session):
        if e["type"] == "fill":
            e["fill_id"] = e["event_id"]
            out.append({k: e[k] for k in keys})
    return out


def trades(name: str, home: Path | None = None) -> list[dict[str, Any]]:
    """Closed trades in result.json's trade format, by entry date, symbol, sleeve."""
    with _read(name, home) as conn:
        rows = conn.execute(
            "SELECT trade_json FROM trades ORDER BY entry_date, symbol, sleeve_index"
        ).fetchall()
    return [{k: _num(v) for k, v in json.loads(r[0]).items()} for r in rows]


def intents(name: str, home: Path | None = None, *, session: str | None = None) -> list[dict[str, Any]]:
    """Every order intent (written before submission), in the order written."""
    where, args = ("WHERE session = ?", (session,)) if session else ("", ())
    with _read(name, home) as conn:
        rows = conn.execute(
            f"SELECT intent_json, written_at FROM intents {where} ORDER BY rowid", args
        ).fetchall()
    return [{**json.loads(r[0]), "written_at": r[1]} for r in rows]


def decisions(name: str, home: Path | None = None, *, session: str | None = None) -> list[dict[str, Any]]:
    """The decision log: ``session, sleeve, rank, symbol, score, volume_ratio, reference_price, shares,
    outcome`` (``queued``, ``entered``, ``held``, ``no_slot``, ``sized_zero``, ``no_cash``, ``no_bar``)."""
    where, args = ("WHERE session = ?", (session,)) if session else ("", ())
    with _read(name, home) as conn:
        rows = conn.execute(
            f"SELECT * FROM decisions {where} ORDER BY session, sleeve, rank", args
        ).fetchall()
    return [dict(r) for r in rows]


def log_messages(name: str, home: Path | None = None, *, limit: int = 200) -> list[dict[str, Any]]:
    """The latest messages of steps and the daemon, newest last: ``at, level, message``."""
    with _read(name, home) as conn:
        rows = conn.execute(
            "SELECT at, level, message FROM log ORDER BY id DESC LIMIT ?", (limit,)
        ).fetchall()
    return [dict(r) for r in reversed(rows)]
