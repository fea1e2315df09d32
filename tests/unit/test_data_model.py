"""Symbols, column mapping, conversions, the calendar and the request object."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from trading_playbook.core.errors import DataError, SourceError
from trading_playbook.data import DataRequest, normalize_symbol, parse_column_mapping, xnys_sessions
from trading_playbook.data.arrow import arrays_from_table, rename_columns, table_from_arrays
from trading_playbook.data.calendar import missing_runs, session_runs
from trading_playbook.data.model import from_frame, to_frame


@pytest.mark.parametrize(
    ("given", "expected"), [("aapl", "AAPL"), ("BRK.B", "BRK.B"), (" bf-b ", "BF-B"), ("3M", "3M")]
)
def test_symbols_normalised(given: str, expected: str) -> None:
    assert normalize_symbol(given) == expected


@pytest.mark.parametrize("bad", ["", "../x", "A/B", "A\\B", ".A", "A..B", "A B", "ABCDEFGHIJKLMNOP", "A;B"])
def test_bad_symbols_rejected(bad: str) -> None:
    with pytest.raises(DataError, match="invalid symbol"):
        normalize_symbol(bad)


def test_column_mapping_parse() -> None:
    assert parse_column_mapping("Date=date, Adj Close=adjusted_close") == {
        "Date": "date",
        "Adj Close": "adjusted_close",
    }
    with pytest.raises(SourceError, match="old=new"):
        parse_column_mapping("Date")


def test_frame_round_trip_and_timezones() -> None:
    frame = pd.DataFrame(
        {
            "symbol": ["b", "a", "a"],
            "date": pd.to_datetime(["2020-01-02 16:00", "2020-01-02 00:00", "2020-01-03 00:00"]).tz_localize(
                "America/New_York"
            ),
            "open": [1.0, 2.0, 3.0],
            "high": [1.0, 2.0, 3.0],
            "low": [1.0, 2.0, 3.0],
            "close": [1.0, 2.0, 3.0],
            "volume": pd.array([1, 2, None], dtype="Int64"),
        }
    )
    bars = from_frame(frame)
    assert bars.symbols == ("A", "B") and bars.codes.tolist() == [1, 0, 0]
    assert bars.day.astype(str).tolist() == ["2020-01-02", "2020-01-02", "2020-01-03"]
    assert np.isnan(bars.values["volume"][2])
    back = to_frame(bars)
    assert back["symbol"].tolist() == ["B", "A", "A"] and back["date"].dtype == "datetime64[ns]"
    table = table_from_arrays(bars)
    again = arrays_from_table(table, "t")
    assert again.symbols == bars.symbols and np.array_equal(again.codes, bars.codes)


def test_arrow_tz_and_mapping() -> None:
    stamps = pa.array(pd.to_datetime(["2020-01-02 23:30"]).tz_localize("America/New_York"))
    table = pa.table(
        {
            "Ticker": ["x"],
            "Date": stamps,
            "OPEN": [1.0],
            "High": [1.0],
            "Low": [1.0],
            "Close": [1.0],
            "Volume": [5],
        }
    )
    bars = arrays_from_table(rename_columns(table, {"Ticker": "symbol"}, "t"), "t")
    assert str(bars.day[0]) == "2020-01-02"  # local wall date, not UTC's next day
    with pytest.raises(DataError, match="lacks column"):
        arrays_from_table(table, "t")
    with pytest.raises(DataError, match="names \\['Nope'\\]"):
        rename_columns(table, {"Nope": "symbol"}, "t")


def test_calendar_runs() -> None:
    sessions = xnys_sessions("2020-12-20", "2021-01-10")
    assert "2020-12-25" not in sessions.astype(str) and "2021-01-01" not in sessions.astype(str)
    covered = [(np.datetime64("2020-12-21"), np.datetime64("2020-12-24"))]
    assert [(str(a), str(b)) for a, b in missing_runs(sessions, covered)] == [("2020-12-28", "2021-01-08")]
    # 2020-12-24 and 2020-12-28 are adjacent sessions (Christmas and a weekend between)
    picked = np.array(["2020-12-24", "2020-12-28", "2020-12-30"], dtype="datetime64[D]")
    assert [(str(a), str(b)) for a, b in session_runs(picked)] == [
        ("2020-12-24", "2020-12-28"),
        ("2020-12-30", "2020-12-30"),
    ]


def test_xnys_sessions_are_exchange_calendars_sessions_for_any_range() -> None:
    """The sessions come from the calendar's holiday rules for the range alone (not the built
    calendar, about half a second): the same days as the built calendar's, over its whole range and
    for ranges starting and ending anywhere (holidays observed across a year's boundary included)."""
    from trading_playbook.data.calendar import _calendar

    full = np.asarray(_calendar().sessions.values, dtype="datetime64[D]")
    assert np.array_equal(xnys_sessions("1980-01-01", "2200-01-01"), full)  # clipped to the calendar
    assert xnys_sessions("1980-01-01", "1989-12-31").shape == (0,)
    rng = np.random.default_rng(3)
    first = np.datetime64("1990-01-02")
    span = int((full[-1] - first).astype(int)) + 400
    ranges = [(first + int(x), first + int(y)) for x, y in np.sort(rng.integers(-200, span, (60, 2)), axis=1)]
    # windows over New Year (a Saturday 1 January is not observed on the Friday before) and Christmas
    ranges += [
        (np.datetime64(f"{y}-12-{d}"), np.datetime64(f"{y + 1}-01-0{e}"))
        for y in range(1990, 2026)
        for d, e in ((24, 3), (31, 1))
    ]
    for lo, hi in ranges:
        assert np.array_equal(xnys_sessions(lo, hi), full[(full >= lo) & (full <= hi)]), (lo, hi)


def test_request_validation() -> None:
    with pytest.raises(DataError, match="unknown data source"):
        DataRequest(source="yahoo")  # type: ignore[arg-type]
    with pytest.raises(DataError, match="needs path"):
        DataRequest(source="file")
    with pytest.raises(DataError, match="unknown adjustment"):
        DataRequest(adjustment="dividend")  # type: ignore[arg-type]


@pytest.mark.parametrize("adjustment", ["split", "all", "raw"])
def test_a_panel_built_from_handed_over_columns_is_identical(adjustment: str) -> None:
    from trading_playbook.core.panel import panel_from_arrays
    from trading_playbook.data.synthetic import synthetic_arrays

    bars = synthetic_arrays(7, "2010-01-01", "2012-12-31", seed=4)
    bars.values["split"][::97] = 2.0  # splits on a few bars, so the factors matter
    kept = panel_from_arrays(bars.codes, bars.symbols, bars.day, dict(bars.values), adjustment)
    handed = dict(bars.values)
    consumed = panel_from_arrays(bars.codes, bars.symbols, bars.day, handed, adjustment, consume=True)
    assert handed == {}  # every column left the caller's dict
    for name in ("open", "high", "low", "close", "volume", "raw_close", "available", "split"):
        np.testing.assert_array_equal(getattr(consumed, name), getattr(kept, name), err_msg=name)
    assert consumed.fingerprint == kept.fingerprint
