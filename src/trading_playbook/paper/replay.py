"""``playbook paper replay``: a fresh simulated account run session by session over a backtest window.

Each session starts from the state and the broker book read back from the journal on disk, as a
daemon restarted every night would, and the results are written exactly as ``playbook backtest``
writes them (``result.json``, the reports, a run-registry entry with engine ``replay``). Its trades
and equity equal the fast engine's backtest of the same config: that is the proof that the
event-driven engine, its broker and its journal round trips change nothing.

The replay sees the data a backtest sees: the panel cut after the last session (END_OF_DATA known),
the setups of the vectorised scan of that panel (the same table the fast engine uses; the scanner is
causal, so each session's rows use bars up to that session only).
"""

from __future__ import annotations

import datetime as dt
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from trading_playbook.config import PlaybookConfig
from trading_playbook.core.errors import ConfigError
from trading_playbook.core.types import EquityCurve, PartialExit, RunResult, Trade
from trading_playbook.paper.account import Account, replay_market, run_sessions
from trading_playbook.paper.journal import SCHEMA_VERSION, Journal

__all__ = ["ReplayResult", "journal_result", "replay", "trade_from_dict"]

REPLAY_ACCOUNT = "replay"


@dataclass(frozen=True)
class ReplayResult:
    result: RunResult
    journal_path: Path
    seconds: float


def trade_from_dict(data: dict[str, Any]) -> Trade:
    """A :class:`Trade` from :meth:`Trade.to_dict` (the journal's and result.json's trade format)."""
    return Trade(
        symbol=data["symbol"],
        entry_date=dt.date.fromisoformat(data["entry_date"]),
        exit_date=dt.date.fromisoformat(data["exit_date"]),
        entry_price=float(data["entry_price"]),
        exit_price=float(data["exit_price"]),
        shares=int(data["shares"]),
        exit_reason=data["exit_reason"],
        pnl=float(data["pnl"]),
        pnl_pct=float(data["pnl_pct"]),
        r_multiple=float(data["r_multiple"]),
        sessions_held=int(data["sessions_held"]),
        mfe=float(data["mfe"]),
        mae=float(data["mae"]),
        partial_exits=tuple(
            PartialExit(dt.date.fromisoformat(p["date"]), int(p["shares"]), float(p["price"]), p["reason"])
            for p in data["partial_exits"]
        ),
        initial_stop=float(data["initial_stop"]),
        commission=float(data["commission"]),
        sleeve=data["sleeve"],
    )


def journal_result(journal: Journal, sleeve_names: list[str]) -> tuple[list[Trade], EquityCurve]:
    """Trades (entry date, symbol, sleeve order) and the equity curve recorded in a journal."""
    rows = journal.conn.execute(
        "SELECT trade_json FROM trades ORDER BY entry_date, symbol, sleeve_index"
    ).fetchall()
    trades = [trade_from_dict(json.loads(r[0])) for r in rows]
    sessions = journal.conn.execute(
        "SELECT session, equity, cash, positions, exposure, sleeve_equity_json FROM sessions ORDER BY session"
    ).fetchall()
    sleeves = [json.loads(r[5]) for r in sessions]
    curve = EquityCurve(
        dates=np.array([r[0] for r in sessions], dtype="datetime64[D]"),
        equity=np.array([r[1] for r in sessions], dtype=np.float64),
        cash=np.array([r[2] for r in sessions], dtype=np.float64),
        positions=np.array([r[3] for r in sessions], dtype=np.int64),
        exposure=np.array([r[4] for r in sessions], dtype=np.float64),
        sleeve_equity={n: np.array([s[n] for s in sleeves], dtype=np.float64) for n in sleeve_names},
    )
    return trades, curve


def replay(
    cfg: PlaybookConfig,
    out_dir: Path,
    *,
    start: Any = None,
    end: Any = None,
    workspace: Any = None,
    config_path: str | None = None,
) -> ReplayResult:
    """Replay ``cfg`` over ``[start, end]`` (default the config's window) into ``out_dir/journal.sqlite``.

    Returns the :class:`RunResult` (metrics computed, ``engine="replay"``) built from the journal.
    """
    from trading_playbook.engine import (
        _data_info,
        build_sleeves,
        load_data,
        portfolio_settings,
        window,
        with_metrics,
    )

    t0 = time.perf_counter()
    path = Path(out_dir) / "journal.sqlite"
    if path.exists():
        raise ConfigError(f"{path} exists: a replay starts from a fresh journal; choose a new --out folder")
    ws = workspace if workspace is not None else load_data(cfg)
    panel = ws.panel
    lo, hi = window(
        panel, start if start is not None else cfg.data.start, end if end is not None else cfg.data.end
    )
    sleeves = build_sleeves(cfg)
    settings = portfolio_settings(cfg)
    tables = [ws.setups_for(s) if s.vectorised else None for s in sleeves]
    market = replay_market(panel, sleeves, hi, tables)
    journal = Journal(path, create=True)
    try:
        journal.set_meta(
            {
                "schema_version": SCHEMA_VERSION,
                "account": REPLAY_ACCOUNT,
                "config": cfg.to_dict(),
                "config_hash": cfg.config_hash,
                "config_path": config_path,
                "broker": {"kind": "sim"},
                "start": market.dates[lo].isoformat(),
                "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                "replay_end": market.dates[hi].isoformat(),
            }
        )
        account = Account(
            name=REPLAY_ACCOUNT,
            path=path,
            config=cfg.to_dict(),
            config_hash=cfg.config_hash,
            config_path=config_path,
            broker={"kind": "sim"},
            start=market.dates[lo],
            created_at="",
        )
        run_sessions(journal, account, market, settings, range(lo, hi + 1), end=hi)
        trades, curve = journal_result(journal, [s.name for s in sleeves])
    finally:
        journal.close()
    result = RunResult(
        trades=trades,
        equity=curve,
        config=cfg.to_dict(),
        data=_data_info(ws, panel, lo, hi),
        starting_capital=settings.starting_capital,
        engine="replay",
    )
    result = with_metrics(result, cfg, panel, lo, hi, benchmark=ws.benchmark(cfg, lo, hi))
    seconds = time.perf_counter() - t0
    result.timings.update({"simulation": seconds, "total": seconds})
    return ReplayResult(result=result, journal_path=path, seconds=seconds)
