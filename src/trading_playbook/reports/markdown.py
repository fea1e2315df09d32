"""``report.md``: the report as GitHub-flavoured Markdown, charts as relative image links."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from trading_playbook.reports._content import Callout, Heading, Image, Paragraph, Table, report_blocks

__all__ = ["render_markdown"]


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _table(table: Table) -> str:
    numeric = table.numeric or tuple(False for _ in table.headers)
    lines = [
        "| " + " | ".join(_cell(h) for h in table.headers) + " |",
        "|" + "|".join("---:" if n else "---" for n in numeric) + "|",
    ]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in table.rows]
    return "\n".join(lines)


def render_markdown(doc: Mapping[str, Any], chart_files: Mapping[str, str]) -> str:
    """Markdown text of a result document; ``chart_files`` maps chart name -> relative image path."""
    title, blocks = report_blocks(doc, tuple(chart_files))
    parts = [f"# {title}"]
    for block in blocks:
        if isinstance(block, Heading):
            parts.append(f"{'#' * block.level} {block.text}")
        elif isinstance(block, Callout):
            text = f"**{block.text}**" if block.kind == "verdict" else block.text
            prefix = {"warning": "⚠ ", "note": "ℹ "}.get(block.kind, "")
            parts.append(f"> {prefix}{text}")
        elif isinstance(block, Paragraph):
            parts.append(block.text)
        elif isinstance(block, Table):
            parts.append(_table(block))
        elif isinstance(block, Image):
            parts.append(f"![{block.caption}]({chart_files[block.name]})")
    return "\n\n".join(parts) + "\n"
