"""Reports: result.json (schema, determinism, order, null for NaN), trades.csv, Markdown, HTML, charts."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import json
import re
from pathlib import Path

import jsonschema
import numpy as np
import pytest

from trading_playbook.core.errors import PlaybookError
from trading_playbook.core.metrics import BenchmarkSeries, compute_metrics
from trading_playbook.core.types import PartialExit
from trading_playbook.reports import FORMATS, render_document, write_run
from trading_playbook.reports.csv_files import TRADE_COLUMNS
from trading_playbook.reports.json_result import (
    SCHEMA_VERSION,
    dumps_canonical,
    load_result,
    schema,
    validate_document,
)
from trading_playbook.reports.samples import hand_worked_run, make_curve, make_trade, random_run


def _with_metrics(run, **kwargs):
    return dataclasses.replace(run, metrics=compute_metrics(run, **kwargs))


@pytest.fixture(scope="module")
def hand_out(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    run = _with_metrics(hand_worked_run(), survivorship_warning=True)
    out = tmp_path_factory.mktemp("hand")
    written = write_run(run, out, created_at="2021-02-01T00:00:00Z")
    return out, written


def test_every_format_is_written(hand_out: tuple[Path, dict]) -> None:
    out, written = hand_out
    expected = {"result_json", "trades_csv", "equity_csv", "report_md", "report_html"}
    expected |= {f"chart_{n}" for n in ("equity", "monthly_returns", "trade_returns", "exit_reasons")}
    assert set(written) == expected
    for path in written.values():
        assert path.is_file() and path.stat().st_size > 0 and path.parent.is_relative_to(out)
    for name in ("equity", "monthly_returns", "trade_returns", "exit_reasons"):
        path = written[f"chart_{name}"]
        assert path.name == f"{name}.svg" and path.read_text().startswith("<svg xmlns=")


def test_result_json_follows_rules_section_7(hand_out: tuple[Path, dict]) -> None:
    out, _ = hand_out
    doc = json.loads((out / "result.json").read_text())
    jsonschema.validate(doc, schema())
    assert doc["schema_version"] == SCHEMA_VERSION
    assert doc["created_at"] == "2021-02-01T00:00:00Z"
    # exactly one timestamp-like field at the top level
    assert [k for k in doc if "time" in k or k.endswith("_at")] == ["created_at"]
    assert [t["symbol"] for t in doc["trades"]] == ["AAA", "BBB", "CCC"]
    ccc = doc["trades"][2]
    assert ccc["partial_exits"] == [{"date": "2021-01-07", "shares": 10, "price": 27.0, "reason": "SCALE_1"}]
    assert set(ccc) >= {"symbol", "entry_date", "exit_date", "entry_price", "exit_price", "shares", "exit_reason",
                        "pnl", "pnl_pct", "r_multiple", "sessions_held", "mfe", "mae", "partial_exits"}  # fmt: skip
    assert doc["equity"][0] == {
        "date": "2021-01-04",
        "equity": 1000.0,
        "cash": 500.0,
        "positions": 1,
        "exposure": 0.5,
    }
    assert len(doc["equity"]) == 5
    assert doc["metrics"]["validation"]["survivorship_warning"] is True
    assert doc["data"]["fingerprint"] == "hand"
    assert re.fullmatch(r"[0-9a-f]{16}", doc["config_hash"])


def test_trades_are_ordered_by_entry_session_then_symbol(tmp_path: Path) -> None:
    # given out of order: (01-05, ZZZ), (01-04, MMM), (01-05, AAA) -> (01-04 MMM), (01-05 AAA), (01-05 ZZZ)
    trades = [
        make_trade("ZZZ", "2021-01-05", "2021-01-06", 10.0, 11.0, 1, "TIME_STOP"),
        make_trade("MMM", "2021-01-04", "2021-01-08", 10.0, 9.0, 1, "HARD_STOP"),
        make_trade("AAA", "2021-01-05", "2021-01-05", 10.0, 10.5, 1, "MA_BREAK"),
    ]
    run = _with_metrics(dataclasses.replace(hand_worked_run(), trades=trades))
    write_run(run, tmp_path, formats=("json", "csv"))
    doc = load_result(tmp_path / "result.json")
    assert [(t["entry_date"], t["symbol"]) for t in doc["trades"]] == [
        ("2021-01-04", "MMM"),
        ("2021-01-05", "AAA"),
        ("2021-01-05", "ZZZ"),
    ]
    with (tmp_path / "trades.csv").open() as fh:
        assert [r["symbol"] for r in csv.DictReader(fh)] == ["MMM", "AAA", "ZZZ"]


def test_same_run_gives_byte_identical_json_apart_from_created_at(tmp_path: Path) -> None:
    run = random_run(n_sessions=300, n_trades=40, seed=3)
    bench = BenchmarkSeries(
        run.equity.dates, {"equal_weight": np.linspace(1.0, 1.3, 300)}, {"equal_weight": "EW"}
    )
    first = write_run(
        _with_metrics(run, benchmark=bench, seed=1),
        tmp_path / "a",
        formats=("json",),
        benchmark=bench,
        created_at="2030-01-01T00:00:00Z",
    )
    again = write_run(
        _with_metrics(run, benchmark=bench, seed=1),
        tmp_path / "b",
        formats=("json",),
        benchmark=bench,
        created_at="2030-01-01T00:00:00Z",
    )
    later = write_run(
        _with_metrics(run, benchmark=bench, seed=1),
        tmp_path / "c",
        formats=("json",),
        benchmark=bench,
        created_at="2031-06-01T12:00:00Z",
    )
    a, b, c = (w["result_json"].read_bytes() for w in (first, again, later))
    assert a == b
    assert a != c
    strip = re.compile(rb'\n  "created_at": "[^"]*",')
    assert strip.sub(b"", a) == strip.sub(b"", c)
    assert len(strip.findall(a)) == 1


def test_nan_and_inf_become_null_and_floats_round_trip(tmp_path: Path) -> None:
    trade = dataclasses.replace(
        make_trade("NAN", "2021-01-04", "2021-01-05", 0.1 + 0.2, 11.0, 3, "TARGET"),
        r_multiple=float("nan"),
        mfe=float("inf"),
    )
    run = _with_metrics(dataclasses.replace(hand_worked_run(), trades=[trade]))
    write_run(run, tmp_path, formats=("json", "csv"))
    text = (tmp_path / "result.json").read_text()
    assert "NaN" not in text and "Infinity" not in text
    doc = json.loads(text)
    assert doc["trades"][0]["r_multiple"] is None and doc["trades"][0]["mfe"] is None
    assert doc["trades"][0]["entry_price"] == 0.1 + 0.2  # repr round-trip, no rounding
    validate_document(doc)
    row = next(csv.DictReader((tmp_path / "trades.csv").open()))
    assert row["r_multiple"] == "" and float(row["entry_price"]) == 0.1 + 0.2


def test_schema_rejects_a_broken_document(hand_out: tuple[Path, dict]) -> None:
    doc = load_result(hand_out[0] / "result.json")
    del doc["trades"][0]["exit_reason"]
    with pytest.raises(PlaybookError, match="trades/0"):
        validate_document(doc)


def test_trades_csv_flattens_partial_exits(hand_out: tuple[Path, dict]) -> None:
    out, _ = hand_out
    with (out / "trades.csv").open() as fh:
        reader = csv.DictReader(fh)
        assert tuple(reader.fieldnames or ()) == TRADE_COLUMNS
        rows = list(reader)
    assert len(rows) == 3
    assert json.loads(rows[0]["partial_exits"]) == []
    assert json.loads(rows[2]["partial_exits"]) == [
        {"date": "2021-01-07", "price": 27.0, "reason": "SCALE_1", "shares": 10}
    ]
    assert float(rows[1]["pnl"]) == -50.0 and rows[1]["exit_reason"] == "STOP_LOSS"


def test_markdown_report_sections_and_links(hand_out: tuple[Path, dict]) -> None:
    out, _ = hand_out
    md = (out / "report.md").read_text()
    assert md.startswith("# Backtest report: daily_breakout / default / fixed")
    assert "> **Verdict: INSUFFICIENT: 3 trades, +21.0% total return" in md
    assert "survivorship" in md.lower()
    for heading in ("## Summary", "## Validation", "## Performance", "## Exit reasons", "## Monthly returns",
                    "## Configuration", "## Trades", "## Charts"):  # fmt: skip
        assert heading in md
    for link in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md):
        assert (out / link).is_file(), link
    assert "| STOP_LOSS | 1 | 0.0% | -5.00% | -0.62 | -$50.00 |" in md
    assert "| 2021 | +21.0% |" in md
    assert not re.search(r"\b(nan|inf|none|null)\b", md, re.IGNORECASE)  # no NaN garbage


def test_html_report_is_self_contained(hand_out: tuple[Path, dict]) -> None:
    out, _ = hand_out
    page = (out / "report.html").read_text()
    figures = re.findall(r'<figure id="chart-([a-z_]+)"><svg width=', page)
    assert figures == ["equity", "monthly_returns", "trade_returns", "exit_reasons"]
    assert "<img" not in page and "<script" not in page and "http://" not in page and "https://" not in page
    assert "Verdict: INSUFFICIENT" in page and "+21.0%" in page and "−" not in page


@pytest.mark.parametrize(
    "case",
    ["zero_trades", "one_trade", "one_session", "no_sessions_with_trade_free_flat_curve"],
)
def test_edge_cases_give_valid_reports(tmp_path: Path, case: str) -> None:
    base = hand_worked_run()
    one = make_trade("ONE", "2021-01-04", "2021-01-04", 10.0, 10.5, 10, "END_OF_TEST", sessions_held=0)
    runs = {
        "zero_trades": dataclasses.replace(base, trades=[]),
        "one_trade": dataclasses.replace(base, trades=[one]),
        "one_session": dataclasses.replace(base, trades=[one], equity=make_curve(["2021-01-04"], [1005.0])),
        "no_sessions_with_trade_free_flat_curve": dataclasses.replace(
            base, trades=[], equity=make_curve(["2021-01-04", "2021-01-05"], [1000.0, 1000.0])
        ),
    }
    written = write_run(runs[case], tmp_path)  # metrics computed inside (empty metrics)
    doc = load_result(written["result_json"])
    validate_document(doc)
    md = written["report_md"].read_text()
    html = written["report_html"].read_text()
    for text in (md, html):
        visible = re.sub(r"<[^>]+>", " ", text)  # the text, not the markup (an SVG path's data)
        assert not re.search(r"\b(nan|inf|infinity|none|null)\b", visible, re.IGNORECASE), case
        assert "Verdict:" in text
    if case == "zero_trades":
        assert "no trades" in md and "The run made no trades." in md
    if case == "one_trade":
        assert "one trade" in md
    if case == "one_session":
        assert "one session" in md


def test_render_document_reproduces_the_files(hand_out: tuple[Path, dict], tmp_path: Path) -> None:
    out, _ = hand_out
    render_document(load_result(out / "result.json"), tmp_path)
    for name in ("result.json", "trades.csv", "report.md"):
        assert (tmp_path / name).read_bytes() == (out / name).read_bytes(), name


def test_write_run_with_panel_adds_benchmark(tmp_path: Path) -> None:
    import pandas as pd

    from trading_playbook.core.panel import bars_to_panel

    days = pd.bdate_range("2021-01-04", periods=5)
    bars = pd.DataFrame(
        [("AAA", d, 10.0 + i) for i, d in enumerate(days)] + [("BBB", d, 20.0) for d in days],
        columns=["symbol", "date", "close"],
    )
    for col in ("open", "high", "low"):
        bars[col] = bars["close"]
    bars["volume"] = 100.0
    run = dataclasses.replace(hand_worked_run(), config={"report": {"benchmark_symbol": "AAA"}})
    written = write_run(run, tmp_path, panel=bars_to_panel(bars), formats=("json",))
    doc = load_result(written["result_json"])
    # equal weight on the last day: (14/10 + 20/20) / 2 = 1.2; AAA alone 1.4
    assert doc["benchmarks"]["equal_weight"]["values"][-1] == pytest.approx(1.2)
    assert doc["metrics"]["benchmarks"]["AAA"]["total_return"] == pytest.approx(0.4)
    assert doc["metrics"]["benchmarks"]["equal_weight"]["excess_return"] == pytest.approx(0.21 - 0.2)


def test_unknown_format_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(PlaybookError, match="unknown report format"):
        write_run(hand_worked_run(), tmp_path, formats=("json", "pdf"))
    assert FORMATS == ("json", "csv", "md", "html", "svg")
    with pytest.raises(PlaybookError, match="charts are SVG files"):
        write_run(hand_worked_run(), tmp_path, formats=("json", "png"))


def test_partial_exit_type_is_serialised_with_iso_date() -> None:
    text = dumps_canonical({"x": [PartialExit(dt.date(2021, 1, 2), 1, 2.0, "SCALE_1").date]})
    assert text == '{\n  "x": ["2021-01-02"]\n}\n'
    nested = dumps_canonical(
        {"b": [{"z": 1.5, "a": None}, {"t": 1e-07}], "a": {"k": [1, 2]}, "c": float("nan")}
    )
    # objects indented, one compact item per line for lists of objects, keys sorted, NaN as null
    assert (
        nested
        == '{\n  "a": {\n    "k": [1,2]\n  },\n  "b": [\n    {"a":null,"z":1.5},\n    {"t":1e-7}\n  ],\n  "c": null\n}\n'
    )
    assert json.loads(nested)["b"][1]["t"] == 1e-07  # shortest round-trip floats


def test_markdown_without_svg_files_has_no_dangling_image_links(tmp_path: Path) -> None:
    written = write_run(hand_worked_run(), tmp_path, formats=("json", "csv", "md"))
    assert set(written) == {"result_json", "trades_csv", "equity_csv", "report_md"}
    assert "![" not in written["report_md"].read_text() and not (tmp_path / "charts").exists()


def test_report_names_the_run_and_lists_sleeves(tmp_path: Path) -> None:
    base = hand_worked_run()
    trades = [dataclasses.replace(t, sleeve="scaled" if t.symbol == "CCC" else "smart") for t in base.trades]
    config = {
        "name": "smart vs scaled",
        "sleeves": [
            {
                "name": "smart",
                "scanner": {"name": "daily_breakout", "preset": "moderate"},
                "exit": {"name": "smart_exits"},
            },
            {
                "name": "scaled",
                "scanner": {"name": "daily_breakout", "preset": "moderate"},
                "exit": {"name": "scaled_exits"},
            },
        ],
    }
    run = dataclasses.replace(base, trades=trades, config=config)
    md = write_run(run, tmp_path, formats=("json", "md"))["report_md"].read_text()
    assert md.startswith("# Backtest report: smart vs scaled\n")
    assert (
        "Strategy: smart: daily_breakout / moderate / smart_exits; scaled: daily_breakout / moderate / scaled_exits"
        in md
    )
    assert "## Sleeves" in md and "| smart | 2 | 50.0% | +$50.00 |" in md


def test_reports_of_a_long_run_show_best_worst_by_year_and_two_pages(tmp_path: Path) -> None:
    # 1,234 trades: the reports stay short (issue 14); every trade is still in trades.csv and result.json
    run = _with_metrics(random_run(n_sessions=1500, n_trades=1234, seed=3))
    written = write_run(run, tmp_path, formats=("json", "csv", "md", "html"))
    doc = json.loads(written["result_json"].read_text())
    md = written["report_md"].read_text()
    page = "| {n} | {symbol} | {entry} | {exit} |"
    listed = [
        page.format(n=i + 1, symbol=t["symbol"], entry=t["entry_date"], exit=t["exit_date"])
        for i, t in enumerate(doc["trades"])
    ]
    shown = [i for i, row in enumerate(listed) if row in md]
    returns = [t["pnl_pct"] for t in doc["trades"]]
    best = max(range(len(returns)), key=lambda i: returns[i])
    worst = min(range(len(returns)), key=lambda i: returns[i])
    # pages 1 and 25 (trades 1-50 and 1201-1234), the best and the worst trade
    assert set(range(50)) | set(range(1200, 1234)) | {best, worst} <= set(shown)
    assert len(shown) <= 50 + 34 + 20
    assert "page 1 of 25" in md and "page 25 of 25" in md and "Trades by year" in md
    years = {t["entry_date"][:4] for t in doc["trades"]}
    assert all(f"| {year} |" in md for year in years)
    html = written["report_html"].read_text()
    assert html.count("<tr>") < 300 and "page 25 of 25" in html
    with written["trades_csv"].open() as fh:
        assert sum(1 for _ in csv.reader(fh)) == 1 + 1234
    assert len(doc["trades"]) == 1234


@pytest.mark.parametrize(
    "column",
    [
        ["plain", "1.5", "", "-0.25"],
        ["a,b", 'say "hi"', "two\nlines", "carriage\rreturn", "", "é ünïcode", '"', ","],
        ["[]", '[{"date":"2020-01-02","price":1.5,"reason":"TARGET","shares":3}]', "x"],
    ],
)
def test_csv_rows_are_the_bytes_csv_writer_writes(tmp_path: Path, column: list[str]) -> None:
    # the rows are joined by hand for speed; the csv module is the reference for quoting
    from trading_playbook.reports.csv_files import _write

    columns = [column, list(reversed(column)), [str(i) for i in range(len(column))]]
    header = ["name, with comma", 'quote"d', "plain"]
    ours = _write(tmp_path / "ours.csv", header, columns).read_bytes()
    with (tmp_path / "ref.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(zip(*columns, strict=True))
    assert ours == (tmp_path / "ref.csv").read_bytes()
    if any("\r" in cell for cell in column):  # Python 3.11's csv writes a lone \r unquoted: no round trip
        return
    with (tmp_path / "ours.csv").open(newline="", encoding="utf-8") as fh:
        assert list(csv.reader(fh))[1:] == [list(row) for row in zip(*columns, strict=True)]


def test_csv_columns_of_different_lengths_are_refused(tmp_path: Path) -> None:
    from trading_playbook.reports.csv_files import _write

    with pytest.raises(ValueError, match="different lengths"):
        _write(tmp_path / "x.csv", ["a", "b"], [["1", "2"], ["1"]])


def test_after_json_is_called_once_result_json_is_written_and_before_the_rest(
    hand_out: tuple[Path, dict], tmp_path: Path
) -> None:
    out, _ = hand_out
    seen: list[tuple[Path, bool, bool]] = []

    def after(path: Path) -> None:
        seen.append(
            (
                path,
                path.read_bytes() == (out / "result.json").read_bytes(),
                (tmp_path / "trades.csv").exists(),
            )
        )

    render_document(
        load_result(out / "result.json"), tmp_path, formats=("json", "csv", "md"), after_json=after
    )
    assert seen == [(tmp_path / "result.json", True, False)]
    render_document(
        load_result(out / "result.json"), tmp_path / "no-json", formats=("csv",), after_json=after
    )
    assert len(seen) == 1  # no result.json written, no call
