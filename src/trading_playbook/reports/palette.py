"""The colours the report's SVG charts and the web dashboard's Plotly charts share (one palette, so a
run looks the same in ``report.html`` and on its dashboard page).

GitHub Primer hues: the series colours are told apart by lightness as well as hue, and no chart
relies on colour alone (gains and losses carry their sign in text, benchmarks a dash pattern).
"""

from __future__ import annotations

__all__ = [
    "BENCHMARK_COLOURS",
    "BENCHMARK_DASHES",
    "GAIN",
    "GRID",
    "LOSS",
    "MUTED",
    "PALETTE",
    "RULE",
    "STRATEGY_COLOUR",
    "TEXT",
]

PALETTE = ("#0969da", "#bf3989", "#1a7f37", "#9a6700", "#8250df", "#cf222e", "#57606a", "#0a3069")
STRATEGY_COLOUR = PALETTE[0]
BENCHMARK_COLOURS = ("#8c959f", "#d4a72c", "#6e7781")
BENCHMARK_DASHES = ("", "6 3", "2 2")  # the SVG charts' benchmark lines, so they differ without colour
GAIN = PALETTE[2]
LOSS = PALETTE[5]
TEXT = "#1f2328"  # labels and titles
MUTED = "#57606a"  # subtitles, messages, tick labels
GRID = "#eaeef2"  # grid lines
RULE = "#d0d7de"  # frames and reference lines
