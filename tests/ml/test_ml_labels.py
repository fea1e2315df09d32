"""Labels: hand-worked single trades, and parity with the reference engine's trades for the setups the
portfolio took (every named exit, the fill modes, slippage and commissions)."""

from __future__ import annotations

import numpy as np
import pytest
from _engine_bars import flat, make_panel

from trading_playbook.config import parse_config
from trading_playbook.core.simulate.settings import PortfolioSettings
from trading_playbook.engine import build_sleeves, load_data, portfolio_settings, run_backtest, window
from trading_playbook.ml.labels import LabelSimulator
from trading_playbook.registry import get_exit_strategy

NO_COSTS = PortfolioSettings(slippage_bps=0.0)


def test_target_hit_at_the_close_hand_worked() -> None:
    # signal at t0; entry at t1's open 10; closes 11, 12.5 -> TARGET (>= 12) at t3's close
    panel = make_panel({"AAA": [flat(10), flat(10), (11, 11, 10.5, 11), (12, 12.6, 11.9, 12.5), flat(12)]})
    sim = LabelSimulator(panel, get_exit_strategy("fixed"), NO_COSTS, end=4)
    label = sim.label(0, 0, 10)
    assert label is not None
    assert (label.entry_session, label.exit_session, label.exit_reason) == (1, 3, "TARGET")
    assert label.pnl == pytest.approx(25.0)
    assert label.pnl_pct == pytest.approx(0.25)
    assert label.r_multiple == pytest.approx(2.5 / (10 - 9.2))
    assert label.mfe == pytest.approx(12.6 / 10 - 1)
    assert label.mae == pytest.approx(10.0 / 10 - 1)  # t1's bar low is 10


def test_gap_below_the_hard_stop_fills_at_the_open_with_slippage() -> None:
    settings = PortfolioSettings(slippage_bps=10.0, commission_per_order=1.0)
    panel = make_panel({"AAA": [flat(50), (50, 51, 49.5, 50.5), (45, 45.5, 44, 45), flat(45)]})
    sim = LabelSimulator(panel, get_exit_strategy("smart_exits"), settings, end=3)
    label = sim.label(0, 0, 100)
    assert label is not None
    entry = 50 * 1.001
    stop = entry * 0.92
    exit_fill = min(45.0, stop) * (1 - 0.001)
    pnl = 100 * exit_fill - 100 * entry - 2.0
    assert (label.exit_session, label.exit_reason) == (2, "HARD_STOP")
    assert label.entry_price == pytest.approx(entry)
    assert label.pnl == pytest.approx(pnl)
    assert label.r_multiple == pytest.approx((pnl / 100) / (entry - stop))


def test_no_bar_at_the_next_open_is_no_trade_and_no_label_at_the_horizon() -> None:
    panel = make_panel({"AAA": [flat(10), None, flat(10), flat(10)]})
    sim = LabelSimulator(panel, get_exit_strategy("fixed"), NO_COSTS, end=3)
    assert sim.label(0, 0, 10) is None  # cancelled entry
    assert sim.label(3, 0, 10) is None  # no scan on the last session
    assert sim.label(1, 0, 0) is None  # no shares


def test_end_of_data_and_end_of_test() -> None:
    panel = make_panel(
        {
            "AAA": [flat(10), flat(10), flat(10.1), None, None, None],  # data ends at t2
            "BBB": [flat(10), flat(10), flat(10.1), flat(10.2), flat(10.3), flat(10.4)],
        }
    )
    sim = LabelSimulator(panel, get_exit_strategy("fixed"), NO_COSTS, end=4)
    a = sim.label(0, 0, 10)
    b = sim.label(0, 1, 10)
    assert a is not None and (a.exit_session, a.exit_reason) == (2, "END_OF_DATA")
    assert b is not None and (b.exit_session, b.exit_reason) == (4, "END_OF_TEST")
    assert b.pnl == pytest.approx(10 * 0.3)


def test_exit_at_the_next_open_waits_for_the_next_bar() -> None:
    # fixed STOP_LOSS at t2's close (9.0 <= 9.2), decided for the next open; AAA has no bar at t3,
    # so it fills at t4's open
    panel = make_panel({"AAA": [flat(10), flat(10), (9.5, 9.5, 9.0, 9.0), None, (8.8, 9, 8.5, 8.9), flat(9)]})
    settings = PortfolioSettings(slippage_bps=0.0, exit_fill="next_open")
    label = LabelSimulator(panel, get_exit_strategy("fixed"), settings, end=5).label(0, 0, 10)
    assert label is not None
    assert (label.exit_session, label.exit_reason) == (4, "STOP_LOSS")
    assert label.pnl == pytest.approx(10 * (8.8 - 10.0))
    assert label.mae == pytest.approx(8.5 / 10 - 1)


@pytest.fixture(scope="module")
def workspace():
    cfg = parse_config(
        {
            "data": {
                "source": "synthetic",
                "synthetic_symbols": 16,
                "start": "2014-01-01",
                "end": "2016-06-30",
            },
            "scanner": {"name": "daily_breakout", "preset": "relaxed"},
        }
    )
    return load_data(cfg)


CASES = [
    ("smart_exits", "next_open", "close"),
    ("scaled_exits", "next_open", "close"),
    ("trend_following_75", "next_open", "next_open"),
    ("hybrid_trailing", "next_open", "close"),
    ("fixed", "close", "close"),
    ("smart_exits", "close", "next_open"),
]


@pytest.mark.parametrize(("exit_name", "entry_fill", "exit_fill"), CASES)
def test_label_equals_the_reference_engine_trade(workspace, exit_name, entry_fill, exit_fill) -> None:
    cfg = parse_config(
        {
            "data": {
                "source": "synthetic",
                "synthetic_symbols": 16,
                "start": "2014-01-01",
                "end": "2016-06-30",
            },
            "scanner": {"name": "daily_breakout", "preset": "relaxed"},
            "exit": {"name": exit_name},
            "portfolio": {
                "max_positions": 4,
                "entry_fill": entry_fill,
                "exit_fill": exit_fill,
                "slippage_bps": 7,
                "commission_per_order": 1.0,
                "commission_per_share": 0.005,
            },
        }
    )
    result = run_backtest(cfg, workspace=workspace, engine="reference", metrics=False)
    panel = workspace.panel
    _, hi = window(panel, cfg.data.start, cfg.data.end)
    sim = LabelSimulator(panel, build_sleeves(cfg)[0].exit, portfolio_settings(cfg), hi)
    assert len(result.trades) >= 10
    reasons = set()
    for trade in result.trades:
        entry = panel.session_index(trade.entry_date)
        signal = entry - 1 if entry_fill == "next_open" else entry
        label = sim.label(signal, panel.symbol_index(trade.symbol), trade.shares)
        assert label is not None, trade
        assert panel.sessions[label.exit_session] == np.datetime64(trade.exit_date), trade
        assert label.exit_reason == trade.exit_reason
        assert label.sessions_held == trade.sessions_held
        for key in ("pnl", "pnl_pct", "r_multiple", "mfe", "mae", "entry_price"):
            assert getattr(label, key) == pytest.approx(getattr(trade, key), rel=1e-12, abs=1e-12), (
                key,
                trade,
            )
        reasons.add(trade.exit_reason)
    assert len(reasons) >= 2  # more than one rule was exercised
