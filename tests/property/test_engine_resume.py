"""Stopping and resuming the event-driven engine changes nothing (hypothesis).

A paper account saves its portfolio state and its simulated broker as JSON after every session and
starts the next session from them, usually with a panel that has grown by the new bars. These
properties say that this is invisible: on random panels, exits, fill modes, costs and sizers,

- resuming from JSON before every session gives exactly (bit for bit) the trades and equity of one
  uninterrupted run, and
- doing so with the panel cut after each session (no later bar exists yet, the end of a symbol's data
  is unknown) gives the same, the last session being run as the backtest's end.

It also checks that the state round trip itself is exact (non-finite floats included).
"""

from __future__ import annotations

import json
import math

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_reference_properties import RandomScanner, RandomShares, scenario

from trading_playbook.core.exits.spec import named_exit
from trading_playbook.core.panel import Panel
from trading_playbook.core.simulate.market import build_market
from trading_playbook.core.simulate.reference import EventEngine, SessionLog, equity_curve, run_reference
from trading_playbook.core.simulate.settings import PortfolioSettings, SleeveSpec
from trading_playbook.core.simulate.sim_broker import SimulatedBroker
from trading_playbook.core.simulate.state import new_state, state_from_dict, state_to_dict
from trading_playbook.core.sizing import PercentEquitySizer
from trading_playbook.testing import volatile_panel


def _build(s: dict, *, growing: bool) -> tuple[Panel, list[SleeveSpec], PortfolioSettings]:
    rng = np.random.default_rng(s["seed"])
    panel = volatile_panel(rng, s["n_sessions"], s["n_symbols"], s["gap_rate"], early_end=not growing)
    if growing:  # every symbol trades on the last session: its data end is the run's end
        _flat_last_bar(panel)
    sizer = RandomShares(s["seed"]) if s["sizer"] == "random" else PercentEquitySizer()
    sleeves = [
        SleeveSpec(
            "main", RandomScanner(s["seed"], s["rate"]), named_exit(s["exit"]), sizer, s["max_positions"]
        )
    ]
    if s["seed"] % 3 == 0:  # a second sleeve sharing the cash pool
        sleeves = [
            SleeveSpec("a", RandomScanner(s["seed"], s["rate"]), named_exit(s["exit"]), sizer, 2, weight=0.5),
            SleeveSpec(
                "b", RandomScanner(s["seed"] + 1, s["rate"]), named_exit("smart_exits"), sizer, 2, weight=0.5
            ),
        ]
    costs = PortfolioSettings(
        starting_capital=s["capital"],
        entry_fill=s["entry_fill"],
        exit_fill=s["exit_fill"],
        slippage_bps=s["slippage_bps"],
        commission_per_share=s["per_share"],
    )
    return panel, sleeves, costs


def _flat_last_bar(panel: Panel) -> None:
    """Give every symbol without a bar on the last session a flat bar at its last close."""
    for j in np.flatnonzero(~panel.available[-1]):
        rows = np.flatnonzero(panel.available[:, j])
        price = float(panel.close[rows[-1], j]) if rows.size else 50.0
        for arr in (panel.open, panel.high, panel.low, panel.close, panel.raw_close):
            arr[-1, j] = price
        panel.volume[-1, j] = 1e6
        panel.available[-1, j] = True


def _stepped(panel: Panel, sleeves: list[SleeveSpec], costs: PortfolioSettings, *, growing: bool):  # type: ignore[no-untyped-def]
    end = panel.n_sessions - 1
    names = [s.name for s in sleeves]
    full = build_market(panel, sleeves)
    state_text = json.dumps(state_to_dict(new_state("acct", costs.starting_capital, names), full.dates))
    broker_text = json.dumps(SimulatedBroker(panel, costs).to_dict())
    logs: list[SessionLog] = []
    for t in range(end + 1):
        last = t == end
        view = panel if (last or not growing) else panel.truncate(t)
        market = full if view is panel else build_market(view, sleeves, known_data_end=False)
        broker = SimulatedBroker.from_dict(json.loads(broker_text), view, costs)
        engine = EventEngine.restore(
            market, costs, broker, json.loads(state_text), end=end if (last or not growing) else None
        )
        logs.append(engine.run_session(t))
        state_text = json.dumps(engine.save(), allow_nan=False)
        broker_text = json.dumps(broker.to_dict(), allow_nan=False)
    keyed = sorted((item for log in logs for item in log.trades), key=lambda item: item[0])
    return [trade for _, trade in keyed], equity_curve(panel, 0, end, logs, names)


def _same(curve_a, curve_b) -> None:  # type: ignore[no-untyped-def]
    for name in ("equity", "cash", "positions", "exposure"):
        np.testing.assert_array_equal(getattr(curve_a, name), getattr(curve_b, name))
    assert curve_a.sleeve_equity.keys() == curve_b.sleeve_equity.keys()
    for key, values in curve_a.sleeve_equity.items():
        np.testing.assert_array_equal(values, curve_b.sleeve_equity[key])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario, st.booleans())
def test_resuming_from_json_every_session_is_invisible(s: dict, growing: bool) -> None:
    panel, sleeves, costs = _build(s, growing=growing)
    end = panel.n_sessions - 1
    expected_trades, expected_curve = run_reference(panel, sleeves, costs, start=0, end=end)
    trades, curve = _stepped(panel, sleeves, costs, growing=growing)
    assert trades == expected_trades
    _same(curve, expected_curve)


finite_or_not = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.just(-math.inf))


@settings(max_examples=100, deadline=None)
@given(st.lists(finite_or_not, min_size=4, max_size=4), st.floats(allow_nan=False, allow_infinity=False))
def test_state_round_trip_is_exact(values: list[float], cash: float) -> None:
    panel, sleeves, costs = _build(
        {
            "seed": 3, "n_sessions": 12, "n_symbols": 2, "gap_rate": 0.0, "exit": "hybrid_trailing",
            "entry_fill": "next_open", "exit_fill": "close", "slippage_bps": 5.0, "per_share": 0.0,
            "capital": 100_000.0, "max_positions": 3, "sizer": "random", "rate": 0.9,
        },
        growing=False,
    )  # fmt: skip
    market = build_market(panel, sleeves)
    engine = EventEngine(market, costs, SimulatedBroker(panel, costs), new_state("acct", 1e5, ["a", "b"]))
    for t in range(6):
        engine.run_session(t)
    positions = engine.state.open_positions()
    assert positions, "the scenario must hold positions to round-trip"
    pos = positions[0]
    pos.exit.peak_close, pos.exit.peak_high, pos.max_high, pos.min_low = values
    pos.exit.trails = [values[0], values[1]]
    engine.state.cash = cash
    text = json.dumps(engine.save(), allow_nan=False)
    back = state_from_dict(
        json.loads(text), session_index=market.session_index, symbol_index=panel.symbol_index
    )
    saved = engine.save()
    assert set(saved.pop("scales")) == {p.symbol for p in positions}  # the price scale of each holding
    assert state_to_dict(back, market.dates) == saved
    restored = back.open_positions()[0]
    for got, want in zip(
        (restored.exit.peak_close, restored.exit.peak_high, restored.max_high, restored.min_low),
        values,
        strict=True,
    ):
        assert got == want or (math.isnan(got) and math.isnan(want))
    assert back.cash == cash
