"""Metrics: hand-worked figures, empyrical cross-checks, validation statistics and edge cases."""

from __future__ import annotations

import dataclasses
import json
import math

import empyrical
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from trading_playbook.core.metrics import (
    BenchmarkSeries,
    benchmark_from_panel,
    compute_metrics,
    sample_size_status,
)
from trading_playbook.core.panel import bars_to_panel
from trading_playbook.reports.samples import hand_worked_run, make_curve, make_trade, random_run

# ----------------------------------------------------------------------------------- hand-worked run
# Equity 1000 (start) -> 1000, 1100, 990, 1045, 1210 over 2021-01-04..08.
# Daily returns 0, +10 %, -10 %, +5.555 %, +15.789 %; total +21 %.
# Drawdown: peak 1100 on 01-05, trough 990 on 01-06 (-10 %), back to >= 1100 on 01-08 (1210):
#   duration 3 sessions (01-05 -> 01-08), recovery 2 sessions (01-06 -> 01-08).
# Trades: AAA +100 (+10 %, 1.25R), BBB -50 (-5 %, -0.625R), CCC +160 (+16 %, 2R).
#   win rate 2/3; avg win 130; avg loss -50; profit factor 260/50 = 5.2; expectancy 70 $, 7 %,
#   0.875R; sessions held 1, 1, 3 -> mean 5/3, median 1. Exit order AAA (W), BBB (L), CCC (W):
#   longest streaks 1 and 1.
# Exposure 0.5 on the four sessions with a position -> mean 0.4; time in market 0.8.
# Turnover: notional (10*210 + 20*97.5 + 40*54) / 2 = 3105; mean equity 1069; years 5/252
#   -> 3105 / 1069 / (5/252) = 146.3891...
# t-statistic of (0.10, -0.05, 0.16): mean 0.07, sd sqrt(0.0234/2) = 0.108167 -> t = 1.12090.


@pytest.fixture(scope="module")
def hand_metrics() -> dict:
    return compute_metrics(hand_worked_run())


def test_hand_worked_equity_figures(hand_metrics: dict) -> None:
    m = hand_metrics
    assert m["sessions"] == 5
    assert m["total_return"] == pytest.approx(0.21)
    assert m["final_equity"] == pytest.approx(1210.0)
    assert m["max_drawdown"] == pytest.approx(-0.10)
    dd = m["drawdown"]
    assert (dd["peak_date"], dd["trough_date"], dd["recovery_date"]) == (
        "2021-01-05",
        "2021-01-06",
        "2021-01-08",
    )
    assert (dd["duration_sessions"], dd["recovery_sessions"], dd["recovered"]) == (3, 2, True)
    assert m["monthly_returns"] == {"2021-01": pytest.approx(0.21)}
    assert m["yearly_returns"] == {"2021": pytest.approx(0.21)}
    assert m["exposure"] == pytest.approx(0.4)
    assert m["time_in_market"] == pytest.approx(0.8)
    assert m["turnover"] == pytest.approx(3105 / 1069 / (5 / 252))
    assert m["cagr"] == pytest.approx(1.21 ** (252 / 5) - 1)


def test_hand_worked_trade_figures(hand_metrics: dict) -> None:
    m = hand_metrics
    assert (m["trades"], m["wins"], m["losses"]) == (3, 2, 1)
    assert m["win_rate"] == pytest.approx(2 / 3)
    assert m["avg_win"] == pytest.approx(130.0)
    assert m["avg_loss"] == pytest.approx(-50.0)
    assert m["profit_factor"] == pytest.approx(5.2)
    assert m["expectancy"] == pytest.approx(70.0)
    assert m["expectancy_pct"] == pytest.approx(0.07)
    assert m["expectancy_r"] == pytest.approx(0.875)
    assert m["avg_sessions_held"] == pytest.approx(5 / 3)
    assert m["median_sessions_held"] == pytest.approx(1.0)
    assert m["best_trade"]["symbol"] == "CCC"
    assert m["worst_trade"]["symbol"] == "BBB"
    assert (m["longest_win_streak"], m["longest_loss_streak"]) == (1, 1)
    assert m["trades_per_year"] == pytest.approx(3 / (5 / 252))
    reasons = m["exit_reasons"]
    assert set(reasons) == {"TARGET", "STOP_LOSS", "TIME_STOP"}
    assert reasons["STOP_LOSS"] == {
        "count": 1,
        "wins": 0,
        "win_rate": 0.0,
        "avg_return": pytest.approx(-0.05),
        "avg_r": pytest.approx(-0.625),
        "total_pnl": pytest.approx(-50.0),
    }


def test_hand_worked_validation(hand_metrics: dict) -> None:
    v = hand_metrics["validation"]
    assert v["sample_size_status"] == "INSUFFICIENT"
    assert v["t_stat"] == pytest.approx(0.07 / (math.sqrt(0.0234 / 2) / math.sqrt(3)))
    scipy_t = stats.ttest_1samp([0.10, -0.05, 0.16], 0.0)
    assert v["t_stat"] == pytest.approx(scipy_t.statistic)
    assert v["p_value"] == pytest.approx(scipy_t.pvalue)
    lo, hi = v["ci"]["expectancy"]
    assert -50.0 <= lo <= 70.0 <= hi <= 160.0  # bootstrap means lie between the min and max pnl
    assert hand_metrics["verdict"].startswith("INSUFFICIENT: 3 trades, +21.0% total return")


def test_streaks_follow_exit_order_and_scratch_breaks_both() -> None:
    # exit order: W(01-05) W(01-06) 0(01-07) L(01-08) L(01-11) L(01-12) W(01-13)
    # -> longest win streak 2, longest loss streak 3 (the scratch trade breaks the first run of wins).
    spec = [("A", 110), ("B", 105), ("C", 100), ("D", 95), ("E", 90), ("F", 99), ("G", 120)]
    exits = ["2021-01-05", "2021-01-06", "2021-01-07", "2021-01-08", "2021-01-11", "2021-01-12", "2021-01-13"]
    trades = [
        make_trade(sym, "2021-01-04", exit_, 100.0, px, 1, "TIME_STOP")
        for (sym, px), exit_ in zip(reversed(spec), reversed(exits), strict=True)
    ]
    run = dataclasses.replace(hand_worked_run(), trades=trades)
    m = compute_metrics(run)
    assert (m["longest_win_streak"], m["longest_loss_streak"]) == (2, 3)
    assert m["win_rate"] == pytest.approx(3 / 7)  # the scratch counts in the denominator
    assert (m["wins"], m["losses"]) == (3, 3)


@pytest.mark.parametrize(
    ("n", "status"),
    [
        (0, "INSUFFICIENT"),
        (29, "INSUFFICIENT"),
        (30, "PRELIMINARY"),
        (49, "PRELIMINARY"),
        (50, "ADEQUATE"),
        (500, "ADEQUATE"),
    ],
)
def test_sample_size_status_thresholds(n: int, status: str) -> None:
    assert sample_size_status(n) == status


# ----------------------------------------------------------------------------------- empyrical cross-checks
@pytest.fixture(scope="module")
def random_case() -> tuple:
    run = random_run(n_sessions=800, n_trades=80, seed=11)
    equity = run.equity.equity
    returns = pd.Series(
        equity / np.concatenate(([run.starting_capital], equity[:-1])) - 1.0,
        index=pd.DatetimeIndex(run.equity.dates.astype("datetime64[ns]")),
    )
    rng = np.random.default_rng(3)
    bench_returns = 0.6 * returns.to_numpy() + rng.normal(0.0003, 0.008, returns.size)
    bench_returns[0] = 0.0  # bought at the first close
    curve = np.cumprod(1.0 + bench_returns)
    benchmark = BenchmarkSeries(run.equity.dates, {"equal_weight": curve}, {"equal_weight": "EW"})
    metrics = compute_metrics(run, benchmark=benchmark, risk_free_rate=0.02, seed=5)
    return run, returns, pd.Series(bench_returns, index=returns.index), metrics


def test_matches_empyrical_return_and_risk(random_case: tuple) -> None:
    _, returns, _, m = random_case
    rf = 0.02 / 252
    assert m["total_return"] == pytest.approx(empyrical.cum_returns_final(returns), rel=1e-10)
    assert m["cagr"] == pytest.approx(empyrical.cagr(returns), rel=1e-10)
    assert m["annual_volatility"] == pytest.approx(empyrical.annual_volatility(returns), rel=1e-10)
    assert m["sharpe"] == pytest.approx(empyrical.sharpe_ratio(returns, risk_free=rf), rel=1e-10)
    assert m["sortino"] == pytest.approx(empyrical.sortino_ratio(returns, required_return=rf), rel=1e-10)
    assert m["max_drawdown"] == pytest.approx(empyrical.max_drawdown(returns), rel=1e-10)
    assert m["calmar"] == pytest.approx(empyrical.calmar_ratio(returns), rel=1e-10)


def test_matches_empyrical_period_returns(random_case: tuple) -> None:
    _, returns, _, m = random_case
    monthly = empyrical.aggregate_returns(returns, "monthly")
    expected = {f"{y}-{mo:02d}": v for (y, mo), v in monthly.items()}
    assert list(m["monthly_returns"]) == list(expected)
    assert np.allclose(list(m["monthly_returns"].values()), list(expected.values()), rtol=1e-10, atol=1e-14)
    yearly = empyrical.aggregate_returns(returns, "yearly")
    assert np.allclose([m["yearly_returns"][str(y)] for y in yearly.index], yearly.to_numpy(), rtol=1e-10)


def test_matches_empyrical_benchmark_figures(random_case: tuple) -> None:
    _, returns, bench, m = random_case
    b = m["benchmarks"]["equal_weight"]
    assert b["beta"] == pytest.approx(empyrical.beta(returns, bench), rel=1e-9)
    assert b["correlation"] == pytest.approx(np.corrcoef(returns, bench)[0, 1], rel=1e-9)
    assert b["total_return"] == pytest.approx(empyrical.cum_returns_final(bench), rel=1e-10)
    assert b["excess_return"] == pytest.approx(m["total_return"] - b["total_return"], rel=1e-12)
    assert b["excess_cagr"] == pytest.approx(m["cagr"] - empyrical.cagr(bench), rel=1e-9)
    assert b["label"] == "EW"


def test_bootstrap_is_seeded_and_brackets_the_estimate(random_case: tuple) -> None:
    run, _, _, m = random_case
    again = compute_metrics(run, risk_free_rate=0.02, seed=5)
    other = compute_metrics(run, risk_free_rate=0.02, seed=6)
    assert again["validation"]["ci"] == m["validation"]["ci"]
    assert other["validation"]["ci"] != m["validation"]["ci"]
    ci = m["validation"]["ci"]
    assert ci["expectancy"][0] < m["expectancy"] < ci["expectancy"][1]
    assert ci["win_rate"][0] < m["win_rate"] < ci["win_rate"][1]
    assert ci["sharpe"][0] < m["sharpe"] < ci["sharpe"][1]
    # the standard error of a Sharpe ratio over ~3.2 years is about 1/sqrt(3.2) = 0.56: a 95 % band ~2.2 wide
    assert 1.0 < ci["sharpe"][1] - ci["sharpe"][0] < 4.0
    assert m["validation"]["sample_size_status"] == "ADEQUATE"


# ----------------------------------------------------------------------------------- edge cases
def _assert_json_safe(value: object) -> None:
    json.dumps(value, allow_nan=False)  # raises on NaN or infinity anywhere


def test_zero_trades_gives_none_not_nan() -> None:
    run = dataclasses.replace(hand_worked_run(), trades=[])
    m = compute_metrics(run)
    _assert_json_safe(m)
    assert m["trades"] == 0
    for key in (
        "win_rate",
        "avg_win",
        "avg_loss",
        "profit_factor",
        "expectancy",
        "expectancy_r",
        "best_trade",
    ):
        assert m[key] is None, key
    assert m["exit_reasons"] == {}
    assert m["validation"]["ci"]["expectancy"] is None
    assert m["validation"]["t_stat"] is None
    assert "no trades" in m["verdict"]
    assert any("no trades" in n for n in m["notes"])


def test_one_trade_and_one_session() -> None:
    trade = make_trade("ONE", "2021-01-04", "2021-01-04", 10.0, 11.0, 10, "END_OF_TEST", sessions_held=0)
    run = dataclasses.replace(hand_worked_run(), trades=[trade], equity=make_curve(["2021-01-04"], [1010.0]))
    m = compute_metrics(run)
    _assert_json_safe(m)
    assert m["total_return"] == pytest.approx(0.01)
    assert m["sessions"] == 1
    assert m["annual_volatility"] is None and m["sharpe"] is None and m["sortino"] is None
    assert m["max_drawdown"] == 0.0 and m["calmar"] is None
    assert m["profit_factor"] is None  # no losing trade: undefined, not infinite
    assert m["validation"]["t_stat"] is None and m["validation"]["ci"]["win_rate"] is None
    assert any("one session" in n for n in m["notes"]) and any("one trade" in n for n in m["notes"])


def test_flat_curve_has_undefined_ratios() -> None:
    run = dataclasses.replace(
        hand_worked_run(), trades=[], equity=make_curve(["2021-01-04", "2021-01-05"], [1000.0, 1000.0])
    )
    m = compute_metrics(run)
    assert m["total_return"] == 0.0 and m["annual_volatility"] == 0.0
    assert m["sharpe"] is None and m["sortino"] is None and m["calmar"] is None
    assert m["drawdown"]["peak_date"] is None


def test_unrecovered_drawdown_runs_to_the_end() -> None:
    # start 100 -> 120 (peak, s0) -> 90 (s1) -> 100 (s2): trough s1 -25 %, never recovered, 2 sessions long.
    run = dataclasses.replace(
        hand_worked_run(),
        trades=[],
        starting_capital=100.0,
        equity=make_curve(["2021-01-04", "2021-01-05", "2021-01-06"], [120.0, 90.0, 100.0]),
    )
    dd = compute_metrics(run)["drawdown"]
    assert dd["max_drawdown"] == pytest.approx(-0.25)
    assert (dd["peak_date"], dd["trough_date"], dd["recovery_date"], dd["recovered"]) == (
        "2021-01-04",
        "2021-01-05",
        None,
        False,
    )
    assert dd["duration_sessions"] == 2 and dd["recovery_sessions"] is None


# ----------------------------------------------------------------------------------- benchmark_from_panel
def test_benchmark_from_panel_equal_weight_buy_and_hold() -> None:
    # A: 10 -> 11 -> 12 (x1.2); B: 20 -> 18 -> (no bar) -> held at 18 (x0.9); C starts on day 2, not held.
    # Equal weight: day0 1.0; day1 (1.1 + 0.9)/2 = 1.0; day2 (1.2 + 0.9)/2 = 1.05.
    rows = [
        ("A", "2021-01-04", 10.0), ("A", "2021-01-05", 11.0), ("A", "2021-01-06", 12.0),
        ("B", "2021-01-04", 20.0), ("B", "2021-01-05", 18.0),
        ("C", "2021-01-05", 50.0), ("C", "2021-01-06", 100.0),
    ]  # fmt: skip
    bars = pd.DataFrame(rows, columns=["symbol", "date", "close"])
    bars["date"] = pd.to_datetime(bars["date"])
    for col in ("open", "high", "low"):
        bars[col] = bars["close"]
    bars["volume"] = 1000.0
    panel = bars_to_panel(bars)
    bench = benchmark_from_panel(panel, "2021-01-01", "2021-01-31", symbol="A")
    assert np.allclose(bench.curves["equal_weight"], [1.0, 1.0, 1.05])
    assert np.allclose(bench.curves["A"], [1.0, 1.1, 1.2])
    assert "2 symbols" in bench.labels["equal_weight"]
    later = benchmark_from_panel(panel, "2021-01-05", "2021-01-06")
    # from day 1 every symbol has a bar: A 11 -> 12, B 18 -> 18 (held), C 50 -> 100: (12/11 + 1 + 2) / 3
    assert np.allclose(later.curves["equal_weight"], [1.0, (12 / 11 + 1 + 2) / 3])


def test_sleeve_attribution() -> None:
    # hand run's trades split: AAA (+100) and BBB (-50) in "smart", CCC (+160) in "scaled".
    # Sleeve equity ends at 550 and 660 -> capital 550 - 50 = 500 and 660 - 160 = 500;
    # returns +10 % and +32 %.
    base = hand_worked_run()
    trades = [dataclasses.replace(t, sleeve="scaled" if t.symbol == "CCC" else "smart") for t in base.trades]
    sleeve_equity = {
        "smart": np.array([500.0, 600.0, 550.0, 550.0, 550.0]),
        "scaled": np.array([500.0, 500.0, 440.0, 495.0, 660.0]),
    }
    curve = dataclasses.replace(base.equity, sleeve_equity=sleeve_equity)
    m = compute_metrics(dataclasses.replace(base, trades=trades, equity=curve))
    smart, scaled = m["sleeves"]["smart"], m["sleeves"]["scaled"]
    assert (smart["trades"], smart["net_pnl"], smart["win_rate"]) == (2, pytest.approx(50.0), 0.5)
    assert smart["starting_capital"] == pytest.approx(500.0) and smart["total_return"] == pytest.approx(0.10)
    assert scaled["trades"] == 1 and scaled["total_return"] == pytest.approx(0.32)
    assert compute_metrics(base)["sleeves"] == {}  # one (unnamed) sleeve: no breakdown


@pytest.mark.parametrize("df", [1, 2, 5, 29, 30, 120, 1_000, 10_360, 100_000])
def test_t_p_value_matches_scipy_without_importing_it(df: int) -> None:
    # the run computes the p-value without scipy (0.3 s to import); scipy is the reference here
    from scipy.special import stdtr

    from trading_playbook.core._student_t import two_sided_p

    for t in (0.0, 0.01, 0.3, 1.0, 1.96, 2.5, 4.0, 9.0, 25.0, -3.0):
        expected = 2.0 * float(stdtr(df, -abs(t)))
        assert two_sided_p(t, df) == pytest.approx(expected, rel=1e-9, abs=1e-300)
    assert math.isnan(two_sided_p(float("nan"), df))
    assert two_sided_p(float("inf"), df) == 0.0


def _equal_weight_numpy(close: np.ndarray) -> np.ndarray:
    """The curve as numpy computes it: forward-filled growths, mean of a Fortran-ordered copy."""
    start = close[0]
    held = np.isfinite(start) & (start > 0)
    part = close[:, held]
    rows = np.where(np.isnan(part), 0, np.arange(part.shape[0])[:, None])
    np.maximum.accumulate(rows, axis=0, out=rows)
    growth = np.take_along_axis(part, rows, axis=0) / start[held]
    return np.asarray(np.asfortranarray(growth).mean(axis=1), dtype=np.float64)


def test_equal_weight_kernel_is_bit_identical_to_numpy() -> None:
    from trading_playbook.core.metrics import _equal_weight_curve

    rng = np.random.default_rng(5)
    for n_symbols in (1, 3, 37):
        close = np.exp(rng.normal(0, 0.02, size=(300, n_symbols)).cumsum(axis=0)) * 50
        close[rng.random(close.shape) < 0.2] = np.nan  # gaps, ends of data, late listings
        close[0, rng.random(n_symbols) < 0.3] = np.nan  # not held: no first close
        close[0, 0] = 40.0
        got = _equal_weight_curve(close)
        assert np.array_equal(got, _equal_weight_numpy(close))


@pytest.mark.parametrize("n_trades", [57, 1_001])  # below and above the size that uses a second thread
def test_trade_bootstrap_draws_half_from_the_seed_and_half_from_its_child(n_trades: int) -> None:
    # the definition of the resamples (decisions.md, issue 14): numpy's own draws, first half from the
    # seed's generator, second half from rng.spawn(1)[0]; each resample's mean summed in draw order
    from trading_playbook.core.metrics import _bootstrap_trades

    pnl = np.random.default_rng(3).normal(size=n_trades)
    n_boot = 1_000
    means, win_rates = _bootstrap_trades(pnl, np.random.default_rng(9), n_boot)
    rng = np.random.default_rng(9)
    child = rng.spawn(1)[0]
    half = n_boot // 2
    draws = np.concatenate(
        [
            rng.integers(0, n_trades, size=(half, n_trades)),
            child.integers(0, n_trades, size=(n_boot - half, n_trades)),
        ]
    )
    values = pnl[draws]
    expected = np.array([sum(row.tolist()) for row in values]) / n_trades
    np.testing.assert_array_equal(means, expected)
    np.testing.assert_array_equal(win_rates, (values > 0).sum(axis=1) / n_trades)


@pytest.mark.parametrize(
    ("n_trades", "n_boot", "skew"),
    [(2, 9, 0), (3, 7, 1), (100_003, 24, 0), (100_003, 23, 1)],  # 100,003: about 20 rejected draws
)
def test_trade_bootstrap_kernel_is_numpys_generator_and_leaves_it_where_numpy_does(
    n_trades: int, n_boot: int, skew: int
) -> None:
    # the kernel runs PCG64 and Lemire's bounded draw itself: every draw, the rejections and the
    # generator's state afterwards (its 32-bit buffer included) are numpy's; ``skew`` starts the
    # generator with half a 64-bit output buffered
    from trading_playbook.core.metrics import _bootstrap_trades

    pnl = np.random.default_rng(4).normal(size=n_trades)
    ours, numpys = np.random.default_rng(11), np.random.default_rng(11)
    ours.integers(0, 5, size=skew)
    numpys.integers(0, 5, size=skew)
    means, win_rates = _bootstrap_trades(pnl, ours, n_boot)
    child = numpys.spawn(1)[0]
    half = n_boot // 2
    draws = np.concatenate(
        [
            numpys.integers(0, n_trades, size=(half, n_trades)),
            child.integers(0, n_trades, size=(n_boot - half, n_trades)),
        ]
    )
    values = pnl[draws]
    np.testing.assert_array_equal(means, np.array([sum(row.tolist()) for row in values]) / n_trades)
    np.testing.assert_array_equal(win_rates, (values > 0).sum(axis=1) / n_trades)
    assert ours.bit_generator.state == numpys.bit_generator.state
    assert ours.integers(0, 1_000_003, size=5).tolist() == numpys.integers(0, 1_000_003, size=5).tolist()


def test_trade_bootstrap_of_one_trade_draws_nothing() -> None:
    # numpy's integers(0, 1) is always 0 and consumes no randomness
    from trading_playbook.core.metrics import _bootstrap_trades

    rng = np.random.default_rng(2)
    means, win_rates = _bootstrap_trades(np.array([-3.0]), rng, 4)
    assert means.tolist() == [-3.0] * 4 and win_rates.tolist() == [0.0] * 4
    assert rng.bit_generator.state == np.random.default_rng(2).bit_generator.state
