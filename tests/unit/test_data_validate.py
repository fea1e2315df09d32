"""Validation on the way in: every rule rejected with file, symbol, date and fix; repair reports."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from trading_playbook.core.errors import DataValidationError
from trading_playbook.data.model import from_frame
from trading_playbook.data.validate import RULES, validate_bars


def frame(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["symbol", "date", "open", "high", "low", "close", "volume", "split"])


GOOD = [
    ("AAA", "2020-01-02", 10.0, 11.0, 9.5, 10.5, 1000, 1.0),
    ("AAA", "2020-01-03", 10.5, 10.8, 10.0, 10.2, 0, 1.0),  # zero volume is valid
    ("BBB", "2020-01-02", 20.0, 21.0, 19.0, 20.5, 500, 1.0),
    ("BBB", "2020-01-06", 20.5, 20.9, 20.1, 20.7, 700, 2.0),  # a gap and a split are valid
]

# one bad row per rule: (rule, rows, message fragment)
CASES = [
    ("unsorted", [GOOD[1], GOOD[0]], "date is earlier than the previous row"),
    ("duplicate", [GOOD[0], GOOD[0]], "more than one bar"),
    ("missing_price", [("AAA", "2020-01-02", np.nan, 11.0, 9.5, 10.5, 1000, 1.0)], "missing (NaN)"),
    ("non_positive_price", [("AAA", "2020-01-02", 10.0, 11.0, 0.0, 10.5, 1000, 1.0)], "zero or negative"),
    ("missing_volume", [("AAA", "2020-01-02", 10.0, 11.0, 9.5, 10.5, np.nan, 1.0)], "volume is missing"),
    ("negative_volume", [("AAA", "2020-01-02", 10.0, 11.0, 9.5, 10.5, -5, 1.0)], "volume -5 is negative"),
    ("high_below_low", [("AAA", "2020-01-02", 10.0, 9.0, 9.5, 9.2, 1000, 1.0)], "high 9 < low 9.5"),
    ("open_outside_range", [("AAA", "2020-01-02", 11.5, 11.0, 9.5, 10.5, 1000, 1.0)], "open 11.5 outside"),
    ("close_outside_range", [("AAA", "2020-01-02", 10.0, 11.0, 9.5, 9.0, 1000, 1.0)], "close 9 outside"),
    ("invalid_split", [("AAA", "2020-01-02", 10.0, 11.0, 9.5, 10.5, 1000, -2.0)], "split coefficient -2"),
]


def test_every_rule_has_a_case() -> None:
    assert sorted(r for r, _, _ in CASES) == sorted(RULES)


def test_good_bars_pass_unchanged() -> None:
    bars = from_frame(frame(GOOD), origin="file good.csv")
    out, report = validate_bars(bars)
    assert report.ok and out is bars


@pytest.mark.parametrize(("rule", "rows", "fragment"), CASES, ids=[c[0] for c in CASES])
def test_reject_names_file_symbol_date_and_fix(rule: str, rows: list[tuple], fragment: str) -> None:
    bars = from_frame(frame(rows), origin="file bad.csv")
    with pytest.raises(DataValidationError) as err:
        validate_bars(bars, "reject")
    text = str(err.value)
    assert text.startswith("file bad.csv: symbol AAA, date 2020-01-0")
    assert fragment in text
    assert 'validation = "repair"' in text and "--repair" in text


def test_reject_counts_rows() -> None:
    rows = [("AAA", f"2020-01-0{d}", 10.0, 11.0, 9.5, 10.5, -1, 1.0) for d in (2, 3, 6)]
    with pytest.raises(DataValidationError, match="3 rows break this rule"):
        validate_bars(from_frame(frame(rows), origin="x"))


def test_repair_reports_exactly_what_changed() -> None:
    rows = [
        GOOD[2],
        ("AAA", "2020-01-03", 10.5, 10.8, 10.0, 10.2, 0, 1.0),
        ("AAA", "2020-01-02", 10.0, 11.0, 9.5, 10.5, 1000, 1.0),  # unsorted
        ("AAA", "2020-01-02", 99.0, 99.0, 99.0, 99.0, 1, 1.0),  # duplicate: dropped, first kept
        ("AAA", "2020-01-06", 10.0, 11.0, 9.5, 11.4, 900, 1.0),  # close above high: high -> 11.4
        ("AAA", "2020-01-07", 10.0, 9.0, 9.5, 9.2, 900, 1.0),  # high < low: dropped
        ("AAA", "2020-01-08", 10.0, 11.0, 9.5, 10.5, -3, 1.0),  # negative volume: dropped
        ("BBB", "2020-01-03", 20.0, 21.0, 19.0, 20.5, 500, 0.0),  # bad split: 1.0
    ]
    out, report = validate_bars(from_frame(frame(rows), origin="x"), "repair")
    assert report.summary() == {
        "unsorted": 1,
        "duplicate": 1,
        "close_outside_range": 1,
        "high_below_low": 1,
        "negative_volume": 1,
        "invalid_split": 1,
    }
    dropped = {(c.rule, c.symbol, c.date) for c in report.changes}
    assert ("duplicate", "AAA", "2020-01-02") in dropped
    assert ("high_below_low", "AAA", "2020-01-07") in dropped
    table = pd.DataFrame(
        {"day": out.day.astype(str), "sym": [out.symbols[c] for c in out.codes], **out.values}
    )
    assert list(zip(table.sym, table.day, strict=True)) == [
        ("AAA", "2020-01-02"),
        ("AAA", "2020-01-03"),
        ("AAA", "2020-01-06"),
        ("BBB", "2020-01-02"),
        ("BBB", "2020-01-03"),
    ]
    assert table.loc[0, "open"] == 10.0  # the first of the duplicates was kept
    assert table.loc[2, "high"] == 11.4
    assert table.loc[4, "split"] == 1.0
    # a repaired table passes reject
    validate_bars(out, "reject")


def test_nan_split_means_unknown() -> None:
    rows = [("AAA", "2020-01-02", 10.0, 11.0, 9.5, 10.5, 1000, np.nan)]
    out, report = validate_bars(from_frame(frame(rows), origin="x"))
    assert report.ok and np.isnan(out.values["split"][0])


def test_date_major_layout_is_sorted_not_rejected() -> None:
    rows = [GOOD[0], GOOD[2], GOOD[1], GOOD[3]]  # sorted by date, then symbol
    out, report = validate_bars(from_frame(frame(rows), origin="x"))
    assert report.ok
    assert [out.symbols[c] for c in out.codes] == ["AAA", "AAA", "BBB", "BBB"]
