"""The shared real data: loads under reject, split adjustment on AAPL, file == cache, other layouts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from trading_playbook.core.panel import bars_to_panel
from trading_playbook.data import BarCache, DataRequest, FileSource, load_bars, load_panel, validate_bars

from .data_fixtures import SHARED, shared_slice

AAPL_SPLITS = {"2000-06-21": 2.0, "2005-02-28": 2.0, "2014-06-09": 7.0, "2020-08-31": 4.0}


@pytest.fixture(scope="module")
def shared_panel():
    return load_panel(DataRequest(source="file", path=str(SHARED)))


def test_shared_file_loads_under_reject(shared_panel) -> None:
    panel, info = shared_panel
    assert info["symbols"] == 504 and info["rows"] == 2_402_891
    assert (info["first_session"], info["last_session"]) == ("1999-11-01", "2021-04-21")
    assert info["repairs"] == []
    # late starts stay late: no bar before the listing
    for symbol, first in (("CARR", "2020-03-19"), ("OTIS", "2020-03-19"), ("VTRS", "2020-11-16")):
        j = panel.symbol_index(symbol)
        assert str(panel.sessions[panel.available[:, j]][0]) == first
    # zero-volume days load as zero
    assert np.nansum(panel.volume == 0) == 187


def test_aapl_split_adjustment_continuous(shared_panel) -> None:
    panel, _ = shared_panel
    j = panel.symbol_index("AAPL")
    vendor = shared_slice(["AAPL"], "1999-01-01", "2021-12-31").set_index("date")["adjusted_close"]
    mask = panel.available[:, j]
    ours = pd.Series(panel.close[mask, j], index=pd.DatetimeIndex(panel.sessions[mask]))
    assert ours.iloc[-1] == panel.raw_close[mask, j][-1]  # back-adjusted: the latest price is raw
    for day, k in AAPL_SPLITS.items():
        t = panel.session_index(day)
        assert panel.split[t, j] == pytest.approx(k, rel=1e-5)
        raw_jump = panel.raw_close[t, j] / panel.raw_close[t - 1, j]
        assert raw_jump < 0.6  # raw prices crash at the split...
        # ...adjusted closes do not: across the split our close moves like the vendor's adjusted close
        window = ours.index.get_loc(pd.Timestamp(day))
        ratio = (ours / vendor).iloc[window - 5 : window + 6]
        assert ratio.max() / ratio.min() - 1 < 0.01, day
        ours_ret = ours.iloc[window] / ours.iloc[window - 1] - 1
        vendor_ret = vendor.iloc[window] / vendor.iloc[window - 1] - 1
        assert abs(ours_ret - vendor_ret) < 0.01


def test_adjustment_all_and_raw(shared_panel) -> None:
    request = DataRequest(source="file", path=str(SHARED), symbols=("AAPL", "MSFT"), adjustment="all")
    panel_all, _ = load_panel(request)
    raw, _ = load_panel(DataRequest(source="file", path=str(SHARED), symbols=("AAPL",), adjustment="raw"))
    vendor = shared_slice(["AAPL"], "1999-01-01", "2021-12-31")["adjusted_close"].to_numpy()
    j = panel_all.symbol_index("AAPL")
    np.testing.assert_allclose(panel_all.close[panel_all.available[:, j], j], vendor, rtol=1e-12)
    np.testing.assert_array_equal(raw.close[raw.available[:, 0], 0], raw.raw_close[raw.available[:, 0], 0])


def test_cache_round_trip_equals_file(tmp_path) -> None:
    symbols = ("AAPL", "BRK.B", "CARR", "WELL")
    file_request = DataRequest(source="file", path=str(SHARED), symbols=symbols)
    bars = FileSource(SHARED).fetch_arrays(symbols)
    bars, _ = validate_bars(bars)
    BarCache(tmp_path).store("sp500", bars)
    from_file, _ = load_panel(file_request)
    from_cache, info = load_panel(DataRequest(source="cache", path="sp500", cache_dir=str(tmp_path)))
    assert from_cache.fingerprint == from_file.fingerprint
    assert info["symbols"] == 4 and len(info["fingerprint"]) == 32


def test_pandas_and_arrow_paths_agree(tmp_path) -> None:
    bars = load_bars(DataRequest(source="file", path=str(SHARED), symbols=("AAPL", "ZTS")))
    assert list(bars.columns[:7]) == ["symbol", "date", "open", "high", "low", "close", "volume"]
    assert isinstance(bars["symbol"].dtype, pd.CategoricalDtype)
    via_pandas = bars_to_panel(bars)
    via_arrow, _ = load_panel(DataRequest(source="file", path=str(SHARED), symbols=("AAPL", "ZTS")))
    assert via_pandas.fingerprint == via_arrow.fingerprint


def test_csv_with_mapping_and_folder_per_symbol(tmp_path) -> None:
    part = shared_slice(["AAPL", "MSFT"], "2014-05-01", "2014-07-31")
    renamed = part.rename(
        columns={"symbol": "Ticker", "date": "Date", "close": "Close", "adjusted_close": "Adj Close"}
    )
    renamed.to_csv(tmp_path / "long.csv", index=False)
    mapping = {"Ticker": "symbol", "Adj Close": "adjusted_close"}  # Date/Close match case-insensitively
    from_csv, _ = load_panel(DataRequest(source="file", path=str(tmp_path / "long.csv"), columns=mapping))
    folder = tmp_path / "per_symbol"
    folder.mkdir()
    for symbol, group in part.groupby("symbol"):
        group.drop(columns="symbol").to_parquet(folder / f"{symbol}.parquet")
    from_folder, _ = load_panel(DataRequest(source="file", path=str(folder)))
    reference = bars_to_panel(part)
    assert from_csv.fingerprint == reference.fingerprint == from_folder.fingerprint
    assert from_csv.split[
        from_csv.session_index("2014-06-09"), from_csv.symbol_index("AAPL")
    ] == pytest.approx(7.0, 1e-5)
