"""``cli._output.skip_unseen_highlighting``: a console without colours skips rich's highlighter and
writes the same bytes; a console with colours keeps it (a terminal's output is unchanged)."""

from __future__ import annotations

import io

from rich.console import Console
from rich.highlighter import NullHighlighter, ReprHighlighter

from trading_playbook.cli._output import print_data_notes, skip_unseen_highlighting

WARNINGS = [
    {
        "rule": "unexplained_move",
        "symbol": "AAPL",
        "date": "2000-09-29",
        "detail": "the close moved -52 % (split-adjusted, 53.5 -> 25.75): 'check' it, see https://x.y/z",
    }
] * 12


def _written(console: Console) -> str:
    print_data_notes(console, [], WARNINGS)
    console.print("value 1.5 of [1, 2] at 2021-01-04 ('a', None, True)")
    return console.file.getvalue()  # type: ignore[attr-defined,no-any-return]


def test_a_console_without_colours_writes_the_same_bytes_without_highlighting() -> None:
    plain = skip_unseen_highlighting(Console(file=io.StringIO(), width=100))
    assert plain.color_system is None and isinstance(plain.highlighter, NullHighlighter)
    assert _written(plain) == _written(Console(file=io.StringIO(), width=100))


def test_a_terminal_keeps_its_highlighting() -> None:
    colours = skip_unseen_highlighting(Console(file=io.StringIO(), width=100, force_terminal=True))
    assert colours.color_system is not None and isinstance(colours.highlighter, ReprHighlighter)
    reference = Console(file=io.StringIO(), width=100, force_terminal=True)
    assert _written(colours) == _written(reference)
    assert "\x1b[" in _written(Console(file=io.StringIO(), width=100, force_terminal=True))
