"""Units of the dashboard: downsampling keeps every extreme, the table queries, the figures' arithmetic."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from trading_playbook.web.downsample import downsample, m4_indices
from trading_playbook.web.figures import drawdown_series, monthly_heatmap, rolling_sharpe
from trading_playbook.web.research_view import overfitting_verdict
from trading_playbook.web.tables import RunQuery, TradeQuery, flatten, trade_page

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)


@settings(max_examples=60, deadline=None)
@given(values=arrays(np.float64, st.integers(1, 6000), elements=finite), max_points=st.integers(8, 2500))
def test_m4_keeps_ends_and_extremes_within_budget(values: np.ndarray, max_points: int) -> None:
    idx = m4_indices(values, max_points)
    assert idx[0] == 0 and idx[-1] == len(values) - 1
    assert np.all(np.diff(idx) > 0)  # sorted, unique
    assert len(idx) <= max(len(values) if len(values) <= max_points else 4 * (max_points // 4), 1)
    assert values[idx].min() == values.min() and values[idx].max() == values.max()
    if len(values) > max_points:  # each bucket's own extremes survive, so the line is the same at pixel size
        edges = np.linspace(0, len(values), max_points // 4 + 1).astype(int)
        for lo, hi in itertools.pairwise(edges):
            inside = idx[(idx >= lo) & (idx < hi)]
            assert values[inside].min() == values[lo:hi].min() and values[inside].max() == values[lo:hi].max()


def test_m4_ignores_nan_and_short_series_pass_through() -> None:
    values = np.array([np.nan] * 3000 + [1.0, -5.0, 2.0] + [np.nan] * 3000)
    idx = m4_indices(values, 100)
    assert 3001 in idx  # the minimum among NaNs
    x, y = downsample(["a", "b", "c"], [1.0, None, 3.0])
    assert x == ["a", "b", "c"] and y == [1.0, None, 3.0]


def test_drawdown_and_rolling_sharpe_by_hand() -> None:
    equity = np.array([100.0, 110.0, 99.0, 121.0, 110.0])
    assert drawdown_series(equity).tolist() == pytest.approx([0.0, 0.0, -0.1, 0.0, 110 / 121 - 1])
    # window 2: returns r1..r4 = 0.1, -0.1, 0.2222.., -0.0909..; the value at t uses r_{t-1}, r_t
    sharpe = rolling_sharpe(equity, window=2)
    assert math.isnan(sharpe[0]) and math.isnan(sharpe[1])
    r = np.diff(equity) / equity[:-1]
    for t in range(2, 5):
        pair = r[t - 2 : t]
        assert sharpe[t] == pytest.approx(pair.mean() / pair.std(ddof=1) * math.sqrt(252))


def test_monthly_heatmap_grid() -> None:
    figure = monthly_heatmap({"2020-01": 0.05, "2020-03": -0.02, "2021-12": 0.1})
    trace = figure["data"][0]
    assert trace["y"] == ["2020", "2021"] and len(trace["z"][0]) == 12
    assert trace["z"][0][:3] == [0.05, None, -0.02] and trace["z"][1][11] == 0.1
    assert trace["zmin"] == -0.1 and trace["zmax"] == 0.1 and trace["zmid"] == 0


TRADES = [
    {"symbol": "AAPL", "exit_reason": "MA_BREAK", "pnl": 10.0, "r_multiple": 0.5},
    {"symbol": "MSFT", "exit_reason": "HARD_STOP", "pnl": -20.0, "r_multiple": None},
    {"symbol": "AAL", "exit_reason": "MA_BREAK", "pnl": 0.0, "r_multiple": 0.0},
    {"symbol": "NVDA", "exit_reason": "TARGET", "pnl": 30.0, "r_multiple": 1.5},
]


def test_trade_query_filters_sorts_and_pages() -> None:
    def numbers(**params: str) -> list[int]:
        return [n for n, _ in trade_page(TRADES, TradeQuery.parse(params), size=2).rows]

    assert numbers() == [1, 2]
    assert numbers(page="2") == [3, 4] and numbers(page="99") == [3, 4] and numbers(page="-3") == [1, 2]
    assert numbers(symbol="aa") == [1, 3]
    assert numbers(reason="MA_BREAK", outcome="loss") == [3]  # a flat trade is not a win
    assert numbers(outcome="win", sort="pnl", dir="desc") == [4, 1]
    assert numbers(sort="r_multiple", dir="desc") == [4, 1]
    assert [n for n, _ in trade_page(TRADES, TradeQuery.parse({"sort": "r_multiple"}), size=4).rows] == [
        3,
        1,
        4,
        2,
    ]
    assert numbers(sort="__class__", dir="up") == [1, 2]  # not a column: the default order
    assert TradeQuery.parse({"sort": "pnl", "page": "1"}).params() == {"sort": "pnl"}


def test_run_query() -> None:
    rows = [
        {
            "run_id": "20240101-000000-aaaaaa",
            "name": "alpha",
            "strategy": "x",
            "status": "ADEQUATE",
            "sharpe": 1.0,
        },
        {
            "run_id": "20240102-000000-bbbbbb",
            "name": "beta",
            "strategy": "y",
            "status": "INSUFFICIENT",
            "sharpe": None,
        },
        {
            "run_id": "20240103-000000-cccccc",
            "name": "gamma",
            "strategy": "x",
            "status": "ADEQUATE",
            "sharpe": 2.0,
        },
    ]
    pick = lambda **p: [r["name"] for r in RunQuery.parse(p).select(list(rows)).rows]  # noqa: E731
    assert pick() == ["gamma", "beta", "alpha"]  # newest first
    assert pick(sort="sharpe", dir="desc") == ["gamma", "alpha", "beta"]  # undefined last
    assert pick(sort="sharpe", dir="asc") == ["alpha", "gamma", "beta"]
    assert pick(q="BET") == ["beta"] and pick(status="ADEQUATE") == ["gamma", "alpha"]
    assert pick(status="DROP TABLE") == ["gamma", "beta", "alpha"]


def test_flatten_config() -> None:
    assert flatten({"b": {"y": 1, "x": {}}, "a": [1, 2]}) == {"a": [1, 2], "b.x": {}, "b.y": 1}


@pytest.mark.parametrize(
    ("dsr", "pbo", "tone", "words"),
    [
        (0.99, 0.05, "good", "passes the 0.95 bar"),
        (0.99, 0.3, "warning", "some overfitting"),
        (0.8, 0.05, "warning", "could well be luck"),
        (0.2, 0.7, "bad", "mostly noise"),
    ],
)
def test_overfitting_verdict_in_plain_words(dsr: float, pbo: float, tone: str, words: str) -> None:
    text, got = overfitting_verdict({"dsr": dsr, "n_trials": 12}, {"pbo": pbo})
    assert got == tone and words in text
