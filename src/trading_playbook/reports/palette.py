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
    "ink_on",
    "rgb",
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
    low, high = rgb(SEQUENTIAL[k]), rgb(SEQUENTIAL[k + 1])
    channels = (round(a * (1 - weight) + b * weight) for a, b in zip(low, high, strict=True))
    return "#" + "".join(f"{c:02x}" for c in channels)


def rgb(colour: str) -> tuple[int, int, int]:
    """The red, green and blue channels (0-255) of a ``#rrggbb`` colour."""
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def ink_on(fill: str) -> str:
    """White or the text colour, whichever contrasts more with ``fill`` (WCAG relative luminance:
    white wins below 0.21, where the two contrasts cross)."""
    channels = [c / 255.0 for c in rgb(fill)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    luminance = 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
    return "#ffffff" if luminance < 0.21 else TEXT
