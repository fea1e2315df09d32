"""Hand-worked point-in-time universe scenarios, in both engines (issue 15).

Each panel is a few flat days (session t is 2020-01-01 + t days, :func:`day`); the membership comes
from a small interval file written here. Setups come from a script; each scenario runs the fast and
the reference engine and requires the very same trades and equity, and the reference engine's
per-date scanner path gives them too. No slippage, no commission: every fill is at the bar's price.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from _engine_bars import ScriptedScanner, day, flat, make_panel

from trading_playbook.core.exits.spec import ExitSpec, HardStop, TimeStop
from trading_playbook.core.panel import Panel
from trading_playbook.core.simulate.fast import run_fast
from trading_playbook.core.simulate.reference import run_reference
from trading_playbook.core.simulate.settings import PortfolioSettings, SleeveSpec
from trading_playbook.core.sizing import FixedDollarSizer
from trading_playbook.core.types import Trade
from trading_playbook.core.universe import apply_membership
from trading_playbook.data.universe import read_membership
from trading_playbook.testing import ScriptScanner

NO_COSTS = PortfolioSettings(slippage_bps=0.0)
HOLD_ONLY = ExitSpec(name="stop_only", rules=(HardStop(),), hard_stop=0.5)  # nothing fires on flat bars


def universe(tmp_path: Path, panel: Panel, text: str, policy: str = "hold", gap_days: int = 365) -> Panel:
    path = tmp_path / "members.csv"
    path.write_text(text, encoding="utf-8")
    traded, _ = apply_membership(panel, read_membership(path), policy=policy, gap_days=gap_days)
    return traded


def run_both(
    panel: Panel,
    script: dict[int, list[tuple[str, float, float]]],
    exit_spec: ExitSpec = HOLD_ONLY,
    settings: PortfolioSettings = NO_COSTS,
    max_positions: int = 1,
) -> list[Trade]:
    """Trades of the fast engine, after checking the reference engine (vectorised and per-date scanner
    paths) gives the very same trades and equity."""
    end = panel.n_sessions - 1

    def spec(scanner: object) -> SleeveSpec:
        return SleeveSpec("main", scanner, exit_spec, FixedDollarSizer(1000.0), max_positions=max_positions)

    fast = run_fast(panel, [spec(ScriptScanner(script))], settings, start=0, end=end)
    for scanner in (ScriptScanner(script), ScriptedScanner(script)):
        ref = run_reference(panel, [spec(scanner)], settings, start=0, end=end)
        assert [t.to_dict() for t in ref[0]] == [t.to_dict() for t in fast[0]]
        for name in ("equity", "cash", "positions"):
            np.testing.assert_array_equal(getattr(ref[1], name), getattr(fast[1], name), err_msg=name)
    return fast[0]


def summary(trades: list[Trade]) -> list[tuple[str, object, object, str, float]]:
    return [(t.symbol, t.entry_date, t.exit_date, t.exit_reason, t.exit_price) for t in trades]


# --------------------------------------------------------------------------------------- entries
def test_no_entry_before_the_start_date(tmp_path: Path) -> None:
    # AAA is a member from day 3. The setup of t1 (day 1) is not a member's: no trade. The setup of t3
    # is: 100 shares (1000 / 10) bought at t4's open 10, held to the end (END_OF_TEST at t6).
    panel = universe(
        tmp_path, make_panel({"AAA": [flat(10)] * 7}), "ticker,start_date,end_date\nAAA,2020-01-04,\n"
    )
    trades = run_both(panel, {1: [("AAA", 5, 1)], 3: [("AAA", 5, 1)]})
    assert summary(trades) == [("AAA", day(4), day(6), "END_OF_TEST", 10.0)]


def test_no_entry_after_the_end_date(tmp_path: Path) -> None:
    # AAA is a member up to day 2 (its last member day). Setups at t4 and t5 are after it: nothing.
    # The setup of t1 enters at t2's open; held under `hold` until END_OF_TEST.
    panel = universe(
        tmp_path,
        make_panel({"AAA": [flat(10)] * 7}),
        "ticker,start_date,end_date\nAAA,2019-06-01,2020-01-03\n",
    )
    assert run_both(panel, {4: [("AAA", 5, 1)], 5: [("AAA", 5, 1)]}) == []
    trades = run_both(panel, {1: [("AAA", 5, 1)], 4: [("AAA", 5, 1)]})
    assert summary(trades) == [("AAA", day(2), day(6), "END_OF_TEST", 10.0)]


def test_a_setup_of_a_non_member_does_not_take_the_slot(tmp_path: Path) -> None:
    # One slot. At t1 BBB outranks AAA (score 9) but is no member: AAA takes the slot.
    bars = {"AAA": [flat(10)] * 5, "BBB": [flat(20)] * 5}
    panel = universe(
        tmp_path, make_panel(bars), "ticker,start_date,end_date\nAAA,2020-01-01,\nBBB,2020-01-04,\n"
    )
    trades = run_both(panel, {1: [("AAA", 5, 1), ("BBB", 9, 1)]})
    assert summary(trades) == [("AAA", day(2), day(4), "END_OF_TEST", 10.0)]


# --------------------------------------------------------------------------------------- leaving
CLOSES = [10, 10, 11, 12, 13, 14, 15, 16]


def leaving_panel(tmp_path: Path, policy: str) -> Panel:
    # AAA's last member day is day 4 (close 13); it stays in the data.
    bars = {"AAA": [(c - 0.5, c + 0.5, c - 1, c) for c in CLOSES]}
    return universe(
        tmp_path, make_panel(bars), "ticker,start_date,end_date\nAAA,2020-01-01,2020-01-05\n", policy
    )


def test_hold_policy_keeps_a_position_through_the_end_date(tmp_path: Path) -> None:
    # Setup at t1 (close 10): 100 shares at t2's open 10.5; held past day 4 (exits as usual: none fires)
    # and sold END_OF_TEST at t7's close 16.
    trades = run_both(leaving_panel(tmp_path, "hold"), {1: [("AAA", 5, 1)]})
    assert summary(trades) == [("AAA", day(2), day(7), "END_OF_TEST", 16.0)]
    assert trades[0].pnl == pytest.approx(100 * (16 - 10.5))


def test_exit_policy_sells_at_the_close_of_the_last_member_day(tmp_path: Path) -> None:
    # Same position: sold at the close of day 4 (13), reason UNIVERSE_EXIT; pnl 100 * (13 - 10.5).
    trades = run_both(leaving_panel(tmp_path, "exit"), {1: [("AAA", 5, 1)]})
    assert summary(trades) == [("AAA", day(2), day(4), "UNIVERSE_EXIT", 13.0)]
    assert trades[0].pnl == pytest.approx(250.0)
    assert trades[0].sessions_held == 2


def test_exit_policy_takes_no_setup_on_the_last_member_day(tmp_path: Path) -> None:
    # A setup at t4 (the last member day) could not be held overnight as a member: none is taken
    # under `exit`; under `hold` it is (bought at t5's open 13.5).
    script = {4: [("AAA", 5, 1)]}
    assert run_both(leaving_panel(tmp_path, "exit"), script) == []
    trades = run_both(leaving_panel(tmp_path, "hold"), script)
    assert summary(trades) == [("AAA", day(5), day(7), "END_OF_TEST", 16.0)]


def test_exit_policy_with_next_open_exits_turns_a_queued_exit_into_the_universe_exit(tmp_path: Path) -> None:
    # exit_fill = next_open and a time stop of 1 session: at t3 the time stop queues a sale for t4's
    # open; this is not the last member day, so it fills at t4's open 12.5 (TIME_STOP). With a time
    # stop of 2 it would be decided at t4's close, the last member day: it becomes the forced
    # UNIVERSE_EXIT at that close (13), as END_OF_DATA does with a queued exit.
    settings = PortfolioSettings(slippage_bps=0.0, exit_fill="next_open")
    panel = leaving_panel(tmp_path, "exit")
    one = ExitSpec(name="t1", rules=(TimeStop(sessions=1),), hard_stop=0.5)
    two = ExitSpec(name="t2", rules=(TimeStop(sessions=2),), hard_stop=0.5)
    assert summary(run_both(panel, {1: [("AAA", 5, 1)]}, one, settings)) == [
        ("AAA", day(2), day(4), "TIME_STOP", 12.5)
    ]
    assert summary(run_both(panel, {1: [("AAA", 5, 1)]}, two, settings)) == [
        ("AAA", day(2), day(4), "UNIVERSE_EXIT", 13.0)
    ]


def test_exit_policy_without_a_bar_on_the_last_member_day_sells_at_the_next_close(tmp_path: Path) -> None:
    # AAA has no bar on day 4, its last member day: it cannot be sold then; it is sold at the next
    # close it has (day 5, 14), still UNIVERSE_EXIT.
    bars = {"AAA": [flat(c) for c in CLOSES], "ZZZ": [flat(1)] * len(CLOSES)}
    bars["AAA"][4] = None
    panel = universe(
        tmp_path, make_panel(bars), "ticker,start_date,end_date\nAAA,2020-01-01,2020-01-05\n", "exit"
    )
    trades = run_both(panel, {1: [("AAA", 5, 1)]})
    assert summary(trades) == [("AAA", day(2), day(5), "UNIVERSE_EXIT", 14.0)]


def test_universe_exit_wins_over_end_of_data_on_the_same_day(tmp_path: Path) -> None:
    # AAA's data and membership both end on day 4: under `exit` the reason is UNIVERSE_EXIT, under
    # `hold` END_OF_DATA (RULES 1), both at the close 13.
    bars = {"AAA": [flat(c) for c in CLOSES[:5]], "ZZZ": [flat(1)] * len(CLOSES)}
    text = "ticker,start_date,end_date\nAAA,2020-01-01,2020-01-05\n"
    exit_trades = run_both(universe(tmp_path, make_panel(bars), text, "exit"), {1: [("AAA", 5, 1)]})
    hold_trades = run_both(universe(tmp_path, make_panel(bars), text, "hold"), {1: [("AAA", 5, 1)]})
    assert summary(exit_trades) == [("AAA", day(2), day(4), "UNIVERSE_EXIT", 13.0)]
    assert summary(hold_trades) == [("AAA", day(2), day(4), "END_OF_DATA", 13.0)]


# --------------------------------------------------------------------------------------- two stays
TWO_STAYS = "ticker,start_date,end_date\nAAA,2020-01-01,2020-01-03\nAAA,2020-01-07,\n"


def test_a_ticker_with_two_stays_trades_only_inside_them(tmp_path: Path) -> None:
    # Member on days 0-2 and from day 6 (gap of 4 days, under reuse_gap_days: one series). Setups at
    # t1 (member, also t2), t4 (not a member) and t6 (member). Under `exit`: bought t2 open 10, sold at
    # t2's close (its last member day), then bought again t7's open 17 and held to the end.
    bars = {"AAA": [flat(10 + t) if t != 2 else flat(10) for t in range(9)]}
    panel = universe(tmp_path, make_panel(bars), TWO_STAYS, "exit")
    script = {1: [("AAA", 5, 1)], 4: [("AAA", 5, 1)], 6: [("AAA", 5, 1)]}
    trades = run_both(panel, script, max_positions=2)
    assert summary(trades) == [
        ("AAA", day(2), day(2), "UNIVERSE_EXIT", 10.0),
        ("AAA", day(7), day(8), "END_OF_TEST", 18.0),
    ]
    # under `hold` the first position is simply held on; the t6 setup skips the held symbol
    trades = run_both(universe(tmp_path, make_panel(bars), TWO_STAYS, "hold"), script, max_positions=2)
    assert summary(trades) == [("AAA", day(2), day(8), "END_OF_TEST", 18.0)]


def test_two_stays_far_apart_are_two_series(tmp_path: Path) -> None:
    # With reuse_gap_days = 2 the same two stays (4 days apart) are treated as possibly two companies:
    # the bars up to day 2 become AAA@2020-01-01, the rest stays AAA. Under `hold` the position of the
    # first stay ends with its series at day 2's close (END_OF_DATA): it cannot run into the second.
    bars = {"AAA": [flat(10 + t) if t != 2 else flat(10) for t in range(9)]}
    panel = universe(tmp_path, make_panel(bars), TWO_STAYS, "hold", gap_days=2)
    assert panel.symbols == ("AAA", "AAA@2020-01-01")
    assert np.flatnonzero(panel.available[:, 1]).tolist() == [0, 1, 2]
    assert np.flatnonzero(panel.available[:, 0]).tolist() == [3, 4, 5, 6, 7, 8]
    script = {1: [("AAA@2020-01-01", 5, 1)], 6: [("AAA", 5, 1)]}
    trades = run_both(panel, script, max_positions=2)
    assert summary(trades) == [
        ("AAA@2020-01-01", day(2), day(2), "END_OF_DATA", 10.0),
        ("AAA", day(7), day(8), "END_OF_TEST", 18.0),
    ]
