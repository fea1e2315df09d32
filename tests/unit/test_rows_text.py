"""The document's rows built column by column with their text (:mod:`trading_playbook.reports._rows_text`)
give the bytes of the row-by-row path: ``result.json`` (each row ``orjson.dumps(row, OPT_SORT_KEYS)``),
``trades.csv`` and ``equity.csv`` (the cells read back from the rows), for any floats (NaN, infinities,
-0.0, tiny and huge), partial exits, and strings that need JSON escapes or CSV quotes."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import numpy as np
import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from trading_playbook.core.metrics import compute_metrics
from trading_playbook.core.types import PartialExit, RunResult, Trade
from trading_playbook.reports import render_document, write_run
from trading_playbook.reports.json_result import (
    PlainDocument,
    dumps_canonical_bytes,
    result_document,
    to_jsonable,
)
from trading_playbook.reports.samples import hand_worked_run, make_curve

FILES = ("result.json", "trades.csv", "equity.csv")


def item_by_item(value: object, depth: int = 0) -> bytes:
    """The canonical layout written one list item at a time (each ``orjson.dumps(item, OPT_SORT_KEYS)``
    on its own line): the reference for the one-call writing of a list of rows."""
    pad = b"  " * depth
    if isinstance(value, dict) and value:
        items = [
            pad + b"  " + orjson.dumps(str(k)) + b": " + item_by_item(value[k], depth + 1)
            for k in sorted(value)
        ]
        text = b"{\n" + b",\n".join(items) + b"\n" + pad + b"}"
    elif isinstance(value, list) and any(isinstance(v, dict | list) for v in value):
        rows = [pad + b"  " + orjson.dumps(v, option=orjson.OPT_SORT_KEYS) for v in value]
        text = b"[\n" + b",\n".join(rows) + b"\n" + pad + b"]"
    else:
        text = orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    return text + (b"\n" if depth == 0 else b"")


floats = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from([-0.0, 5e-324, 1e308, 0.1])
texts = st.text(max_size=6) | st.sampled_from(["a,b", 'say "hi"', "two\nlines", "cr\rx", "é\\", ""])
days = st.dates(dt.date(1990, 1, 1), dt.date(2030, 12, 31))


@st.composite
def trades(draw: st.DrawFn) -> Trade:
    partials = draw(st.lists(st.builds(PartialExit, days, st.integers(1, 10**6), floats, texts), max_size=2))
    return Trade(
        symbol=draw(texts),
        entry_date=draw(days),
        exit_date=draw(days),
        entry_price=draw(floats),
        exit_price=draw(floats),
        shares=draw(st.integers(0, 10**9)),
        exit_reason=draw(texts),
        pnl=draw(floats),
        pnl_pct=draw(floats),
        r_multiple=draw(floats),
        sessions_held=draw(st.integers(0, 10**4)),
        mfe=draw(floats),
        mae=draw(floats),
        partial_exits=tuple(partials),
        initial_stop=draw(floats),
        commission=draw(floats),
        sleeve=draw(texts),
    )


def _run(trade_list: list[Trade], equity: list[float]) -> RunResult:
    base = hand_worked_run()
    dates = np.datetime64("2021-01-04") + np.arange(len(equity))
    curve = make_curve(dates, equity, [i % 3 for i in range(len(equity))])
    return dataclasses.replace(base, trades=trade_list, equity=curve, metrics={"trades": len(trade_list)})


def _files(doc: dict, out: Path) -> dict[str, bytes]:
    render_document(doc, out, formats=("json", "csv"))
    return {name: (out / name).read_bytes() for name in FILES}


@settings(max_examples=60, deadline=None)
@given(trade_list=st.lists(trades(), max_size=6), equity=st.lists(floats, min_size=1, max_size=5))
def test_built_rows_write_the_bytes_of_the_row_by_row_path(
    trade_list: list[Trade], equity: list[float], tmp_path_factory
) -> None:
    run = _run(trade_list, equity)
    doc = result_document(run, created_at="2021-02-01T00:00:00Z")
    assert isinstance(doc, PlainDocument) and doc.text_of("trades") is not None
    ordered = sorted(trade_list, key=lambda t: (t.entry_date, t.symbol))
    assert doc["trades"] == [to_jsonable(t.to_dict()) for t in ordered]
    assert dumps_canonical_bytes(doc) == item_by_item(doc)

    fast = _files(doc, tmp_path_factory.mktemp("fast"))
    plain = PlainDocument(orjson.loads(orjson.dumps(doc)))  # the same rows, no text built with them
    assert plain.text_of("trades") is None
    assert fast == _files(plain, tmp_path_factory.mktemp("rows"))


def test_a_replaced_list_is_written_from_its_rows_not_the_stale_text(tmp_path: Path) -> None:
    run = dataclasses.replace(hand_worked_run(), metrics={})
    run = dataclasses.replace(run, metrics=compute_metrics(run))
    doc = result_document(run, created_at="2021-02-01T00:00:00Z")
    doc["trades"] = [dict(row, symbol="ZZZ") for row in doc["trades"]]  # a new list: the text is stale
    doc["equity"] = doc["equity"][:2]
    assert doc.text_of("trades") is None and doc.text_of("equity") is None
    written = _files(doc, tmp_path / "a")
    assert written["result.json"].count(b'"symbol":"ZZZ"') == 3
    assert written["trades.csv"].count(b"\nZZZ,") == 3
    assert written["equity.csv"].count(b"\n") == 3


def test_write_run_of_a_real_shaped_run_equals_rendering_its_stored_document(tmp_path: Path) -> None:
    from trading_playbook.reports.json_result import load_result
    from trading_playbook.reports.samples import random_run

    run = random_run(n_sessions=300, n_trades=200)
    run = dataclasses.replace(run, metrics=compute_metrics(run))
    write_run(run, tmp_path / "run", formats=("json", "csv", "md"), created_at="2021-02-01T00:00:00Z")
    render_document(
        load_result(tmp_path / "run" / "result.json"), tmp_path / "again", formats=("json", "csv", "md")
    )
    for name in (*FILES, "report.md"):
        assert (tmp_path / "run" / name).read_bytes() == (tmp_path / "again" / name).read_bytes(), name


# keys and strings made to look like the boundary between two rows (``},{"a":``) where it must not
# be taken for one: nested objects with the same first key, strings holding the text, odd keys
_keys = st.sampled_from(["a", "b", "k_1", 'x"y', "},{", "é", ""])
_scalars = (
    st.none() | st.booleans() | st.integers(-5, 5) | floats | st.sampled_from(['},{"a":1', '"a":', "}"])
)
_values = st.recursive(
    _scalars | texts,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_keys, inner, max_size=3),
    max_leaves=8,
)
_rows = st.dictionaries(_keys, _values, max_size=4)


@settings(max_examples=300, deadline=None)
@given(
    items=st.lists(_rows | st.builds(lambda d: {"a": 1, **d}, _rows) | _values, min_size=0, max_size=6),
    depth=st.integers(0, 2),
)
def test_a_list_of_rows_written_in_one_call_equals_writing_it_item_by_item(items: list, depth: int) -> None:
    doc = PlainDocument(to_jsonable({"list": items, "nested": {"deeper": items}}))
    assert dumps_canonical_bytes(doc) == item_by_item(doc)


def test_rows_whose_nested_objects_start_like_a_row_are_written_item_by_item() -> None:
    rows = [{"a": 1, "b": [{"a": 2}, {"a": 3}]}, {"a": '},{"a":', "b": []}, {"a": 4, "b": [{"a": 5}]}]
    doc = PlainDocument({"rows": rows})
    assert dumps_canonical_bytes(doc) == item_by_item(doc)
    assert dumps_canonical_bytes(doc).count(b"\n") == 2 + 5  # one line per row, nothing split inside


def test_the_one_call_path_takes_plain_rows_and_refuses_what_it_cannot_prove() -> None:
    from trading_playbook.reports.json_result import _items_at_once

    plain = [{"a": 1, "b": '},{"a":'}, {"a": 2, "b": [{"c": 1}]}]
    assert _items_at_once(plain, b"  ") is not None
    assert _items_at_once([{"a": 1, "b": [{"a": 2}]}, {"a": 3}], b"  ") is not None  # after "[": no boundary
    assert _items_at_once([{"a": 1, "b": [{"a": 2}, {"a": 5}]}, {"a": 3}], b"  ") is None  # "},{" + same key
    assert _items_at_once([{"a": 1}, {"b": 2}], b"  ") is None  # another first key
    assert _items_at_once([{'x"': 1}, {'x"': 2}], b"  ") is None  # a key that is not a plain name
    assert _items_at_once([{"a": 1}, [1]], b"  ") is None  # not all objects
    assert _items_at_once([{"a": 1}, {}], b"  ") is None


_plain_text = st.text(
    st.characters(blacklist_characters=',"\\', blacklist_categories=("Cc", "Cs")), max_size=5
)
_number_cells = st.lists(st.none() | st.integers(-(10**12), 10**12) | floats.map(lambda x: to_jsonable(x)))


@settings(max_examples=200, deadline=None)
@given(
    n=st.integers(1, 6),
    kinds=st.lists(st.sampled_from(["plain", "text", "number", "empty", "lists"]), min_size=1, max_size=5),
    data=st.data(),
)
def test_csv_rows_written_in_one_call_equal_the_cells_joined(
    n: int, kinds: list[str], data, tmp_path_factory
) -> None:
    from trading_playbook.reports.csv_files import _texts, _write, _write_at_once

    kinds = ["plain", *kinds]  # the first column holds strings (dates, symbols)
    makers = {
        "plain": st.lists(
            _plain_text | st.sampled_from(["null", "[]", "é", "2021-01-04"]), min_size=n, max_size=n
        ),
        "text": st.lists(texts, min_size=n, max_size=n),
        "number": st.lists(
            st.none() | st.integers(-(10**12), 10**12) | floats.map(to_jsonable), min_size=n, max_size=n
        ),
        "empty": st.just([[] for _ in range(n)]),
        "lists": st.lists(st.lists(st.integers(0, 3), max_size=2), min_size=n, max_size=n),
    }
    columns = [data.draw(makers[kind]) for kind in kinds]
    header = [f"c{i}" for i in range(len(columns))]
    folder = tmp_path_factory.mktemp("csv")
    cells = [_texts(c) if kind != "empty" else ["[]"] * n for c, kind in zip(columns, kinds, strict=True)]
    expected = _write(folder / "cells.csv", header, cells).read_bytes()
    written = _write_at_once(folder / "once.csv", header, columns)
    takes_it = all(kind in ("plain", "number") for kind in kinds[:-1]) and kinds[-1] != "text"
    takes_it = takes_it and kinds[-1] != "lists"
    if written is None:
        assert not takes_it, (kinds, columns)  # only what it cannot prove
        assert not (folder / "once.csv").exists()
    else:
        assert written.read_bytes() == expected


def test_the_csv_of_a_real_shaped_run_is_written_in_one_call(tmp_path: Path, monkeypatch) -> None:
    import trading_playbook.reports.csv_files as csv_files
    from trading_playbook.reports.samples import random_run

    run = random_run(n_sessions=300, n_trades=200)
    run = dataclasses.replace(run, trades=[dataclasses.replace(t, partial_exits=()) for t in run.trades])
    run = dataclasses.replace(run, metrics=compute_metrics(run))
    doc = result_document(run, created_at="2021-02-01T00:00:00Z")
    calls: list[object] = []
    original = csv_files._write_at_once
    monkeypatch.setattr(csv_files, "_write_at_once", lambda *a: calls.append(original(*a)) or calls[-1])
    fast = _files(doc, tmp_path / "fast")
    assert len(calls) == 2 and all(c is not None for c in calls)
    assert fast == _files(PlainDocument(orjson.loads(orjson.dumps(doc))), tmp_path / "rows")
