"""daily_breakout on hand-made bars: every condition at its boundary, the base search, the score
table, ranking ties, min_price across a split and gaps. Answers worked out by hand in the comments.

The baseline symbol has 60 bars (t = bar 59):
- bars 0..44 ("pre"): close = high = 90, low = 60, volume 1000
- bars 45..58 (the base, 14 bars): close 100, high 101, low 95, volume 1000
- bar 59 (t): open 102, high 106, low 100, close 105, volume 1200

By hand, at t with the ``default`` preset (min_base_days 10, width <= 0.12, volume >= 1.2x, d <= 0.25):
1. raw close 105 >= 10.
2. SMA20 = (5*90 + 14*100 + 105) / 20 = 1955/20 = 97.75; SMA50 = (35*90 + 1400 + 105)/50 = 93.1;
   105 > 97.75 > 93.1.
3. 60 bars >= 50; H = 106 (t's high); d = (106 - 105)/106 = 0.00943.
4. L = 10..14 lie inside the base: width (101 - 95)/101 = 0.0594; L = 15 adds bar 44 (low 60):
   (101 - 60)/101 = 0.406 > 0.12, so L* = 14, base_high = 101.
5. 105 > 101.
6. average volume of the 20 bars before t = 1000; 1200 >= 1.2 * 1000.
Score: trend 1.5 + near high (d <= .15) 1.5 + volume (1.2 <= v < 2) 1.0 + L*=14 (7..90, not 15..60)
0.75 + width .0594 (<= .08) 1.0 + RS = 105/close_{t-20} (bar 39 = 90) - 1 = 0.1667 (>= .15) 2.0 = 7.75.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from trading_playbook.core.errors import ConfigError, DataError
from trading_playbook.core.panel import Panel, bars_to_panel
from trading_playbook.core.scanners import DailyBreakoutScanner, ScannerProtocol, VectorScanner
from trading_playbook.core.scanners._breakout_score import score_one, score_vector
from trading_playbook.core.types import Setup

START = dt.date(2020, 1, 1)


def baseline(n_pre: int = 45, n_base: int = 14) -> dict[str, np.ndarray]:
    """Bars of the baseline symbol (see the module docstring)."""
    n = n_pre + n_base + 1
    close = np.r_[np.full(n_pre, 90.0), np.full(n_base, 100.0), 105.0]
    high = np.r_[np.full(n_pre, 90.0), np.full(n_base, 101.0), 106.0]
    low = np.r_[np.full(n_pre, 60.0), np.full(n_base, 95.0), 100.0]
    volume = np.r_[np.full(n - 1, 1000.0), 1200.0]
    return {"open": close.copy(), "high": high, "low": low, "close": close, "volume": volume}


def make_panel(symbols: dict[str, dict[str, np.ndarray]], n_sessions: int | None = None) -> Panel:
    """A panel from per-symbol bars; a symbol's NaN closes mark sessions without a bar.

    Symbols' arrays are aligned to the last session (shorter histories start later).
    """
    n = n_sessions or max(len(b["close"]) for b in symbols.values())
    rows = []
    sessions = pd.bdate_range(START, periods=n)
    for sym, bars in symbols.items():
        offset = n - len(bars["close"])
        for i in range(len(bars["close"])):
            if np.isnan(bars["close"][i]):
                continue
            row = {"symbol": sym, "date": sessions[offset + i]}
            row.update({k: float(v[i]) for k, v in bars.items()})
            rows.append(row)
    return bars_to_panel(pd.DataFrame(rows))


def setups_at_last(scanner: DailyBreakoutScanner, panel: Panel) -> list[Setup]:
    """Setups of the last session by both implementations, checked equal."""
    t = panel.n_sessions - 1
    table = scanner.scan(panel)
    vectorised = table.to_setups(table.session_slice(t), panel.sessions, panel.symbols)
    per_date = scanner.scan_for_setups(panel.sessions[t], panel)
    assert [s.symbol for s in per_date] == [s.symbol for s in vectorised]
    for a, b in zip(per_date, vectorised, strict=True):
        assert a.base_days == b.base_days and a.score == b.score
        np.testing.assert_allclose(
            [a.reference_price, a.base_high, a.base_width, a.volume_ratio, a.distance_from_high, a.rs],
            [b.reference_price, b.base_high, b.base_width, b.volume_ratio, b.distance_from_high, b.rs],
            rtol=1e-12,
        )
    return per_date


def passes(scanner: DailyBreakoutScanner, bars: dict[str, np.ndarray]) -> bool:
    return len(setups_at_last(scanner, make_panel({"AAA": bars}))) == 1


def test_baseline_setup_fields_by_hand() -> None:
    scanner = DailyBreakoutScanner()
    (setup,) = setups_at_last(scanner, make_panel({"AAA": baseline()}))
    assert setup.symbol == "AAA" and setup.session == pd.bdate_range(START, periods=60)[-1].date()
    assert setup.reference_price == 105.0
    assert setup.initial_stop == pytest.approx(105.0 * 0.92)
    assert setup.base_days == 14 and setup.base_high == 101.0
    assert setup.base_width == pytest.approx(6 / 101)
    assert setup.volume_ratio == pytest.approx(1.2)
    assert setup.distance_from_high == pytest.approx(1 / 106)
    assert setup.rs == pytest.approx(105 / 90 - 1)
    assert setup.score == 7.75
    # only the last session has a setup: before t no bar closes above the base
    assert len(scanner.scan(make_panel({"AAA": baseline()}))) == 1


def test_price_rule_boundary() -> None:
    # raw close 105: min_price 105 passes (>=), the next float above fails
    assert passes(DailyBreakoutScanner(min_price=105.0), baseline())
    assert not passes(DailyBreakoutScanner(min_price=float(np.nextafter(105.0, 200))), baseline())


def test_trend_close_equal_to_sma20_fails() -> None:
    # pre bars 40..44 close = high = 138 (low 60): SMA20 = (5*138 + 1400 + 110)/20 = 2200/20 = 110 = close
    bars = baseline()
    bars["close"][40:45] = bars["high"][40:45] = 138.0
    bars["close"][-1], bars["high"][-1] = 110.0, 111.0
    assert not passes(DailyBreakoutScanner(), bars)
    # close 110.5: SMA20 = 2200.5/20 = 110.025 < 110.5; SMA50 = (30*90 + 690 + 1400 + 110.5)/50 = 98.01;
    # H = 138, d = 27.5/138 = 0.199 <= .25: passes
    bars["close"][-1] = 110.5
    assert passes(DailyBreakoutScanner(), bars)


def test_trend_sma20_equal_to_sma50_fails() -> None:
    # bars 10..39 close 97.75 (= SMA20): SMA50 = (30*97.75 + 1955)/50 = 4887.5/50 = 97.75 = SMA20
    bars = baseline()
    bars["close"][10:40] = bars["high"][10:40] = 97.75
    assert not passes(DailyBreakoutScanner(), bars)
    # 97.5 instead: SMA50 = (2925 + 1955)/50 = 97.6 < 97.75: passes
    bars["close"][10:40] = bars["high"][10:40] = 97.5
    assert passes(DailyBreakoutScanner(), bars)


def test_near_high_boundary_and_history() -> None:
    d = (106.0 - 105.0) / 106.0
    assert passes(DailyBreakoutScanner(max_distance_from_high=d), baseline())
    assert not passes(DailyBreakoutScanner(max_distance_from_high=float(np.nextafter(d, 0))), baseline())
    # 50 bars (35 pre + 14 base + t): SMA50 defined, 50 bars of history including t: passes;
    # asking for 51 bars fails
    short = baseline(n_pre=35)
    assert passes(DailyBreakoutScanner(), short)
    assert not passes(DailyBreakoutScanner(min_history=51), short)
    # 49 bars: SMA50 undefined and history short: fails
    assert not passes(DailyBreakoutScanner(min_history=10), baseline(n_pre=34))


def test_near_high_uses_the_last_252_bars_only() -> None:
    # a spike high of 200 at bar 0; with 300 bars it is 299 bars back, outside the 252-bar window
    bars = baseline(n_pre=285)
    bars["high"][0] = 200.0
    assert passes(DailyBreakoutScanner(), bars)
    # a lookback of 300 bars sees it: d = (200 - 105)/200 = 0.475 > 0.25
    assert not passes(DailyBreakoutScanner(high_lookback=300), bars)


def test_base_width_and_min_base_days_boundaries() -> None:
    width = (101.0 - 95.0) / 101.0
    assert passes(DailyBreakoutScanner(max_base_width=width), baseline())
    assert not passes(DailyBreakoutScanner(max_base_width=float(np.nextafter(width, 0))), baseline())
    # the tight part is 14 bars: min_base_days 14 passes, 15 starts too wide
    assert passes(DailyBreakoutScanner(min_base_days=14), baseline())
    assert not passes(DailyBreakoutScanner(min_base_days=15), baseline())


def test_base_length_search_grows_until_width_exceeds() -> None:
    # pre bars form a ladder: bar i (0..44) close = high = low = 50 + i; base bars 45..58 as baseline.
    # L=15 adds bar 44 (94): (101-94)/101 = .0693; L=16 (93) .0792; 17 (92) .0891; 18 (91) .0990;
    # 19 (90) .1089; 20 (89) .1188 <= .12; L=21 (88) .1287 > .12 stops: L* = 20, width 12/101.
    bars = baseline()
    ladder = 50.0 + np.arange(45)
    bars["close"][:45] = bars["high"][:45] = bars["low"][:45] = ladder
    (setup,) = setups_at_last(DailyBreakoutScanner(), make_panel({"AAA": bars}))
    assert setup.base_days == 20 and setup.base_high == 101.0
    assert setup.base_width == pytest.approx(12 / 101)
    # max_base_days caps the search: L* = 17, width 9/101
    (capped,) = setups_at_last(DailyBreakoutScanner(max_base_days=17), make_panel({"AAA": bars}))
    assert capped.base_days == 17 and capped.base_width == pytest.approx(9 / 101)


def test_base_never_reaches_before_first_bar() -> None:
    # 50 bars that are all base except t (49 earlier bars, close 100 high 101 low 95): every L up to 49
    # fits, L* = min(90, 49) = 49; trend: SMA20 = (19*100+105)/20 = 100.25 > SMA50 = (49*100+105)/50
    # = 100.1 < 100.25, so it passes with L* = 49.
    bars = baseline(n_pre=0, n_base=49)
    (setup,) = setups_at_last(DailyBreakoutScanner(), make_panel({"AAA": bars}))
    assert setup.base_days == 49


def test_breakout_close_equal_to_base_high_fails() -> None:
    bars = baseline()
    bars["close"][-1] = 101.0  # = base_high
    assert not passes(DailyBreakoutScanner(), bars)
    bars["close"][-1] = float(np.nextafter(101.0, 200))
    assert passes(DailyBreakoutScanner(), bars)


def test_volume_rule_boundaries() -> None:
    # 1200 >= 1.2 * 1000 passes (baseline); 1199 fails
    bars = baseline()
    bars["volume"][-1] = 1199.0
    assert not passes(DailyBreakoutScanner(), bars)
    # an average of 0 fails even with a ratio of 0
    bars = baseline()
    bars["volume"][:-1] = 0.0
    assert not passes(DailyBreakoutScanner(min_volume_ratio=0.0), bars)
    # 59 earlier bars: a 59-bar average is defined, a 60-bar one is not (fails)
    assert passes(DailyBreakoutScanner(volume_lookback=59), baseline())
    assert not passes(DailyBreakoutScanner(volume_lookback=60), baseline())


def test_score_table_boundaries() -> None:
    # everything at the top boundary: 1.5 + 1.5 + 2 + 1.5 + 1.5 + 2 = 10
    assert score_one(2.0, 1.5, 1.0, 0.15, 2.0, 15, 0.05, 0.15) == 10.0
    assert score_one(2.0, 1.5, 1.0, 0.15, 2.0, 60, 0.05, 0.15) == 10.0
    # the next tier of each: .5 (close > SMA20 only) + .75 + 1 + .75 + 1 + 1 = 5.0
    assert score_one(2.0, 1.5, 1.6, 0.25, 1.2, 7, 0.08, 0.10) == 5.0
    assert score_one(2.0, 1.5, 1.6, 0.25, 1.2, 90, 0.08, 0.10) == 5.0
    # width .12 -> .5; below every tier -> 0; NaN RS -> 0
    assert score_one(1.0, 1.5, 1.0, 0.26, 1.19, 6, 0.12, float("nan")) == 0.5
    assert score_one(1.0, 1.5, 1.0, 0.26, 1.19, 91, 0.13, 0.0999) == 0.0
    cases = [
        (2.0, 1.5, 1.0, 0.15, 2.0, 15, 0.05, 0.15),
        (2.0, 1.5, 1.6, 0.25, 1.2, 7, 0.08, 0.10),
        (1.0, 1.5, 1.0, 0.26, 1.19, 6, 0.12, float("nan")),
        (2.0, 1.5, 1.0, 0.16, 1.99, 61, 0.051, 0.149),
    ]
    columns = [np.array(c, dtype=float) for c in zip(*cases, strict=True)]
    expected = [score_one(*c) for c in cases]
    assert score_vector(*columns).tolist() == expected == [10.0, 5.0, 0.5, 1.5 + 0.75 + 1 + 0.75 + 1 + 1]


def test_ranking_score_then_volume_ratio_then_symbol_string() -> None:
    # "AB" < "Aa" < "B" in code-point order ('B' = 66 < 'a' = 97); all identical bars tie on score and
    # volume ratio so they rank by symbol. "C" has volume 1500 (ratio 1.5, same 1.0 volume points):
    # same score 7.75, higher ratio, so it ranks first. "D" has bar 39 (t-20) closing at 100, so
    # RS = 105/100 - 1 = .05 scores 0 instead of 2: 5.75, last.
    d = baseline()
    d["close"][39] = d["high"][39] = 100.0  # RS = 105/100 - 1 = .05 -> 0 points: score 5.75
    c = baseline()
    c["volume"][-1] = 1500.0
    panel = make_panel({"B": baseline(), "Aa": baseline(), "AB": baseline(), "C": c, "D": d})
    setups = setups_at_last(DailyBreakoutScanner(), panel)
    assert [s.symbol for s in setups] == ["C", "AB", "Aa", "B", "D"]
    assert [s.score for s in setups] == [7.75, 7.75, 7.75, 7.75, 5.75]


def test_min_price_uses_raw_close_across_a_split() -> None:
    # baseline scaled by 0.2 (raw close 21) followed by a 3-for-1 split two bars later: adjusted close
    # at t is 7 (< 10) but it traded at 21 >= 10: a setup, reference price the adjusted 7.
    bars = {k: (v * 0.2 if k != "volume" else v.copy()) for k, v in baseline().items()}
    bars["volume"][-1] = 2000.0
    post = {k: np.r_[v, v[-1] / 3, v[-1] / 3] for k, v in bars.items()}
    post["split"] = np.r_[np.ones(60), 3.0, 1.0]
    panel = make_panel({"AAA": post})
    t = 59
    assert panel.close[t, 0] == pytest.approx(7.0) and panel.raw_close[t, 0] == pytest.approx(21.0)
    table = DailyBreakoutScanner().scan(panel)
    assert table.session_idx.tolist() == [t]
    assert table.reference_price[0] == pytest.approx(7.0)
    assert [s.symbol for s in DailyBreakoutScanner().scan_for_setups(panel.sessions[t], panel)] == ["AAA"]
    # the reverse: a 1-for-3 reverse split later makes the adjusted close 25.2 but raw 8.4 < 10 fails
    bars = {k: (v * 0.08 if k != "volume" else v.copy()) for k, v in baseline().items()}
    bars["volume"][-1] = 2000.0
    post = {k: np.r_[v, v[-1] * 3] for k, v in bars.items()}
    post["split"] = np.r_[np.ones(60), 1 / 3]
    panel = make_panel({"AAA": post})
    assert panel.close[t, 0] == pytest.approx(25.2)
    assert len(DailyBreakoutScanner().scan(panel)) == 0


def test_gaps_are_skipped_windows_count_own_bars() -> None:
    # the same 60 bars spread over 70 sessions (gaps of 5 sessions in the pre bars and 5 inside the
    # base); "ZZZ" trades every session. Windows count AAA's own bars, so the setup is unchanged.
    bars = baseline()
    nan5 = np.full(5, np.nan)
    gappy = {k: np.r_[v[:20], nan5, v[20:50], nan5, v[50:]] for k, v in bars.items()}
    flat = {k: np.full(70, 50.0) for k in ("open", "high", "low", "close")}
    flat["volume"] = np.full(70, 1000.0)
    panel = make_panel({"AAA": gappy, "ZZZ": flat})
    assert panel.n_sessions == 70 and int(panel.available[:, 0].sum()) == 60
    (setup,) = setups_at_last(DailyBreakoutScanner(), panel)
    (plain,) = setups_at_last(DailyBreakoutScanner(), make_panel({"AAA": baseline()}))
    assert setup.base_days == plain.base_days == 14
    assert setup.score == plain.score and setup.rs == plain.rs
    # no setup on a session without a bar: drop AAA's last bar, keep the session (ZZZ trades)
    gappy_last = {k: v.copy() for k, v in gappy.items()}
    gappy_last["close"][-1] = np.nan
    assert setups_at_last(DailyBreakoutScanner(), make_panel({"AAA": gappy_last, "ZZZ": flat})) == []


def test_presets_params_and_overrides() -> None:
    assert DailyBreakoutScanner().params()["min_base_days"] == 10
    moderate = DailyBreakoutScanner("moderate").params()
    assert (moderate["min_base_days"], moderate["max_base_width"]) == (7, 0.15)
    assert (moderate["min_volume_ratio"], moderate["max_distance_from_high"]) == (1.0, 0.35)
    very = DailyBreakoutScanner("very_relaxed", max_base_width=0.3).params()
    assert very["min_base_days"] == 3 and very["max_base_width"] == 0.3
    assert set(DailyBreakoutScanner.PRESETS) == {"default", "moderate", "relaxed", "very_relaxed"}
    with pytest.raises(ConfigError, match="did you mean 'relaxed'"):
        DailyBreakoutScanner("relaxd")
    with pytest.raises(ConfigError, match="max_base_days"):
        DailyBreakoutScanner(min_base_days=20, max_base_days=10)
    with pytest.raises(ConfigError, match="whole number"):
        DailyBreakoutScanner(min_base_days=2.5)  # type: ignore[arg-type]


def test_protocols_and_date_errors() -> None:
    scanner = DailyBreakoutScanner()
    assert isinstance(scanner, ScannerProtocol) and isinstance(scanner, VectorScanner)
    panel = make_panel({"AAA": baseline()})
    with pytest.raises(DataError, match="nearest sessions are previous 2020-01-03 and next 2020-01-06"):
        scanner.scan_for_setups("2020-01-04", panel)
    with pytest.raises(DataError, match="nearest sessions are previous"):
        scanner.scan_for_setups("2030-01-01", panel)


def test_prepared_features_are_reused_and_checked() -> None:
    panel = make_panel({"AAA": baseline()})
    features = DailyBreakoutScanner().prepare(panel)
    assert len(DailyBreakoutScanner("very_relaxed").scan(panel, features)) >= 1
    with pytest.raises(ConfigError, match="call prepare"):
        DailyBreakoutScanner(high_lookback=100).scan(panel, features)


def test_a_plain_user_scanner_satisfies_the_per_date_protocol() -> None:
    class Nothing:
        def scan_for_setups(self, date: object, data: Panel) -> list[Setup]:
            return []

    assert isinstance(Nothing(), ScannerProtocol) and not isinstance(Nothing(), VectorScanner)
