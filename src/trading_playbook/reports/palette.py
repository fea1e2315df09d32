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
    "SEQUENTIAL",
    "STRATEGY_COLOUR",
    "TEXT",
    "sequential_colour",
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

# A sequential ramp (viridis at five stops: dark violet, blue, teal, green, yellow), for values that
# have an order but no natural zero (an optimisation's objective); light cells are the high ones.
SEQUENTIAL = ("#440154", "#3b528b", "#21918c", "#5ec962", "#fde725")


def sequential_colour(share: float) -> str:
    """The colour of ``share`` (0..1, clipped) along :data:`SEQUENTIAL`, interpolated linearly in
    RGB between the two stops around it (``0`` -> the first stop, ``0.5`` -> the middle one)."""
    share = min(max(share, 0.0), 1.0) if share == share else 0.0
    position = share * (len(SEQUENTIAL) - 1)
    k = min(int(position), len(SEQUENTIAL) - 2)
    weight = position - k
    low, high = SEQUENTIAL[k], SEQUENTIAL[k + 1]
    channels = (
        round(int(low[i : i + 2], 16) * (1 - weight) + int(high[i : i + 2], 16) * weight) for i in (1, 3, 5)
    )
    return "#" + "".join(f"{c:02x}" for c in channels)
