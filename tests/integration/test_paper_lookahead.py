"""No decision of a paper step uses data from a later session.

Two accounts step over the same sessions up to D: one on data that ends at D, one on data with a
random future after D (prices of every symbol scaled by random factors, volumes shuffled, and made-up
bars for sessions that do not exist). Their journals must be identical. A scanner that only has the
per-date protocol (it checks the panel it is given ends at the session asked) runs in an account too.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from _paper_data import subset_file, write_config

from trading_playbook import registry
from trading_playbook.core.panel import Panel
from trading_playbook.core.scanners.daily_breakout import DailyBreakoutScanner
from trading_playbook.core.types import Setup
from trading_playbook.paper import queries
from trading_playbook.paper.account import account_path, init_account, step_account

START, CUT = "2006-09-01", "2006-10-31"


def journal_rows(home: Path) -> dict[str, Any]:
    with sqlite3.connect(account_path("demo", home)) as conn:
        return {
            "events": conn.execute(
                "SELECT event_id, session, phase, shares, price, commission, reason, code FROM events ORDER BY seq"
            ).fetchall(),
            "intents": conn.execute("SELECT intent_json FROM intents ORDER BY client_order_id").fetchall(),
            "sessions": conn.execute(
                "SELECT session, equity, cash, positions, exposure, state_json FROM sessions ORDER BY session"
            ).fetchall(),
            "trades": conn.execute("SELECT trade_json FROM trades ORDER BY entry_date, symbol").fetchall(),
            "decisions": conn.execute("SELECT * FROM decisions ORDER BY session, sleeve, rank").fetchall(),
        }


def random_future(bars: pd.DataFrame, cut: str, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    past = bars[bars["date"] <= cut]
    future = bars[bars["date"] > cut].copy()
    scale = rng.uniform(0.5, 1.5, size=len(future))
    for col in ("open", "high", "low", "close", "adjusted_close"):
        future[col] = future[col] * scale
    future["volume"] = rng.permutation(future["volume"].to_numpy())
    future["split"] = 1.0  # a split after D would re-scale the past (RULES 1); that is not lookahead
    extra = future[future["date"] == future["date"].max()].copy()
    extra["date"] = extra["date"] + pd.Timedelta(days=3)  # a session that never was
    return pd.concat([past, future, extra]).sort_values(["symbol", "date"]).reset_index(drop=True)


def test_a_random_future_changes_nothing_before_it(tmp_path: Path) -> None:
    bars = pd.read_parquet(subset_file(str(tmp_path.parent / "paper-data")))
    results = []
    for name, table in (("cut", bars[bars["date"] <= CUT]), ("future", random_future(bars, CUT, 3))):
        data = tmp_path / f"{name}.parquet"
        table.to_parquet(data)
        config = write_config(tmp_path / f"{name}.toml", data, max_positions=6)
        home = tmp_path / name
        init_account(config, "demo", home=home, start=START)
        step_account("demo", home=home, until=CUT)
        results.append(journal_rows(home))
    assert len(results[0]["sessions"]) == 42 and len(results[0]["events"]) > 20
    assert results[0] == results[1]


@registry.register_scanner("per_date_breakout_test", description="test only: per-date protocol only")
class PerDateOnly:
    """The breakout scanner's per-date path, refusing any panel that does not end at the session."""

    def __init__(self, preset: str = "relaxed") -> None:
        self.inner = DailyBreakoutScanner(preset)
        self.seen: list[dt.date] = []

    def scan_for_setups(self, date: Any, data: Panel) -> list[Setup]:
        last = dt.date.fromisoformat(str(np.datetime64(data.sessions[-1], "D")))
        if last != date:
            raise AssertionError(f"the scanner was given data up to {last} for {date}")
        return self.inner.scan_for_setups(date, data)


def test_a_per_date_scanner_sees_data_up_to_each_session(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = subset_file(str(tmp_path.parent / "paper-data"))
    config = write_config(tmp_path / "cfg.toml", data, max_positions=6)
    config.write_text(
        config.read_text().replace('name = "daily_breakout"', 'name = "per_date_breakout_test"')
    )
    monkeypatch.setenv("PLAYBOOK_HOME", str(tmp_path / "home"))
    init_account(config, "demo", start=START)
    result = step_account("demo", until="2006-09-29")
    assert len(result.logs) == 20
    assert queries.decisions("demo")  # it found setups and the account acted on them
    assert queries.fills("demo")
