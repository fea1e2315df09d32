"""The synthetic universe: deterministic, valid, realistic, and the breakout scanner fires on it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from trading_playbook.core.panel import bars_to_panel
from trading_playbook.core.scanners import DailyBreakoutScanner
from trading_playbook.data import DataRequest, SyntheticSource, load_panel, synthetic_bars
from trading_playbook.data.model import from_frame
from trading_playbook.data.validate import validate_bars


@pytest.fixture(scope="module")
def universe() -> pd.DataFrame:
    return synthetic_bars(n_symbols=40, start="2012-01-01", end="2019-12-31", seed=7)


def test_deterministic(universe) -> None:
    again = synthetic_bars(n_symbols=40, start="2012-01-01", end="2019-12-31", seed=7)
    pd.testing.assert_frame_equal(universe, again)
    other = synthetic_bars(n_symbols=40, start="2012-01-01", end="2019-12-31", seed=8)
    assert not universe["close"].equals(other["close"])


def test_valid_under_reject(universe) -> None:
    _, report = validate_bars(from_frame(universe, origin="synthetic"), "reject")
    assert report.ok


def test_realistic_features(universe) -> None:
    by_symbol = universe.groupby("symbol", observed=True)
    first, last = by_symbol["date"].min(), by_symbol["date"].max()
    assert (first > pd.Timestamp("2012-06-01")).sum() >= 3  # late listings
    assert (last < pd.Timestamp("2019-06-01")).sum() >= 2  # delistings
    assert 3 <= (universe["split"] != 1.0).sum() <= 40  # occasional splits
    assert (universe["dividend"] > 0).sum() > 50
    # volatility clusters: |returns| are autocorrelated
    ret = by_symbol["close"].pct_change().where(universe["split"] == 1.0).abs()
    assert ret.autocorr(lag=1) > 0.1
    # raw prices jump at splits, split-adjusted ones do not
    panel = bars_to_panel(universe)
    t, j = np.nonzero(panel.split != 1.0)
    raw_jump = panel.raw_close[t, j] / panel.raw_close[t - 1, j]
    adjusted_jump = panel.close[t, j] / panel.close[t - 1, j]
    assert np.all(raw_jump < 0.6) and np.all(np.abs(adjusted_jump - 1) < 0.2)


def test_breakout_scanner_fires_dozens_per_year(universe) -> None:
    panel = bars_to_panel(universe)
    setups = DailyBreakoutScanner("default").scan(panel)
    years = pd.Series(panel.sessions[setups.session_idx].astype("datetime64[Y]")).value_counts()
    assert len(years) == 8
    assert years.min() >= 24 and years.max() <= 400, years.to_dict()
    assert np.all(setups.volume_ratio >= 1.2)


def test_source_protocol_and_request() -> None:
    src = SyntheticSource(n_symbols=3, seed=1, start="2015-01-01", end="2015-12-31")
    bars = src.fetch(["SYN001"], "2015-03-01", "2015-03-31")
    assert set(bars["symbol"]) == {"SYN001"} and bars["date"].min() >= pd.Timestamp("2015-03-01")
    panel, info = load_panel(
        DataRequest(synthetic_symbols=3, synthetic_seed=1, start="2015-01-01", end="2015-12-31")
    )
    assert info["source"] == "synthetic" and panel.n_symbols == 3 and info["first_session"] == "2015-01-02"


def _digest(bars) -> str:
    import hashlib

    h = hashlib.sha256()
    h.update(np.ascontiguousarray(bars.codes).tobytes())
    h.update(bars.day.view(np.int64).tobytes())
    for name in sorted(bars.values):
        h.update(name.encode())
        h.update(np.ascontiguousarray(bars.values[name]).tobytes())
    return h.hexdigest()[:16]


def test_bars_are_the_same_whatever_the_thread_count_and_as_before() -> None:
    """Each symbol comes from its own stream into its own rows: 1, 2 or 3 threads (runs of 32
    symbols handed out as threads free up) give the bars bit for bit, and those are the bars of
    generator version 2 as recorded before the threads changed (digests of 2026-12-01)."""
    from trading_playbook.data.synthetic import GENERATOR_VERSION, synthetic_arrays

    assert GENERATOR_VERSION == 2  # a new version records new digests
    full = [synthetic_arrays(100, "1996-01-01", "2020-12-31", 7, threads=t) for t in (1, 2, 3)]
    assert {_digest(bars) for bars in full} == {"24ca123001fef5a6"}
    part = synthetic_arrays(
        100, "1996-01-01", "2020-12-31", 7, first=30, count=50, columns=("split",), threads=3
    )
    assert _digest(part) == "8dd690c971a5cf2f"
    assert _digest(synthetic_arrays(40, "2012-01-01", "2019-12-31", 3, threads=1)) == "bde88b1d974ea11b"
