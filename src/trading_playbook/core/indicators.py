"""Indicators of RULES section 2 over the panel (sessions x symbols), lookahead-free.

Every function takes (T, N) float64 arrays aligned with a :class:`~trading_playbook.core.panel.Panel`
plus its ``available`` mask and returns a (T, N) float64 array. Conventions (RULES section 8):

- Windows count the **symbol's own bars**: a session without a bar is skipped, so "the last 20
  sessions" of a symbol with a gap reaches further back in calendar time.
- The output at a session without a bar is NaN. Undefined values (too little history) are NaN, and a
  rule comparing with NaN is false.
- Values on available rows are expected to be finite (the data layer validates them). ``sma`` also
  tolerates NaNs: a window holding one is NaN.

The work is done by numba kernels (:mod:`trading_playbook.core._indicator_kernels`) on the *bar layout*
(:class:`BarLayout`): each symbol's bars stored contiguously, which makes every indicator O(bars).

Examples
--------
>>> import numpy as np
>>> close = np.array([[1.0], [2.0], [np.nan], [3.0]])
>>> available = np.isfinite(close)
>>> sma(close, 2, available)[:, 0].tolist()
[nan, 1.5, nan, 2.5]
>>> previous_bar(close, available)[:, 0].tolist()
[nan, 1.0, nan, 2.0]
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from trading_playbook.core import _indicator_kernels as _k
from trading_playbook.core.errors import ConfigError

__all__ = [
    "BarLayout",
    "Window",
    "atr",
    "avg_volume_before",
    "donchian",
    "ema",
    "previous_bar",
    "rolling_max",
    "rolling_min",
    "rsi",
    "sma",
    "true_range",
    "window_set",
]


# the last layout built, with its own copy of the mask (see BarLayout.from_available)
_LAST_LAYOUT: list[tuple[np.ndarray, BarLayout]] = []
_CACHED_BARS_MAX = 8_000_000  # about 200 MB of index arrays kept (the shared data has 2.4 million bars)


@dataclass(frozen=True, eq=False)
class BarLayout:
    """Where each symbol's own bars sit in a (T, N) panel, stored symbol after symbol.

    Symbol ``j``'s bars are ``k`` in ``offsets[j]:offsets[j + 1]``, in session order, at session rows
    ``rows[k]``.
    ``position[k]`` is the bar's 0-based number in its symbol's history (bars counted, not sessions).
    """

    shape: tuple[int, int]
    offsets: np.ndarray  # int64[N + 1]
    rows: np.ndarray  # int64[M], session index of each bar
    cols: np.ndarray  # int64[M], symbol index of each bar
    position: np.ndarray  # int64[M]

    available: np.ndarray = field(repr=False)  # bool (T, N), C-contiguous

    @classmethod
    def from_available(cls, available: np.ndarray) -> BarLayout:
        """Build the layout of a (T, N) bool availability mask.

        The last layout built is kept with a private copy of its mask: indicators of one panel call
        this once each with the same mask, and comparing two masks costs a few percent of building
        the layout again. A mask changed in place since is a different mask (its content is compared).
        Layouts of more than ``_CACHED_BARS_MAX`` bars are not kept (their index arrays would stay in
        memory for the whole process). The arrays of a layout are shared: read them, never write them
        (read-only flags would make numba compile every kernel a second time for read-only arrays).
        """
        mask = np.ascontiguousarray(available, dtype=bool)
        if mask.ndim != 2:
            raise ConfigError(f"available must be a (sessions, symbols) array, got shape {mask.shape}")
        last = _LAST_LAYOUT[0] if _LAST_LAYOUT else None
        if last is not None and last[0].shape == mask.shape and np.array_equal(last[0], mask):
            return last[1]
        offsets, rows, cols = _k.layout_nb(mask)
        position = np.arange(rows.shape[0], dtype=np.int64) - np.repeat(offsets[:-1], np.diff(offsets))
        kept = mask.copy()
        layout = cls(
            shape=(int(mask.shape[0]), int(mask.shape[1])),
            offsets=offsets,
            rows=rows,
            cols=cols,
            position=position,
            available=kept,
        )
        _LAST_LAYOUT[:] = [(kept, layout)] if rows.shape[0] <= _CACHED_BARS_MAX else []
        return layout

    @property
    def n_bars(self) -> int:
        """Number of bars M."""
        return int(self.rows.shape[0])

    def compress(self, values: np.ndarray) -> np.ndarray:
        """The (T, N) array's values at the bars, in layout order (float64[M])."""
        arr = np.ascontiguousarray(values, dtype=np.float64)
        if arr.shape != self.shape:
            raise ConfigError(f"array of shape {arr.shape} does not match the panel's {self.shape}")
        return _k.compress_nb(arr, self.available, self.offsets)

    def expand(self, flat: np.ndarray, fill: float = np.nan) -> np.ndarray:
        """Scatter per-bar values back to a (T, N) array; sessions without a bar get ``fill``."""
        values = np.ascontiguousarray(flat, dtype=np.float64)
        return _k.expand_nb(values, self.available, self.offsets, float(fill))


def _window(n: int, name: str = "n") -> int:
    if int(n) != n or n < 1:
        raise ConfigError(f"indicator window {name} must be a positive integer, got {n!r}")
    return int(n)


@dataclass(frozen=True, eq=False)
class Window:
    """One window indicator of :func:`window_set`, over a symbol's own bars.

    The window is the last ``n`` bars ending ``lag`` bars before t (``lag`` 0: t-n+1..t; 1: t-n..t-1)
    and holds fewer bars while the symbol's history is short; with fewer than ``need`` (default ``n``)
    the value is NaN. ``kind``: ``mean`` (the plain mean, RULES section 8; defined only on a full
    window), ``max`` / ``min`` (values must be finite), ``last`` (the window's last bar's value).
    """

    kind: Literal["mean", "max", "min", "last"]
    values: np.ndarray
    n: int
    lag: int = 0
    need: int | None = None


_KINDS = {"mean": _k.MEAN, "max": _k.MAX, "min": _k.MIN, "last": _k.LAST}
_THREADED_CELLS = 250_000  # below this a second thread costs more than it saves


def window_set(available: np.ndarray, windows: Mapping[str, Window]) -> dict[str, np.ndarray]:
    """Several window indicators of one panel in one streaming pass: ``{name: (T, N) array}``.

    Eight symbols (a cache line of a panel row) at a time are gathered into a small tile that stays
    in the CPU caches, every window of the set is computed on it and the results are written back
    (:func:`~trading_playbook.core._indicator_kernels.window_set_nb`): the panel is read once and each
    output written once, with no bar layout of the whole panel and no compress or expand pass. The columns are split over two threads for large panels (the kernel releases the
    GIL; each symbol is computed alone, so the values do not depend on the split). The values are
    those of :func:`sma`, :func:`rolling_max`... bitwise (they are computed here).

    >>> import numpy as np
    >>> close = np.array([[1.0], [2.0], [np.nan], [4.0]])
    >>> out = window_set(np.isfinite(close), {"sma2": Window("mean", close, 2), "high": Window("max", close, 3, need=1)})
    >>> out["sma2"][:, 0].tolist(), out["high"][:, 0].tolist()
    ([nan, 1.5, nan, 3.0], [1.0, 2.0, nan, 4.0])
    """
    mask = np.ascontiguousarray(available, dtype=bool)
    if mask.ndim != 2:
        raise ConfigError(f"available must be a (sessions, symbols) array, got shape {mask.shape}")
    names = list(windows)
    out = np.empty((len(names), *mask.shape))
    inputs: list[np.ndarray] = []  # the distinct value arrays, by identity
    specs = np.zeros((len(names), 5), dtype=np.int64)
    for s, name in enumerate(names):
        w = windows[name]
        if w.kind not in _KINDS:
            raise ConfigError(f"window {name!r}: unknown kind {w.kind!r}; use one of {', '.join(_KINDS)}")
        n = _window(w.n)
        need = n if w.need is None else _window(w.need, "need")
        if need > n:
            raise ConfigError(f"window {name!r}: need ({need}) cannot exceed the window n ({n})")
        if int(w.lag) != w.lag or w.lag < 0:
            raise ConfigError(f"window {name!r}: lag must be a non-negative integer, got {w.lag!r}")
        src = next((i for i, x in enumerate(inputs) if x is w.values), len(inputs))
        if src == len(inputs):
            inputs.append(w.values)
        specs[s] = (_KINDS[w.kind], src, n, int(w.lag), need)
    arrays = [_panel_array(x, mask.shape) for x in inputs]
    for lo in range(0, len(arrays), 3):  # three inputs per pass
        part = np.flatnonzero((specs[:, _k.S_INPUT] >= lo) & (specs[:, _k.S_INPUT] < lo + 3))
        group = arrays[lo : lo + 3]
        local = specs[part].copy()
        local[:, _k.S_INPUT] -= lo
        target = out if part.shape[0] == len(names) else np.empty((part.shape[0], *mask.shape))
        _run_window_set([*group, *[group[0]] * (3 - len(group))], mask, local, target)
        if target is not out:
            out[part] = target
    return {name: out[s] for s, name in enumerate(names)}


def _panel_array(values: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    arr = np.ascontiguousarray(values, dtype=np.float64)
    if arr.shape != shape:
        raise ConfigError(f"array of shape {arr.shape} does not match the panel's {shape}")
    return arr


def _run_window_set(inputs: list[np.ndarray], mask: np.ndarray, specs: np.ndarray, out: np.ndarray) -> None:
    """:func:`_k.window_set_nb` over all columns, in two halves on two threads for a large panel
    called from the main thread (elsewhere the caller's own threads or processes keep the cores busy)."""
    n_symbols = mask.shape[1]
    x0, x1, x2 = inputs

    def columns(bounds: tuple[int, int]) -> None:
        _k.window_set_nb(x0, x1, x2, mask, specs, out, bounds[0], bounds[1])

    half = (n_symbols // 16) * 8  # a multiple of the kernel's eight symbols
    if mask.size < _THREADED_CELLS or half == 0 or threading.current_thread() is not threading.main_thread():
        columns((0, n_symbols))
        return
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(columns, [(0, half), (half, n_symbols)]))


def sma(values: np.ndarray, n: int, available: np.ndarray) -> np.ndarray:
    """Simple moving average: mean of the symbol's last ``n`` bars (t-n+1..t); NaN until n bars exist."""
    return window_set(available, {"sma": Window("mean", values, n)})["sma"]


def ema(values: np.ndarray, n: int, available: np.ndarray) -> np.ndarray:
    """Exponential moving average over the symbol's whole history.

    ``alpha = 2 / (n + 1)``; seeded with the SMA of the first ``n`` bars at the n-th bar (as TA-Lib's
    EMA), then ``EMA_t = alpha * x_t + (1 - alpha) * EMA_{t-1}``; NaN before the n-th bar.
    """
    layout = BarLayout.from_available(available)
    return layout.expand(_k.ema_nb(layout.compress(values), layout.offsets, _window(n)))


def true_range(high: np.ndarray, low: np.ndarray, close: np.ndarray, available: np.ndarray) -> np.ndarray:
    """``TR_t = max(H_t - L_t, |H_t - C_prev|, |L_t - C_prev|)``, ``C_prev`` the symbol's previous bar's
    close; ``H - L`` on the symbol's first bar."""
    layout = BarLayout.from_available(available)
    tr = _k.true_range_nb(layout.compress(high), layout.compress(low), layout.compress(close), layout.offsets)
    return layout.expand(tr)


def atr(
    high: np.ndarray, low: np.ndarray, close: np.ndarray, available: np.ndarray, n: int = 10
) -> np.ndarray:
    """Average true range: the **simple** mean of the last ``n`` true ranges (not Wilder smoothing)."""
    layout = BarLayout.from_available(available)
    tr = _k.true_range_nb(layout.compress(high), layout.compress(low), layout.compress(close), layout.offsets)
    return layout.expand(_k.sma_nb(tr, layout.offsets, _window(n)))


def _rolling(
    values: np.ndarray,
    n: int,
    available: np.ndarray,
    include_current: bool,
    min_periods: int | None,
    kernel_max: bool,
) -> np.ndarray:
    n = _window(n)
    need = n if min_periods is None else _window(min_periods, "min_periods")
    if need > n:
        raise ConfigError(f"min_periods ({need}) cannot exceed the window n ({n})")
    kind: Literal["max", "min"] = "max" if kernel_max else "min"
    window = Window(kind, values, n, lag=0 if include_current else 1, need=need)
    return window_set(available, {kind: window})[kind]


def rolling_max(
    values: np.ndarray,
    n: int,
    available: np.ndarray,
    *,
    include_current: bool = True,
    min_periods: int | None = None,
) -> np.ndarray:
    """Max over the symbol's last ``n`` bars: t-n+1..t, or t-n..t-1 with ``include_current=False``.

    ``min_periods`` (default ``n``) is the fewest bars the window may hold; with fewer it is NaN. Use
    ``min_periods=1`` for "over the last n bars, fewer if the symbol has less history".
    """
    return _rolling(values, n, available, include_current, min_periods, kernel_max=True)


def rolling_min(
    values: np.ndarray,
    n: int,
    available: np.ndarray,
    *,
    include_current: bool = True,
    min_periods: int | None = None,
) -> np.ndarray:
    """Min over the symbol's last ``n`` bars; same window rules as :func:`rolling_max`."""
    return _rolling(values, n, available, include_current, min_periods, kernel_max=False)


def avg_volume_before(volume: np.ndarray, available: np.ndarray, n: int = 20) -> np.ndarray:
    """Mean volume over the symbol's ``n`` bars **before** t (t-n..t-1), the volume test's average.

    NaN with fewer than ``n`` earlier bars, and at sessions without a bar.
    """
    return window_set(available, {"avg": Window("mean", volume, n, lag=1)})["avg"]


def rsi(values: np.ndarray, n: int, available: np.ndarray) -> np.ndarray:
    """Wilder's relative strength index over the symbol's bars (the TA-Lib definition).

    Changes ``d_t = x_t - x_prev``; the first averages are the simple means of the gains and losses of
    the first ``n`` changes (defined at the (n+1)-th bar), then ``avg = (avg * (n - 1) + d) / n``.
    ``RSI = 100 * avg_gain / (avg_gain + avg_loss)``; 50 when both are 0 (a flat series).
    """
    layout = BarLayout.from_available(available)
    return layout.expand(_k.rsi_nb(layout.compress(values), layout.offsets, _window(n)))


def donchian(
    high: np.ndarray, low: np.ndarray, n: int, available: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Donchian channel: ``(upper, lower)`` = (max high, min low) over the symbol's last ``n`` bars
    including t (as TA-Lib's MAX/MIN); NaN until ``n`` bars exist. For a breakout rule "close above the
    prior channel", compare with :func:`rolling_max` ``(..., include_current=False)`` instead."""
    upper = rolling_max(high, n, available)
    lower = rolling_min(low, n, available)
    return upper, lower


def previous_bar(values: np.ndarray, available: np.ndarray) -> np.ndarray:
    """Value at the symbol's previous bar (for LOWER_CLOSE / LOWER_HIGH); NaN on its first bar."""
    return window_set(available, {"prev": Window("last", values, 1, lag=1)})["prev"]
