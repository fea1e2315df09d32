"""A seeded, deterministic generator of a realistic daily-bar universe (offline demo and fast tests).

Each symbol's price follows a chain of phases drawn from its own random stream:

- ``trend``: positive drift; ``decline``: negative drift; ``chop``: no drift;
- ``base``: a tight consolidation (closes within about +-3 % of a level, lower volatility and volume),
  always ended by a ``breakout`` session whose close clears the base's highest high, on 2-4x volume.
  That is the pattern of the ``daily_breakout`` scanner (RULES section 3), so backtests on this data
  produce dozens of setups a year.

Volatility clusters (an AR(1) process on log volatility). Raw prices carry occasional splits (2:1,
3:1 or 4:1 when the price runs high; the ``split`` column holds the coefficient) and quarterly
dividends for some symbols (``dividend`` and a split+dividend ``adjusted_close`` as data vendors
provide it). Some symbols start late (listings) and some stop early (delistings). Sessions follow the
XNYS calendar. The same arguments always give the same table, on every machine. Tuned so that a
40-symbol 2012-2019 universe has a median per-symbol total-return CAGR of about 12-17 %, 15-25 splits,
and the default ``daily_breakout`` preset finds 100-200 setups a year.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from trading_playbook.core.errors import DataError
from trading_playbook.data.calendar import xnys_sessions
from trading_playbook.data.model import BarArrays, to_frame
from trading_playbook.data.source import clip_dates

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["SyntheticSource", "synthetic_arrays", "synthetic_bars"]

DEFAULT_START = "2012-01-01"
DEFAULT_END = "2019-12-31"

_TREND, _BASE, _BREAKOUT, _DECLINE, _CHOP = 0, 1, 2, 3, 4
_VOLUME_FACTOR = np.array([1.0, 0.7, 1.0, 1.15, 0.9])  # breakout volume is drawn separately


def synthetic_bars(
    n_symbols: int = 40, start: str = DEFAULT_START, end: str = DEFAULT_END, seed: int = 7
) -> pd.DataFrame:
    """The synthetic universe as a long bar table (raw prices, split/dividend/adjusted_close).

    >>> bars = synthetic_bars(n_symbols=3, start="2015-01-01", end="2015-12-31", seed=1)
    >>> sorted(bars["symbol"].unique())
    ['SYN000', 'SYN001', 'SYN002']
    """
    return to_frame(synthetic_arrays(n_symbols, start, end, seed))


def synthetic_arrays(
    n_symbols: int = 40, start: str = DEFAULT_START, end: str = DEFAULT_END, seed: int = 7
) -> BarArrays:
    """:func:`synthetic_bars` as :class:`BarArrays`."""
    if n_symbols < 1:
        raise DataError(f"synthetic universe needs at least 1 symbol, got {n_symbols}")
    sessions = xnys_sessions(start, end)
    if sessions.shape[0] < 60:
        raise DataError(f"synthetic range {start}..{end} has {sessions.shape[0]} sessions; use at least 60")
    parts = [_symbol(i, sessions, seed) for i in range(n_symbols)]
    codes = np.concatenate([np.full(p.day.shape[0], i, np.int64) for i, p in enumerate(parts)])
    values = {k: np.concatenate([p.values[k] for p in parts]) for k in parts[0].values}
    symbols = tuple(_name(i) for i in range(n_symbols))
    return BarArrays(symbols, codes, np.concatenate([p.day for p in parts]), values, "synthetic")


def _name(i: int) -> str:
    return f"SYN{i:03d}"


@dataclass(frozen=True)
class _Path:
    day: np.ndarray
    values: dict[str, np.ndarray]


def _symbol(index: int, sessions: np.ndarray, seed: int) -> _Path:
    rng = np.random.default_rng([seed, index])
    n = sessions.shape[0]
    first = int(rng.integers(0, int(0.6 * n))) if rng.random() < 0.2 else 0
    last = int(rng.integers(int(0.5 * n), n)) if rng.random() < 0.1 else n
    if last - first < 60:
        first, last = 0, n
    m = last - first
    sigma = _volatility(rng, m)
    gap, up, down = rng.normal(0, 0.3, m), np.abs(rng.normal(0, 0.5, m)), np.abs(rng.normal(0, 0.5, m))
    log_close, phase = _phases(rng, m, sigma, gap, up)
    drop, ex_days, yields = _dividend_drops(rng, m)
    log_close += drop
    close = np.exp(log_close)
    open_ = np.empty(m)
    open_[0] = close[0] * np.exp(gap[0] * sigma[0])
    open_[1:] = close[:-1] * np.exp(gap[1:] * sigma[1:])
    high = np.maximum(open_, close) * np.exp(up * sigma)
    low = np.minimum(open_, close) * np.exp(-down * sigma)
    volume = _volume(rng, m, phase, np.diff(log_close, prepend=log_close[0]) / sigma)
    divisor, split = _splits(rng, close)
    raw = {
        k: np.round(v / divisor, 2)
        for k, v in (("open", open_), ("high", high), ("low", low), ("close", close))
    }
    dividend = np.zeros(m)
    prev_close = np.r_[raw["close"][0], raw["close"][:-1]]
    dividend[ex_days] = np.round(yields * prev_close[ex_days], 4)
    return _Path(
        sessions[first:last],
        {
            **raw,
            "volume": np.round(volume * divisor),
            "split": split,
            "dividend": dividend,
            "adjusted_close": _adjusted_close(raw["close"], split, dividend, prev_close),
        },
    )


def _ar1(shocks: np.ndarray, phi: float, block: int = 128) -> np.ndarray:
    """``x_t = phi * x_{t-1} + e_t`` from ``x_{-1} = 0``, vectorised in blocks.

    Within a block ``x_t = phi**t * cumsum(e_s * phi**-s) + phi**(t+1) * carry``; blocks keep
    ``phi**-s`` small enough for float64.
    """
    out = np.empty(shocks.shape[0])
    carry = 0.0
    powers = phi ** np.arange(block + 1, dtype=np.float64)
    for a in range(0, shocks.shape[0], block):
        e = shocks[a : a + block]
        k = e.shape[0]
        x = np.cumsum(e / powers[:k]) * powers[:k] + carry * powers[1 : k + 1]
        out[a : a + k] = x
        carry = float(x[-1])
    return out


def _volatility(rng: np.random.Generator, m: int) -> np.ndarray:
    """Daily volatility with clustering: 1.6 % times exp of an AR(1) (phi 0.97) process."""
    level = rng.uniform(0.012, 0.022)
    shocks = rng.normal(0, 0.06, m)
    log_vol = _ar1(shocks, 0.97)
    return np.asarray(level * np.exp(np.clip(log_vol, -1.0, 1.0)))


def _phases(
    rng: np.random.Generator, m: int, sigma: np.ndarray, gap: np.ndarray, up: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Log closes and the phase of each session (trend, base, breakout, decline, chop)."""
    log_close = np.empty(m)
    phase = np.zeros(m, dtype=np.int64)
    prev = np.log(rng.uniform(15, 80))
    t = 0
    state = _TREND
    while t < m:
        if state == _BASE:
            length = min(int(rng.integers(12, 45)), m - t)
            sigma[t : t + length] *= 0.4
            dev = _ar1(rng.normal(0, 0.006, length), 0.8)
            seg = prev + np.clip(dev, -0.03, 0.03)
            log_close[t : t + length] = seg
            phase[t : t + length] = _BASE
            t += length
            if t < m:
                opens = np.r_[prev, seg[:-1]] + gap[t - length : t] * sigma[t - length : t]
                base_high = np.max(np.maximum(opens, seg) + up[t - length : t] * sigma[t - length : t])
                log_close[t] = base_high + rng.uniform(0.005, 0.03)
                gap[t] = abs(gap[t])
                phase[t] = _BREAKOUT
                t += 1
            prev = log_close[t - 1]
            state = _TREND if rng.random() < 0.7 else _DECLINE
            continue
        length = min(int(rng.integers(20, 70)), m - t)
        drift = {_TREND: rng.uniform(0.001, 0.003), _DECLINE: -rng.uniform(0.0015, 0.004), _CHOP: 0.0}[state]
        steps = drift + sigma[t : t + length] * rng.standard_normal(length)
        log_close[t : t + length] = prev + np.cumsum(steps)
        phase[t : t + length] = state
        t += length
        prev = log_close[t - 1]
        state = _next_state(rng, state, float(np.exp(prev)))
    return log_close, phase


def _next_state(rng: np.random.Generator, state: int, price: float) -> int:
    if price < 8:
        return _TREND
    if state == _TREND:
        return _BASE if rng.random() < 0.6 else int(rng.choice([_DECLINE, _CHOP]))
    return _TREND if rng.random() < 0.6 else _CHOP if state == _DECLINE else _DECLINE


def _dividend_drops(rng: np.random.Generator, m: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Quarterly ex-dividend drops for about 40 % of symbols.

    Returns the cumulative log effect per session, the ex-dividend sessions and their yields.
    """
    effect = np.zeros(m)
    ex_days = np.zeros(0, dtype=np.int64)
    yields = np.zeros(0)
    if rng.random() < 0.4:
        ex_days = np.arange(int(rng.integers(20, 63)), m, 63, dtype=np.int64)
        yields = np.full(ex_days.shape[0], rng.uniform(0.003, 0.008))
        for day, y in zip(ex_days, yields, strict=True):
            effect[day:] += np.log1p(-y)
    return effect, ex_days, yields


def _volume(rng: np.random.Generator, m: int, phase: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Share volume: a per-symbol level, phase factors, a spike on breakouts, more on big moves."""
    level = np.exp(rng.normal(np.log(1.5e6), 0.8))
    factor = _VOLUME_FACTOR[phase]
    breakout = phase == _BREAKOUT
    factor[breakout] = rng.uniform(2.0, 4.0, int(breakout.sum()))
    noise = np.exp(rng.normal(0, 0.3, m))
    return np.asarray(level * factor * noise * (1 + 0.2 * np.minimum(np.abs(z), 4)))


def _splits(rng: np.random.Generator, close: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Divisor in effect per session and the split coefficient on split sessions.

    A split (2:1, 3:1 or 4:1) happens the session after the raw price first exceeds a threshold
    drawn between 100 and 250.
    """
    m = close.shape[0]
    divisor = np.ones(m)
    split = np.ones(m)
    current = 1.0
    threshold = rng.uniform(100, 250)
    t = 0
    while t < m - 1:
        above = np.flatnonzero(close[t:] / current > threshold)
        if above.size == 0 or t + above[0] + 1 >= m:
            break
        day = t + int(above[0]) + 1
        k = float(rng.choice([2.0, 3.0, 4.0]))
        current *= k
        split[day] = k
        divisor[day:] = current
        t = day
    return divisor, split


def _adjusted_close(
    close: np.ndarray, split: np.ndarray, dividend: np.ndarray, prev_close: np.ndarray
) -> np.ndarray:
    """Split- and dividend-adjusted close, back-adjusted like the vendors' ``adjusted_close``."""
    later_split = np.ones_like(close)
    later_split[:-1] = np.cumprod(split[::-1])[::-1][1:]
    factor = np.where(dividend > 0, 1 - dividend / prev_close, 1.0)
    later_div = np.ones_like(close)
    later_div[:-1] = np.cumprod(factor[::-1])[::-1][1:]
    return np.asarray(np.round(close / later_split * later_div, 4), dtype=np.float64)


class SyntheticSource:
    """The synthetic universe behind the :class:`~trading_playbook.data.source.BarSource` protocol."""

    def __init__(
        self, n_symbols: int = 40, seed: int = 7, start: str = DEFAULT_START, end: str = DEFAULT_END
    ) -> None:
        self.n_symbols = n_symbols
        self.seed = seed
        self.start = start
        self.end = end
        self.name = f"synthetic-{n_symbols}-{seed}"

    def fetch(
        self, symbols: Sequence[str] = (), start: str | None = None, end: str | None = None
    ) -> pd.DataFrame:
        return to_frame(self.fetch_arrays(symbols, start, end))

    def fetch_arrays(
        self, symbols: Sequence[str] = (), start: str | None = None, end: str | None = None
    ) -> BarArrays:
        bars = synthetic_arrays(self.n_symbols, self.start, self.end, self.seed)
        if symbols:
            bars = bars.select(tuple(symbols))
        return clip_dates(bars, start, end)
