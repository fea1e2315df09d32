"""A minimal, independent count of RULES section 3 ``daily_breakout`` (default preset) signals.

Used by the data tests to check that the synthetic universe produces breakout setups; it is a plain
per-symbol loop, deliberately separate from the production scanner in ``core/scanners``.
"""

from __future__ import annotations

import numpy as np

from trading_playbook.core.panel import Panel


def count_breakouts(
    panel: Panel,
    *,
    min_base_days: int = 10,
    max_base_days: int = 90,
    max_base_width: float = 0.12,
    min_volume_ratio: float = 1.2,
    max_distance_from_high: float = 0.25,
    min_price: float = 10.0,
) -> dict[int, int]:
    """Number of default-preset setups per calendar year."""
    years: dict[int, int] = {}
    for j in range(panel.n_symbols):
        mask = panel.available[:, j]
        days = panel.sessions[mask]
        c, h, lo, v = (a[mask, j] for a in (panel.close, panel.high, panel.low, panel.volume))
        raw = panel.raw_close[mask, j]
        n = c.shape[0]
        cs = np.r_[0.0, np.cumsum(c)]
        for t in range(50, n):
            sma20 = (cs[t + 1] - cs[t - 19]) / 20
            sma50 = (cs[t + 1] - cs[t - 49]) / 50
            if not (raw[t] >= min_price and c[t] > sma20 > sma50):
                continue
            hi = h[max(0, t - 251) : t + 1].max()
            if (hi - c[t]) / hi > max_distance_from_high:
                continue
            avg = v[t - 20 : t].mean()
            if avg <= 0 or v[t] < min_volume_ratio * avg:
                continue
            best = None
            for length in range(min_base_days, min(max_base_days, t) + 1):
                window_high = h[t - length : t].max()
                width = (window_high - lo[t - length : t].min()) / window_high
                if width > max_base_width:
                    break
                best = window_high
            if best is not None and c[t] > best:
                year = int(str(days[t])[:4])
                years[year] = years.get(year, 0) + 1
    return years
