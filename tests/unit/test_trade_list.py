"""The fast engine's trades keep the columns they were made from (``core.types.TradeList``), and the
metrics and the reports read those instead of the trades: the same values as reading the trades, and
no columns at all once the list no longer holds exactly the trades it was made with."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest

from trading_playbook.core._trade_columns import TradeColumns
from trading_playbook.core.exits.spec import named_exit
from trading_playbook.core.simulate.fast import run_fast
from trading_playbook.core.simulate.settings import PortfolioSettings, SleeveSpec
from trading_playbook.core.sizing import PercentEquitySizer
from trading_playbook.core.types import TRADE_FIELDS, Trade, TradeList, trade_field_columns
from trading_playbook.reports._rows_text import _row_maker, trade_rows_text
from trading_playbook.reports.json_result import _entry_order, _items_at_once
from trading_playbook.reports.samples import random_run
from trading_playbook.testing import TableScanner, random_ohlc_panel, setup_table


def _fast_trades(seed: int = 3) -> list[Trade]:
    """A fast-engine run on a random panel with a setup on most sessions (partial exits included)."""
    rng = np.random.default_rng(seed)
    panel = random_ohlc_panel(rng, 260, 12)
    rows = [
        (t, j, float(panel.close[t, j]), float(rng.integers(0, 3)), float(rng.random()))
        for t in range(30, 250)
        for j in range(12)
        if panel.available[t, j] and rng.random() < 0.3
    ]
    sleeve = SleeveSpec(
        name="main",
        scanner=TableScanner(setup_table(rows)),
        exit=named_exit("scaled_exits"),
        sizer=PercentEquitySizer(),
        max_positions=4,
    )
    trades, _ = run_fast(panel, [sleeve], PortfolioSettings(), start=30, end=259)
    return trades


def _columns_of(trades: list[Trade]) -> dict[str, list[object]]:
    return {name: [getattr(t, name) for t in trades] for name in TRADE_FIELDS}


def test_the_fast_engine_gives_its_trades_with_the_columns_of_their_own_fields() -> None:
    trades = _fast_trades()
    assert len(trades) > 20 and any(t.partial_exits for t in trades)
    made = trade_field_columns(trades)
    assert isinstance(trades, TradeList) and made is not None
    assert list(made) == list(TRADE_FIELDS)
    for name, column in made.items():  # the very objects the trades hold
        assert all(a is getattr(t, name) for a, t in zip(column, trades, strict=True)), name


def test_the_columns_are_given_only_while_the_list_holds_the_trades_it_was_made_with() -> None:
    trades = _fast_trades()
    assert trade_field_columns(trades) is not None
    for change in (
        lambda ts: ts.append(ts[0]),
        lambda ts: ts.pop(),
        lambda ts: ts.reverse(),
        lambda ts: ts.__setitem__(0, Trade(**_copy(ts[0]))),  # an equal trade, another object
        lambda ts: ts.sort(key=lambda t: t.pnl),
    ):
        changed = TradeList(list(trades), _columns_of(trades))
        assert trade_field_columns(changed) is not None
        change(changed)
        assert trade_field_columns(changed) is None
    # copies, slices, sorted lists and pickled lists are plain lists
    for other in (trades.copy(), trades[:], sorted(trades, key=lambda t: t.pnl), copy.copy(trades)):
        assert type(other) is list and trade_field_columns(other) is None
    restored = pickle.loads(pickle.dumps(trades))
    assert type(restored) is list and restored == list(trades)
    assert trade_field_columns(list(trades)) is None


def _copy(trade: Trade) -> dict[str, object]:
    return {name: getattr(trade, name) for name in TRADE_FIELDS}


def test_a_trade_list_needs_one_column_per_field_and_one_value_per_trade() -> None:
    trades = random_run(n_trades=5).trades
    columns = _columns_of(trades)
    with pytest.raises(ValueError, match="one column per Trade field"):
        TradeList(trades, {k: v for k, v in columns.items() if k != "sleeve"})
    with pytest.raises(ValueError, match="one value per trade"):
        TradeList(trades, {**columns, "pnl": columns["pnl"][:-1]})


@pytest.mark.parametrize("seed", [3, 11])
def test_metrics_columns_and_report_rows_from_the_columns_equal_those_read_from_the_trades(seed: int) -> None:
    trades = _fast_trades(seed)
    plain = list(trades)
    fast, slow = TradeColumns.of(trades), TradeColumns.of(plain)
    for name in ("pnl", "pnl_pct", "r_multiple", "sessions_held", "shares", "entry_price", "exit_price"):
        a, b = getattr(fast, name), getattr(slow, name)
        assert a.dtype == b.dtype and a.tobytes() == b.tobytes(), name
    for name in ("reasons", "symbols", "exit_dates", "entry_dates", "sleeves"):
        assert getattr(fast, name) == getattr(slow, name), name
    built, read = trade_rows_text(trades), trade_rows_text(plain)
    assert built.numeric == read.numeric and list(built.values) == list(read.values)
    for key, values in built.values.items():
        assert [repr(v) for v in values] == [repr(v) for v in read.values[key]], key
    assert built.make_rows() == read.make_rows()


def test_the_entry_order_from_the_columns_is_the_order_read_from_the_trades() -> None:
    trades = _fast_trades()
    assert _entry_order(trades) is trades  # the engine's order is already the document's
    shuffled = list(trades)
    shuffled[0], shuffled[-1] = shuffled[-1], shuffled[0]
    unordered = TradeList(shuffled, _columns_of(shuffled))
    assert (
        _entry_order(unordered)
        == _entry_order(shuffled)
        == sorted(trades, key=lambda t: (t.entry_date, t.symbol))
    )


def test_rows_made_by_a_dict_display_equal_dict_of_zip() -> None:
    keys = ("a", 'with "quotes"', "ünï", "x\ny", "z")
    columns = [[1, 2.5, None], ["s", "t", "u"], [[], [{"k": 1}], ()], [0.1, -0.0, float("nan")], [1, 2, 3]]
    made = list(map(_row_maker(keys), *columns))
    expected = [dict(zip(keys, row, strict=True)) for row in zip(*columns, strict=True)]
    assert [list(r.items()) for r in made] == [list(r.items()) for r in expected]
    assert all(
        a is b
        for r, e in zip(made, expected, strict=True)
        for a, b in zip(r.values(), e.values(), strict=True)
    )
    assert _row_maker(keys) is _row_maker(keys)


def test_rows_known_to_share_their_keys_are_written_as_when_each_row_is_looked_at() -> None:
    rows = trade_rows_text(_fast_trades()).make_rows()
    assert _items_at_once(rows, b"  ", "commission") is not None
    looked_at = _items_at_once(rows, b"  ")
    known = _items_at_once(rows, b"  ", "commission")
    assert looked_at is not None and known is not None
    assert b"".join(bytes(p) for p in known) == b"".join(bytes(p) for p in looked_at)
    # a first key that is not a plain name, or a count of boundaries that does not add up: refused
    assert _items_at_once(rows, b"  ", "not plain") is None
    assert _items_at_once(rows, b"  ", "entry_date") is None
