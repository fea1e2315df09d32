"""``report.html``: one self-contained page (inline CSS, the SVG charts inline, no script)."""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

from trading_playbook.reports._content import Callout, Heading, Image, Paragraph, Table, report_blocks

__all__ = ["render_html"]

_SVG_NAMESPACE = ' xmlns="http://www.w3.org/2000/svg"'

_CSS = """
body { font-family: -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; color: #1f2328;
       max-width: 1100px; margin: 2rem auto; padding: 0 1rem; line-height: 1.45; }
h1 { font-size: 1.6rem; border-bottom: 2px solid #d0d7de; padding-bottom: .3rem; }
h2 { font-size: 1.25rem; margin-top: 2rem; border-bottom: 1px solid #d0d7de; padding-bottom: .2rem; }
h3 { font-size: 1.05rem; }
table { border-collapse: collapse; margin: .6rem 0 1rem; font-size: .9rem; }
th, td { border: 1px solid #d0d7de; padding: .25rem .6rem; }
th { background: #f6f8fa; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.pos { background: #e6f4ea; } td.neg { background: #fce8e6; }
.callout { padding: .6rem .9rem; border-radius: 6px; margin: .6rem 0; border-left: 5px solid; }
.verdict { background: #eef6ff; border-color: #0969da; font-weight: 600; font-size: 1.05rem; }
.warning { background: #fff8c5; border-color: #d4a72c; }
.note { background: #f6f8fa; border-color: #8c959f; }
figure { margin: 1rem 0 1.5rem; } figure svg { display: block; max-width: 100%; height: auto; border: 1px solid #d0d7de; }
figcaption { color: #57606a; font-size: .9rem; }
.scroll { max-height: 36rem; overflow: auto; }
p.small { color: #57606a; font-size: .85rem; }
"""


def _table(table: Table) -> str:
    numeric = table.numeric or tuple(False for _ in table.headers)
    head = "".join(f"<th>{html.escape(h)}</th>" for h in table.headers)
    body = []
    for i, row in enumerate(table.rows):
        cells = []
        for j, cell in enumerate(row):
            classes = " ".join(
                c
                for c in (
                    "num" if j < len(numeric) and numeric[j] else "",
                    table.cell_classes.get((i, j), ""),
                )
                if c
            )
            attr = f' class="{classes}"' if classes else ""
            cells.append(f"<td{attr}>{html.escape(cell)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    markup = f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
    return f'<div class="scroll">{markup}</div>' if len(table.rows) > 40 else markup


def render_html(doc: Mapping[str, Any], chart_svgs: Mapping[str, str]) -> str:
    """A self-contained HTML page of a result document; ``chart_svgs`` maps chart name -> SVG text
    (:func:`~trading_playbook.reports.charts.render_charts`), inlined as ``<svg>`` elements (the
    charts' text stays searchable and the page needs no file beside it)."""
    title, blocks = report_blocks(doc, tuple(chart_svgs))
    parts = [f"<h1>{html.escape(title)}</h1>"]
    for block in blocks:
        if isinstance(block, Heading):
            parts.append(f"<h{block.level}>{html.escape(block.text)}</h{block.level}>")
        elif isinstance(block, Callout):
            parts.append(f'<div class="callout {block.kind}">{html.escape(block.text)}</div>')
        elif isinstance(block, Paragraph):
            parts.append(f'<p class="small">{html.escape(block.text)}</p>')
        elif isinstance(block, Table):
            parts.append(_table(block))
        elif isinstance(block, Image):
            caption = html.escape(block.caption)
            svg = chart_svgs[block.name].strip().replace(_SVG_NAMESPACE, "", 1)  # implied in HTML
            parts.append(
                f'<figure id="chart-{html.escape(block.name)}">{svg}<figcaption>{caption}</figcaption></figure>'
            )
    body = "\n".join(parts)
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n"
    )
