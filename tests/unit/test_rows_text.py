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
from trading_playbook.reports.json_result import PlainDocument, result_document, to_jsonable
from trading_playbook.reports.samples import hand_worked_run, make_curve

FILES = ("result.json", "trades.csv", "equity.csv")
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
    lines = doc.rows_text["trades"].json_lines()
    assert lines == [orjson.dumps(row, option=orjson.OPT_SORT_KEYS).decode() for row in doc["trades"]]

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
