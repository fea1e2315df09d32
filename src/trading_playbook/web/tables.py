"""Server-side filtering, sorting and paging of the trade table and the runs table.

Query parameters are whitelisted: an unknown sort key or direction falls back to the default, a page
past the end shows the last page, so any URL renders (10,000 trades sort in a few milliseconds).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from trading_playbook.history import RunRecord
from trading_playbook.reports._content import strategy_label

__all__ = [
    "RUN_COLUMNS",
    "TRADE_COLUMNS",
    "Page",
    "RunQuery",
    "TradeQuery",
    "flatten",
    "run_rows",
    "trade_page",
]

PAGE_SIZE = 50
RUNS_PAGE_SIZE = 100

#: (key, header, numeric) of the trade table, in display order.
TRADE_COLUMNS: tuple[tuple[str, str, bool], ...] = (
    ("n", "#", True),
    ("symbol", "Symbol", False),
    ("entry_date", "Entry", False),
    ("exit_date", "Exit", False),
    ("entry_price", "Entry price", True),
    ("exit_price", "Exit price", True),
    ("shares", "Shares", True),
    ("exit_reason", "Exit reason", False),
    ("pnl", "P&L", True),
    ("pnl_pct", "Return", True),
    ("r_multiple", "R", True),
    ("sessions_held", "Held", True),
    ("mfe", "MFE", True),
    ("mae", "MAE", True),
)
_TRADE_KEYS = {key for key, _, _ in TRADE_COLUMNS}
OUTCOMES = ("all", "win", "loss")


def _sort_value(value: Any) -> tuple[int, Any]:
    """Sort key that puts missing values (None/NaN) last in either direction."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return (1, 0)
    return (0, value)


@dataclass(frozen=True)
class Page:
    """One page of rows plus what the pager needs."""

    rows: list[Any]
    total: int  # rows after filtering
    page: int
    pages: int
    size: int

    @property
    def first(self) -> int:
        """1-based position of the first row shown (0 when empty)."""
        return 0 if not self.rows else (self.page - 1) * self.size + 1


def _paginate(rows: list[Any], page: int, size: int) -> Page:
    pages = max(1, math.ceil(len(rows) / size))
    page = min(max(1, page), pages)
    return Page(rows[(page - 1) * size : page * size], len(rows), page, pages, size)


def _sorted(rows: list[Any], key: Callable[[Any], Any], descending: bool) -> list[Any]:
    present = [r for r in rows if _sort_value(key(r))[0] == 0]
    missing = [r for r in rows if _sort_value(key(r))[0] == 1]
    return sorted(present, key=key, reverse=descending) + missing


@dataclass(frozen=True)
class TradeQuery:
    """Filters, order and page of the trade table (from the URL's query string)."""

    sort: str = "n"
    dir: str = "asc"
    symbol: str = ""
    reason: str = ""
    outcome: str = "all"
    page: int = 1

    @classmethod
    def parse(cls, params: Mapping[str, str]) -> TradeQuery:
        sort = params.get("sort", "n")
        outcome = params.get("outcome", "all")
        try:
            page = int(params.get("page", "1"))
        except ValueError:
            page = 1
        return cls(
            sort=sort if sort in _TRADE_KEYS else "n",
            dir="desc" if params.get("dir") == "desc" else "asc",
            symbol=params.get("symbol", "").strip().upper()[:20],
            reason=params.get("reason", "").strip()[:40],
            outcome=outcome if outcome in OUTCOMES else "all",
            page=page,
        )

    def params(self) -> dict[str, Any]:
        """The query as URL parameters (defaults left out)."""
        out = {"sort": self.sort, "dir": self.dir, "symbol": self.symbol, "reason": self.reason,
               "outcome": self.outcome, "page": self.page}  # fmt: skip
        defaults = TradeQuery()
        return {k: v for k, v in out.items() if v != getattr(defaults, k)}

    def matches(self, trade: Mapping[str, Any]) -> bool:
        if self.symbol and self.symbol not in str(trade.get("symbol", "")).upper():
            return False
        if self.reason and trade.get("exit_reason") != self.reason:
            return False
        pnl = trade.get("pnl")
        if self.outcome == "win":
            return isinstance(pnl, int | float) and pnl > 0
        if self.outcome == "loss":
            return isinstance(pnl, int | float) and pnl <= 0
        return True


def trade_page(trades: Sequence[Mapping[str, Any]], query: TradeQuery, size: int = PAGE_SIZE) -> Page:
    """The page of ``(n, trade)`` pairs (``n`` = 1-based position in the run's trade list)."""
    filtered = bool(query.symbol or query.reason or query.outcome != "all")
    rows = [(n, t) for n, t in enumerate(trades, start=1) if not filtered or query.matches(t)]
    if query.sort != "n" or query.dir == "desc":
        key = (lambda r: r[0]) if query.sort == "n" else (lambda r: r[1].get(query.sort))
        rows = _sorted(rows, key, query.dir == "desc")
    return _paginate(rows, query.page, size)


def flatten(value: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """A nested config as ``{"dotted.key": value}`` (keys sorted; an empty mapping is one value)."""
    out: dict[str, Any] = {}
    for key in sorted(value):
        name = f"{prefix}.{key}" if prefix else str(key)
        item = value[key]
        if isinstance(item, Mapping) and item:
            out.update(flatten(item, name))
        else:
            out[name] = item
    return out


# ------------------------------------------------------------------------------------------ runs

#: (key, header, numeric) of the runs table.
RUN_COLUMNS: tuple[tuple[str, str, bool], ...] = (
    ("run_id", "Run", False),
    ("name", "Name", False),
    ("period", "Dates", False),
    ("strategy", "Strategy", False),
    ("trades", "Trades", True),
    ("cagr", "CAGR", True),
    ("sharpe", "Sharpe", True),
    ("max_drawdown", "Max DD", True),
    ("status", "Verdict", False),
)
_RUN_KEYS = {key for key, _, _ in RUN_COLUMNS}
STATUSES = ("ADEQUATE", "PRELIMINARY", "INSUFFICIENT")


def run_rows(records: Sequence[RunRecord]) -> list[dict[str, Any]]:
    """One flat row per run: what the runs table shows and sorts by."""
    rows = []
    for rec in records:
        m = rec.metrics
        validation = m.get("validation") or {}
        rows.append(
            {
                "run_id": rec.run_id,
                "created_at": rec.created_at,
                "name": str(rec.config.get("name") or ""),
                "period": f"{m.get('first_session') or '?'} to {m.get('last_session') or '?'}",
                "strategy": strategy_label(rec.config),
                "trades": m.get("trades"),
                "cagr": m.get("cagr"),
                "sharpe": m.get("sharpe"),
                "max_drawdown": m.get("max_drawdown"),
                "status": validation.get("sample_size_status") or "",
                "verdict": m.get("verdict") or "",
                "engine": rec.engine,
            }
        )
    return rows


@dataclass(frozen=True)
class RunQuery:
    """Text filter, verdict filter, order and page of the runs table."""

    q: str = ""
    status: str = ""
    sort: str = "run_id"
    dir: str = "desc"
    page: int = 1

    @classmethod
    def parse(cls, params: Mapping[str, str]) -> RunQuery:
        sort = params.get("sort", "run_id")
        status = params.get("status", "")
        try:
            page = int(params.get("page", "1"))
        except ValueError:
            page = 1
        return cls(
            q=params.get("q", "").strip()[:80],
            status=status if status in STATUSES else "",
            sort=sort if sort in _RUN_KEYS else "run_id",
            dir="asc" if params.get("dir") == "asc" else "desc",
            page=page,
        )

    def params(self) -> dict[str, Any]:
        out = {"q": self.q, "status": self.status, "sort": self.sort, "dir": self.dir, "page": self.page}
        defaults = RunQuery()
        return {k: v for k, v in out.items() if v != getattr(defaults, k)}

    def select(self, rows: list[dict[str, Any]], size: int = RUNS_PAGE_SIZE) -> Page:
        needle = self.q.lower()
        if needle:
            rows = [r for r in rows if needle in f"{r['run_id']} {r['name']} {r['strategy']}".lower()]
        if self.status:
            rows = [r for r in rows if r["status"] == self.status]
        rows = _sorted(rows, lambda r: r[self.sort], self.dir == "desc")
        return _paginate(rows, self.page, size)
