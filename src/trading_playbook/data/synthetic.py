"""A seeded, deterministic generator of a realistic daily-bar universe (offline demo, tests, benchmarks).

Each symbol's price follows a chain of phases:

- ``trend``: positive drift; ``decline``: negative drift; ``chop``: no drift;
- ``base``: a tight consolidation (closes within about +-3 % of a level, lower volatility and volume),
  always ended by a ``breakout`` session whose close clears the base's highest high, on 2-4x volume.
  That is the pattern of the ``daily_breakout`` scanner (RULES section 3), so backtests on this data
  produce dozens of setups a year.

Volatility clusters (an AR(1) process on log volatility). Raw prices carry occasional splits (2:1,
3:1 or 4:1 the session after the raw close first runs above a threshold between 100 and 250; the
``split`` column holds the coefficient) and quarterly dividends for some symbols (``dividend`` and a
split+dividend ``adjusted_close`` as data vendors provide it). Some symbols start late (listings) and
some stop early (delistings). Sessions follow the XNYS calendar. Tuned so that a 40-symbol 2012-2019
universe has a median per-symbol total-return CAGR of about 12-17 %, a few dozen splits, and the
default ``daily_breakout`` preset finds dozens to a few hundred setups a year.

Fast enough for large universes (issue 14: 5,000 symbols over 25 years in a few seconds; any symbol
range alone, so 20,000 symbols never need to be held at once): every symbol draws all its random
numbers at once from its own stream, ``numpy.random.default_rng([seed, index])``, and a numba kernel
(:mod:`._synthetic_nb`) turns them into its bars in one pass. So a symbol's bars depend only on the
seed, its index and the date range: the same in a universe of 40 or of 20,000, and in any symbol range.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from trading_playbook.core.errors import DataError
from trading_playbook.data._synthetic_nb import symbol_bars_nb
from trading_playbook.data.calendar import xnys_sessions
from trading_playbook.data.model import BarArrays, to_frame
from trading_playbook.data.source import clip_dates

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "GENERATOR_VERSION",
    "MAX_SYMBOLS",
    "SyntheticSource",
    "synthetic_arrays",
    "synthetic_bars",
    "synthetic_days",
    "synthetic_sessions",
    "synthetic_symbols",
]

# Bumped whenever the same arguments would give different bars: it is part of the data fingerprint.
GENERATOR_VERSION = 2
DEFAULT_START = "2012-01-01"
DEFAULT_END = "2019-12-31"
MAX_SYMBOLS = 100_000
_RUN = 32  # symbols a generating thread takes at a time


def synthetic_bars(
    n_symbols: int = 40, start: str = DEFAULT_START, end: str = DEFAULT_END, seed: int = 7
) -> pd.DataFrame:
    """The synthetic universe as a long bar table (raw prices, split/dividend/adjusted_close).

    >>> bars = synthetic_bars(n_symbols=3, start="2015-01-01", end="2015-12-31", seed=1)
    >>> sorted(bars["symbol"].unique())
    ['SYN000', 'SYN001', 'SYN002']
    """
    return to_frame(synthetic_arrays(n_symbols, start, end, seed))


def synthetic_symbols(n_symbols: int) -> tuple[str, ...]:
    """The symbol names of an ``n_symbols`` universe: ``SYN000``..., zero-padded to one width so that
    code-point order is index order (``SYN0000``... from 1,001 symbols on)."""
    width = max(3, len(str(n_symbols - 1)))
    return tuple(f"SYN{i:0{width}d}" for i in range(n_symbols))


def synthetic_arrays(
    n_symbols: int = 40,
    start: str = DEFAULT_START,
    end: str = DEFAULT_END,
    seed: int = 7,
    *,
    first: int = 0,
    count: int | None = None,
    columns: Sequence[str] | None = None,
    threads: int = 2,
) -> BarArrays:
    """:func:`synthetic_bars` as :class:`BarArrays`.

    ``first`` and ``count`` generate only the symbols ``first .. first + count - 1`` of the universe
    (their bars are the same as in the whole universe); ``columns`` keeps only those value columns
    (``open, high, low, close, volume`` always; ``split, dividend, adjusted_close`` when listed, all
    of them by default). ``threads`` generate runs of symbols side by side (numpy's draws and the
    kernel release the GIL); each symbol comes from its own stream into its own rows, so the bars are
    the same whatever the thread count.
    """
    if not 1 <= n_symbols <= MAX_SYMBOLS:
        raise DataError(f"synthetic universe needs 1 to {MAX_SYMBOLS:,} symbols, got {n_symbols}")
    count = n_symbols - first if count is None else count
    if first < 0 or count < 1 or first + count > n_symbols:
        raise DataError(f"symbols {first}..{first + count - 1} are outside a universe of {n_symbols}")
    sessions = xnys_sessions(start, end)
    if sessions.shape[0] < 60:
        raise DataError(f"synthetic range {start}..{end} has {sessions.shape[0]} sessions; use at least 60")
    wanted = ("split", "dividend", "adjusted_close") if columns is None else tuple(columns)
    keep = [i for i, name in enumerate(_COLUMNS) if i < 5 or name in wanted]
    n = sessions.shape[0]
    # each symbol's stream, started: its listing window now, the rest of its draws in fill()
    started = [_Plan.start(index, n, seed) for index in range(first, first + count)]
    rows = np.array([m for *_, m in started], dtype=np.int64)
    offsets = np.concatenate(([0], np.cumsum(rows))).tolist()
    columns_out = {_COLUMNS[i]: np.empty(offsets[-1]) for i in keep}
    day = np.empty(offsets[-1], dtype="datetime64[D]")

    def fill(part: range) -> None:
        scratch = np.empty(len(_COLUMNS) * n)
        work_scratch = np.empty(4 * n)
        phase = np.empty(n, dtype=np.int64)
        for k in part:
            plan = _Plan.rest(*started[k])  # one symbol's draws at a time (200 KB over 25 years)
            a, b = offsets[k], offsets[k + 1]
            # C-contiguous whatever the symbol's length (a column slice of a 2-D scratch would not be,
            # and numba would compile the kernel a second time for that layout)
            bars = scratch[: len(_COLUMNS) * plan.length].reshape(len(_COLUMNS), plan.length)
            work = work_scratch[: 4 * plan.length].reshape(4, plan.length)
            symbol_bars_nb(
                plan.z, plan.phase, plan.split_k, plan.uniform, plan.level, bars, work, phase[: plan.length]
            )
            for i in keep:
                columns_out[_COLUMNS[i]][a:b] = bars[i]
            day[a:b] = sessions[plan.first : plan.first + plan.length]

    # runs of _RUN symbols handed out to the threads as they free up (symbols differ in length)
    runs = [range(a, min(a + _RUN, count)) for a in range(0, count, _RUN)]
    if threads <= 1 or len(runs) == 1:
        for run in runs:
            fill(run)
    else:
        with ThreadPoolExecutor(max_workers=min(threads, len(runs))) as pool:
            list(pool.map(fill, runs))
    names = synthetic_symbols(n_symbols)[first : first + count]
    codes = np.repeat(np.arange(count, dtype=np.int64), rows)
    return BarArrays(names, codes, day, columns_out, "synthetic")


def synthetic_days(start: str = DEFAULT_START, end: str = DEFAULT_END) -> int:
    """How many sessions the synthetic range holds (the most a symbol can have)."""
    return int(xnys_sessions(start, end).shape[0])


def synthetic_sessions(
    n_symbols: int, start: str = DEFAULT_START, end: str = DEFAULT_END, seed: int = 7
) -> np.ndarray:
    """The sessions on which at least one symbol of the universe has a bar (the panel's session axis),
    from the symbols' listing windows alone: nothing is generated."""
    if not 1 <= n_symbols <= MAX_SYMBOLS:
        raise DataError(f"synthetic universe needs 1 to {MAX_SYMBOLS:,} symbols, got {n_symbols}")
    sessions = xnys_sessions(start, end)
    n = sessions.shape[0]
    if n < 60:
        raise DataError(f"synthetic range {start}..{end} has {n} sessions; use at least 60")
    listed = np.zeros(n + 1, dtype=np.int64)
    for index in range(n_symbols):
        first, length = _Plan.listing(index, n, seed)
        listed[first] += 1
        listed[first + length] -= 1
    return sessions[np.cumsum(listed[:n]) > 0]


_COLUMNS = ("open", "high", "low", "close", "volume", "split", "dividend", "adjusted_close")


@dataclass(frozen=True)
class _Plan:
    """Every random number of one symbol, drawn at once from its own stream ``[seed, index]``."""

    first: int  # the symbol's first session (a late listing starts later)
    length: int  # its number of sessions (a delisting ends earlier)
    uniform: np.ndarray  # (12,): listing, volatility level, start price, dividends, split threshold
    level: float  # standard normal: the volume level
    z: np.ndarray  # (6, length) standard normals (float32): vol shock, gap, up, down, step, volume
    phase: np.ndarray  # (5, length // 12 + 4) uniforms per phase: length, size, 2 transitions, spike
    split_k: np.ndarray  # (16,) split coefficients 2, 3 or 4

    @staticmethod
    def _window(u: np.ndarray, n: int) -> tuple[int, int]:
        """(first session, sessions): 20 % list late, 10 % delist early, at least 60 sessions listed."""
        first = int(u[1] * 0.6 * n) if u[0] < 0.2 else 0
        last = int(0.5 * n + u[3] * 0.5 * n) if u[2] < 0.1 else n
        if last - first < 60:
            first, last = 0, n
        return first, last - first

    @classmethod
    def listing(cls, index: int, n: int, seed: int) -> tuple[int, int]:
        """The symbol's (first session, sessions) from the first draws of its stream."""
        return cls._window(np.random.default_rng([seed, index]).random(12), n)

    @classmethod
    def start(cls, index: int, n: int, seed: int) -> tuple[np.random.Generator, np.ndarray, int, int]:
        """The symbol's stream after its first draws: (stream, those uniforms, first session, sessions)."""
        rng = np.random.default_rng([seed, index])
        u = rng.random(12)
        return (rng, u, *cls._window(u, n))

    @classmethod
    def rest(cls, rng: np.random.Generator, u: np.ndarray, first: int, m: int) -> _Plan:
        """The plan from a started stream (:meth:`start`): the same draws in the same order."""
        return cls(
            first=first,
            length=m,
            uniform=u,
            level=float(rng.standard_normal()),
            z=rng.standard_normal((6, m), dtype=np.float32),
            phase=rng.random((5, m // 12 + 4)),
            split_k=rng.integers(2, 5, 16).astype(np.float64),
        )


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
