"""Hand-worked portfolio scenarios on the reference engine: slots, ranking, cash, sizing, sleeves.

No slippage and no commission unless a test says so; the scripted scanner gives (symbol, score,
volume_ratio) per session and every setup's reference price is its close.
"""

from __future__ import annotations

import pytest
from _engine_bars import NO_COSTS, FixedShares, day, flat, make_panel, sleeve

from trading_playbook.core.exits.spec import named_exit
from trading_playbook.core.simulate.reference import run_reference
from trading_playbook.core.simulate.settings import PortfolioSettings
from trading_playbook.core.sizing import PercentEquitySizer, RiskSizer

FIXED = named_exit("fixed")


def flat_bars(symbols: str, n: int = 5, price: float = 100.0):
    return {s: [flat(price)] * n for s in symbols.split()}


def entries(trades):
    return [(t.symbol, t.entry_date) for t in trades]


def test_slots_full_takes_the_best_ranked() -> None:
    # max_positions 2, three setups at t0 scored 9, 8, 7: only the two best enter at t1.
    # At t1 both slots are held, so C's new setup is skipped.
    script = {0: [("C", 7, 1), ("A", 9, 1), ("B", 8, 1)], 1: [("C", 9.5, 1)]}
    panel = make_panel(flat_bars("A B C"))
    trades, curve = run_reference(panel, [sleeve(script, FIXED, max_positions=2)], NO_COSTS, start=0, end=4)
    assert entries(trades) == [("A", day(1)), ("B", day(1))]
    assert list(curve.positions) == [0, 2, 2, 2, 0]


def test_ranking_ties_break_on_volume_ratio_then_symbol_string() -> None:
    # all score 5: "AB" has the higher volume ratio; "AA" and "Ab" tie, and "AA" < "Ab" (code point,
    # uppercase first), so with 2 slots: AB then AA
    script = {0: [("Ab", 5, 1.0), ("AA", 5, 1.0), ("AB", 5, 2.0)]}
    panel = make_panel(flat_bars("AA AB Ab"))
    trades, _ = run_reference(panel, [sleeve(script, FIXED, max_positions=2)], NO_COSTS, start=0, end=4)
    assert sorted(t.symbol for t in trades) == ["AA", "AB"]


def test_trades_ordered_by_entry_session_then_symbol() -> None:
    script = {0: [("B", 9, 1)], 1: [("A", 9, 1), ("C", 9, 1)]}
    panel = make_panel(flat_bars("A B C", 6))
    trades, _ = run_reference(panel, [sleeve(script, FIXED)], NO_COSTS, start=0, end=5)
    assert entries(trades) == [("B", day(1)), ("A", day(2)), ("C", day(2))]


def test_setup_sized_to_zero_takes_no_slot() -> None:
    # A is sized to 0 shares: it takes no slot, so B and C (next in rank) fill the two slots
    script = {0: [("A", 9, 1), ("B", 8, 1), ("C", 7, 1)]}
    sizer = FixedShares(shares={"A": 0})
    panel = make_panel(flat_bars("A B C"))
    trades, _ = run_reference(
        panel, [sleeve(script, FIXED, sizer, max_positions=2)], NO_COSTS, start=0, end=4
    )
    assert sorted(t.symbol for t in trades) == ["B", "C"]


def test_cash_short_at_the_open() -> None:
    settings = PortfolioSettings(starting_capital=10_000, slippage_bps=0.0, commission_per_share=0.01,
                                 commission_per_order=1.0)  # fmt: skip
    # both want 60 shares at 100. A (ranked first): 6000 + 1 + 0.60 -> cash 3998.40.
    # B: 6000 + 1.60 > 3998.40 -> floor((3998.40 - 1) / (100 + 0.01)) = floor(39.97) = 39 shares,
    # cost 3900 + 1 + 0.39 = 3901.39 -> cash 97.01
    script = {0: [("A", 9, 1), ("B", 8, 1)]}
    panel = make_panel(flat_bars("A B"))
    trades, curve = run_reference(
        panel, [sleeve(script, FIXED, FixedShares(default=60))], settings, start=0, end=4
    )
    assert {t.symbol: t.shares for t in trades} == {"A": 60, "B": 39}
    assert curve.cash[1] == pytest.approx(97.01)
    assert min(curve.cash) >= 0.0


def test_zero_shares_at_the_open_used_the_slot_that_evening() -> None:
    # capital 10000; A and B want 100 shares at 100 each, C (third, 2 slots) was not queued.
    # t1: A takes all the cash, B gets 0 shares: no trade, and C is not tried instead.
    settings = PortfolioSettings(starting_capital=10_000, slippage_bps=0.0)
    script = {0: [("A", 9, 1), ("B", 8, 1), ("C", 7, 1)]}
    panel = make_panel(flat_bars("A B C"))
    trades, curve = run_reference(
        panel, [sleeve(script, FIXED, FixedShares(), max_positions=2)], settings, start=0, end=4
    )
    assert entries(trades) == [("A", day(1))]
    assert curve.positions[1] == 1


def test_percent_equity_sizes_every_setup_from_the_same_equity() -> None:
    # equity 100000 at the t0 close, max_positions 3 -> each setup gets floor(33333.33 / price):
    # A at 100 -> 333 shares, B at 50 -> 666 shares (not sized from what A left)
    bars = {"A": [flat(100)] * 4, "B": [flat(50)] * 4}
    script = {0: [("A", 9, 1), ("B", 8, 1)]}
    panel = make_panel(bars)
    trades, _ = run_reference(panel, [sleeve(script, FIXED, PercentEquitySizer())], NO_COSTS, start=0, end=3)
    assert {t.symbol: t.shares for t in trades} == {"A": 333, "B": 666}


def test_percent_equity_sizes_from_marked_equity() -> None:
    # t1: A bought 100 shares at 100 (cash 90000). t1 close 150: equity 90000 + 15000 = 105000.
    # B signalled at t1 (close 50): floor(105000 / 3 / 50) = 700 shares
    bars = {"A": [flat(100), (100, 150, 100, 150), flat(150), flat(150)], "B": [flat(50)] * 4}
    script = {0: [("A", 9, 1)], 1: [("B", 9, 1)]}
    sizers = {"A": 100}
    panel = make_panel(bars)

    class Mixed(PercentEquitySizer):
        def size(self, setup, context):  # A: 100 fixed shares, others percent of equity
            return sizers.get(setup.symbol) or super().size(setup, context)

    trades, _ = run_reference(panel, [sleeve(script, FIXED, Mixed())], NO_COSTS, start=0, end=3)
    assert {t.symbol: t.shares for t in trades} == {"A": 100, "B": 700}


def test_risk_sizer_uses_setup_stop() -> None:
    # risk 1 % of 100000 = 1000; reference 100, setup stop 92 -> floor(1000 / 8) = 125 shares
    script = {0: [("A", 9, 1)]}
    panel = make_panel(flat_bars("A"))
    trades, _ = run_reference(panel, [sleeve(script, FIXED, RiskSizer())], NO_COSTS, start=0, end=4)
    assert trades[0].shares == 125


def test_gap_fill_and_slot_reuse() -> None:
    # max_positions 1: A gaps through its stop at t2 (open 80 -> fill 80); B signalled the same evening
    # enters at t3
    bars = {"A": [flat(100), flat(100), (80, 82, 78, 81), flat(81), flat(81)], "B": [flat(20)] * 5}
    script = {0: [("A", 9, 1)], 1: [("B", 9, 1)], 2: [("B", 9, 1)]}
    panel = make_panel(bars)
    trades, _ = run_reference(
        panel, [sleeve(script, named_exit("smart_exits"), max_positions=1)], NO_COSTS, start=0, end=4
    )
    assert [(t.symbol, t.entry_date, t.exit_reason, t.exit_price) for t in trades] == [
        ("A", day(1), "HARD_STOP", 80.0),
        ("B", day(3), "END_OF_TEST", 20.0),
    ]


def test_symbol_whose_data_ends_early_frees_its_slot() -> None:
    # max 1 position: B's data ends at t2 -> END_OF_DATA at its close 55; A signalled at t2 enters at t3
    bars = {"A": [flat(10)] * 5, "B": [flat(50), flat(50), flat(55), None, None]}
    script = {0: [("B", 9, 1)], 2: [("A", 9, 1)]}
    panel = make_panel(bars)
    trades, curve = run_reference(panel, [sleeve(script, FIXED, max_positions=1)], NO_COSTS, start=0, end=4)
    assert [(t.symbol, t.exit_reason, t.exit_date) for t in trades] == [
        ("B", "END_OF_DATA", day(2)),
        ("A", "END_OF_TEST", day(4)),
    ]
    assert trades[0].pnl == pytest.approx(500.0)
    assert curve.equity[-1] == pytest.approx(100_500.0)


def test_entry_fill_close_scenario() -> None:
    settings = PortfolioSettings(slippage_bps=10.0, entry_fill="close")
    # s = 0.001: A fills at t0's close 100 * 1.001 = 100.1 for 100 shares -> cash 100000 - 10010 = 89990
    # held to the last session t3: END_OF_TEST at 100 * 0.999 = 99.9 -> pnl 100 * (99.9 - 100.1) = -20
    script = {0: [("A", 9, 1)]}
    panel = make_panel(flat_bars("A", 4))
    trades, curve = run_reference(panel, [sleeve(script, FIXED)], settings, start=0, end=3)
    assert trades[0].entry_date == day(0)
    assert curve.cash[0] == pytest.approx(89_990.0)
    assert curve.equity[0] == pytest.approx(89_990.0 + 10_000.0)
    assert trades[0].pnl == pytest.approx(-20.0)


def test_two_sleeves_share_one_cash_pool() -> None:
    # capital 100000; two sleeves of weight 0.5, one position each, percent_equity (1 / 1 of the
    # sleeve's equity 50000): both signal A at t0 close 100 -> 500 shares each, two separate positions.
    # t1 fill: sleeve "one" pays 50000, "two" pays 50000 -> cash 0.
    # "one" (fixed) holds to t3: END_OF_TEST at 110 -> +5000. "two" (fixed, target 5 %) sells at t2's
    # close 105 -> +2500.
    bars = {"A": [flat(100), flat(100), flat(105), flat(110)]}
    one = sleeve({0: [("A", 9, 1)]}, FIXED, PercentEquitySizer(), name="one", max_positions=1, weight=0.5)
    two = sleeve(
        {0: [("A", 9, 1)]}, named_exit("fixed", target=0.05), PercentEquitySizer(), name="two",
        max_positions=1, weight=0.5,
    )  # fmt: skip
    panel = make_panel(bars)
    trades, curve = run_reference(panel, [one, two], NO_COSTS, start=0, end=3)
    assert [(t.sleeve, t.shares, t.exit_reason, t.pnl) for t in trades] == [
        ("one", 500, "END_OF_TEST", 5000.0),
        ("two", 500, "TARGET", 2500.0),
    ]
    assert curve.cash[1] == pytest.approx(0.0)
    # attribution at t2: one = 50000 + 500 * (105 - 100) = 52500; two = 50000 + 2500 realised
    assert curve.sleeve_equity["one"][2] == pytest.approx(52_500.0)
    assert curve.sleeve_equity["two"][2] == pytest.approx(52_500.0)
    assert curve.sleeve_equity["one"][-1] + curve.sleeve_equity["two"][-1] == pytest.approx(curve.equity[-1])


def test_sleeve_sizing_uses_weighted_cash() -> None:
    # percent_cash 0.5 in a sleeve of weight 0.4: cash seen = 40000 -> 20000 / 100 = 200 shares
    from trading_playbook.core.sizing import PercentCashSizer

    s = sleeve({0: [("A", 9, 1)]}, FIXED, PercentCashSizer(fraction=0.5), weight=0.4)
    trades, _ = run_reference(make_panel(flat_bars("A")), [s], NO_COSTS, start=0, end=4)
    assert trades[0].shares == 200
