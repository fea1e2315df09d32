"""A paper account driven through the fake Alpaca, session by session, against the simulated broker.

The runner owns both streams and steps the account 15 minutes before each close on the day's bar;
the fake fills at the bar prices (opg at the open, cls at the close, stops at min(open, stop)). The
same config on the simulated broker, stepped over the same bars, must give the same trades; the only
difference allowed is Alpaca's price tick: a stop rests at its level rounded down to the cent, so a
stop that sets its fill price fills up to a cent lower (the drift report shows exactly that).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fakes.alpaca import KEY, SECRET, FakeAlpaca, OrderFault
from trading_playbook.engine import Workspace
from trading_playbook.paper import queries
from trading_playbook.paper.account import init_account, step_account
from trading_playbook.paper.alpaca_orders import tick_down
from trading_playbook.paper.drift import compute_drift

from .alpaca_harness import FIRST, LAST, market_bars, run_account, start_fake, write_config

SESSIONS = 30


@pytest.fixture(scope="module")
def bars():
    return market_bars()


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("ALPACA_API_KEY", KEY)
    monkeypatch.setenv("ALPACA_SECRET_KEY", SECRET)
    return tmp_path


def alpaca_account(tmp: Path, fake: FakeAlpaca, sessions: int):
    """Run account ``alp`` for ``sessions`` sessions; its config, home and the cached final bars."""
    config = write_config(tmp / "strategy.toml", fake, tmp / "cache")
    init_account(config, "alp", broker="alpaca", start=FIRST, home=tmp / "home")
    run = run_account("alp", fake, tmp / "home", sessions=sessions)
    assert run.stepped == sessions
    assert fake.server_errors == [] and run.runner.updates.errors == []
    # the last session was decided on the day so far: fetch its final bar too, then read the cache
    last = run.runner._last_processed()
    fake.advance_to(f"{last} 16:05")
    run.runner.bars.finalize(last)
    return config, tmp / "home", run.runner._panel()


def comparable(trades: list[dict]) -> list[tuple]:
    return [
        (t["symbol"], t["entry_date"], t["exit_date"], t["shares"], t["exit_reason"], t["entry_price"])
        for t in trades
    ]


def test_thirty_sessions_equal_the_simulated_broker(env: Path, bars) -> None:
    fake = start_fake(bars)
    try:
        config, home, panel = alpaca_account(env, fake, SESSIONS)
    finally:
        fake.stop()
    alpaca_trades = queries.trades("alp", home)
    # the same config on the simulated broker, over the same bars
    init_account(config, "sim", broker="sim", start=FIRST, home=home)
    sim = step_account("sim", until=LAST, home=home, panel=panel)
    assert len(sim.logs) == SESSIONS
    sim_trades = queries.trades("sim", home)
    assert len(alpaca_trades) >= 8
    assert comparable(alpaca_trades) == comparable(sim_trades)
    stops = 0
    for a, s in zip(alpaca_trades, sim_trades, strict=True):
        if a["exit_reason"] != "HARD_STOP":
            assert a["exit_price"] == s["exit_price"] and a["pnl"] == pytest.approx(s["pnl"], rel=1e-12)
            continue
        stops += 1  # Alpaca's cent: min(open, stop) with the stop rounded down
        level = s["entry_price"] * 0.92
        t = int(np.searchsorted(panel.sessions, np.datetime64(a["exit_date"], "D")))
        opening = float(panel.open[t, panel.symbol_index(a["symbol"])])
        assert s["exit_price"] == min(opening, level)
        assert a["exit_price"] == min(opening, tick_down(level))
    assert stops >= 2
    assert [p["symbol"] for p in queries.positions("alp", home)] == [
        p["symbol"] for p in queries.positions("sim", home)
    ]
    # the drift report against the backtest shows exactly the tick of the stop fills, nothing else
    drift = compute_drift("alp", home=home, workspace=Workspace(panel=panel))
    summary = drift["summary"]
    assert summary["missed"] == 0 and summary["extra"] == 0
    moved = [f for f in drift["fills"] if f["realised_bps"] != 0.0]
    assert {f["phase"] for f in moved} <= {"intraday"}
    for f in moved:
        assert f["price"] == tick_down(f["model_price"]) and f["realised_bps"] > 0
    different = [r for r in drift["trades"] if r["status"] == "different"]
    assert {r["symbol"] for r in different} == {
        r["symbol"]
        for r in drift["trades"]
        if r["backtest_exit_reason"] == "HARD_STOP" and r["paper_exit_price"] != r["backtest_exit_price"]
    }


def test_worse_and_partial_fills_show_in_the_drift(env: Path, bars) -> None:
    fake = start_fake(bars, slippage_bps=10.0)
    fake.inject(OrderFault("partial", symbol="XOM", side="buy", fraction=0.5))
    try:
        _, home, panel = alpaca_account(env, fake, 10)
    finally:
        fake.stop()
    drift = compute_drift("alp", home=home, workspace=Workspace(panel=panel))
    fills = drift["fills"]
    assert len(fills) >= 6
    for f in fills:
        if f["phase"] == "intraday":
            continue  # a stop: 10 bps on the cent-rounded level
        assert f["realised_bps"] == pytest.approx(10.0, abs=1e-6), f
    xom = next(r for r in drift["trades"] if r["symbol"] == "XOM")
    assert xom["status"] == "different" and xom["paper_shares"] * 2 == xom["backtest_shares"]
    assert drift["summary"]["mean_slippage_drift_bps"] == pytest.approx(10.0, abs=0.5)
