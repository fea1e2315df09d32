"""The content of a report as renderer-neutral blocks, built from a ``result.json`` document.

Markdown and HTML render the same blocks, so both reports always say the same thing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from trading_playbook.reports import _format as f

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
CHART_TITLES = {
    "equity": "Equity against buy & hold, with drawdown",
    "monthly_returns": "Monthly returns",
    "trade_returns": "Distribution of trade returns",
    "exit_reasons": "Exit reasons",
    "coverage": "Universe coverage: members, members with price data, members with a bar",
}

TRADE_PAGE = 50  # trades per page of the trade list
FULL_TRADE_LIST = 100  # runs with at most this many trades list every one
BEST_WORST = 10
DATA_ROWS = 100  # repaired rows / warnings / missing symbols shown; result.json lists every one


@dataclass(frozen=True)
class Heading:
    text: str
    level: int = 2


@dataclass(frozen=True)
class Paragraph:
    text: str


@dataclass(frozen=True)
class Callout:
    """A prominent box: ``kind`` is 'verdict', 'warning' or 'note'."""

    text: str
    kind: str = "note"


@dataclass(frozen=True)
class Table:
    headers: tuple[str, ...]
    rows: Sequence[tuple[str, ...]]
    numeric: tuple[bool, ...] = ()  # right-align these columns
    cell_classes: dict[tuple[int, int], str] = field(default_factory=dict)  # (row, col) -> css class


@dataclass(frozen=True)
class Image:
    name: str
    caption: str


Block = Heading | Paragraph | Callout | Table | Image


def strategy_label(config: Mapping[str, Any]) -> str:
    """'scanner / preset / exit', or one such label per sleeve ('name: preset / exit; ...')."""

    def one(node: Mapping[str, Any]) -> str:
        scanner = node.get("scanner") or {}
        exit_cfg = node.get("exit") or {}
        parts = [scanner.get("name"), scanner.get("preset"), exit_cfg.get("name")]
        return " / ".join(str(p) for p in parts if p)

    sleeves = config.get("sleeves") or []
    if sleeves:
        return "; ".join(f"{s.get('name', '?')}: {one(s)}" for s in sleeves if isinstance(s, Mapping))
    return one(config)


def _title(doc: Mapping[str, Any]) -> str:
    cfg = doc.get("config") or {}
    report_cfg = cfg.get("report") or {}
    name = report_cfg.get("title") or cfg.get("name") or strategy_label(cfg)
    return f"Backtest report: {name}" if name else "Backtest report"


def _summary(doc: Mapping[str, Any]) -> Table:
    m = doc["metrics"]
    v = m["validation"]
    rows = [
        ("Period", f"{m.get('first_session') or f.DASH} to {m.get('last_session') or f.DASH}"),
        ("Sessions", f.num(m["sessions"])),
        ("Starting capital", f.money(m.get("starting_capital"))),
        ("Final equity", f.money(m.get("final_equity"))),
        ("Total return", f.pct(m["total_return"])),
        ("CAGR", f.pct(m["cagr"])),
        ("Sharpe", f.num(m["sharpe"])),
        ("Max drawdown", f.pct(m["max_drawdown"])),
        ("Trades", f.num(m["trades"])),
        ("Win rate", f.pct(m["win_rate"], signed=False)),
        ("Expectancy", f"{f.money(m['expectancy'], signed=True)} / {f.num(m['expectancy_r'])} R"),
        ("Sample size", v["sample_size_status"]),
    ]
    return Table(("Figure", "Value"), rows, (False, True))


def _validation(doc: Mapping[str, Any]) -> list[Block]:
    m = doc["metrics"]
    v = m["validation"]
    n = v["trades"]
    status = v["sample_size_status"]
    blocks: list[Block] = [
        Callout(
            f"Sample size: {status} ({f.num(n)} trade{'s' if n != 1 else ''}; fewer than 30 is INSUFFICIENT, "
            "30 to 49 PRELIMINARY, 50 or more ADEQUATE).",
            "verdict" if status == "ADEQUATE" else "warning",
        )
    ]
    ci = v["ci"]
    rows = [
        (
            "Expectancy per trade",
            f.money(m["expectancy"], signed=True),
            f.interval(ci["expectancy"], "money"),
        ),
        ("Win rate", f.pct(m["win_rate"], signed=False), f.interval(ci["win_rate"], "rate")),
        ("Sharpe ratio", f.num(m["sharpe"]), f.interval(ci["sharpe"])),
        ("t-statistic of mean trade return", f.num(v["t_stat"]), f.p_value(v["p_value"])),
    ]
    blocks.append(Table(("Statistic", "Estimate", "95 % interval"), rows, (False, True, True)))
    blocks.append(
        Paragraph(
            f"Intervals: percentile bootstrap, {v.get('bootstrap_samples', f.DASH)} resamples, seed "
            f"{v['seed']} (trades resampled for expectancy and win rate; 20-session circular blocks of "
            "daily returns for Sharpe, shorter for short runs)."
        )
    )
    if v["survivorship_warning"]:
        blocks.append(Paragraph("Survivorship bias: yes, see the warning at the top of this report."))
    return blocks


def _flatten(prefix: str, value: Any, out: list[tuple[str, str]]) -> None:
    if isinstance(value, Mapping) and value:
        for key in sorted(value):
            _flatten(f"{prefix}.{key}" if prefix else str(key), value[key], out)
    else:
        out.append((prefix, f.text(value)))


_DATA_LISTS = ("repairs", "warnings", "missing_symbols", "incomplete", "coverage")


def _data_callouts(doc: Mapping[str, Any]) -> list[Block]:
    """Prominent lines when the data was incomplete, repaired or flagged (details in the Data section)."""
    data = doc.get("data") or {}
    blocks: list[Block] = []
    coverage = data.get("coverage")
    if coverage:
        from trading_playbook.reports.coverage import coverage_statement

        unseen = float(coverage["unseen_share"]) > 0.01  # engine.SURVIVORSHIP_UNSEEN_SHARE
        blocks.append(Callout(coverage_statement(coverage), "warning" if unseen else "note"))
    missing = data.get("missing_symbols") or []
    if missing:
        shown = ", ".join(missing[:20]) + (f" and {len(missing) - 20} more" if len(missing) > 20 else "")
        blocks.append(
            Callout(
                f"Incomplete data: {len(missing)} expected symbol(s) of the cached source were missing and "
                f"the run went without them (allow_missing): {shown}. See the Data section.",
                "warning",
            )
        )
    repairs = data.get("repairs") or []
    if repairs:
        blocks.append(
            Callout(
                f"Repaired data: validation changed or dropped {len(repairs)} row(s) of the bars; every one is "
                "listed in the Data section.",
                "warning",
            )
        )
    warnings = data.get("warnings") or []
    if warnings:
        where = ", ".join(f"{w['symbol']} {w['date']}" for w in warnings[:5])
        blocks.append(
            Callout(
                f"Data warnings: {len(warnings)} bar(s) look like corporate actions the split column does not "
                f"carry, or crashes ({where}{' ...' if len(warnings) > 5 else ''}); see the Data section.",
                "warning",
            )
        )
    return blocks


def _data_section(doc: Mapping[str, Any]) -> list[Block]:
    """Every repaired row, every data warning and every missing symbol of the run's data."""
    data = doc.get("data") or {}
    repairs, warnings = data.get("repairs") or [], data.get("warnings") or []
    missing, reasons = data.get("missing_symbols") or [], data.get("incomplete") or []
    coverage = data.get("coverage")
    if not (repairs or warnings or missing or coverage):
        return []
    blocks: list[Block] = [Heading("Data")]
    if coverage:
        blocks.extend(_coverage_blocks(coverage))
    if missing:
        blocks.append(Heading("Missing symbols", 3))
        shown = ", ".join(missing[:DATA_ROWS])
        more = (
            f" and {len(missing) - DATA_ROWS} more (result.json lists every one)"
            if len(missing) > DATA_ROWS
            else ""
        )
        blocks.append(Paragraph(f"{len(missing)} symbol(s) missing from the cached source: {shown}{more}."))
        blocks.extend(Paragraph(reason) for reason in reasons)
    if repairs:
        blocks.append(Heading("Repaired rows", 3))
        rows = [
            (r["symbol"], r["date"], r["rule"], r["action"], r.get("before", ""), r.get("after", ""))
            for r in repairs[:DATA_ROWS]
        ]
        blocks.append(Table(("Symbol", "Date", "Rule", "What", "Before", "After"), rows))
        blocks.extend(_more(len(repairs), "repaired rows"))
    if warnings:
        blocks.append(Heading("Data warnings", 3))
        blocks.append(
            Paragraph(
                "Bars kept as they are that look wrong. A large dividend is usually a spin-off or special "
                'distribution: under adjustment = "split" it stays in the prices as a fall (and can stop out '
                'a position); adjustment = "all" removes it.'
            )
        )
        blocks.append(
            Table(
                ("Symbol", "Date", "Warning", "Detail"),
                [(w["symbol"], w["date"], w["rule"], w["detail"]) for w in warnings[:DATA_ROWS]],
            )
        )
        blocks.extend(_more(len(warnings), "data warnings"))
    return blocks


def _more(total: int, what: str) -> list[Block]:
    """A note under a table cut at :data:`DATA_ROWS` rows."""
    if total <= DATA_ROWS:
        return []
    return [Paragraph(f"The first {DATA_ROWS} of {total:,} {what}; result.json lists every one.")]


def _coverage_blocks(coverage: Mapping[str, Any]) -> list[Block]:
    """The universe's coverage by year, and the price series cut at a reused ticker's gap."""
    from trading_playbook.reports.coverage import coverage_statement, coverage_years

    blocks: list[Block] = [Heading("Universe coverage", 3), Paragraph(coverage_statement(coverage))]
    headers = ("Year", "Sessions", "Members", "With price data", "With a bar", "Not seen")
    blocks.append(Table(headers, coverage_years(coverage), (False, True, True, True, True, True)))
    splits = coverage.get("split_series") or []
    if splits:
        blocks.append(
            Paragraph(
                f"{len(splits)} price series held member stays far apart (a reused ticker, or a company that "
                "left and came back): each was cut in two so that no indicator or position joins the two "
                "histories: " + "; ".join(splits) + "."
            )
        )
    return blocks


def _configuration(doc: Mapping[str, Any]) -> list[Block]:
    rows: list[tuple[str, str]] = []
    _flatten("", doc.get("config") or {}, rows)
    data_rows: list[tuple[str, str]] = []
    plain = {k: v for k, v in (doc.get("data") or {}).items() if k not in _DATA_LISTS}
    _flatten("data", plain, data_rows)
    table_rows = [
        *rows,
        *data_rows,
        ("engine", str(doc.get("engine"))),
        ("config_hash", str(doc.get("config_hash"))),
    ]
    return [Heading("Configuration"), Table(("Key", "Value"), table_rows)]


def _performance(doc: Mapping[str, Any]) -> list[Block]:
    m = doc["metrics"]
    benches = m.get("benchmarks") or {}
    names = sorted(benches, key=lambda k: (k != "equal_weight", k))
    headers = ("Metric", "Strategy", *(benches[k]["label"] for k in names))

    def row(label: str, key: str, fmt: Any) -> tuple[str, ...]:
        return (label, fmt(m.get(key)), *(fmt(benches[k].get(key)) for k in names))

    rows = [
        row("Total return", "total_return", f.pct),
        row("CAGR", "cagr", f.pct),
        ("Annual volatility", f.pct(m["annual_volatility"], signed=False), *(f.DASH for _ in names)),
        row("Sharpe", "sharpe", f.num),
        ("Sortino", f.num(m["sortino"]), *(f.DASH for _ in names)),
        ("Calmar", f.num(m["calmar"]), *(f.DASH for _ in names)),
        row("Max drawdown", "max_drawdown", f.pct),
        ("Average exposure", f.pct(m["exposure"], signed=False), *(f.DASH for _ in names)),
        ("Turnover (per year)", f"{f.num(m['turnover'])}x", *(f.DASH for _ in names)),
        (
            "Risk-free rate (Sharpe, Sortino)",
            f.pct(m.get("risk_free_rate"), 2, signed=False),
            *(f.DASH for _ in names),
        ),
    ]
    if names:  # comparison rows only mean something against a benchmark
        rows += [
            (
                "Excess total return (strategy - benchmark)",
                f.DASH,
                *(f.pct(benches[k].get("excess_return")) for k in names),
            ),
            ("Excess CAGR", f.DASH, *(f.pct(benches[k].get("excess_cagr")) for k in names)),
            ("Beta", f.DASH, *(f.num(benches[k].get("beta")) for k in names)),
            ("Correlation", f.DASH, *(f.num(benches[k].get("correlation")) for k in names)),
        ]
    dd = m["drawdown"]
    recovery = dd.get("recovery_date") or ("not recovered" if dd.get("recovered") is False else f.DASH)
    dd_rows = [
        ("Max drawdown", f.pct(m["max_drawdown"])),
        ("Peak", f.text(dd.get("peak_date"))),
        ("Trough", f.text(dd.get("trough_date"))),
        ("Recovery", recovery),
        ("Duration (sessions, peak to recovery or end)", f.num(dd.get("duration_sessions"))),
        ("Recovery (sessions, trough to recovery)", f.num(dd.get("recovery_sessions"))),
    ]
    return [
        Heading("Performance"),
        Table(headers, rows, (False, *(True for _ in headers[1:]))),
        Heading("Drawdown", 3),
        Table(("Figure", "Value"), dd_rows, (False, True)),
    ]


def _trade_stats(doc: Mapping[str, Any]) -> list[Block]:
    m = doc["metrics"]

    def brief(t: Any) -> str:
        if not t:
            return f.DASH
        return f"{t['symbol']} {t['entry_date']}: {f.pct(t['pnl_pct'])} ({f.money(t['pnl'], signed=True)})"

    rows = [
        ("Trades", f.num(m["trades"])),
        ("Trades per year", f.num(m["trades_per_year"], 1)),
        ("Wins / losses", f"{m.get('wins', 0)} / {m.get('losses', 0)}"),
        ("Win rate", f.pct(m["win_rate"], signed=False)),
        ("Average win", f"{f.money(m['avg_win'], signed=True)} ({f.pct(m.get('avg_win_pct'))})"),
        ("Average loss", f"{f.money(m['avg_loss'], signed=True)} ({f.pct(m.get('avg_loss_pct'))})"),
        ("Profit factor", f.num(m["profit_factor"])),
        ("Expectancy ($ per trade)", f.money(m["expectancy"], signed=True)),
        ("Expectancy (% per trade)", f.pct(m.get("expectancy_pct"), 2)),
        ("Expectancy (R per trade)", f.num(m["expectancy_r"])),
        (
            "Sessions held (average / median)",
            f"{f.num(m['avg_sessions_held'], 1)} / {f.num(m['median_sessions_held'], 1)}",
        ),
        ("Best trade", brief(m["best_trade"])),
        ("Worst trade", brief(m["worst_trade"])),
        ("Longest win / loss streak", f"{m['longest_win_streak']} / {m['longest_loss_streak']}"),
    ]
    return [Heading("Trade statistics"), Table(("Figure", "Value"), rows, (False, True))]


def _sleeves(doc: Mapping[str, Any]) -> list[Block]:
    sleeves = doc["metrics"].get("sleeves") or {}
    if not sleeves:
        return []
    rows = [
        (
            name,
            f.num(s["trades"]),
            f.pct(s["win_rate"], signed=False),
            f.money(s["net_pnl"], signed=True),
            f.money(s["expectancy"], signed=True),
            f.num(s["expectancy_r"]),
            f.num(s["profit_factor"]),
            f.money(s["starting_capital"]),
            f.pct(s["total_return"]),
        )
        for name, s in sorted(sleeves.items())
    ]
    headers = (
        "Sleeve",
        "Trades",
        "Win rate",
        "Net P&L",
        "Expectancy",
        "Exp. R",
        "Profit factor",
        "Capital",
        "Return",
    )
    return [
        Heading("Sleeves"),
        Paragraph("P&L attribution per sleeve; capital = final sleeve equity minus the sleeve's trade P&L."),
        Table(headers, rows, (False, *([True] * 8))),
    ]


def _exit_reasons(doc: Mapping[str, Any]) -> list[Block]:
    reasons = doc["metrics"]["exit_reasons"]
    if not reasons:
        return [Heading("Exit reasons"), Paragraph("No trades, so no exits.")]
    order = sorted(reasons, key=lambda r: (-reasons[r]["count"], r))
    rows = [
        (
            r,
            f.num(reasons[r]["count"]),
            f.pct(reasons[r]["win_rate"], signed=False),
            f.pct(reasons[r]["avg_return"], 2),
            f.num(reasons[r].get("avg_r")),
            f.money(reasons[r].get("total_pnl"), signed=True),
        )
        for r in order
    ]
    headers = ("Exit reason", "Count", "Win rate", "Avg return", "Avg R", "Total P&L")
    return [Heading("Exit reasons"), Table(headers, rows, (False, True, True, True, True, True))]


def _monthly(doc: Mapping[str, Any]) -> list[Block]:
    m = doc["metrics"]
    monthly, yearly = m["monthly_returns"], m["yearly_returns"]
    if not monthly:
        return [Heading("Monthly returns"), Paragraph("No sessions, so no monthly returns.")]
    years = sorted({k[:4] for k in monthly})
    rows: list[tuple[str, ...]] = []
    classes: dict[tuple[int, int], str] = {}
    for i, year in enumerate(years):
        cells = [year]
        for j in range(12):
            value = monthly.get(f"{year}-{j + 1:02d}")
            cells.append(f.pct(value) if f"{year}-{j + 1:02d}" in monthly else "")
            if isinstance(value, float):
                classes[(i, j + 1)] = "pos" if value > 0 else ("neg" if value < 0 else "")
        cells.append(f.pct(yearly.get(year)))
        rows.append(tuple(cells))
    headers = ("Year", *MONTHS, "Year total")
    return [Heading("Monthly returns"), Table(headers, rows, (False, *([True] * 13)), classes)]


_TRADE_HEADERS = (
    "#",
    "Symbol",
    "Entry",
    "Exit",
    "Entry price",
    "Exit price",
    "Shares",
    "Exit reason",
    "P&L",
    "Return",
    "R",
    "Held",
)
_TRADE_NUMERIC = (True, False, False, False, True, True, True, False, True, True, True, True)


def _trade_row(number: int, t: Mapping[str, Any]) -> tuple[str, ...]:
    return (
        str(number),
        t["symbol"],
        t["entry_date"],
        t["exit_date"],
        f.price(t["entry_price"]),
        f.price(t["exit_price"]),
        f.num(t["shares"]),
        t["exit_reason"] + (f" (+{len(t['partial_exits'])} partial)" if t["partial_exits"] else ""),
        f.money(t["pnl"], signed=True),
        f.pct(t["pnl_pct"], 2),
        f.num(t["r_multiple"]),
        f.num(t["sessions_held"]),
    )


def _trade_table(trades: Sequence[Mapping[str, Any]], numbers: Sequence[int]) -> Table:
    rows = [_trade_row(i + 1, trades[i]) for i in numbers]
    return Table(_TRADE_HEADERS, rows, _TRADE_NUMERIC)


def _by_return(trades: Sequence[Mapping[str, Any]]) -> list[int]:
    """Trade numbers by return, best first (undefined returns last; ties in entry order).

    The order of ``sorted(key=(return is None, -(return or 0.0), number))``; when every return is a
    float or None (a document's rows), numpy's stable ``lexsort`` on the same keys gives it (floats
    compare alike, -0.0 equal to 0.0, ties fall back to the number) without 10,000 key tuples.
    """
    returns = [t["pnl_pct"] for t in trades]
    if not set(map(type, returns)) <= {float, type(None)}:
        return sorted(range(len(returns)), key=lambda i: (returns[i] is None, -(returns[i] or 0.0), i))
    undefined = np.fromiter((r is None for r in returns), dtype=bool, count=len(returns))
    values = np.array([0.0 if r is None else r for r in returns], dtype=np.float64)
    return np.lexsort((np.arange(len(returns)), -values, undefined)).tolist()  # type: ignore[no-any-return]


def _by_year(trades: Sequence[Mapping[str, Any]]) -> Table:
    """Trades grouped by the year of their entry: count, win rate, net P&L, average return and R."""
    years: dict[str, list[Mapping[str, Any]]] = {}
    for t in trades:
        years.setdefault(t["entry_date"][:4], []).append(t)
    rows = []
    for year in sorted(years):
        group = years[year]
        pnl = [t["pnl"] for t in group if t["pnl"] is not None]
        pct = [t["pnl_pct"] for t in group if t["pnl_pct"] is not None]
        r = [t["r_multiple"] for t in group if t["r_multiple"] is not None]
        rows.append(
            (
                year,
                f.num(len(group)),
                f.pct(sum(p > 0 for p in pnl) / len(group), signed=False),
                f.money(sum(pnl), signed=True),
                f.pct(sum(pct) / len(pct) if pct else None, 2),
                f.num(sum(r) / len(r) if r else None),
            )
        )
    headers = ("Entry year", "Trades", "Win rate", "Net P&L", "Avg return", "Avg R")
    return Table(headers, rows, (False, True, True, True, True, True))


def _trade_list(doc: Mapping[str, Any]) -> list[Block]:
    """Every trade of a small run; for a larger one the best and worst, trades by year and the first
    and last page (a 10,000-trade list made the reports megabytes long and slow to open)."""
    trades = doc["trades"]
    n = len(trades)
    if not trades:
        return [Heading("Trades"), Paragraph("The run made no trades.")]
    if n <= FULL_TRADE_LIST:
        return [
            Heading("Trades"),
            Paragraph(f"{n} trades in order of entry (also in trades.csv, partial exits as JSON)."),
            _trade_table(trades, range(n)),
        ]
    pages = -(-n // TRADE_PAGE)
    ranked = _by_return(trades)
    last_page = range((pages - 1) * TRADE_PAGE, n)
    return [
        Heading("Trades"),
        Paragraph(
            f"{n:,} trades. Shown here: the {BEST_WORST} best and worst by return, the trades of each "
            f"year, and the first and last page of the list ({TRADE_PAGE} trades a page, numbered in order "
            "of entry). Every trade is in trades.csv and result.json (partial exits as JSON)."
        ),
        Heading(f"Best {BEST_WORST} trades", 3),
        _trade_table(trades, ranked[:BEST_WORST]),
        Heading(f"Worst {BEST_WORST} trades", 3),
        _trade_table(trades, ranked[::-1][:BEST_WORST]),
        Heading("Trades by year", 3),
        _by_year(trades),
        Heading(f"Trades 1 to {TRADE_PAGE} (page 1 of {pages})", 3),
        _trade_table(trades, range(TRADE_PAGE)),
        Heading(f"Trades {last_page[0] + 1} to {n} (page {pages} of {pages})", 3),
        _trade_table(trades, last_page),
    ]


def report_blocks(doc: Mapping[str, Any], charts: tuple[str, ...]) -> tuple[str, list[Block]]:
    """Title and blocks of a report; ``charts`` names the chart images available, in order."""
    m = doc["metrics"]
    blocks: list[Block] = [Paragraph(f"Strategy: {strategy_label(doc.get('config') or {}) or f.DASH}")]
    blocks.append(Callout(f"Verdict: {m['verdict']}", "verdict"))
    blocks.extend(Callout(w, "warning") for w in m["validation"]["warnings"])
    blocks.extend(_data_callouts(doc))
    blocks.extend(Callout(n, "note") for n in m.get("notes", []))
    blocks += [Heading("Summary"), _summary(doc), Heading("Validation"), *_validation(doc)]
    blocks += _performance(doc)
    if charts:
        blocks.append(Heading("Charts"))
        blocks.extend(Image(name, CHART_TITLES.get(name, name)) for name in charts)
    blocks += _trade_stats(doc) + _sleeves(doc) + _exit_reasons(doc) + _monthly(doc)
    blocks += _data_section(doc) + _configuration(doc) + _trade_list(doc)
    blocks.append(
        Paragraph(f"Generated {doc.get('created_at')} · result schema {doc.get('schema_version')}.")
    )
    return _title(doc), blocks
