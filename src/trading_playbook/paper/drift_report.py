"""Render a drift document (:func:`~trading_playbook.paper.drift.compute_drift`): JSON, Markdown, HTML and
the SVG chart (:mod:`~trading_playbook.paper.drift_chart`, inlined in the HTML)."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["render_drift"]

_CSS = (
    "body{font-family:-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;color:#1f2328;max-width:1100px;"
    "margin:2rem auto;padding:0 1rem}table{border-collapse:collapse;margin:.6rem 0 1rem;font-size:.9rem}"
    "th,td{border:1px solid #d0d7de;padding:.25rem .6rem}th{background:#f6f8fa;text-align:left}"
    ".ok{background:#e6f4ea}.bad{background:#fce8e6}svg.chart{max-width:100%;height:auto;border:1px solid #d0d7de}"
)


def _fmt(value: Any, digits: int = 2) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


def _tables(doc: Mapping[str, Any]) -> list[tuple[str, list[str], list[list[str]]]]:
    s = doc["summary"]
    summary = [
        ["trades (paper / backtest)", f"{s['trades_paper']} / {s['trades_backtest']}"],
        ["same / still open in both", f"{s['same']} / {s['open']}"],
        ["different exits or fills", _fmt(s["different"])],
        ["missed (backtest only) / extra (paper only)", f"{s['missed']} / {s['extra']}"],
        ["fills priced", _fmt(s["fills"])],
        ["configured slippage (bps)", _fmt(s["configured_slippage_bps"], 3)],
        ["mean realised slippage (bps)", _fmt(s["mean_realised_slippage_bps"], 3)],
        [
            "mean / max abs slippage drift (bps)",
            f"{_fmt(s['mean_slippage_drift_bps'], 3)} / {_fmt(s['max_abs_slippage_drift_bps'], 3)}",
        ],
        ["P&L difference of closed trades", _fmt(s["pnl_difference_closed_trades"])],
        ["max equity difference (before the last session)", _fmt(s["max_equity_difference"])],
        ["zero drift", _fmt(s["zero_drift"])],
    ]
    sleeves = [
        [name, str(v["same"]), str(v["open"]), str(v["different"]), str(v["missed"]), str(v["extra"]),
         _fmt(v["paper_pnl"]), _fmt(v["backtest_pnl"]), _fmt(v["pnl_difference"])]
        for name, v in doc["sleeves"].items()
    ]  # fmt: skip
    order = {"different": 0, "missed": 1, "extra": 2, "open": 3, "same": 4}
    trades = [
        [t["status"], t["sleeve"], t["symbol"], t["entry_date"], _fmt(t["paper_exit_date"]), _fmt(t["backtest_exit_date"]),
         _fmt(t["paper_exit_reason"]), _fmt(t["backtest_exit_reason"]), _fmt(t["paper_pnl"]), _fmt(t["backtest_pnl"]),
         _fmt(t["pnl_difference"])]
        for t in sorted(doc["trades"], key=lambda t: (order[t["status"]], t["entry_date"], t["symbol"]))
    ]  # fmt: skip
    return [
        ("Summary", ["measure", "value"], summary),
        ("Per sleeve", ["sleeve", "same", "open", "different", "missed", "extra", "paper P&L", "backtest P&L",
                        "difference"], sleeves),
        ("Trade by trade (differences first)", ["status", "sleeve", "symbol", "entry", "paper exit", "backtest exit",
         "paper reason", "backtest reason", "paper P&L", "backtest P&L", "difference"], trades),
    ]  # fmt: skip


def _markdown(doc: Mapping[str, Any], tables: Sequence[tuple[str, list[str], list[list[str]]]]) -> str:
    parts = [f"# Drift of paper account {doc['account']}", f"{doc['first_session']} to {doc['last_session']}, "
             f"config {doc['config_hash']}, broker {doc['broker'].get('kind')}.", "![drift](charts/drift.svg)"]  # fmt: skip
    for title, headers, rows in tables:
        parts.append(f"## {title}")
        lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        parts.append("\n".join(lines))
    return "\n\n".join(parts) + "\n"


def _html(doc: Mapping[str, Any], tables: Sequence[tuple[str, list[str], list[list[str]]]], svg: str) -> str:
    title = html.escape(f"Drift of paper account {doc['account']}")
    body = [
        f"<h1>{title}</h1>",
        f"<p>{html.escape(doc['first_session'])} to {html.escape(doc['last_session'])}</p>",
    ]
    body.append(f'<figure class="chart">{svg}</figure>')  # the SVG's own title and aria-label describe it
    for name, headers, rows in tables:
        body.append(
            f"<h2>{html.escape(name)}</h2><table><tr>"
            + "".join(f"<th>{html.escape(h)}</th>" for h in headers)
            + "</tr>"
        )
        for r in rows:
            cls = {"same": "ok", "open": "ok", "different": "bad", "missed": "bad", "extra": "bad"}.get(
                r[0], ""
            )
            body.append(f'<tr class="{cls}">' + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>")
        body.append("</table>")
    return f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{title}</title><style>{_CSS}</style></head><body>{"".join(body)}</body></html>\n'


def render_drift(doc: Mapping[str, Any], out_dir: Path) -> dict[str, Path]:
    """Write ``drift.json``, ``drift.md``, ``drift.html`` and ``charts/drift.svg`` into ``out_dir``."""
    from trading_playbook.paper.drift_chart import drift_chart
    from trading_playbook.reports.json_result import dumps_canonical

    out = Path(out_dir)
    (out / "charts").mkdir(parents=True, exist_ok=True)
    tables = _tables(doc)
    svg = drift_chart(doc)
    written = {
        "drift_json": out / "drift.json",
        "drift_md": out / "drift.md",
        "drift_html": out / "drift.html",
        "chart": out / "charts" / "drift.svg",
    }
    written["drift_json"].write_text(dumps_canonical(doc), encoding="utf-8")
    written["drift_md"].write_text(_markdown(doc, tables), encoding="utf-8")
    written["drift_html"].write_text(_html(doc, tables, svg), encoding="utf-8")
    written["chart"].write_text(svg, encoding="utf-8")
    return written
