"""``indicators.window_set`` alone on the shared data: the comparable rule's three windows.

Run on demand (never part of the test suite)::

    .venv/bin/python benchmarks/bench_window_set.py [--repeat 9]

The windows of the identical-rule benchmark (``bench_backtest.py``, ``peers_ours``): the max of the 20
highs before t, the 50-bar mean of the close, the mean of the 20 volumes before t, over the split-adjusted
panel (5402 sessions x 504 symbols). Prints the best and median wall and CPU time (user + sys of the
process: both threads) of ``window_set`` (two threads, as the benchmark calls it) and of the kernel on
one thread, the load average, and PASS/FAIL for the values being bitwise those of the
one-window-at-a-time kernels (``sma_segment_nb`` and the deque ``_extreme_segment_nb`` over each
symbol's own bars). There is no bar on this figure itself; issue 14's bar is the identical rule's
ratio to vectorbt in ``bench_backtest.py``.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

import numpy as np
from peers_common import ComparableRule, load_panel

from trading_playbook.core import _indicator_kernels as _k
from trading_playbook.core import indicators


def timed(fn: Callable[[], object], repeat: int) -> tuple[list[float], list[float]]:
    """Wall and CPU seconds of ``repeat`` calls after one warm-up."""
    fn()
    wall, cpu = [], []
    for _ in range(repeat):
        c0, t0 = time.process_time(), time.perf_counter()
        fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return wall, cpu


def reference(values: np.ndarray, available: np.ndarray, kind: str, n: int, lag: int) -> np.ndarray:
    """The window over each symbol's own bars with the one-window-at-a-time kernels."""
    layout = indicators.BarLayout.from_available(available)
    flat = layout.compress(values)
    out = np.empty(flat.shape[0])
    dq = np.empty(flat.shape[0], dtype=np.int64)
    for j in range(layout.offsets.shape[0] - 1):
        lo, hi = int(layout.offsets[j]), int(layout.offsets[j + 1])
        if kind == "mean":
            _k.sma_segment_nb(flat, out, lo, hi, n)
        else:
            _k._extreme_segment_nb(flat, out, dq, lo, hi, n, 1.0)
    shifted = np.full(flat.shape[0], np.nan)
    keep = layout.position >= lag + (n - 1 if kind == "max" else 0)  # a max needs n bars (need = n)
    shifted[keep] = out[np.flatnonzero(keep) - lag]
    return layout.expand(shifted)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=9)
    args = parser.parse_args()
    panel, _ = load_panel()
    rule = ComparableRule()
    avail = panel.available
    windows = {
        "prev_high": indicators.Window("max", panel.high, rule.breakout, lag=1),
        "sma": indicators.Window("mean", panel.close, rule.trend_sma),
        "avg_volume": indicators.Window("mean", panel.volume, rule.volume_window, lag=1),
    }
    print(f"panel {panel.close.shape[0]} sessions x {panel.close.shape[1]} symbols; load {os.getloadavg()}")
    got = indicators.window_set(avail, windows)
    specs = [
        ("prev_high", panel.high, "max", rule.breakout, 1),
        ("sma", panel.close, "mean", rule.trend_sma, 0),
    ]
    specs.append(("avg_volume", panel.volume, "mean", rule.volume_window, 1))
    same = True
    for name, values, kind, n, lag in specs:
        expected = reference(values, avail, kind, n, lag)
        finite = ~np.isnan(expected)
        ok = (
            np.array_equal(np.isnan(got[name]), ~finite)
            and got[name][finite].tobytes() == expected[finite].tobytes()
        )
        same &= ok
    mask = np.ascontiguousarray(avail)
    spec_rows = np.array(
        [[_k.MAX, 0, 20, 1, 20], [_k.MEAN, 1, 50, 0, 50], [_k.MEAN, 2, 20, 1, 20]], dtype=np.int64
    )
    out = np.empty((3, *mask.shape))
    x = [np.ascontiguousarray(v, dtype=np.float64) for v in (panel.high, panel.close, panel.volume)]
    runs = {
        "window_set (two threads)": lambda: indicators.window_set(avail, windows),
        "window_set_nb, one thread": lambda: _k.window_set_nb(*x, mask, spec_rows, out, 0, mask.shape[1]),
    }
    for label, fn in runs.items():
        wall, cpu = timed(fn, args.repeat)
        print(
            f"{label:28s} wall best {min(wall):.4f} s median {sorted(wall)[len(wall) // 2]:.4f} s; "
            f"CPU best {min(cpu):.4f} s median {sorted(cpu)[len(cpu) // 2]:.4f} s"
        )
    print(f"load average at end: {os.getloadavg()}")
    print(f"[{'PASS' if same else 'FAIL'}] values bitwise those of the one-window-at-a-time kernels")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
