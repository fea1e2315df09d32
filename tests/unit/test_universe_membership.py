"""Membership files at the boundary, registered universes, the mask, coverage and reused tickers (issue 15).

Every file here is a small hand-made CSV written to a temporary folder; every expected number is
worked out in the comments.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from trading_playbook.core.errors import CacheError, ConfigError, DataError, DataValidationError
from trading_playbook.core.universe import (
    apply_membership,
    coverage,
    members_only,
    membership_mask,
    split_reused_tickers,
)
from trading_playbook.data.universe import UniverseStore, is_path, parse_membership, read_membership
from trading_playbook.testing import flat, make_panel, setup_table

HEADER = "ticker,start_date,end_date\n"


def write(tmp_path: Path, text: str, name: str = "members.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# --------------------------------------------------------------------------------------- the file
@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "the file is empty"),
        (HEADER, "no membership rows"),
        ("ticker,start_date\nAAA,2020-01-01\n", "line 1: missing column(s) end_date"),
        ("ticker,start_date,end_date,sector\nAAA,2020-01-01,,tech\n", "line 1: unknown column 'sector'"),
        ("ticker,start_date,end_date,ticker\n", "column 'ticker' appears twice"),
        (HEADER + "AAA,2020-01-01\n", "line 2: 2 fields, the header has 3"),
        (HEADER + ",2020-01-01,\n", "line 2: the ticker is empty"),
        (
            HEADER + "AAA,01/02/2020,\n",
            "line 2 (AAA): start_date '01/02/2020' is not a date; write YYYY-MM-DD",
        ),
        (HEADER + "AAA,2020-01-01,2020-02-30\n", "line 2 (AAA): end_date '2020-02-30' is not a date"),
        (
            HEADER + "AAA,2020-03-01,2020-02-01\n",
            "line 2 (AAA): end_date 2020-02-01 is before start_date 2020-03-01",
        ),
        (
            HEADER + "AAA,2020-01-01,2020-03-01\n\nAAA,2020-03-01,\n",
            "lines 2 and 4: ticker AAA has overlapping stays 2020-01-01..2020-03-01 and 2020-03-01..",
        ),
        (HEADER + "AAA,2020-01-01,\nAAA,2021-01-01,2021-02-01\n", "ticker AAA has overlapping stays"),
        (
            "ticker,start_date,end_date,data_symbol\nFB,2013-12-23,2022-06-08,META\nMETA,2022-06-01,,\n",
            "data_symbol META (tickers FB and META) has overlapping stays",
        ),
    ],
)
def test_a_bad_file_is_one_line_naming_file_line_and_fix(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(DataValidationError) as info:
        read_membership(path)
    assert str(path) in str(info.value)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_a_missing_file_names_it(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        read_membership(tmp_path / "nope.csv")


def test_a_good_file(tmp_path: Path) -> None:
    # BOM, spaces, lower-case tickers, a blank line, an empty end, a mapped stay: all accepted
    text = "\ufeffTicker, start_date ,end_date,data_symbol\n aapl ,1982-11-30,,\n\nDOW,1996-01-02,2017-09-01,dow.old\n"
    m = read_membership(write(tmp_path, text))
    assert m.ticker == ("AAPL", "DOW")
    assert m.data_symbol == ("AAPL", "DOW.OLD")
    assert m.explicit.tolist() == [False, True]
    assert m.line.tolist() == [2, 4]
    assert np.isnat(m.end[0]) and str(m.end[1]) == "2017-09-01"
    # stays of one ticker may touch (end then start the next day): no overlap
    parse_membership(HEADER + "GAS,1996-01-02,2011-12-12\nGAS,2011-12-13,2016-07-01\n", "x")


def test_is_path() -> None:
    assert is_path("members.csv") and is_path("../shared/x") and is_path("./sp500")
    assert not is_path("sp500") and not is_path("nasdaq-100")


# --------------------------------------------------------------------------------------- registered
def test_register_list_show_load_and_remove(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER + "AAA,2020-01-01,\nBBB,2019-01-01,2020-06-30\n")
    store = UniverseStore(tmp_path / "cache")
    meta = store.add("mini", path)
    assert (meta["stays"], meta["tickers"], meta["current_members"]) == (2, 2, 1)
    assert (meta["first_date"], meta["last_date"]) == ("2019-01-01", "2020-06-30")
    assert store.names() == ["mini"] and store.info("mini")["origin"] == str(path.resolve())
    loaded = store.load("mini")
    assert loaded.ticker == ("AAA", "BBB") and loaded.fingerprint == read_membership(path).fingerprint
    with pytest.raises(ConfigError, match="already registered"):
        store.add("mini", path)
    store.add("mini", write(tmp_path, HEADER + "CCC,2020-01-01,\n", "other.csv"), replace=True)
    assert store.load("mini").ticker == ("CCC",)
    # a registered copy edited by hand is refused, with the command that repairs it
    (store.root / "mini.csv").write_text(HEADER + "ZZZ,2020-01-01,\n")
    with pytest.raises(DataError, match="changed after it was registered"):
        store.load("mini")
    store.remove("mini")
    assert store.names() == []
    with pytest.raises(ConfigError, match="no universe named 'mini'"):
        store.load("mini")
    with pytest.raises(ConfigError, match="is not valid"):
        store.add("../evil", path)
    (tmp_path / "afile").write_text("x")
    with pytest.raises(CacheError, match="cannot use"):
        UniverseStore(tmp_path / "afile")


# --------------------------------------------------------------------------------------- the mask
def test_the_mask_of_a_small_file() -> None:
    # sessions day 0..6 (2020-01-01..07). AAA member 01-02..01-04 (rows 1-3), BBB from 01-06 (rows 5, 6),
    # CCC has no price series. member_next[t] = member[t + 1]; on the last row, the next calendar day.
    panel = make_panel({"AAA": [flat(1)] * 7, "BBB": [flat(1)] * 7})
    text = HEADER + "AAA,2020-01-02,2020-01-04\nBBB,2020-01-06,\nCCC,2019-01-01,\n"
    m = parse_membership(text, "x")
    mask = membership_mask(panel.sessions, panel.symbols, m, "exit")
    assert mask.member[:, 0].tolist() == [False, True, True, True, False, False, False]
    assert mask.member[:, 1].tolist() == [False, False, False, False, False, True, True]
    assert mask.member_next[:, 0].tolist() == [True, True, True, False, False, False, False]
    assert mask.member_next[:, 1].tolist() == [False, False, False, False, True, True, True]
    # under "exit" a setup needs membership today and tomorrow; a held position leaves where not tomorrow
    assert mask.eligible()[:, 0].tolist() == [False, True, True, False, False, False, False]
    assert mask.leaving()[:, 0].tolist() == [False, False, False, True, True, True, True]
    hold = membership_mask(panel.sessions, panel.symbols, m, "hold")
    assert np.array_equal(hold.eligible(), hold.member) and not hold.leaving().any()
    # a stay ending on the last session leaves after it; the next day can be given (a calendar)
    ends = parse_membership(HEADER + "AAA,2020-01-01,2020-01-07\n", "x")
    assert not membership_mask(panel.sessions, panel.symbols, ends).member_next[-1, 0]
    day = np.datetime64("2020-01-07")
    assert membership_mask(panel.sessions, panel.symbols, ends, next_day=day).member_next[-1, 0]
    # coverage: members counts every stay (CCC too), with_data the ones whose series is loaded
    cov = coverage(panel.sessions, panel.symbols, panel.available, m, mask)
    assert cov.members.tolist() == [1, 2, 2, 2, 1, 2, 2]
    assert cov.with_data.tolist() == [0, 1, 1, 1, 0, 1, 1]
    assert cov.with_bar.tolist() == [0, 1, 1, 1, 0, 1, 1]
    assert cov.member_days == 12 and cov.unseen_share == pytest.approx(1 - 5 / 12)
    with pytest.raises(DataError, match="unknown universe policy"):
        membership_mask(panel.sessions, panel.symbols, m, "sell")


def test_members_only_keeps_eligible_rows_in_order() -> None:
    table = setup_table([(1, 0, 10.0, 5, 1), (1, 1, 10.0, 4, 1), (2, 0, 10.0, 3, 1), (9, 1, 10.0, 1, 1)])
    eligible = np.array([[False, False], [True, False], [False, False], [False, True]])
    kept = members_only(table, eligible)
    assert kept.session_idx.tolist() == [1] and kept.symbol_idx.tolist() == [0]  # row 9: beyond the mask


def test_truncate_and_select_carry_the_mask() -> None:
    panel = make_panel({"AAA": [flat(1)] * 5, "BBB": [flat(1), None, flat(1), flat(1), flat(1)]})
    traded, _ = apply_membership(
        panel, parse_membership(HEADER + "BBB,2020-01-02,2020-01-03\n", "x"), policy="exit"
    )
    assert traded.universe is not None
    cut = traded.truncate(2)
    assert cut.universe is not None and cut.universe.member.shape == (3, 2)
    assert cut.universe.member_next[2, 1] == traded.universe.member_next[2, 1]  # from the full data
    only = traded.select(["BBB"])
    assert only.universe is not None and only.universe.member[:, 0].tolist() == [False, True, False, False]


# --------------------------------------------------------------------------------------- reused tickers
TWO = HEADER + "XYZ,2020-01-01,2020-01-02\nXYZ,2020-01-06,\n"


def test_a_series_with_bars_in_stays_far_apart_is_cut_in_two() -> None:
    # stays 01-01..01-02 and from 01-06: 4 days apart. With gap_days = 3 they may be two companies:
    # the bars up to 01-02 become XYZ@2020-01-01, re-scaled so their last close is the raw close.
    closes = [10.0, 11.0, 12.0, 13.0, 14.0, 15.0, 16.0]
    panel = make_panel({"XYZ": [flat(c) for c in closes]})
    panel = type(panel)(**{**panel.__dict__, "raw_close": panel.close * 2.0})  # a later 2:1 split
    traded, cov = apply_membership(panel, parse_membership(TWO, "m.csv"), gap_days=3)
    assert traded.symbols == ("XYZ", "XYZ@2020-01-01")
    assert np.flatnonzero(traded.available[:, 1]).tolist() == [0, 1]
    assert traded.close[:2, 1].tolist() == [20.0, 22.0]  # x (raw 22 / adjusted 11)
    assert np.flatnonzero(traded.available[:, 0]).tolist() == [2, 3, 4, 5, 6]
    assert traded.close[2:, 0].tolist() == closes[2:]  # the later part keeps its prices
    assert traded.universe is not None
    assert traded.universe.member[:, 1].tolist() == [True, True, False, False, False, False, False]
    assert traded.universe.member[:, 0].tolist() == [False, False, False, False, False, True, True]
    assert [s.line() for s in cov.splits] == [
        "XYZ: bars up to 2020-01-02 are XYZ@2020-01-01 (stays 2020-01-01..2020-01-02 and 2020-01-06.. are 4 days apart)"
    ]
    # within gap_days, or without bars on one side, nothing is cut
    assert apply_membership(panel, parse_membership(TWO, "m.csv"), gap_days=4)[0].symbols == ("XYZ",)
    late = make_panel({"XYZ": [None, None, None, *[flat(c) for c in closes[3:]]]})
    assert apply_membership(late, parse_membership(TWO, "m.csv"), gap_days=3)[0].symbols == ("XYZ",)


def test_refuse_mode_names_the_series_the_stays_and_the_fix() -> None:
    panel = make_panel({"XYZ": [flat(10.0)] * 7})
    m = parse_membership(TWO, "m.csv")
    with pytest.raises(DataError) as info:
        split_reused_tickers(panel.sessions, panel.symbols, panel.available, m, gap_days=3, mode="refuse")
    text = str(info.value)
    assert (
        "m.csv: the price series XYZ has bars in member stays 2020-01-01..2020-01-02 and 2020-01-06.." in text
    )
    assert "file lines 2 and 3" in text and "data_symbol = XYZ on both rows" in text


def test_an_explicit_data_symbol_is_the_users_word() -> None:
    # data_symbol written on both rows: one company that came back, never cut. Mapping the earlier stay
    # to its own series (XYZ.OLD, not loaded) leaves XYZ's bars to the later stay only.
    panel = make_panel({"XYZ": [flat(10.0)] * 7})
    same = "ticker,start_date,end_date,data_symbol\nXYZ,2020-01-01,2020-01-02,XYZ\nXYZ,2020-01-06,,XYZ\n"
    traded, _ = apply_membership(panel, parse_membership(same, "m.csv"), gap_days=3)
    assert traded.symbols == ("XYZ",)
    other = "ticker,start_date,end_date,data_symbol\nXYZ,2020-01-01,2020-01-02,XYZ.OLD\nXYZ,2020-01-06,,\n"
    traded, cov = apply_membership(panel, parse_membership(other, "m.csv"), gap_days=3)
    assert traded.symbols == ("XYZ",)
    assert traded.universe is not None
    assert traded.universe.member[:, 0].tolist() == [False, False, False, False, False, True, True]
    assert cov.with_data.tolist() == [0, 0, 0, 0, 0, 1, 1] and cov.members.tolist() == [1, 1, 0, 0, 0, 1, 1]
