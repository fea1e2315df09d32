"""Splits applied to a saved paper-account state and to the simulated broker (hand-worked numbers)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from _engine_bars import FixedShares, day, flat, make_panel, sleeve

from trading_playbook.core.exits.spec import named_exit
from trading_playbook.core.panel import Panel, SplitEvents
from trading_playbook.core.simulate.market import build_market
from trading_playbook.core.simulate.reference import EventEngine
from trading_playbook.core.simulate.settings import PortfolioSettings
from trading_playbook.core.simulate.sim_broker import SimulatedBroker
from trading_playbook.core.simulate.splits import rescale_position, split_shares
from trading_playbook.core.simulate.state import new_state

NO_COSTS = PortfolioSettings(slippage_bps=0.0)


def test_split_shares_rounds_data_artifacts_and_keeps_real_fractions() -> None:
    assert split_shares(100, 2.0) == (200, 0.0)
    assert split_shares(586, 1.49999925) == (879, 0.0)  # a 3-for-2 split written 1.49999925 in the data
    assert split_shares(101, 1.5) == (151, pytest.approx(0.5))
    assert split_shares(7, 0.5) == (3, pytest.approx(0.5))  # a 1-for-2 reverse split


def _position() -> dict:
    return {
        "held": 75, "original_shares": 101, "entry_price": 60.0, "last_close": 66.0, "max_high": 70.0,
        "min_low": 58.0, "exit_value": 25 * 64.0, "commission": 2.0,
        "fills": [{"date": "2020-01-02", "shares": 26, "price": 64.0, "reason": "SCALE_1"}],
        "pending": [{"client_order_id": "x", "shares": 25, "reason": "SCALE_2"}],
        "stop": {"client_order_id": "s", "level": 55.2, "shares": 50, "reason": "HARD_STOP"},
        "exit_state": {"entry_price": 60.0, "initial_stop": 55.2, "peak_close": 66.0, "peak_high": 70.0,
                       "trails": ["nan", 62.7], "original_shares": 101, "remaining": 50, "levels_taken": [[True]],
                       "partial_taken": True},
    }  # fmt: skip


def test_a_three_for_two_split_of_a_position_with_a_partial_taken() -> None:
    p = _position()
    lieu = rescale_position(p, 1.5, 44.0)  # last close 66 -> 44 on the new scale
    # held 75 -> 112.5: 112 shares and half a share paid at 44
    assert (p["held"], lieu) == (112, pytest.approx(22.0))
    assert p["fills"][0]["shares"] == 39 and p["fills"][0]["price"] * 39 == pytest.approx(26 * 64.0)
    assert p["original_shares"] == 112 + 39
    assert p["entry_price"] * p["original_shares"] == pytest.approx(101 * 60.0)  # the dollars paid
    assert p["exit_value"] == pytest.approx(25 * 64.0 + 22.0)
    assert (p["pending"][0]["shares"], p["stop"]["shares"]) == (37, 75)
    assert p["stop"]["level"] == pytest.approx(36.8) and p["last_close"] == 44.0
    ex = p["exit_state"]
    assert (ex["entry_price"], ex["initial_stop"], ex["peak_close"]) == (40.0, pytest.approx(36.8), 44.0)
    assert ex["trails"] == ["nan", pytest.approx(41.8)] and ex["remaining"] == 112 - 37


def _split_panel(split_at: int | None) -> Panel:
    """AAA trades at 100 for 6 sessions, then 50 after a 2-for-1 split on session ``split_at``."""
    raw = [flat(100)] * 6 + [flat(50)] * 2
    panel = make_panel({"AAA": raw, "BBB": [flat(20)] * 8})
    if split_at is None:
        return panel.truncate(5)
    factor = np.ones(panel.close.shape)
    factor[:split_at, 0] = 2.0  # adjusted = raw / F for sessions before the split
    adj = {k: getattr(panel, k) / factor for k in ("open", "high", "low", "close")}
    split = np.ones(panel.close.shape)
    split[split_at, 0] = 2.0
    return Panel(panel.sessions, panel.symbols, adj["open"], adj["high"], adj["low"], adj["close"],
                 panel.volume * factor, panel.raw_close, panel.available, splits=SplitEvents.from_grid(split))  # fmt: skip


def test_the_engine_and_the_broker_apply_a_split_that_arrives_with_new_data() -> None:
    spec = [sleeve({2: [("AAA", 5, 1)]}, named_exit("smart_exits"), FixedShares({"AAA": 101}))]
    before = _split_panel(None)  # data up to t5: no split yet
    market = build_market(before, spec, known_data_end=False)
    broker = SimulatedBroker(before, NO_COSTS)
    engine = EventEngine(market, NO_COSTS, broker, new_state("acct", 100_000.0, ["main"]))
    for t in range(6):
        engine.run_session(t)
    state, book = json.loads(json.dumps(engine.save())), json.loads(json.dumps(broker.to_dict()))
    assert state["scales"] == {"AAA": [day(5).isoformat(), 1.0]}
    cash = engine.state.cash  # 100000 - 101 * 100
    after = _split_panel(6)  # the new data holds the split: every earlier AAA price halved
    market = build_market(after, spec, known_data_end=False)
    broker = SimulatedBroker.from_dict(book, after, NO_COSTS)
    engine = EventEngine.restore(market, NO_COSTS, broker, state)
    (split,) = engine.splits
    assert (split.symbol, split.ratio, split.cash_in_lieu) == ("AAA", 2.0, 0.0)
    (pos,) = engine.state.open_positions()
    assert (pos.held, pos.exit.entry_price, pos.exit.initial_stop) == (202, 50.0, 46.0)
    assert broker.positions() == {"AAA": 202} and broker.cash() == cash == engine.state.cash
    (stop,) = broker.open_orders()
    assert (stop.shares, stop.stop_price) == (202, 46.0)
    log = engine.run_session(6)  # 50 on the new scale is no loss: no stop, equity unchanged
    assert log.row[0] == pytest.approx(100_000.0) and not log.trades
