"""What the Alpaca broker adapter keeps in the account's journal, beside the engine's tables.

The broker itself is Alpaca: which orders exist and what filled is always asked from Alpaca by
``client_order_id``. The journal adds what Alpaca cannot say:

``alpaca_orders``   per engine order id: how it was handled (``placed``, ``deferred`` until the
                    ``opg`` window opens, ``late``, ``blocked``, ``dry_run``) with a note, and the
                    *aliases*: further Alpaca orders that stand for it (the ``day`` fallback of an
                    expired ``opg`` order, a stop restored after a failed ``cls`` exit, a stop whose
                    share count was cut, the sale of shares cash could not pay for)
``alpaca_updates``  every ``trade_updates`` event received (and every order state recovered over
                    REST after a reconnection): event, order, quantities, prices, times

Both are written through their own connection (the file is in WAL mode, so the stream subscriber
and a step can write at once) and never hold keys. The engine's own tables are read here too
(intents and events), never written.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trading_playbook.core.broker import BrokerEvent, OrderIntent, Phase, Timing, event_from_dict

__all__ = ["AlpacaBook", "Handling", "alpaca_views", "current_stops"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS alpaca_orders (
    client_order_id TEXT PRIMARY KEY,
    handling TEXT NOT NULL,
    note TEXT NOT NULL,
    aliases_json TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS alpaca_updates (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    received_at TEXT NOT NULL,
    source TEXT NOT NULL,
    event TEXT NOT NULL,
    client_order_id TEXT NOT NULL,
    order_id TEXT NOT NULL,
    symbol TEXT,
    side TEXT,
    status TEXT,
    qty TEXT,
    filled_qty TEXT,
    filled_avg_price TEXT,
    event_qty TEXT,
    event_price TEXT,
    at TEXT
);
CREATE INDEX IF NOT EXISTS alpaca_updates_order ON alpaca_updates(client_order_id);
"""


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Handling:
    """How the adapter handled one engine order (``alpaca_orders`` row)."""

    client_order_id: str
    handling: str
    note: str
    aliases: tuple[str, ...]


class AlpacaBook:
    """The adapter's tables in the journal file at ``path`` (created on first use)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        with self._connect() as con:
            con.executescript(_SCHEMA)

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        con = sqlite3.connect(self.path, timeout=30)
        try:
            con.execute("PRAGMA busy_timeout=30000")
            with con:
                yield con
        finally:
            con.close()

    # ------------------------------------------------------------------ handling and aliases
    def handling(self, coid: str) -> Handling | None:
        with self._connect() as con:
            row = con.execute(
                "SELECT handling, note, aliases_json FROM alpaca_orders WHERE client_order_id = ?", (coid,)
            ).fetchone()
        return None if row is None else Handling(coid, row[0], row[1], tuple(json.loads(row[2])))

    def set_handling(self, coid: str, handling: str, note: str = "") -> None:
        old = self.handling(coid)
        aliases = list(old.aliases) if old else []
        with self._connect() as con:
            con.execute(
                "INSERT OR REPLACE INTO alpaca_orders VALUES (?, ?, ?, ?, ?)",
                (coid, handling, note, json.dumps(aliases), _now()),
            )

    def add_alias(self, coid: str, alias: str, note: str) -> None:
        old = self.handling(coid)
        aliases = list(old.aliases) if old else []
        if alias not in aliases:
            aliases.append(alias)
        with self._connect() as con:
            con.execute(
                "INSERT OR REPLACE INTO alpaca_orders VALUES (?, ?, ?, ?, ?)",
                (coid, old.handling if old else "placed", note, json.dumps(aliases), _now()),
            )

    def all_handling(self) -> list[Handling]:
        with self._connect() as con:
            rows = con.execute(
                "SELECT client_order_id, handling, note, aliases_json FROM alpaca_orders"
            ).fetchall()
        return [Handling(c, h, n, tuple(json.loads(a))) for c, h, n, a in rows]

    # ------------------------------------------------------------------ trade updates
    def record_update(
        self, source: str, event: str, order: Mapping[str, Any], extra: Mapping[str, Any]
    ) -> None:
        """One trade update (``source``: ``stream`` or ``rest``); prices and quantities as Alpaca sent them."""
        with self._connect() as con:
            con.execute(
                "INSERT INTO alpaca_updates (received_at, source, event, client_order_id, order_id, symbol, "
                "side, status, qty, filled_qty, filled_avg_price, event_qty, event_price, at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    _now(), source, event, str(order.get("client_order_id", "")), str(order.get("id", "")),
                    order.get("symbol"), _text(order.get("side")), _text(order.get("status")),
                    _text(order.get("qty")), _text(order.get("filled_qty")), _text(order.get("filled_avg_price")),
                    _text(extra.get("qty")), _text(extra.get("price")), _text(extra.get("timestamp")),
                ),
            )  # fmt: skip

    def updates(self, coid: str | None = None) -> list[dict[str, Any]]:
        with self._connect() as con:
            con.row_factory = sqlite3.Row
            if coid is None:
                rows = con.execute("SELECT * FROM alpaca_updates ORDER BY seq").fetchall()
            else:
                rows = con.execute(
                    "SELECT * FROM alpaca_updates WHERE client_order_id = ? ORDER BY seq", (coid,)
                ).fetchall()
        return [dict(r) for r in rows]

    # ------------------------------------------------------------------ the engine's tables (read only)
    def intents(self) -> dict[str, OrderIntent]:
        """Every intent of the journal, by client order id, in the order they were written."""
        with self._connect() as con:
            rows = con.execute("SELECT intent_json FROM intents ORDER BY rowid").fetchall()
        out = {}
        for (text,) in rows:
            intent = OrderIntent.from_dict(json.loads(text))
            out[intent.client_order_id] = intent
        return out

    def events_of(self, coid: str) -> list[BrokerEvent]:
        return self._events("client_order_id = ?", (coid,))

    def events_at(self, session: dt.date, phase: Phase) -> list[BrokerEvent]:
        return self._events("session = ? AND phase = ?", (session.isoformat(), str(phase)))

    def resolved(self, *, through: dt.date | None = None) -> set[str]:
        """Client order ids the engine already has a fill or an end for.

        With ``through``, only events of sessions up to that date: the ones a committed session state
        has booked (a step killed after journaling a fill but before committing its session has not).
        """
        where, args = ("WHERE session <= ?", (through.isoformat(),)) if through is not None else ("", ())
        with self._connect() as con:
            return {r[0] for r in con.execute(f"SELECT DISTINCT client_order_id FROM events {where}", args)}

    def _events(self, where: str, args: tuple[Any, ...]) -> list[BrokerEvent]:
        with self._connect() as con:
            con.row_factory = sqlite3.Row
            rows = con.execute(f"SELECT * FROM events WHERE {where} ORDER BY seq", args).fetchall()
        out = []
        for r in rows:
            data = dict(r)
            data["fill_id"] = data["event_id"]  # a fill's journal key is its fill id
            out.append(event_from_dict(data))
        return out

    def last_state(self) -> tuple[dt.date, dict[str, Any]] | None:
        with self._connect() as con:
            row = con.execute(
                "SELECT session, state_json FROM sessions ORDER BY session DESC LIMIT 1"
            ).fetchone()
        return None if row is None else (dt.date.fromisoformat(row[0]), json.loads(row[1]))


def alpaca_views(conn: sqlite3.Connection, coids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """What the journal last knew at Alpaca of each engine order in ``coids`` (read-only ``conn``).

    Per order: ``handling`` (``placed``, ``deferred`` until the ``opg`` window, ``blocked``, ...;
    ``not sent`` when the adapter has not handled it yet), ``note``, ``order`` (the Alpaca client order
    id standing for it now: the order itself, or the latest stop that replaced it) and ``status``
    (the order's last status in a trade update, None before any) with ``status_at`` (when received).
    """
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    out: dict[str, dict[str, Any]] = {}
    for coid in coids:
        row = None
        if "alpaca_orders" in tables:
            row = conn.execute(
                "SELECT handling, note, aliases_json FROM alpaca_orders WHERE client_order_id = ?", (coid,)
            ).fetchone()
        aliases = json.loads(row[2]) if row is not None else []
        standing = [a for a in aliases if a.startswith(f"{coid}-a")]  # stops replaced or cut (-a1, -a2...)
        order = standing[-1] if standing else coid
        update = None
        if "alpaca_updates" in tables:
            update = conn.execute(
                "SELECT status, received_at FROM alpaca_updates WHERE client_order_id = ? ORDER BY seq DESC LIMIT 1",
                (order,),
            ).fetchone()
        out[coid] = {
            "handling": row[0] if row is not None else "not sent",
            "note": row[1] if row is not None else "",
            "order": order,
            "status": update[0] if update is not None else None,
            "status_at": update[1] if update is not None else None,
        }
    return out


def current_stops(intents: Mapping[str, OrderIntent]) -> list[OrderIntent]:
    """The STOP intents no later STOP intent replaces (the stops the engine believes are resting)."""
    replaced = {i.replaces for i in intents.values() if i.timing is Timing.STOP and i.replaces}
    return [i for i in intents.values() if i.timing is Timing.STOP and i.client_order_id not in replaced]


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return str(getattr(value, "value", value))
