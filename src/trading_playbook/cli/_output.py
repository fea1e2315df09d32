"""Output helpers shared by the command groups."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

__all__ = ["CacheDir", "plain_console", "print_data_notes", "skip_unseen_highlighting"]

CacheDir = Annotated[
    Path | None,
    typer.Option(
        "--cache-dir",
        help="Cache folder (default: env PLAYBOOK_CACHE_DIR, else the per-user cache folder).",
        show_default=False,
    ),
]


def plain_console() -> Console:
    """A console that neither colours numbers nor wraps long lines (paths and symbol lists stay whole)."""
    return Console(highlight=False, soft_wrap=True)


def skip_unseen_highlighting(console: Console) -> Console:
    """``console``, highlighting nothing when it writes no colours (a pipe, a log file, ``TERM=dumb``).

    Highlighting only adds styles, and a console without a colour system writes text without any:
    the same bytes, without running rich's highlighter's regular expressions over every line
    (about 10 ms for a backtest's data warnings). A terminal keeps its highlighting.
    """
    if console.color_system is None:
        from rich.highlighter import NullHighlighter

        console.highlighter = NullHighlighter()
    return console


def print_data_notes(
    console: Console,
    repairs: list[dict[str, str]],
    warnings: list[dict[str, str]],
    *,
    first: int = 10,
    where: str = "result.json lists every one",
) -> None:
    """The count and the first few repairs and data warnings; ``where`` says where all of them are."""
    from trading_playbook.data.validate import Change, DataWarning

    if repairs:
        counts: dict[str, int] = {}
        for r in repairs:
            counts[r["rule"]] = counts.get(r["rule"], 0) + 1
        summary = ", ".join(f"{rule} {n}" for rule, n in sorted(counts.items()))
        console.print(f"[yellow]repaired {len(repairs)} row(s)[/] ({escape(summary)}):")
        for r in repairs[:first]:
            console.print(f"  {escape(Change(**r).line())}", soft_wrap=True)
        if len(repairs) > first:
            console.print(f"  ... and {len(repairs) - first} more ({where})")
    if warnings:
        console.print(f"[yellow]data warnings: {len(warnings)}[/] (kept as they are; check them):")
        for w in warnings[:first]:
            console.print(f"  {escape(DataWarning(**w).line())}", soft_wrap=True)
        if len(warnings) > first:
            console.print(f"  ... and {len(warnings) - first} more ({where})")
