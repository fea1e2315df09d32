"""Hand-worked scenarios of the fast engine (numba kernel) on tiny panels.

Every answer below is worked out by hand in the comments. Each scenario also runs the reference
engine and requires the very same trades and equity (a tiny parity test per scenario).
No slippage and no commission unless a test says so; setups come from a fixed SetupTable whose
reference price is the setup session's close.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from _engine_bars import day, flat, make_panel

from trading_playbook.core.errors import SimulationError
from trading_playbook.core.exits.spec import (
    ExitSpec,
    HardStop,
    MaBreak,
    TrailingStop,
    TrailTier,
    named_exit,
)
from trading_playbook.core.panel import Panel
from trading_playbook.core.simulate.fast import run_fast
from trading_playbook.core.simulate.reference import run_reference
from trading_playbook.core.simulate.settings import PortfolioSettings, SleeveSpec
from trading_playbook.core.sizing import FixedDollarSizer, PercentEquitySizer
from trading_playbook.core.types import SetupTable

NO_COSTS = PortfolioSettings(slippage_bps=0.0)


class TableScanner:
    """Setups from a script {session: [(symbol, score, volume_ratio)]}, ranked as RULES section 3."""

    def __init__(self, script: dict[int, list[tuple[str, float, float]]], hard_stop: float = 0.08) -> None:
        self.script = script
        self.hard_stop = hard_stop

    def scan(self, panel: Panel) -> SetupTable:
        rows = []
        for t, items in self.script.items():
            if t >= panel.n_sessions:
                continue
            for symbol, score, vr in items:
                j = panel.symbol_index(symbol)
                rows.append((t, -score, -vr, symbol, j, float(panel.close[t, j]), score, vr))
        rows.sort()
        n = len(rows)
        ref = np.array([r[5] for r in rows], dtype=np.float64)
        zeros = np.zeros(n)
        return SetupTable(
            session_idx=np.array([r[0] for r in rows], dtype=np.int64),
            symbol_idx=np.array([r[4] for r in rows], dtype=np.int64),
            reference_price=ref,
            initial_stop=ref * (1.0 - self.hard_stop),
            score=np.array([r[6] for r in rows], dtype=np.float64),
            base_high=zeros,
            base_days=np.zeros(n, dtype=np.int64),
            base_width=zeros,
            volume_ratio=np.array([r[7] for r in rows], dtype=np.float64),
            distance_from_high=zeros,
            rs=zeros,
        )


def sleeve(script, exit_spec, sizer=None, *, name="main", max_positions=1, weight=1.0) -> SleeveSpec:  # type: ignore[no-untyped-def]
    return SleeveSpec(
        name=name,
        scanner=TableScanner(script),
        exit=exit_spec,
        sizer=sizer or PercentEquitySizer(),
        max_positions=max_positions,
        weight=weight,
    )


def run_both(panel, sleeves, settings=NO_COSTS, start=0, end=None):  # type: ignore[no-untyped-def]
    """The fast engine's result, after checking the reference engine gives the very same."""
    end = panel.n_sessions - 1 if end is None else end
    fast = run_fast(panel, sleeves, settings, start=start, end=end)
    ref = run_reference(panel, sleeves, settings, start=start, end=end)
    assert [t.to_dict() for t in fast[0]] == [t.to_dict() for t in ref[0]]
    for name in ("equity", "cash", "positions", "exposure"):
        np.testing.assert_array_equal(getattr(fast[1], name), getattr(ref[1], name), err_msg=name)
    for key, values in fast[1].sleeve_equity.items():
        np.testing.assert_array_equal(values, ref[1].sleeve_equity[key], err_msg=key)
    return fast


def test_a_close_equal_to_its_sma5_is_no_ma_break() -> None:
    # RULES 8: moving averages are plain means of their window. Closes 10.33, 11.72, 11.93, 11.81,
    # 11.14, 11.65, 16: at t5 SMA5 = (11.72 + 11.93 + 11.81 + 11.14 + 11.65) / 5 = 11.65 exactly when
    # the window is summed, so `close < SMA5` is false and the position (entered at t5's open) holds;
    # at t6 close 16 > SMA5, and END_OF_TEST sells it. A running sum gave SMA5 = 11.650000000000002
    # at t5: an MA_BREAK a day early (tests/unit/test_indicators_handmade.py shows the arithmetic).
    closes = [10.33, 11.72, 11.93, 11.81, 11.14, 11.65, 16.0]
    spec = ExitSpec(name="ma5", rules=(MaBreak(period=5),))
    trades, _ = run_both(make_panel({"A": [flat(c) for c in closes]}), [sleeve({4: [("A", 5, 1)]}, spec)])
    (t,) = trades
    assert (t.entry_date, t.exit_date, t.exit_reason) == (day(5), day(6), "END_OF_TEST")


def test_gap_through_the_stop_fills_at_the_open() -> None:
    # entry at t1 open 10, 10 000 shares (percent_equity, 1 slot), initial stop 9.2.
    # t4 opens at 9 below the stop: exit at min(open 9, stop 9.2) = 9, HARD_STOP.
    # pnl = 10 000 * (9 - 10) = -10 000; r = -1 / (10 - 9.2) = -1.25; mfe 10.5/10-1; mae 8/10-1
    bars = {
        "A": [flat(10), (10, 10.5, 9.9, 10), (10, 10.2, 9.9, 10), (10, 10.2, 9.9, 10), (9, 10, 8, 9), flat(9)]
    }
    trades, curve = run_both(make_panel(bars), [sleeve({0: [("A", 5, 1)]}, named_exit("smart_exits"))])
    (t,) = trades
    assert (t.entry_date, t.exit_date, t.exit_reason, t.shares) == (day(1), day(4), "HARD_STOP", 10_000)
    assert t.exit_price == 9.0
    assert t.pnl == pytest.approx(-10_000.0)
    assert t.r_multiple == pytest.approx(-1.25)
    assert (t.mfe, t.mae) == (pytest.approx(0.05), pytest.approx(-0.2))
    assert list(curve.equity) == pytest.approx([100_000, 100_000, 100_000, 100_000, 90_000, 90_000])


def test_trail_never_moves_down() -> None:
    # One rule: an ATR2 trail 2 ATRs under peak_close, recomputed at every close (no hard stop rests).
    # TR: t0 1, t1 1, t2 max(2, |12-10|) = 2, t3 max(4.5, |14-12|, |9.5-12|) = 4.5, t4 max(.6, 1.5, 2.1) = 2.1
    # t1 close: ATR2 (1+1)/2 = 1, peak 10 -> 8.   t2: ATR2 1.5, peak 12 -> 9 (raised to 9)
    # t3: ATR2 3.25 -> 12 - 6.5 = 5.5, lower: trail stays 9.   t4: close 8.95 < 9 -> TRAILING_STOP at 8.95
    # (a trail that followed the ATR down would sit at 12 - 6.6 = 5.4 and hold the position).
    spec = ExitSpec(
        name="atr_trail",
        rules=(TrailingStop(tiers=(TrailTier(-math.inf, "atr", 2.0),), update="every_close", atr_period=2),),
    )
    bars = {
        "A": [
            (10, 10.5, 9.5, 10),
            (10, 10.5, 9.5, 10),
            (10, 12, 10, 12),
            (12, 14, 9.5, 11),
            (9.5, 9.5, 8.9, 8.95),
            flat(9),
        ]
    }
    trades, _ = run_both(make_panel(bars), [sleeve({0: [("A", 5, 1)]}, spec)])
    (t,) = trades
    assert (t.exit_date, t.exit_reason, t.exit_price) == (day(4), "TRAILING_STOP", 8.95)


def test_scaled_exits_fire_several_levels_in_one_session() -> None:
    # entry 100 at t1, 1000 shares. t2 close 120 (+20 %): SCALE_1 and SCALE_2, 250 shares each at 120.
    # t3 close 130 (+30 %): SCALE_3 250 at 130.  t4 close 131: new peak, trail = 0.95 * 131 = 124.45.
    # t5 close 124 < 124.45 with peak 131 > 108: TRAILING_STOP, the last 250 at 124.
    # exit_price = (250*120 + 250*120 + 250*130 + 250*124) / 1000 = 123.5; pnl = 123 500 - 100 000
    bars = {"A": [flat(100), flat(100), flat(120), flat(130), flat(131), flat(124), flat(124)]}
    trades, _ = run_both(make_panel(bars), [sleeve({0: [("A", 5, 1)]}, named_exit("scaled_exits"))])
    (t,) = trades
    assert [(p.date, p.shares, p.price, p.reason) for p in t.partial_exits] == [
        (day(2), 250, 120.0, "SCALE_1"),
        (day(2), 250, 120.0, "SCALE_2"),
        (day(3), 250, 130.0, "SCALE_3"),
    ]
    assert (t.exit_date, t.exit_reason, t.exit_price, t.pnl) == (day(5), "TRAILING_STOP", 123.5, 23_500.0)
    assert t.sessions_held == 4


def test_breakeven_stop_after_the_partial() -> None:
    # trend_following_75: entry 100 at t1 (1000 shares). t2 close 110: +10 % -> PROFIT_TAKE_25, 250 at 110,
    # and the stop moves to the entry. t3 low 99.5 <= 100: BREAKEVEN_STOP at min(open 105, 100) = 100.
    # pnl = 250 * 110 + 750 * 100 - 100 000 = 2 500; exit_price = 102 500 / 1000 = 102.5
    bars = {"A": [flat(100), flat(100), flat(110), (105, 106, 99.5, 104), flat(104)]}
    trades, _ = run_both(make_panel(bars), [sleeve({0: [("A", 5, 1)]}, named_exit("trend_following_75"))])
    (t,) = trades
    assert [(p.date, p.shares, p.price, p.reason) for p in t.partial_exits] == [
        (day(2), 250, 110.0, "PROFIT_TAKE_25")
    ]
    assert (t.exit_date, t.exit_reason, t.exit_price, t.pnl) == (day(3), "BREAKEVEN_STOP", 102.5, 2_500.0)


def test_time_stop_counts_backtest_sessions_not_bars() -> None:
    # fixed exits (10-session time stop). A has no bar at t5; B supplies that session.
    # Entry t1; sessions_held reaches 10 at t11 (A's 10th bar since entry is only at t12): TIME_STOP at t11.
    a = [flat(100)] * 14
    a[5] = None
    bars = {"A": a, "B": [flat(50)] * 14}
    trades, curve = run_both(make_panel(bars), [sleeve({0: [("A", 5, 1)]}, named_exit("fixed"))])
    (t,) = trades
    assert (t.entry_date, t.exit_date, t.exit_reason, t.sessions_held) == (day(1), day(11), "TIME_STOP", 10)
    assert curve.positions[5] == 1  # held (marked at its last close) through the gap


def test_end_of_test_closes_with_slippage() -> None:
    # 5 bps slippage: entry at t1 open 100 * 1.0005 = 100.05; sized floor(100 000 / 100) = 1000 shares
    # from the reference close, but 1000 * 100.05 > 100 000 cash: floor(100 000 / 100.05) = 999 shares.
    # The test ends at t3 with the position open: END_OF_TEST at close 101 * 0.9995 = 100.9495.
    # pnl = 999 * (100.9495 - 100.05) = 898.6005
    settings = PortfolioSettings(slippage_bps=5.0)
    bars = {"A": [flat(100), flat(100), flat(101), flat(101)]}
    trades, curve = run_both(
        make_panel(bars), [sleeve({0: [("A", 5, 1)]}, named_exit("smart_exits"))], settings
    )
    (t,) = trades
    assert t.entry_price == pytest.approx(100.05)
    assert (t.exit_date, t.exit_reason) == (day(3), "END_OF_TEST")
    assert t.exit_price == pytest.approx(100.9495)
    assert t.shares == 999
    assert t.pnl == pytest.approx(898.6005)
    assert curve.positions[-1] == 0
    assert curve.equity[-1] == pytest.approx(100_898.6005)


def test_end_of_test_replaces_an_exit_decided_for_the_next_open() -> None:
    # fixed exits with exit_fill next_open: at the last session t3 the close 120 >= 100 * 1.2 decides a
    # TARGET for the next open, which does not exist: END_OF_TEST sells at the t3 close instead.
    settings = PortfolioSettings(slippage_bps=0.0, exit_fill="next_open")
    bars = {"A": [flat(100), flat(100), flat(110), flat(120)]}
    trades, _ = run_both(make_panel(bars), [sleeve({0: [("A", 5, 1)]}, named_exit("fixed"))], settings)
    (t,) = trades
    assert (t.exit_date, t.exit_reason, t.exit_price) == (day(3), "END_OF_TEST", 120.0)


def test_end_of_data_closes_at_the_last_close() -> None:
    # A's data ends at t3 while the test runs to t6: after the close rules on t3, END_OF_DATA at close 103.
    bars = {"A": [flat(100), flat(100), flat(102), flat(103)], "B": [flat(50)] * 7}
    trades, curve = run_both(make_panel(bars), [sleeve({0: [("A", 5, 1)]}, named_exit("smart_exits"))])
    (t,) = trades
    assert (t.exit_date, t.exit_reason, t.exit_price) == (day(3), "END_OF_DATA", 103.0)
    assert list(curve.positions) == [0, 1, 1, 0, 0, 0, 0]
    assert curve.equity[-1] == pytest.approx(103_000.0)


def test_slots_full_and_ranking_ties() -> None:
    # 2 slots. t0 setups all score 5: "AB" has the higher volume ratio; "AA" and "Ab" tie on it and
    # "AA" < "Ab" (code points, uppercase first) -> AB and AA enter at t1, 50 000 / 100 = 500 shares each.
    # t1: a setup for "Ab" finds no free slot.
    script = {0: [("Ab", 5, 1.0), ("AA", 5, 1.0), ("AB", 5, 2.0)], 1: [("Ab", 9, 3.0)]}
    bars = {s: [flat(100)] * 5 for s in ("AA", "AB", "Ab")}
    trades, curve = run_both(make_panel(bars), [sleeve(script, named_exit("fixed"), max_positions=2)])
    assert [(t.symbol, t.entry_date, t.shares) for t in trades] == [("AA", day(1), 500), ("AB", day(1), 500)]
    assert list(curve.positions) == [0, 2, 2, 2, 0]


def test_cash_short_at_the_open_buys_what_cash_allows() -> None:
    # fixed_dollar 60 000 per position, 2 slots, commission 1 per order + 0.01 per share.
    # Decision at t0: A and B (ref 10) get 6000 shares each. t1 opens at 10:
    # A: 6000 * 10 + (1 + 60) = 60 061 -> cash 39 939.
    # B: 60 061 > 39 939 -> floor((39 939 - 1) / (10 + 0.01)) = floor(3989.81) = 3989 shares,
    #    cost 39 890 + 1 + 39.89 = 39 930.89 -> cash 8.11
    settings = PortfolioSettings(slippage_bps=0.0, commission_per_order=1.0, commission_per_share=0.01)
    bars = {"A": [flat(10)] * 4, "B": [flat(10)] * 4}
    sizer = FixedDollarSizer(amount=60_000.0)
    trades, curve = run_both(
        make_panel(bars),
        [sleeve({0: [("A", 9, 1), ("B", 8, 1)]}, named_exit("fixed"), sizer, max_positions=2)],
        settings,
    )
    assert [(t.symbol, t.shares) for t in trades] == [("A", 6000), ("B", 3989)]
    assert curve.cash[1] == pytest.approx(8.11)


def test_entry_at_the_close_first_stop_check_next_session() -> None:
    # entry_fill close: A enters at the t0 close 10 (10 000 shares); no stop check on t0.
    # t1 opens at 9 under the stop 9.2: HARD_STOP at 9, sessions_held 1.
    settings = PortfolioSettings(slippage_bps=0.0, entry_fill="close")
    bars = {"A": [(10, 10, 9, 10), (9, 9.5, 8.5, 9), flat(9)]}
    trades, curve = run_both(
        make_panel(bars), [sleeve({0: [("A", 5, 1)]}, named_exit("smart_exits"))], settings
    )
    (t,) = trades
    assert (t.entry_date, t.entry_price, t.exit_date, t.exit_price, t.exit_reason) == (
        day(0),
        10.0,
        day(1),
        9.0,
        "HARD_STOP",
    )
    assert (t.sessions_held, t.mae) == (1, pytest.approx(-0.15))  # lowest low 8.5 over t0..t1
    assert list(curve.positions) == [1, 0, 0]


def test_exit_at_the_next_open_waits_for_a_bar() -> None:
    # fixed exits, exit_fill next_open: t2 close 120 >= 120 decides TARGET; A has no bar at t3, so the
    # exit waits (still held, still a slot) and fills at the t4 open 118.
    settings = PortfolioSettings(slippage_bps=0.0, exit_fill="next_open")
    bars = {"A": [flat(100), flat(100), flat(120), None, (118, 119, 117, 118), flat(118)], "B": [flat(5)] * 6}
    trades, curve = run_both(make_panel(bars), [sleeve({0: [("A", 5, 1)]}, named_exit("fixed"))], settings)
    (t,) = trades
    assert (t.exit_date, t.exit_reason, t.exit_price, t.sessions_held) == (day(4), "TARGET", 118.0, 3)
    assert list(curve.positions) == [0, 1, 1, 1, 0, 0]
    assert t.mfe == pytest.approx(0.2)  # t2 high 120; t4 high 119


def test_two_sleeves_share_the_cash_pool() -> None:
    # sleeve "a" (weight 0.5, 1 slot) and "b" (weight 0.5, 1 slot) both take symbol A at t1:
    # each sized 0.5 * 100 000 / 100 = 500 shares; two separate positions of A.
    bars = {"A": [flat(100), flat(100), flat(110), flat(110)]}
    script = {0: [("A", 5, 1)]}
    sleeves = [
        sleeve(script, named_exit("fixed"), name="a", weight=0.5),
        sleeve(script, named_exit("smart_exits"), name="b", weight=0.5),
    ]
    trades, curve = run_both(make_panel(bars), sleeves)
    assert [(t.sleeve, t.shares) for t in trades] == [("a", 500), ("b", 500)]
    # t2 marks 1000 shares at 110: equity 110 000, each sleeve 50 000 + 5 000
    assert curve.equity[2] == pytest.approx(110_000.0)
    assert curve.sleeve_equity["a"][2] == pytest.approx(55_000.0)


def test_python_exit_is_refused_with_a_hint() -> None:
    class MyExit:
        def check_exit(self, position, current_bar, bars_held):  # type: ignore[no-untyped-def]
            return False, "", None

    bars = {"A": [flat(100)] * 3}
    with pytest.raises(SimulationError, match="--engine reference"):
        run_fast(make_panel(bars), [sleeve({0: [("A", 5, 1)]}, MyExit())], NO_COSTS, start=0, end=2)


def test_resting_trail_rests_from_the_next_session() -> None:
    # hybrid_trailing: entry 100 at t1 (1000 shares). t1 high 110 -> peak_high 110 (+10 %), so at the t1
    # close the trail = 110 - 1 * ATR10; ATR10 is undefined (A has 2 bars) -> trail undefined; only the
    # initial stop 92 rests at t2. t2 low 93 > 92 holds. Exit rules at t2: LOWER_HIGH (peak_high 110 > 105,
    # high 100 < 110) -> exit at the close 95.
    bars = {"A": [flat(100), (100, 110, 100, 100), (95, 100, 93, 95), flat(95)]}
    trades, _ = run_both(make_panel(bars), [sleeve({0: [("A", 5, 1)]}, named_exit("hybrid_trailing"))])
    (t,) = trades
    assert (t.exit_date, t.exit_reason, t.exit_price) == (day(2), "LOWER_HIGH", 95.0)


def test_hard_stop_rule_spec_matches_pct() -> None:
    # a spec with a custom HardStop(pct=0.05) rests at entry * 0.95 = 95 while r_multiple uses hard_stop 0.08
    spec = ExitSpec(name="tight", rules=(HardStop(pct=0.05),), hard_stop=0.08)
    bars = {"A": [flat(100), flat(100), (96, 96, 94, 95), flat(95)]}
    trades, _ = run_both(make_panel(bars), [sleeve({0: [("A", 5, 1)]}, spec)])
    (t,) = trades
    assert (t.exit_reason, t.exit_price, t.initial_stop) == ("HARD_STOP", 95.0, pytest.approx(92.0))
    assert t.r_multiple == pytest.approx(-5 / 8)


def test_pending_entry_without_a_bar_is_cancelled() -> None:
    # A signals at t0 but has no bar at t1: the order is cancelled (no trade), its slot is free again
    # at the t1 scan, where B is taken and enters at t2.
    bars = {"A": [flat(10), None, flat(10), flat(10)], "B": [flat(20)] * 4}
    script = {0: [("A", 5, 1)], 1: [("B", 5, 1)]}
    trades, curve = run_both(make_panel(bars), [sleeve(script, named_exit("fixed"))])
    assert [(t.symbol, t.entry_date) for t in trades] == [("B", day(2))]
    assert list(curve.positions) == [0, 0, 1, 0]


def test_sized_to_zero_takes_no_slot_but_zero_at_the_open_uses_it() -> None:
    # fixed_dollar 500 a position, 1 slot. t0: A (ref 1000, score 9) is sized floor(500/1000) = 0 -> no
    # slot, so B (ref 100, score 8) gets it: 5 shares. t1 B opens at 600: the order wants 5 * 600 but the
    # sizing was from the reference; cash 100 000 pays 3000: B enters with 5 shares.
    # t2: C (ref 10) would take 50 shares but the slot is held by B.
    bars = {"A": [flat(1000)] * 4, "B": [flat(100), flat(600), flat(600), flat(600)], "C": [flat(10)] * 4}
    script = {0: [("A", 9, 1), ("B", 8, 1)], 2: [("C", 9, 1)]}
    trades, _ = run_both(
        make_panel(bars), [sleeve(script, named_exit("fixed"), FixedDollarSizer(amount=500.0))]
    )
    assert [(t.symbol, t.shares, t.entry_price) for t in trades] == [("B", 5, 600.0)]


def test_zero_shares_at_the_open_used_the_slot_that_evening() -> None:
    # starting capital 1000, fixed_dollar 900: t0 A (ref 10) -> 90 shares, the only slot. t1 A opens at
    # 2000: cash allows floor(1000 / 2000) = 0 shares -> no trade. B's setup on t0 ranked second was not
    # tried (the slot was used); B's setup at t1 enters at t2.
    settings = PortfolioSettings(starting_capital=1000.0, slippage_bps=0.0)
    bars = {"A": [flat(10), flat(2000), flat(2000), flat(2000)], "B": [flat(10)] * 4}
    script = {0: [("A", 9, 1), ("B", 8, 1)], 1: [("B", 8, 1)]}
    trades, _ = run_both(
        make_panel(bars), [sleeve(script, named_exit("fixed"), FixedDollarSizer(amount=900.0))], settings
    )
    assert [(t.symbol, t.entry_date, t.shares) for t in trades] == [("B", day(2), 90)]


def test_scale_out_at_the_next_open() -> None:
    # scaled_exits with exit_fill next_open: entry 100 at t1 (1000 shares); t2 close 110 (+10 %) decides
    # SCALE_1 (250 shares), filled at the t3 open 111; then t3's stop check runs on the 750 left: low 91.5
    # <= 92 -> HARD_STOP at min(open 111, 92) = 92. exit_price = (250 * 111 + 750 * 92) / 1000 = 96.75
    settings = PortfolioSettings(slippage_bps=0.0, exit_fill="next_open")
    bars = {"A": [flat(100), flat(100), flat(110), (111, 111, 91.5, 95), flat(95)]}
    trades, _ = run_both(make_panel(bars), [sleeve({0: [("A", 5, 1)]}, named_exit("scaled_exits"))], settings)
    (t,) = trades
    assert [(p.date, p.shares, p.price, p.reason) for p in t.partial_exits] == [
        (day(3), 250, 111.0, "SCALE_1")
    ]
    assert (t.exit_date, t.exit_reason, t.exit_price) == (day(3), "HARD_STOP", 96.75)


def test_entry_at_the_close_on_the_symbols_last_bar_is_end_of_data() -> None:
    # entry_fill close: A signals on its last bar t2 (the test runs to t4): it enters at the t2 close
    # and is sold at that same close, END_OF_DATA (no position is left without data).
    settings = PortfolioSettings(slippage_bps=0.0, entry_fill="close")
    bars = {"A": [flat(10), flat(10), flat(10)], "B": [flat(5)] * 5}
    trades, curve = run_both(make_panel(bars), [sleeve({2: [("A", 5, 1)]}, named_exit("fixed"))], settings)
    (t,) = trades
    assert (t.entry_date, t.exit_date, t.exit_reason, t.sessions_held) == (day(2), day(2), "END_OF_DATA", 0)
    assert list(curve.positions) == [0, 0, 0, 0, 0]


def test_minimum_commission_and_per_share_costs() -> None:
    # commission max(5, 1 + 0.001 * q). fixed_dollar 10 000 at ref 100 -> 100 shares at t1 open 100:
    # fee max(5, 1.1) = 5. END_OF_TEST at t2 close 110: fee 5. pnl = 100 * (110 - 100) - 10 = 990
    settings = PortfolioSettings(
        slippage_bps=0.0, commission_per_order=1.0, commission_per_share=0.001, commission_min=5.0
    )
    bars = {"A": [flat(100), flat(100), flat(110)]}
    trades, curve = run_both(
        make_panel(bars),
        [sleeve({0: [("A", 5, 1)]}, named_exit("fixed"), FixedDollarSizer(10_000.0))],
        settings,
    )
    (t,) = trades
    assert (t.commission, t.pnl) == (10.0, 990.0)
    assert curve.cash[1] == 100_000.0 - 10_005.0
    assert curve.equity[-1] == 100_990.0


def test_smart_trail_is_undefined_until_a_new_peak_then_follows_the_close_atr() -> None:
    # smart_exits; the warm-up bars have range 2 (true range 2). Entry 100 at t11 (setup t10).
    # t11 close 100: no new peak -> no trail. t12 close 104 (+4 %): new peak; TR12 = |105 - 100| = 5,
    # ATR10 = (9 * 2 + 5) / 10 = 2.3 -> trail 104 - 2 * 2.3 = 99.4; not armed (104 <= 105).
    # t13 close 107: TR13 = |108 - 104| = 4, ATR10 = (8 * 2 + 5 + 4) / 10 = 2.5, +7 % -> 107 - 2 * 2.5 = 102.
    # t14 close 101.5: peak 107 > 105 and 101.5 < 102 -> TRAILING_STOP (checked before MA_BREAK).
    pre = [(100, 101, 99, 100)] * 11
    bars = {
        "A": [
            *pre,
            (100, 101, 99, 100),
            (103, 105, 103, 104),
            (106, 108, 106, 107),
            (102, 102.5, 101, 101.5),
            flat(100),
        ]
    }
    trades, _ = run_both(make_panel(bars), [sleeve({10: [("A", 5, 1)]}, named_exit("smart_exits"))])
    (t,) = trades
    assert (t.entry_date, t.exit_date, t.exit_reason, t.exit_price) == (
        day(11),
        day(14),
        "TRAILING_STOP",
        101.5,
    )


def test_setups_are_ranked_within_a_session_whatever_the_table_order() -> None:
    # a table listing C (score 5), A (score 9), B (score 9, higher volume ratio) at t0: ranked B, A, C;
    # with 2 slots B and A enter, as the reference engine (which sorts by Setup.rank_key) does.
    bars = {s: [flat(10)] * 4 for s in "ABC"}
    panel = make_panel(bars)
    ref = np.full(3, 10.0)
    zeros = np.zeros(3)
    table = SetupTable(
        session_idx=np.zeros(3, dtype=np.int64),
        symbol_idx=np.array([2, 0, 1], dtype=np.int64),
        reference_price=ref,
        initial_stop=ref * 0.92,
        score=np.array([5.0, 9.0, 9.0]),
        base_high=zeros,
        base_days=np.zeros(3, dtype=np.int64),
        base_width=zeros,
        volume_ratio=np.array([1.0, 1.0, 2.0]),
        distance_from_high=zeros,
        rs=zeros,
    )
    spec = SleeveSpec("main", None, named_exit("fixed"), PercentEquitySizer(), max_positions=2)
    trades, _ = run_fast(panel, [spec], NO_COSTS, start=0, end=3, setups=[table])
    assert sorted(t.symbol for t in trades) == ["A", "B"]


def test_duplicate_sleeve_names_are_refused() -> None:
    bars = {"A": [flat(10)] * 3}
    sleeves = [
        sleeve({0: [("A", 5, 1)]}, named_exit("fixed")),
        sleeve({0: [("A", 5, 1)]}, named_exit("fixed")),
    ]
    with pytest.raises(SimulationError, match="unique"):
        run_fast(make_panel(bars), sleeves, NO_COSTS, start=0, end=2)


def test_rank_order_keeps_a_ranked_table_and_sorts_any_other() -> None:
    from trading_playbook.core.simulate.fast import _rank_order

    # sessions 3, 3, 3, 4: score 2 > 1 = 1, the tie broken by volume_ratio 5 > 4: already in rank order
    session = np.array([3, 3, 3, 4])
    score = np.array([2.0, 1.0, 1.0, 9.0])
    ratio = np.array([1.0, 5.0, 4.0, 1.0])
    rank = np.array([0, 1, 2, 0])
    assert _rank_order(session, score, ratio, rank) == slice(None)
    # the same rows shuffled: sorted back (session asc, score desc, volume_ratio desc, symbol asc)
    mixed = np.array([3, 0, 2, 1])
    order = _rank_order(session[mixed], score[mixed], ratio[mixed], rank[mixed])
    np.testing.assert_array_equal(mixed[order], [0, 1, 2, 3])
    # a full tie on score and volume_ratio falls to the symbol rank: 1 before 0
    order = _rank_order(np.array([5, 5]), np.array([1.0, 1.0]), np.array([2.0, 2.0]), np.array([1, 0]))
    np.testing.assert_array_equal(order, [1, 0])
    # NaN scores cannot be compared: the stable lexsort decides, as before
    nan_score = np.array([np.nan, 1.0])
    order = _rank_order(np.array([5, 5]), nan_score, np.array([2.0, 2.0]), np.array([0, 1]))
    np.testing.assert_array_equal(
        order, np.lexsort((np.array([0, 1]), -np.array([2.0, 2.0]), -nan_score, [5, 5]))
    )


def test_trades_built_column_by_column_equal_constructed_ones() -> None:
    import datetime as dt

    from trading_playbook.core.simulate.fast import _make_trades
    from trading_playbook.core.types import PartialExit, Trade

    d1, d2 = dt.date(2020, 1, 2), dt.date(2020, 1, 9)
    rows = [
        ("AAA", d1, d2, 10.0, 11.0, 100, "MA_BREAK", 99.0, 0.099, 1.2375, 5, 0.2, -0.05, (), 9.2, 1.0, "main"),
        ("BBB", d1, d2, 20.0, 19.0, 50, "HARD_STOP", -50.0, -0.05, -0.625, 5, 0.0, -0.1,
         (PartialExit(d1, 10, 21.0, "SCALE_1"),), 18.4, 0.0, "other"),
    ]  # fmt: skip
    built = _make_trades(2, [list(column) for column in zip(*rows, strict=True)])
    assert built == [Trade(*row) for row in rows]
    assert [t.to_dict() for t in built] == [Trade(*row).to_dict() for row in rows]
    with pytest.raises(AttributeError):
        built[0].symbol = "CCC"  # type: ignore[misc]  # still frozen


@pytest.mark.parametrize("entry_fill", ["close", "next_open"])
def test_close_entry_that_cash_cannot_pay_frees_its_slot(entry_fill: str) -> None:
    # RULES 8 (decided 2026-12-01). Capital 1000, one slot, fixed_dollar 3000. At the t0 close three
    # setups rank A (9), B (8), C (7): A at 2000 is sized floor(3000/2000) = 1 share, B at 1500 2 shares,
    # C at 600 5 shares. Cash 1000 allows floor(1000/2000) = 0 of A, floor(1000/1500) = 0 of B and
    # floor(1000/600) = 1 of C.
    # - close: the cash is known when the order is placed, so A and B take no slot and C enters at the
    #   t0 close with 1 share (cash 400), held to END_OF_TEST at t3.
    # - next_open: A takes the slot that evening and gets 0 shares at the t1 open; B and C are not
    #   tried: nothing is entered.
    settings = PortfolioSettings(starting_capital=1000.0, slippage_bps=0.0, entry_fill=entry_fill)  # type: ignore[arg-type]
    bars = {"A": [flat(2000)] * 4, "B": [flat(1500)] * 4, "C": [flat(600)] * 4}
    script = {0: [("A", 9, 1), ("B", 8, 1), ("C", 7, 1)]}
    trades, curve = run_both(
        make_panel(bars), [sleeve(script, named_exit("fixed"), FixedDollarSizer(amount=3000.0))], settings
    )
    if entry_fill == "close":
        assert [(t.symbol, t.entry_date, t.shares, t.exit_reason) for t in trades] == [
            ("C", day(0), 1, "END_OF_TEST")
        ]
        assert list(curve.cash) == [400.0, 400.0, 400.0, 1000.0]
        assert list(curve.positions) == [1, 1, 1, 0]
    else:
        assert trades == []
        assert list(curve.positions) == [0, 0, 0, 0]
        assert list(curve.cash) == [1000.0] * 4
