"""The reference engine's session loop on tiny hand-made bars (RULES sections 4, 6 and 8).

Sessions are numbered t0, t1, ... (dates 2020-01-01 + t days). Unless a test says otherwise: no
slippage, no commission, a scripted scanner, 100 shares per setup, entries at the next open.
Every expected number is worked out by hand in the comments.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from _engine_bars import NO_COSTS, day, flat, make_panel, sleeve

from trading_playbook.core.errors import ConfigError, SimulationError
from trading_playbook.core.exits.spec import named_exit
from trading_playbook.core.simulate.reference import affordable_shares, run_reference
from trading_playbook.core.simulate.settings import PortfolioSettings

SMART = named_exit("smart_exits")
FIXED = named_exit("fixed")


def run(bars, script, exit_spec=SMART, settings=NO_COSTS, *, start=0, end=None, **kw):
    panel = make_panel(bars)
    end = panel.n_sessions - 1 if end is None else end
    return run_reference(panel, [sleeve(script, exit_spec, **kw)], settings, start=start, end=end)


# ------------------------------------------------------------------------------------ stops and gaps
def test_gap_through_stop_fills_at_the_open() -> None:
    # t1: entry at open 100 -> stop 92. t2 opens at 90 (below the stop), low 88: exit at min(90, 92) = 90
    bars = {"AAA": [flat(100), (100, 101, 99, 100), (90, 91, 88, 89), flat(89)]}
    trades, _ = run(bars, {0: [("AAA", 5, 1)]})
    (t,) = trades
    assert (t.exit_reason, t.exit_price, t.exit_date) == ("HARD_STOP", 90.0, day(2))
    assert t.pnl == pytest.approx(-1000.0)  # (90 - 100) * 100
    assert t.mae == pytest.approx(-0.12)  # min low 88 / 100 - 1
    assert t.mfe == pytest.approx(0.01)  # max high 101 / 100 - 1


def test_stop_inside_the_bar_fills_at_the_stop_with_slippage() -> None:
    # slippage 5 bps: entry 100 * 1.0005 = 100.05; stop 100.05 * 0.92 = 92.046;
    # t2 open 95, low 91 <= 92.046 -> fill 92.046 * 0.9995 = 92.000977
    bars = {"AAA": [flat(100), (100, 101, 99, 100), (95, 96, 91, 93), flat(93)]}
    trades, _ = run(bars, {0: [("AAA", 5, 1)]}, settings=PortfolioSettings())
    (t,) = trades
    assert t.entry_price == pytest.approx(100.05)
    assert t.initial_stop == pytest.approx(92.046)
    assert t.exit_price == pytest.approx(92.046 * 0.9995)
    # pnl = 100 * (92.000977 - 100.05) = -804.9023; r = (pnl / 100) / (100.05 - 92.046)
    assert t.pnl == pytest.approx(100 * (92.046 * 0.9995 - 100.05))
    assert t.r_multiple == pytest.approx((t.pnl / 100) / (100.05 - 92.046))
    assert t.pnl_pct == pytest.approx(t.pnl / (100.05 * 100))


def test_stop_checked_on_the_entry_morning() -> None:
    # entry at open 100 on t1, and t1's low 91 already hits the 92 stop: exit the same session at 92
    bars = {"AAA": [flat(100), (100, 100, 91, 95), flat(95)]}
    trades, _ = run(bars, {0: [("AAA", 5, 1)]})
    assert (trades[0].exit_reason, trades[0].exit_price, trades[0].sessions_held) == ("HARD_STOP", 92.0, 0)


def test_fixed_has_no_intraday_stop() -> None:
    # fixed: t2 low 50 does not exit (no resting stop); close 95 > 92; t3 close 91 <= 92 -> STOP_LOSS at 91
    bars = {"AAA": [flat(100), flat(100), (99, 99, 50, 95), (95, 95, 90, 91), flat(91)]}
    trades, _ = run(bars, {0: [("AAA", 5, 1)]}, FIXED)
    assert (trades[0].exit_reason, trades[0].exit_price, trades[0].exit_date) == ("STOP_LOSS", 91.0, day(3))


def test_hybrid_trailing_reason_at_engine_level() -> None:
    hybrid = named_exit("hybrid_trailing")
    # t1: entry 100, high 120, close 118 -> peak_high 120, p = 0.20 -> trail 0.95 * 120 = 114 (> stop 92)
    # t2: open 117, low 113 <= 114 -> exit at min(117, 114) = 114, TRAILING_STOP
    bars = {"AAA": [flat(100), (100, 120, 100, 118), (117, 117, 113, 115), flat(115)]}
    trades, _ = run(bars, {0: [("AAA", 5, 1)]}, hybrid)
    assert (trades[0].exit_reason, trades[0].exit_price) == ("TRAILING_STOP", pytest.approx(114.0))


# ------------------------------------------------------------------------------------ close rules
def test_ma_break_on_day_zero() -> None:
    # t0..t4 flat 100, setup at t4; t5: entry at open 100, close 98. SMA5 at t5 = (4 * 100 + 98) / 5 = 99.6;
    # profit -2 % < 3 % and 98 < 99.6 -> MA_BREAK at the close of the entry session
    bars = {"AAA": [flat(100)] * 5 + [(100, 100, 97.5, 98), flat(98)]}
    trades, _ = run(bars, {4: [("AAA", 5, 1)]})
    (t,) = trades
    assert (t.exit_reason, t.exit_price, t.sessions_held, t.exit_date) == ("MA_BREAK", 98.0, 0, day(5))


def test_lower_close_compares_with_bar_before_entry() -> None:
    # t0 close 107 (setup); t1 entry at open 100, close 106: peak 106 > 105 and 106 < previous close 107
    # -> LOWER_CLOSE on the entry session (ATR and SMA5 undefined: no trail, no MA_BREAK)
    bars = {"AAA": [flat(107), (100, 106, 100, 106), flat(106)]}
    trades, _ = run(bars, {0: [("AAA", 5, 1)]})
    assert (trades[0].exit_reason, trades[0].exit_price) == ("LOWER_CLOSE", 106.0)


def test_time_stop_counts_sessions_without_a_bar() -> None:
    # fixed: TIME_STOP at sessions_held >= 10. Entry t1; AAA has no bar on t4, t5 (BBB keeps the sessions).
    # t11 is 10 sessions after t1 -> exit at t11's close although AAA had only 9 bars since entry
    aaa = [flat(100)] * 13
    aaa[4] = aaa[5] = None
    bars = {"AAA": aaa, "BBB": [flat(50)] * 13}
    trades, _ = run(bars, {0: [("AAA", 5, 1)]}, FIXED)
    assert (trades[0].exit_reason, trades[0].exit_date, trades[0].sessions_held) == ("TIME_STOP", day(11), 10)


def test_no_stop_on_a_session_without_a_bar_and_marked_at_last_close() -> None:
    # AAA has no bar at t2: the position is held and marked at t1's close 99
    bars = {"AAA": [flat(100), (100, 100, 99, 99), None, flat(99), flat(99)], "BBB": [flat(5)] * 5}
    _, curve = run(bars, {0: [("AAA", 5, 1)]}, FIXED)
    # equity t2 = cash 90000 + 100 * 99
    assert curve.equity[2] == pytest.approx(90_000 + 9_900)
    assert curve.positions[2] == 1


# ------------------------------------------------------------------------------------ partial exits
def test_scaled_exits_trade_with_partials() -> None:
    scaled = named_exit("scaled_exits")
    # t1 entry 100 x 100; t2 close 108 -> SCALE_1 25 @ 108; t3 close 126 -> SCALE_2 and SCALE_3, 25 @ 126 each;
    # t4 (last session) close 120: no rule (trail undefined: ATR undefined) -> END_OF_TEST 25 @ 120.
    # exit value = 2700 + 3150 + 3150 + 3000 = 12000 -> exit_price 120, pnl 2000
    bars = {"AAA": [flat(100), flat(100), flat(108), flat(126), flat(120)]}
    trades, curve = run(bars, {0: [("AAA", 5, 1)]}, scaled)
    (t,) = trades
    assert [(p.date, p.shares, p.price, p.reason) for p in t.partial_exits] == [
        (day(2), 25, 108.0, "SCALE_1"),
        (day(3), 25, 126.0, "SCALE_2"),
        (day(3), 25, 126.0, "SCALE_3"),
    ]
    assert (t.exit_reason, t.exit_price, t.pnl, t.shares) == ("END_OF_TEST", 120.0, 2000.0, 100)
    # cash after t3: 90000 + 2700 + 6300 = 99000; equity t3 = 99000 + 25 * 126 = 102150
    assert curve.cash[3] == pytest.approx(99_000.0)
    assert curve.equity[3] == pytest.approx(102_150.0)
    assert curve.equity[-1] == pytest.approx(102_000.0)


def test_breakeven_stop_after_the_partial() -> None:
    trend = named_exit("trend_following_75")
    # t1 entry 100, close 110 -> PROFIT_TAKE_25 (25 @ 110); t2 open 104, low 99 <= breakeven 100
    # -> BREAKEVEN_STOP 75 @ min(104, 100) = 100. pnl = 25 * 10 = 250
    bars = {"AAA": [flat(100), (100, 110, 100, 110), (104, 105, 99, 101), flat(101)]}
    trades, _ = run(bars, {0: [("AAA", 5, 1)]}, trend)
    (t,) = trades
    assert t.exit_reason == "BREAKEVEN_STOP"
    assert t.partial_exits[0].reason == "PROFIT_TAKE_25" and t.partial_exits[0].shares == 25
    assert t.pnl == pytest.approx(250.0)
    assert t.exit_price == pytest.approx((25 * 110 + 75 * 100) / 100)


# ------------------------------------------------------------------------------------ end of test / data
def test_end_of_test_closes_everything_with_slippage() -> None:
    # entry t1 at 100 * 1.0005; last session t3 close 102 -> END_OF_TEST at 102 * 0.9995
    bars = {"AAA": [flat(100), flat(100), flat(101), flat(102)]}
    trades, curve = run(bars, {0: [("AAA", 5, 1)]}, settings=PortfolioSettings())
    (t,) = trades
    assert (t.exit_reason, t.exit_date) == ("END_OF_TEST", day(3))
    assert t.exit_price == pytest.approx(102 * 0.9995)
    assert curve.positions[-1] == 0 and curve.equity[-1] == pytest.approx(curve.cash[-1])


def test_no_scan_on_the_last_session() -> None:
    bars = {"AAA": [flat(100)] * 3}
    scanner_script = {2: [("AAA", 5, 1)]}
    trades, _ = run(bars, scanner_script, settings=PortfolioSettings(slippage_bps=0.0, entry_fill="close"))
    assert trades == []


def test_end_of_data_closes_at_the_symbols_last_close() -> None:
    # BBB's data ends at t2 (< last session t4): held from t1, sold at t2's close 51, END_OF_DATA
    bars = {"AAA": [flat(10)] * 5, "BBB": [flat(50), flat(50), flat(51), None, None]}
    trades, curve = run(bars, {0: [("BBB", 5, 1)]}, FIXED)
    assert (trades[0].exit_reason, trades[0].exit_date, trades[0].exit_price) == ("END_OF_DATA", day(2), 51.0)
    assert curve.positions[2] == 0


def test_end_of_data_close_rules_run_first() -> None:
    # BBB's last bar t2 closes at 61 >= 50 * 1.2: the TARGET rule fires before END_OF_DATA
    bars = {"AAA": [flat(10)] * 5, "BBB": [flat(50), flat(50), flat(61), None, None]}
    trades, _ = run(bars, {0: [("BBB", 5, 1)]}, FIXED)
    assert trades[0].exit_reason == "TARGET"


def test_end_of_data_turns_a_next_open_exit_into_end_of_data() -> None:
    settings = PortfolioSettings(slippage_bps=0.0, exit_fill="next_open")
    bars = {"AAA": [flat(10)] * 5, "BBB": [flat(50), flat(50), flat(61), None, None]}
    trades, _ = run(bars, {0: [("BBB", 5, 1)]}, FIXED, settings)
    assert (trades[0].exit_reason, trades[0].exit_price, trades[0].exit_date) == ("END_OF_DATA", 61.0, day(2))


def test_end_of_test_turns_a_next_open_exit_into_end_of_test() -> None:
    settings = PortfolioSettings(slippage_bps=0.0, exit_fill="next_open")
    # last session t2: close 61 >= 60 would be TARGET for the next open; it becomes END_OF_TEST at 61
    bars = {"AAA": [flat(50), flat(50), flat(61)]}
    trades, _ = run(bars, {0: [("AAA", 5, 1)]}, FIXED, settings)
    assert (trades[0].exit_reason, trades[0].exit_price) == ("END_OF_TEST", 61.0)


def test_close_rule_on_last_session_keeps_its_reason() -> None:
    bars = {"AAA": [flat(50), flat(50), flat(61)]}
    trades, _ = run(bars, {0: [("AAA", 5, 1)]}, FIXED)
    assert trades[0].exit_reason == "TARGET"


# ------------------------------------------------------------------------------------ fills
def test_entry_fill_close_first_stop_check_next_session() -> None:
    settings = PortfolioSettings(slippage_bps=0.0, entry_fill="close")
    # setup at t1's close 100 fills at 100 although t1's low was 80; t2 low 91 <= 92 -> HARD_STOP at 92
    bars = {"AAA": [flat(100), (100, 100, 80, 100), (95, 95, 91, 93), flat(93)]}
    trades, curve = run(bars, {1: [("AAA", 5, 1)]}, SMART, settings)
    (t,) = trades
    assert (t.entry_date, t.exit_reason, t.exit_price) == (day(1), "HARD_STOP", 92.0)
    # the t1 row is recorded after the entry at the close: cash 90000, one position
    assert (curve.cash[1], curve.positions[1]) == (90_000.0, 1)
    # mae over the full entry bar: 80 / 100 - 1
    assert t.mae == pytest.approx(-0.2)


def test_entry_fill_close_on_symbols_last_bar_is_end_of_data() -> None:
    settings = PortfolioSettings(slippage_bps=0.0, entry_fill="close")
    bars = {"AAA": [flat(10)] * 4, "BBB": [flat(50), flat(51), None, None]}
    trades, _ = run(bars, {1: [("BBB", 5, 1)]}, FIXED, settings)
    assert (trades[0].exit_reason, trades[0].sessions_held, trades[0].pnl) == ("END_OF_DATA", 0, 0.0)


def test_exit_fill_next_open() -> None:
    settings = PortfolioSettings(slippage_bps=0.0, exit_fill="next_open")
    # t2 close 120 >= 120 -> TARGET decided at the close; t2 is marked at 120 with the shares still held;
    # the sale fills at t3's open 118
    bars = {"AAA": [flat(100), flat(100), flat(120), (118, 119, 117, 118), flat(118)]}
    trades, curve = run(bars, {0: [("AAA", 5, 1)]}, FIXED, settings)
    (t,) = trades
    assert (t.exit_reason, t.exit_date, t.exit_price, t.sessions_held) == ("TARGET", day(3), 118.0, 2)
    assert curve.equity[2] == pytest.approx(90_000 + 12_000)
    assert curve.positions[2] == 1 and curve.positions[3] == 0


def test_pending_exit_waits_for_the_symbols_next_bar() -> None:
    settings = PortfolioSettings(slippage_bps=0.0, exit_fill="next_open")
    # TARGET decided at t2; AAA has no bar at t3, so the exit fills at t4's open 121
    bars = {"AAA": [flat(100), flat(100), flat(120), None, flat(121), flat(121)], "BBB": [flat(5)] * 6}
    trades, curve = run(bars, {0: [("AAA", 5, 1)]}, FIXED, settings)
    assert (trades[0].exit_date, trades[0].exit_price) == (day(4), 121.0)
    assert curve.positions[3] == 1


def test_pending_entry_without_a_bar_is_cancelled() -> None:
    bars = {"AAA": [flat(100), None, flat(100), flat(100)], "BBB": [flat(5)] * 4}
    trades, _ = run(bars, {0: [("AAA", 5, 1)]})
    assert trades == []


def test_symbol_closed_today_can_be_signalled_again() -> None:
    # AAA stopped at t2 (low 90 <= 92, fill 92); the same evening AAA is a setup again -> entry t3 at 95.
    # On the last session t4 the close rules still run with their own reasons: SMA5 at t4 =
    # (100 + 100 + 95 + 95 + 95) / 5 = 97 > close 95 with profit 0 % < 3 % -> MA_BREAK, not END_OF_TEST
    bars = {"AAA": [flat(100), flat(100), (95, 96, 90, 95), flat(95), flat(95)]}
    trades, _ = run(bars, {0: [("AAA", 5, 1)], 2: [("AAA", 5, 1)]})
    assert [(t.entry_date, t.exit_reason) for t in trades] == [(day(1), "HARD_STOP"), (day(3), "MA_BREAK")]


def test_commissions_with_minimum() -> None:
    settings = PortfolioSettings(slippage_bps=0.0, commission_per_share=0.005, commission_min=5.0)
    # 100 shares: max(5, 0.5) = 5 per fill. Entry cost 10000 + 5; exit at END_OF_TEST 110: 11000 - 5
    bars = {"AAA": [flat(100), flat(100), flat(110)]}
    trades, curve = run(bars, {0: [("AAA", 5, 1)]}, FIXED, settings)
    (t,) = trades
    assert t.commission == pytest.approx(10.0)
    assert t.pnl == pytest.approx(1000.0 - 10.0)
    assert t.pnl_pct == pytest.approx(990.0 / 10_000.0)
    assert curve.cash[-1] == pytest.approx(100_000 + 990.0)


def test_affordable_shares_formula() -> None:
    s = PortfolioSettings(commission_per_share=0.01, commission_per_order=1.0)
    # 60 x 100 = 6000 + 1.6 > 3998.4: floor((3998.4 - 1) / 100.01) = 39
    assert affordable_shares(60, 100.0, 3998.4, s) == 39
    assert affordable_shares(30, 100.0, 3998.4, s) == 30
    # with a 50 minimum: floor((100 - 0) / 1.0) = 100 would cost 100 + 50; reduce to 50 (50 + 50 = 100)
    m = PortfolioSettings(commission_min=50.0)
    assert affordable_shares(200, 1.0, 100.0, m) == 50
    assert affordable_shares(5, 100.0, 40.0, m) == 0


# ------------------------------------------------------------------------------------ inputs
def test_bad_session_range_and_sleeves() -> None:
    panel = make_panel({"AAA": [flat(1)] * 3})
    with pytest.raises(SimulationError, match="outside the panel"):
        run_reference(panel, [sleeve({}, SMART)], NO_COSTS, start=0, end=3)
    with pytest.raises(SimulationError, match="at least one sleeve"):
        run_reference(panel, [], NO_COSTS, start=0, end=2)
    with pytest.raises(ConfigError, match="unique"):
        run_reference(panel, [sleeve({}, SMART), sleeve({}, SMART)], NO_COSTS, start=0, end=2)


def test_warm_up_sessions_do_not_trade_and_curve_covers_start_to_end() -> None:
    bars = {"AAA": [flat(100)] * 6}
    scanner_script = {0: [("AAA", 5, 1)], 3: [("AAA", 5, 1)]}
    trades, curve = run(bars, scanner_script, FIXED, start=2)
    assert [t.entry_date for t in trades] == [day(4)]
    assert list(curve.dates) == [np.datetime64(day(t)) for t in range(2, 6)]


def test_trade_is_frozen_and_serialisable() -> None:
    bars = {"AAA": [flat(100), flat(100), flat(110)]}
    trades, _ = run(bars, {0: [("AAA", 5, 1)]}, FIXED)
    d = trades[0].to_dict()
    assert d["entry_date"] == "2020-01-02" and d["partial_exits"] == []
    with pytest.raises(dataclasses.FrozenInstanceError):
        trades[0].pnl = 0.0  # type: ignore[misc]
