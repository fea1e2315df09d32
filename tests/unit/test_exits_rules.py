"""Every rule of every built-in exit on tiny hand-made bars (RULES sections 5 and 8).

Each test drives :class:`ExitRuleEngine` directly: ``open_position`` at a hand-picked entry price,
``resting_stop`` for the intraday level, ``on_close`` with hand-written bars and indicator values. The
expected answers are worked out by hand in the comments.
"""

from __future__ import annotations

import math

import pytest
from _engine_bars import bar

from trading_playbook.core.exits.rules import ExitOrder, ExitRuleEngine, trail_level
from trading_playbook.core.exits.spec import TrailTier, named_exit

NAN = math.nan


def engine(name: str, **params: float) -> ExitRuleEngine:
    return ExitRuleEngine(named_exit(name, **params))


def close_bar(t: int, c: float, *, h: float | None = None, lo: float | None = None, **kw: object):
    """A bar closing at ``c`` (high/low default to the close)."""
    return bar(t, c, c if h is None else h, c if lo is None else lo, c, **kw)


# ------------------------------------------------------------------------------------ trail_level
def test_trail_level_picks_first_tier_reached() -> None:
    tiers = (TrailTier(0.15, "pct", 0.95), TrailTier(0.10, "atr", 1.0), TrailTier(-math.inf, "atr", 2.0))
    # peak 120 on entry 100: p = 0.20 >= 0.15 -> 0.95 * 120 = 114
    assert trail_level(tiers, 120.0, 100.0, 3.0) == pytest.approx(114.0)
    # peak 111: p = 0.11 -> 111 - 1 * 3 = 108
    assert trail_level(tiers, 111.0, 100.0, 3.0) == pytest.approx(108.0)
    # peak 104: p = 0.04 -> 104 - 2 * 3 = 98
    assert trail_level(tiers, 104.0, 100.0, 3.0) == pytest.approx(98.0)
    # undefined ATR -> undefined level
    assert math.isnan(trail_level(tiers, 104.0, 100.0, NAN))


# ------------------------------------------------------------------------------------ smart_exits
def test_smart_hard_stop_rests_at_initial_stop() -> None:
    ex = engine("smart_exits")
    st = ex.open_position(100.0, 100, 0)
    # initial stop = 100 * (1 - 0.08) = 92, resting from the entry session on
    assert st.initial_stop == pytest.approx(92.0)
    assert ex.resting_stop(st, 0) == (pytest.approx(92.0), "HARD_STOP")


def test_smart_trailing_stop_uses_atr_of_the_new_peak_close_and_needs_activation() -> None:
    ex = engine("smart_exits")
    st = ex.open_position(100.0, 100, 0)
    atr = {10: 2.0}
    # close 104 (new peak, p = 0.04): trail = 104 - 2*2 = 100; activation needs peak > 105: no exit
    assert ex.on_close(st, close_bar(0, 104.0, atr=atr)) == []
    assert st.trails[1] == pytest.approx(100.0)
    # close 108 (new peak, p = 0.08): trail = 108 - 2*2 = 104
    assert ex.on_close(st, close_bar(1, 108.0, atr=atr)) == []
    assert st.trails[1] == pytest.approx(104.0)
    # close 103.9 (no new peak, ATR now 5 is ignored): trail stays 104; 103.9 < 104 and peak 108 > 105
    assert ex.on_close(st, close_bar(2, 103.9, atr={10: 5.0})) == [ExitOrder(100, "TRAILING_STOP")]
    assert st.remaining == 0


def test_smart_trail_needs_activation_before_it_can_fire() -> None:
    ex = engine("smart_exits")
    st = ex.open_position(100.0, 100, 0)
    # close 104 (peak 104, ATR 1): trail = 102; close 101.5 < 102 but peak 104 <= 105: no TRAILING_STOP.
    # MA_BREAK needs SMA5 (none given -> undefined -> false); LOWER_CLOSE needs peak > 105: no exit.
    ex.on_close(st, close_bar(0, 104.0, atr={10: 1.0}))
    assert ex.on_close(st, close_bar(1, 101.5, atr={10: 1.0}, prev_close=104.0)) == []


def test_smart_trail_never_moves_down() -> None:
    ex = engine("smart_exits")
    st = ex.open_position(100.0, 100, 0)
    # close 104 with ATR 1: trail = 104 - 2 = 102
    ex.on_close(st, close_bar(0, 104.0, atr={10: 1.0}))
    assert st.trails[1] == pytest.approx(102.0)
    # close 105 (new peak) with ATR 4: new level 105 - 8 = 97 < 102, the trail stays 102
    ex.on_close(st, close_bar(1, 105.0, atr={10: 4.0}))
    assert st.trails[1] == pytest.approx(102.0)
    # close 116 (p = 0.16): 0.95 * 116 = 110.2 > 102 -> trail 110.2
    ex.on_close(st, close_bar(2, 116.0, atr={10: 4.0}))
    assert st.trails[1] == pytest.approx(110.2)


def test_smart_trail_undefined_until_peak_rises_above_entry() -> None:
    ex = engine("smart_exits")
    st = ex.open_position(100.0, 100, 0)
    # closes at or below the entry never set a new peak (peak_close starts at the entry price)
    ex.on_close(st, close_bar(0, 100.0, atr={10: 1.0}))
    ex.on_close(st, close_bar(1, 99.0, atr={10: 1.0}))
    assert math.isnan(st.trails[1])


def test_smart_trail_with_undefined_atr_stays_undefined() -> None:
    ex = engine("smart_exits")
    st = ex.open_position(100.0, 100, 0)
    # new peak 104 but ATR10 undefined (< 10 bars): the atr tier gives no level
    ex.on_close(st, close_bar(0, 104.0))
    assert math.isnan(st.trails[1])


def test_smart_ma_break_on_day_zero_below_three_percent() -> None:
    ex = engine("smart_exits")
    st = ex.open_position(100.0, 100, 5)
    # entry session (sessions_held 0): close 99, SMA5 101: profit -1 % < 3 % and 99 < 101 -> MA_BREAK
    assert ex.on_close(st, close_bar(5, 99.0, sma={5: 101.0})) == [ExitOrder(100, "MA_BREAK")]


def test_smart_ma_break_not_above_three_percent_profit() -> None:
    ex = engine("smart_exits")
    st = ex.open_position(100.0, 100, 5)
    # close 103.5 < SMA5 104 but profit 3.5 % is not < 3 %: no MA_BREAK (trail: ATR undefined)
    assert ex.on_close(st, close_bar(5, 103.5, sma={5: 104.0})) == []


def test_smart_lower_close_compares_with_the_bar_before_entry() -> None:
    ex = engine("smart_exits")
    st = ex.open_position(100.0, 100, 5)
    # entry session: close 106 (peak 106 > 105), previous bar (the day before entry) closed at 107.
    # trail: p = 0.06 -> 106 - 2*10 = 86, close not below; MA_BREAK: profit 6 % not < 3 %.
    # LOWER_CLOSE: 106 < 107 -> exit
    got = ex.on_close(st, close_bar(5, 106.0, atr={10: 10.0}, sma={5: 200.0}, prev_close=107.0))
    assert got == [ExitOrder(100, "LOWER_CLOSE")]


def test_smart_lower_close_needs_peak_above_five_percent() -> None:
    ex = engine("smart_exits")
    st = ex.open_position(100.0, 100, 5)
    # peak 105 is not > 105: no LOWER_CLOSE although 105 < 107
    assert ex.on_close(st, close_bar(5, 105.0, prev_close=107.0)) == []


def test_smart_time_stop_at_17_sessions() -> None:
    ex = engine("smart_exits")
    st = ex.open_position(100.0, 100, 3)
    # entry session 3: session 19 -> held 16, no; session 20 -> held 17 -> TIME_STOP
    assert ex.on_close(st, close_bar(19, 100.0)) == []
    assert ex.on_close(st, close_bar(20, 100.0)) == [ExitOrder(100, "TIME_STOP")]


def test_smart_first_match_wins_trailing_before_lower_close() -> None:
    ex = engine("smart_exits")
    st = ex.open_position(100.0, 100, 0)
    ex.on_close(st, close_bar(0, 120.0, atr={10: 1.0}))  # p = 0.20 -> trail 0.95 * 120 = 114
    # close 113 < 114 (TRAILING_STOP) and < previous close 120 (LOWER_CLOSE): the first listed wins
    assert ex.on_close(st, close_bar(1, 113.0, prev_close=120.0)) == [ExitOrder(100, "TRAILING_STOP")]


def test_override_time_stop_and_hard_stop() -> None:
    ex = engine("smart_exits", time_stop=25, hard_stop=0.05)
    st = ex.open_position(100.0, 10, 0)
    assert ex.resting_stop(st, 0) == (pytest.approx(95.0), "HARD_STOP")
    assert ex.on_close(st, close_bar(24, 100.0)) == []
    assert ex.on_close(st, close_bar(25, 100.0)) == [ExitOrder(10, "TIME_STOP")]


# ------------------------------------------------------------------------------------ scaled_exits
def test_scaled_sells_quarter_of_original_per_level() -> None:
    ex = engine("scaled_exits")
    st = ex.open_position(100.0, 100, 0)
    # close 108: p = 0.08 >= 0.08 -> SCALE_1 sells floor(0.25 * 100) = 25
    assert ex.on_close(st, close_bar(1, 108.0)) == [ExitOrder(25, "SCALE_1")]
    # close 115: p = 115 / 100 - 1 = 0.1499999999999999 in float64, literally < 0.15 (RULES 8: no
    # epsilon): nothing fires
    assert ex.on_close(st, close_bar(2, 115.0)) == []
    # close 115.5: SCALE_2 sells 25 of the ORIGINAL 100 (not of the 75 left)
    assert ex.on_close(st, close_bar(3, 115.5)) == [ExitOrder(25, "SCALE_2")]
    assert st.remaining == 50


def test_scaled_several_levels_in_one_session() -> None:
    ex = engine("scaled_exits")
    st = ex.open_position(100.0, 103, 0)
    # close 126: p = 0.26 passes 8, 15 and 25 %: three sales of floor(0.25 * 103) = 25 each
    got = ex.on_close(st, close_bar(1, 126.0))
    assert got == [ExitOrder(25, "SCALE_1"), ExitOrder(25, "SCALE_2"), ExitOrder(25, "SCALE_3")]
    assert st.remaining == 103 - 75
    # a level is taken once: the next close at 130 sells nothing more
    assert ex.on_close(st, close_bar(2, 130.0, sma={5: 100.0})) == []


def test_scaled_fewer_than_four_shares_sells_zero_but_counts() -> None:
    ex = engine("scaled_exits")
    st = ex.open_position(100.0, 3, 0)
    # floor(0.25 * 3) = 0: the level fires with 0 shares, and counts as taken
    assert ex.on_close(st, close_bar(1, 109.0)) == [ExitOrder(0, "SCALE_1")]
    assert st.partial_taken and st.remaining == 3
    # MA_BREAK is now active: close 104 < SMA5 105
    assert ex.on_close(st, close_bar(2, 104.0, sma={5: 105.0})) == [ExitOrder(3, "MA_BREAK")]


def test_scaled_nothing_else_on_a_scale_session() -> None:
    ex = engine("scaled_exits")
    st = ex.open_position(100.0, 100, 0)
    # session 20 = held 20 (time stop due) but SCALE_1 fires at close 108: only the scale-out happens
    assert ex.on_close(st, close_bar(20, 108.0)) == [ExitOrder(25, "SCALE_1")]
    # and the trail was not updated on that session (peak 108 set, trail undefined)
    assert math.isnan(st.trails[2]) and st.peak_close == 108.0
    # next session: TIME_STOP on the remaining 75
    assert ex.on_close(st, close_bar(21, 107.0)) == [ExitOrder(75, "TIME_STOP")]


def test_scaled_no_trail_or_ma_break_before_first_scale() -> None:
    ex = engine("scaled_exits")
    st = ex.open_position(100.0, 100, 0)
    # close 107 (new peak) then 95 < SMA5 99: before SCALE_1 neither trail nor MA_BREAK is active
    assert ex.on_close(st, close_bar(1, 107.0, atr={10: 1.0})) == []
    assert ex.on_close(st, close_bar(2, 95.0, sma={5: 99.0}, atr={10: 1.0})) == []
    assert math.isnan(st.trails[2])
    # only the resting hard stop protects it
    assert ex.resting_stop(st, 3) == (pytest.approx(92.0), "HARD_STOP")


def test_scaled_trail_after_first_scale_on_new_peak() -> None:
    ex = engine("scaled_exits")
    st = ex.open_position(100.0, 100, 0)
    ex.on_close(st, close_bar(1, 108.0))  # SCALE_1, peak 108
    # close 107.5: not a new peak -> trail stays undefined; no MA (SMA undefined)
    assert ex.on_close(st, close_bar(2, 107.5, atr={10: 2.0})) == []
    assert math.isnan(st.trails[2])
    # close 110: new peak, p = 0.10 < 0.20 -> 110 - 2 * 2 = 106
    assert ex.on_close(st, close_bar(3, 110.0, atr={10: 2.0})) == []
    assert st.trails[2] == pytest.approx(106.0)
    # close 105.9 < 106 and peak 110 > 108: TRAILING_STOP on the 75 left
    assert ex.on_close(st, close_bar(4, 105.9, atr={10: 2.0})) == [ExitOrder(75, "TRAILING_STOP")]


def test_scaled_trail_tiers_after_partial() -> None:
    ex = engine("scaled_exits")
    st = ex.open_position(100.0, 100, 0)
    ex.on_close(st, close_bar(1, 108.0))  # SCALE_1
    ex.on_close(st, close_bar(2, 115.5))  # SCALE_2
    ex.on_close(st, close_bar(3, 125.0))  # SCALE_3
    # close 131: new peak, p = 0.31 >= 0.30 -> 0.95 * 131 = 124.45
    ex.on_close(st, close_bar(4, 131.0, atr={10: 3.0}))
    assert st.trails[2] == pytest.approx(124.45)
    # close 122 (no new peak): p_close = 0.22 no more levels; 122 < 124.45 -> TRAILING_STOP on 25
    assert ex.on_close(st, close_bar(5, 122.0, atr={10: 3.0})) == [ExitOrder(25, "TRAILING_STOP")]


def test_scaled_hard_stop_keeps_resting_after_partial() -> None:
    ex = engine("scaled_exits")
    st = ex.open_position(100.0, 100, 0)
    ex.on_close(st, close_bar(1, 108.0))
    assert ex.resting_stop(st, 2) == (pytest.approx(92.0), "HARD_STOP")


# ------------------------------------------------------------------------------------ trend_following_75
def test_trend_profit_take_then_breakeven_stop() -> None:
    ex = engine("trend_following_75")
    st = ex.open_position(100.0, 100, 0)
    assert ex.resting_stop(st, 0) == (pytest.approx(92.0), "HARD_STOP")
    # close 110: p = 0.10 >= 0.10 -> PROFIT_TAKE_25 sells 25, nothing else this session
    assert ex.on_close(st, close_bar(1, 110.0, ema={10: 200.0})) == [ExitOrder(25, "PROFIT_TAKE_25")]
    # from the next session the stop rests at the entry price: BREAKEVEN_STOP at 100
    assert ex.resting_stop(st, 2) == (pytest.approx(100.0), "BREAKEVEN_STOP")


def test_trend_before_partial_only_the_resting_stop() -> None:
    ex = engine("trend_following_75")
    st = ex.open_position(100.0, 100, 0)
    # close 95 < EMA10 99 and < 0.9 * peak? (peak 100 -> 90, no); no EMA_BREAK before the partial
    assert ex.on_close(st, close_bar(1, 95.0, ema={10: 99.0})) == []
    # no time stop: 500 sessions later still held
    assert ex.on_close(st, close_bar(500, 100.0)) == []


def test_trend_trailing_ten_percent_below_peak_close_after_partial() -> None:
    ex = engine("trend_following_75")
    st = ex.open_position(100.0, 100, 0)
    ex.on_close(st, close_bar(1, 110.0))  # partial, peak 110
    ex.on_close(st, close_bar(2, 120.0, ema={10: 100.0}))  # peak 120, trail 108
    # close 107.9 < 0.90 * 120 = 108 -> TRAILING_STOP (EMA10 100 would not fire)
    assert ex.on_close(st, close_bar(3, 107.9, ema={10: 100.0})) == [ExitOrder(75, "TRAILING_STOP")]


def test_trend_ema_break_after_partial() -> None:
    ex = engine("trend_following_75")
    st = ex.open_position(100.0, 100, 0)
    ex.on_close(st, close_bar(1, 110.0))
    # close 105: trail 0.9 * 110 = 99, not hit; EMA10 106 > 105 -> EMA_BREAK
    assert ex.on_close(st, close_bar(2, 105.0, ema={10: 106.0})) == [ExitOrder(75, "EMA_BREAK")]


def test_trend_zero_share_partial_still_counts() -> None:
    ex = engine("trend_following_75")
    st = ex.open_position(100.0, 3, 0)
    assert ex.on_close(st, close_bar(1, 111.0)) == [ExitOrder(0, "PROFIT_TAKE_25")]
    assert ex.resting_stop(st, 2) == (pytest.approx(100.0), "BREAKEVEN_STOP")


# ------------------------------------------------------------------------------------ hybrid_trailing
def test_hybrid_entry_session_only_initial_stop() -> None:
    ex = engine("hybrid_trailing")
    st = ex.open_position(100.0, 100, 4)
    assert ex.resting_stop(st, 4) == (pytest.approx(92.0), "HARD_STOP")


def test_hybrid_resting_trail_from_peak_high_and_reason() -> None:
    ex = engine("hybrid_trailing")
    st = ex.open_position(100.0, 100, 0)
    # entry session: high 104, close 103, ATR 3 -> peak_high 104, p = 0.04 -> 104 - 2*3 = 98 > 92
    assert ex.on_close(st, bar(0, 100.0, 104.0, 99.0, 103.0, atr={10: 3.0})) == []
    assert ex.resting_stop(st, 1) == (pytest.approx(98.0), "TRAILING_STOP")


def test_hybrid_hard_stop_reason_when_initial_stop_is_higher() -> None:
    ex = engine("hybrid_trailing")
    st = ex.open_position(100.0, 100, 0)
    # peak_high 104, ATR 7: 104 - 14 = 90 < 92: the initial stop is the higher level -> HARD_STOP
    ex.on_close(st, bar(0, 100.0, 104.0, 99.0, 103.0, atr={10: 7.0}))
    assert ex.resting_stop(st, 1) == (pytest.approx(92.0), "HARD_STOP")


def test_hybrid_tie_goes_to_hard_stop() -> None:
    ex = engine("hybrid_trailing")
    st = ex.open_position(100.0, 100, 0)
    # peak_high 104, ATR 6: 104 - 12 = 92 == initial stop 92 -> HARD_STOP
    ex.on_close(st, bar(0, 100.0, 104.0, 99.0, 103.0, atr={10: 6.0}))
    assert st.trails[1] == pytest.approx(92.0)
    assert ex.resting_stop(st, 1) == (pytest.approx(92.0), "HARD_STOP")


def test_hybrid_trail_pct_tier_and_never_down() -> None:
    ex = engine("hybrid_trailing")
    st = ex.open_position(100.0, 100, 0)
    # high 120 -> p = 0.20 -> 0.95 * 120 = 114
    ex.on_close(st, bar(0, 100.0, 120.0, 99.0, 118.0, atr={10: 2.0}, sma={5: 100.0}))
    assert st.trails[1] == pytest.approx(114.0)
    # next close: high 119 (peak stays 120) and a huge ATR: still 114 (pct tier; never down)
    ex.on_close(st, bar(1, 118.0, 119.0, 115.0, 116.0, atr={10: 50.0}, sma={5: 100.0}, prev_high=120.0))
    assert ex.resting_stop(st, 2) == (pytest.approx(114.0), "TRAILING_STOP")


def test_hybrid_ma_break_uses_todays_peak_high() -> None:
    ex = engine("hybrid_trailing")
    st = ex.open_position(100.0, 100, 0)
    # day 0: high 103.5 (peak_high 103.5 > 103, today included), close 100 < SMA5 101 -> MA_BREAK
    assert ex.on_close(st, bar(0, 100.0, 103.5, 99.0, 100.0, sma={5: 101.0})) == [ExitOrder(100, "MA_BREAK")]


def test_hybrid_ma_break_needs_peak_high_above_three_percent() -> None:
    ex = engine("hybrid_trailing")
    st = ex.open_position(100.0, 100, 0)
    # peak_high 103 is not > 103: no MA_BREAK
    assert ex.on_close(st, bar(0, 100.0, 103.0, 99.0, 100.0, sma={5: 101.0})) == []


def test_hybrid_lower_high_compares_with_previous_bar() -> None:
    ex = engine("hybrid_trailing")
    st = ex.open_position(100.0, 100, 0)
    # day 0: high 106 (peak_high > 105) below the previous bar's high 107 (before entry) -> LOWER_HIGH
    got = ex.on_close(st, bar(0, 100.0, 106.0, 99.0, 105.0, sma={5: 90.0}, prev_high=107.0))
    assert got == [ExitOrder(100, "LOWER_HIGH")]


def test_hybrid_time_stop_15() -> None:
    ex = engine("hybrid_trailing")
    st = ex.open_position(100.0, 100, 0)
    assert ex.on_close(st, bar(14, 100.0, 100.0, 100.0, 100.0)) == []
    assert ex.on_close(st, bar(15, 100.0, 100.0, 100.0, 100.0)) == [ExitOrder(100, "TIME_STOP")]


def test_hybrid_entry_at_close_sets_trail_for_next_session() -> None:
    ex = engine("hybrid_trailing")
    st = ex.open_position(100.0, 100, 0)
    # filled at the close of a bar with high 104 and ATR 1: trail 104 - 2 = 102 rests from session 1
    ex.after_entry_at_close(st, bar(0, 98.0, 104.0, 97.0, 100.0, atr={10: 1.0}))
    assert ex.resting_stop(st, 0) == (pytest.approx(92.0), "HARD_STOP")
    assert ex.resting_stop(st, 1) == (pytest.approx(102.0), "TRAILING_STOP")


# ------------------------------------------------------------------------------------ fixed
def test_fixed_has_no_resting_stop() -> None:
    ex = engine("fixed")
    st = ex.open_position(100.0, 100, 0)
    assert ex.resting_stop(st, 1) is None
    assert st.initial_stop == pytest.approx(92.0)


def test_fixed_stop_loss_target_time() -> None:
    ex = engine("fixed")
    st = ex.open_position(100.0, 100, 0)
    assert ex.on_close(st, close_bar(1, 92.01)) == []
    # close 92 <= 100 * 0.92 -> STOP_LOSS
    assert ex.on_close(st, close_bar(2, 92.0)) == [ExitOrder(100, "STOP_LOSS")]
    st = ex.open_position(100.0, 100, 0)
    assert ex.on_close(st, close_bar(1, 120.0)) == [ExitOrder(100, "TARGET")]
    st = ex.open_position(100.0, 100, 0)
    assert ex.on_close(st, close_bar(9, 100.0)) == []
    assert ex.on_close(st, close_bar(10, 100.0)) == [ExitOrder(100, "TIME_STOP")]
