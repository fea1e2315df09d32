"""The equal-weight buy-and-hold benchmark on the shared S&P 500 data, checked against raw prices and splits."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from trading_playbook.core.metrics import benchmark_from_panel
from trading_playbook.core.panel import bars_to_panel
from trading_playbook.testing import shared_data_path

DATA = shared_data_path(Path(__file__).parent) or Path("shared/data/sp500_daily.parquet")
pytestmark = pytest.mark.skipif(not DATA.exists(), reason=f"shared data not found at {DATA}")

START, END = pd.Timestamp("2005-01-03"), pd.Timestamp("2008-12-31")


@pytest.fixture(scope="module")
def bars() -> pd.DataFrame:
    frame = pd.read_parquet(
        DATA,
        columns=["symbol", "date", "open", "high", "low", "close", "volume", "split"],
        filters=[("date", ">=", START), ("date", "<=", END)],
    )
    frame["symbol"] = frame["symbol"].astype(str)
    return frame


def test_equal_weight_matches_raw_closes_times_splits(bars: pd.DataFrame) -> None:
    panel = bars_to_panel(bars)
    bench = benchmark_from_panel(panel, START, END, symbol="AAPL")
    # Independent: growth of one share bought at the first close = close_t * (product of splits after
    # the first session up to t) / close_0, on raw prices; held flat after a symbol's last bar.
    close = bars.pivot(index="date", columns="symbol", values="close").sort_index()
    split = bars.pivot(index="date", columns="symbol", values="split").sort_index().fillna(1.0)
    split.iloc[0] = 1.0
    growth = (close * split.cumprod()).ffill() / close.iloc[0]
    held = close.iloc[0].notna()
    expected = growth.loc[:, held].mean(axis=1).to_numpy()
    assert bench.dates[0] == np.datetime64("2005-01-03") and bench.dates[-1] == np.datetime64("2008-12-31")
    assert np.allclose(bench.curves["equal_weight"], expected, rtol=1e-9)
    # AAPL split 2-for-1 on 2005-02-28: the adjusted curve has no crash there
    aapl = pd.Series(bench.curves["AAPL"], index=pd.DatetimeIndex(bench.dates))
    assert aapl.loc["2005-02-28"] / aapl.loc["2005-02-25"] == pytest.approx(
        close.loc["2005-02-28", "AAPL"] * 2 / close.loc["2005-02-25", "AAPL"], rel=1e-6
    )
    assert f"{int(held.sum())} symbols" in bench.labels["equal_weight"]
