"""The intraday store's validation rules and storage (real SQLite file)."""

from __future__ import annotations

import datetime as dt
import math

import pytest

from trading_playbook.data.alpaca_intraday import Gap, IntradayStore, MinuteBar, bar_problem

T = dt.datetime(2020, 1, 3, 15, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("bar", "problem"),
    [
        (MinuteBar("A", T, 10, 11, 9, 10.5, 100), None),
        (MinuteBar("A", T, 10, 11, 9, 10.5, 0), None),
        (MinuteBar("A", T, math.nan, 11, 9, 10.5, 100), "non-finite or non-positive price"),
        (MinuteBar("A", T, 10, 11, 0, 10.5, 100), "non-finite or non-positive price"),
        (MinuteBar("A", T, 10, 9, 11, 10, 100), "high below low"),
        (MinuteBar("A", T, 12, 11, 9, 10, 100), "open or close outside [low, high]"),
        (MinuteBar("A", T, 10, 11, 9, 8, 100), "open or close outside [low, high]"),
        (MinuteBar("A", T, 10, 11, 9, 10, -1), "negative or non-finite volume"),
    ],
)
def test_bar_rules(bar: MinuteBar, problem: str | None) -> None:
    assert bar_problem(bar) == problem


def test_store_replaces_a_minute_and_keeps_gaps(tmp_path) -> None:
    store = IntradayStore(tmp_path / "intraday.sqlite")
    first = MinuteBar("A", T, 10, 11, 9, 10.5, 100)
    later = MinuteBar("A", T, 10, 11, 9, 10.25, 120)
    store.put_minutes("alpaca-iex", [first], "stream")
    store.put_minutes("alpaca-iex", [later, MinuteBar("B", T, 5, 5, 5, 5, 1)], "rest")
    got = store.minutes("alpaca-iex", ["A", "B"], T, T + dt.timedelta(minutes=1))
    assert got == [later, MinuteBar("B", T, 5, 5, 5, 5, 1)]
    assert store.origins("alpaca-iex") == {"rest": 2}
    assert store.last_minute("alpaca-iex", ["A"]) == T and store.last_minute("other", ["A"]) is None
    gap = store.add_gap("alpaca-iex", Gap(T, T + dt.timedelta(hours=1), "reconnected"))
    assert [g.id for g in store.gaps("alpaca-iex", open_only=True)] == [gap.id]
    gap.bars = 7
    store.close_gap(gap)
    assert store.gaps("alpaca-iex", open_only=True) == []
    assert store.gaps("alpaca-iex")[0].bars == 7
    # a second handle on the same file sees everything (another thread or process)
    assert IntradayStore(tmp_path / "intraday.sqlite").minutes(
        "alpaca-iex", ["A"], T, T + dt.timedelta(1)
    ) == [later]
