"""Properties of validation and adjustment on random bar tables (hypothesis)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from trading_playbook.core.panel import bars_to_panel
from trading_playbook.data.model import from_frame, to_frame
from trading_playbook.data.validate import validate_bars

price = st.one_of(st.floats(min_value=-5, max_value=500), st.just(float("nan")))
row = st.tuples(
    st.sampled_from(["AAA", "BBB", "C.D"]),
    st.integers(min_value=0, max_value=15),  # session offset: duplicates and disorder happen
    price,
    price,
    price,
    price,
    st.one_of(st.floats(min_value=-100, max_value=1e6), st.just(float("nan"))),
    st.sampled_from([1.0, 1.0, 1.0, 2.0, 0.5, 0.0, np.nan]),
)


def table(rows: list[tuple]) -> pd.DataFrame:
    days = pd.bdate_range("2021-01-04", periods=16)
    return pd.DataFrame(
        [(s, days[d], o, h, lo, c, v, k) for s, d, o, h, lo, c, v, k in rows],
        columns=["symbol", "date", "open", "high", "low", "close", "volume", "split"],
    )


@settings(max_examples=150, deadline=None)
@given(st.lists(row, min_size=1, max_size=40))
def test_repaired_bars_always_pass_reject(rows: list[tuple]) -> None:
    bars = from_frame(table(rows), origin="random")
    repaired, report = validate_bars(bars, "repair")
    _, second = validate_bars(repaired, "reject")  # never raises
    assert second.ok
    dropped = sum(
        c.rule not in ("unsorted", "open_outside_range", "close_outside_range", "invalid_split")
        for c in report.changes
    )
    assert len(repaired) == len(bars) - dropped


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.floats(min_value=1, max_value=1000), min_size=2, max_size=30),
    st.lists(st.sampled_from([1.0, 1.0, 1.0, 2.0, 3.0, 0.25]), min_size=30, max_size=30),
)
def test_split_adjustment_properties(closes: list[float], coefficients: list[float]) -> None:
    n = len(closes)
    raw = np.array(closes)
    k = np.array(coefficients[:n])
    frame = pd.DataFrame(
        {
            "symbol": "AAA",
            "date": pd.bdate_range("2021-01-04", periods=n),
            "open": raw,
            "high": raw,
            "low": raw,
            "close": raw,
            "volume": 100.0,
            "split": k,
        }
    )
    panel = bars_to_panel(frame)
    # the latest price is raw; earlier ones are divided by the product of later coefficients
    assert panel.close[-1, 0] == raw[-1]
    later = np.array([np.prod(k[t + 1 :]) for t in range(n)])
    np.testing.assert_allclose(panel.close[:, 0], raw / later, rtol=1e-12)
    np.testing.assert_allclose(panel.volume[:, 0], 100.0 * later, rtol=1e-12)
    # value traded (price x volume) is unchanged by the adjustment
    np.testing.assert_allclose(panel.close[:, 0] * panel.volume[:, 0], raw * 100.0, rtol=1e-12)
    # cutting the panel never changes earlier adjusted prices
    cut = panel.truncate(n // 2)
    np.testing.assert_array_equal(cut.close[:, 0], panel.close[: n // 2 + 1, 0])
    assert to_frame(from_frame(frame)).shape[0] == n


@settings(max_examples=60, deadline=None)
@given(st.randoms(use_true_random=False), st.integers(min_value=2, max_value=4))
def test_panel_independent_of_row_order(rnd, n_symbols: int) -> None:
    from trading_playbook.data.synthetic import synthetic_bars

    bars = synthetic_bars(n_symbols=n_symbols, start="2015-01-01", end="2016-06-30", seed=rnd.randint(0, 99))
    order = list(range(len(bars)))
    rnd.shuffle(order)
    shuffled = bars.iloc[order].reset_index(drop=True)
    for adjustment in ("split", "all", "raw"):
        a, b = bars_to_panel(bars, adjustment), bars_to_panel(shuffled, adjustment)
        assert a.fingerprint == b.fingerprint  # the sorted fast path equals the grid path bitwise
