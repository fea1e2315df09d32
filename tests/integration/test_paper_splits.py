"""A split that arrives with new data while a paper account holds the stock (the data grows, as a cache
fed every evening does): shares follow the split, prices move to the new scale, nothing jumps.

Real bars of the shared data: CMI split 2-for-1 on 2007-04-10 and NVDA 3-for-2 on 2007-09-11. A
scripted scanner buys one of them a few sessions before its split; the account is stepped on a data
file that ends before the split, then the file is replaced by one that holds it (all earlier prices
move to the new scale) and the account is stepped on. Every figure is checked against the raw
(as-traded) bars.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from _paper_data import subset_file, write_config

from trading_playbook import registry
from trading_playbook.core.panel import Panel
from trading_playbook.core.types import Setup
from trading_playbook.paper import queries
from trading_playbook.paper.account import init_account, step_account

SLIP = 5.0 / 10_000.0
FEE = 1.0  # commission_per_order of the test configs


@registry.register_scanner("scripted_split_test", description="test only: buys the symbols it is given")
class Scripted:
    def __init__(self, signals: tuple[str, ...] = ()) -> None:
        self.signals = {dt.date.fromisoformat(s.split(":")[1]): s.split(":")[0] for s in signals}

    def scan_for_setups(self, date: Any, data: Panel) -> list[Setup]:
        symbol = self.signals.get(date)
        if symbol is None:
            return []
        close = float(data.close[-1, data.symbol_index(symbol)])
        return [Setup(symbol, date, close, close * 0.92, 5.0, close, 10, 0.1, 2.0, 0.0, 0.0)]


@pytest.mark.parametrize(
    ("symbol", "signal", "before", "after", "ratio"),
    [
        ("CMI", "2007-03-30", "2007-04-05", "2007-04-30", 2.0),
        ("NVDA", "2007-08-31", "2007-09-07", "2007-09-28", 1.49999925),  # 3-for-2, as the data has it
    ],
)
def test_a_split_arrives_while_the_account_holds_the_stock(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    symbol: str,
    signal: str,
    before: str,
    after: str,
    ratio: float,
) -> None:
    monkeypatch.setenv("PLAYBOOK_HOME", str(tmp_path / "home"))
    bars = pd.read_parquet(subset_file(str(tmp_path.parent / "paper-data")))
    raw = bars[bars["symbol"] == symbol].set_index(
        bars[bars["symbol"] == symbol]["date"].dt.strftime("%Y-%m-%d")
    )
    data = tmp_path / "growing.parquet"
    bars[bars["date"] <= before].to_parquet(data)
    config = write_config(
        tmp_path / "cfg.toml",
        data,
        exit_name="fixed",
        extra='[sizer]\nname = "fixed_dollar"\namount = 30001.0',
    )
    config.write_text(
        config.read_text().replace('name = "daily_breakout"', 'name = "scripted_split_test"')
        .replace('preset = "relaxed"', f'signals = ["{symbol}:{signal}"]')
    )  # fmt: skip
    init_account(config, "demo", start=signal)
    step_account("demo")
    (held,) = queries.positions("demo")
    shares, entry = held["shares"], held["entry_price"]  # the as-traded scale: no split in the data yet
    assert entry == pytest.approx(float(raw.loc[held["entry_date"], "open"]) * (1 + SLIP), rel=1e-12)

    bars[bars["date"] <= after].to_parquet(data)  # the data grows: it holds the split now
    step_account("demo")
    messages = [m["message"] for m in queries.log_messages("demo")]
    assert any(m.startswith(f"split of {symbol} ({ratio:.6g} new shares per share)") for m in messages), (
        messages
    )
    (trade,) = queries.trades("demo")
    exact = shares * ratio
    new_shares = round(exact) if abs(exact - round(exact)) <= 1e-6 * exact else int(exact)
    fraction = exact - new_shares if new_shares != round(exact) else 0.0
    assert trade["shares"] == new_shares and trade["exit_reason"] == "TIME_STOP"
    # the booked entry keeps the dollars paid; the exit rules' entry is on the market's new scale
    assert trade["entry_price"] * new_shares == pytest.approx(entry * shares, rel=1e-12)
    assert trade["initial_stop"] == pytest.approx(entry / ratio * 0.92, rel=1e-12)
    # no jump: the first session on the new data marks the position at shares_new x adjusted close,
    # which is the old share count at the as-traded close
    history = {h["date"]: h for h in queries.equity_history("demo")}
    first_new = min(d for d in history if d > before)
    row = history[first_new]
    cash_in_lieu = fraction * float(raw.loc[before, "close"]) / ratio
    expected = row["cash"] + (shares * ratio - fraction) * float(raw.loc[first_new, "close"]) / ratio
    if first_new < str(raw.index[raw["split"] != 1.0][0]):
        assert row["equity"] == pytest.approx(expected, rel=1e-9)
    # P&L from the raw bars: what was paid, what the sale and the fraction brought, two commissions
    exit_fill = float(raw.loc[trade["exit_date"], "close"]) * (1 - SLIP)
    pnl = (new_shares * exit_fill + cash_in_lieu) - shares * entry - 2 * FEE
    assert trade["pnl"] == pytest.approx(pnl, rel=1e-9)
