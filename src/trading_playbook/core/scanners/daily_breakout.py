"""The ``daily_breakout`` scanner (Minervini/O'Neil base breakout), RULES section 3.

One class, four presets as parameter sets. Evaluated at the close of session t with bars up to t, a
symbol passes when all six conditions hold:

1. price: the raw, as-traded close ``>= min_price``;
2. trend: ``close > SMA20`` and ``SMA20 > SMA50``;
3. near the high: at least ``min_history`` bars (t included) and
   ``(H - close) / H <= max_distance_from_high``, H = max high over the last ``high_lookback`` bars
   including t (fewer when the symbol has less history);
4. base: the largest L in ``min_base_days..max_base_days`` whose window of the L bars before t has
   ``width = (max high - min low) / max high <= max_base_width``, found by growing L until the width
   first exceeds the limit, never reaching before the symbol's first bar;
5. breakout: ``close > base_high`` (max high of that window);
6. volume: ``volume >= min_volume_ratio * average``, the average over the ``volume_lookback`` bars before
   t; an average of 0 or an undefined one (too few earlier bars) fails.

All windows count the symbol's own bars. Every price except the price rule's is split-adjusted
(the panel's adjustment). The score (0..10) only ranks; ``RS = close_t / close_{t-rs_lookback} - 1``
and an undefined RS (too little history) scores 0 points without failing the setup.

Two implementations: :meth:`DailyBreakoutScanner.scan` (every session and symbol at once: numba kernels
that stream the panel session by session, reusable :meth:`~DailyBreakoutScanner.prepare` features for
parameter sweeps, see :mod:`._breakout_kernels`) and :meth:`DailyBreakoutScanner.scan_for_setups` (one
session, plain numpy over a short tail of each symbol's bars, for live scanning). Tests prove they agree.

The kernels run with the symbols split into one chunk per numba thread (``numba.set_num_threads``
controls it; the result does not depend on it), each chunk a call of a GIL-free kernel on a Python
thread. Called from a thread other than the main one, or in a child forked by :mod:`multiprocessing`
(a research worker), they run in one thread: the caller's own threads or processes already keep the
cores busy.
"""

from __future__ import annotations

import datetime as dt
import difflib
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from multiprocessing import util as _mp_util
from typing import Any, ClassVar

import numba
import numpy as np

from trading_playbook.core.errors import ConfigError
from trading_playbook.core.panel import Panel
from trading_playbook.core.scanners import _breakout_kernels as _bk
from trading_playbook.core.scanners import _breakout_stream as _bs
from trading_playbook.core.scanners._breakout_score import score_one
from trading_playbook.core.scanners.base import session_position
from trading_playbook.core.scanners.chunked import scratch_pool
from trading_playbook.core.types import Setup, SetupTable

__all__ = ["PRESETS", "BreakoutFeatures", "DailyBreakoutScanner"]

TREND_FAST = 20  # SMA windows of the trend rule (RULES section 3, not parameters)
TREND_SLOW = 50

PRESETS: dict[str, dict[str, float]] = {
    "default": {
        "min_base_days": 10,
        "max_base_width": 0.12,
        "min_volume_ratio": 1.2,
        "max_distance_from_high": 0.25,
    },
    "moderate": {
        "min_base_days": 7,
        "max_base_width": 0.15,
        "min_volume_ratio": 1.0,
        "max_distance_from_high": 0.35,
    },
    "relaxed": {
        "min_base_days": 5,
        "max_base_width": 0.18,
        "min_volume_ratio": 0.8,
        "max_distance_from_high": 0.40,
    },
    "very_relaxed": {
        "min_base_days": 3,
        "max_base_width": 0.25,
        "min_volume_ratio": 0.5,
        "max_distance_from_high": 0.50,
    },
}


@dataclass(frozen=True, eq=False)
class BreakoutFeatures:
    """Everything of a scan that does not depend on the threshold parameters.

    Built once by :meth:`DailyBreakoutScanner.prepare`; any scanner whose :meth:`features_key` equals
    ``key`` can reuse it, so a sweep over thresholds pays for the indicators once. It holds the
    *candidates*: the bars passing the trend rule (``close > SMA20 > SMA50``, the one condition without
    a threshold). The symbols are split into chunks of consecutive symbols (``symbol_bounds``); chunk
    ``c``'s candidates are rows ``capacity_bounds[c]:capacity_bounds[c] + n_candidates[c]`` of the
    candidate arrays, in session order then symbol order: ``session``, ``symbol``, ``position`` (the
    bar's number in the symbol's own history), all int32, and ``values`` (float64, one row per
    candidate: close, raw_close, volume, volume average of the bars before, rolling high, RS). Rows
    past a chunk's count are unused.
    """

    key: tuple[int, int, int]  # (high_lookback, volume_lookback, rs_lookback)
    shape: tuple[int, int]  # (sessions, symbols) of the panel
    symbol_bounds: np.ndarray  # int64[C + 1]
    capacity_bounds: np.ndarray  # int64[C + 1]
    n_candidates: np.ndarray  # int64[C]
    session: np.ndarray  # int32[capacity]
    symbol: np.ndarray  # int32[capacity]
    position: np.ndarray  # int32[capacity]
    values: np.ndarray  # float64[capacity, 6]


class _ForkState:
    """Whether this process is a child forked by :mod:`multiprocessing` (``fork`` start method)."""

    forked = False


def _after_fork(state: _ForkState) -> None:  # pragma: no cover - runs in forked children
    state.forked = True


# a forked child is a research worker: its siblings keep the cores busy, so it scans in one thread
_FORK_STATE = _ForkState()
_mp_util.register_after_fork(_FORK_STATE, _after_fork)


def _threads_allowed() -> bool:
    """Whether the chunks may run on threads: not in a forked child, and only from the main thread (a
    caller's own threads or worker processes already keep the cores busy)."""
    return not _FORK_STATE.forked and threading.current_thread() is threading.main_thread()


def _chunks() -> int:
    """Chunks of symbols for the kernels, one per numba thread (more, narrower chunks measured slower);
    1 (one thread) when threads are not allowed."""
    return _numba_threads() if _threads_allowed() else 1


def _numba_threads() -> int:
    """numba's thread count (``numba.set_num_threads``, else ``NUMBA_NUM_THREADS``) without starting
    numba's threading layer: ``numba.get_num_threads()`` loads OpenMP or TBB and starts their threads
    (about 70 ms of CPU on a command's first scan), which these kernels, run on Python threads, never
    use. ``set_num_threads`` starts the layer, so once it is started its count is the one to read."""
    from numba.np.ufunc import parallel

    if getattr(parallel, "_is_initialized", True):
        return int(numba.get_num_threads())
    return max(1, int(numba.config.NUMBA_NUM_THREADS))  # type: ignore[attr-defined]


class DailyBreakoutScanner:
    """Base-breakout scanner of RULES section 3 with the four presets as parameter sets.

    Parameters
    ----------
    preset
        ``"default"``, ``"moderate"``, ``"relaxed"`` or ``"very_relaxed"``: values of
        ``min_base_days``, ``max_base_width``, ``min_volume_ratio`` and ``max_distance_from_high``.
    min_price, min_base_days, max_base_days, max_base_width, min_volume_ratio, max_distance_from_high
        Thresholds; an explicit value overrides the preset's.
    hard_stop
        Initial stop of a setup = ``reference_price * (1 - hard_stop)``.
    high_lookback, min_history, volume_lookback, rs_lookback
        Bars of the near-high window, bars of history required (t included), bars of the volume
        average (before t), and the RS lag.

    Examples
    --------
    >>> scanner = DailyBreakoutScanner("moderate", min_volume_ratio=1.5)
    >>> scanner.params()["min_base_days"], scanner.params()["min_volume_ratio"]
    (7, 1.5)
    """

    # ``scan(panel)`` without features streams the panel once and keeps only the hits (no candidate
    # or feature table), so the engine scans a large panel whole rather than in blocks
    streams_hits: ClassVar[bool] = True

    name: ClassVar[str] = "daily_breakout"
    description: ClassVar[str] = (
        "Minervini/O'Neil base breakout: uptrend near the 52-week high closing above a tight base on volume"
    )
    PRESETS: ClassVar[dict[str, dict[str, float]]] = PRESETS

    def __init__(
        self,
        preset: str = "default",
        *,
        min_price: float = 10.0,
        min_base_days: int | None = None,
        max_base_days: int = 90,
        max_base_width: float | None = None,
        min_volume_ratio: float | None = None,
        max_distance_from_high: float | None = None,
        hard_stop: float = 0.08,
        high_lookback: int = 252,
        min_history: int = 50,
        volume_lookback: int = 20,
        rs_lookback: int = 20,
    ) -> None:
        if preset not in PRESETS:
            close = difflib.get_close_matches(str(preset), PRESETS, n=2)
            hint = f"; did you mean {' or '.join(map(repr, close))}?" if close else ""
            raise ConfigError(f"unknown daily_breakout preset {preset!r}{hint} Presets: {', '.join(PRESETS)}")
        base = PRESETS[preset]
        self.preset = preset
        self.min_price = float(min_price)
        self.min_base_days = _int(
            "min_base_days", base["min_base_days"] if min_base_days is None else min_base_days
        )
        self.max_base_days = _int("max_base_days", max_base_days)
        self.max_base_width = float(base["max_base_width"] if max_base_width is None else max_base_width)
        self.min_volume_ratio = float(
            base["min_volume_ratio"] if min_volume_ratio is None else min_volume_ratio
        )
        self.max_distance_from_high = float(
            base["max_distance_from_high"] if max_distance_from_high is None else max_distance_from_high
        )
        self.hard_stop = float(hard_stop)
        self.high_lookback = _int("high_lookback", high_lookback)
        self.min_history = _int("min_history", min_history)
        self.volume_lookback = _int("volume_lookback", volume_lookback)
        self.rs_lookback = _int("rs_lookback", rs_lookback)
        self._validate()

    def _validate(self) -> None:
        if self.max_base_days < self.min_base_days:
            raise ConfigError(
                f"daily_breakout max_base_days ({self.max_base_days}) is below min_base_days "
                f"({self.min_base_days}); raise max_base_days or lower min_base_days"
            )
        if not 0.0 <= self.hard_stop < 1.0:
            raise ConfigError(f"daily_breakout hard_stop must be in [0, 1), got {self.hard_stop}")
        for key in ("max_base_width", "min_volume_ratio", "max_distance_from_high", "min_price"):
            value = getattr(self, key)
            if not np.isfinite(value) or value < 0:
                raise ConfigError(f"daily_breakout {key} must be a finite number >= 0, got {value}")

    # ------------------------------------------------------------------ description
    def params(self) -> dict[str, Any]:
        """The resolved parameters (preset values with explicit overrides applied)."""
        return {
            "preset": self.preset,
            "min_price": self.min_price,
            "min_base_days": self.min_base_days,
            "max_base_days": self.max_base_days,
            "max_base_width": self.max_base_width,
            "min_volume_ratio": self.min_volume_ratio,
            "max_distance_from_high": self.max_distance_from_high,
            "hard_stop": self.hard_stop,
            "high_lookback": self.high_lookback,
            "min_history": self.min_history,
            "volume_lookback": self.volume_lookback,
            "rs_lookback": self.rs_lookback,
        }

    def features_key(self) -> tuple[int, int, int]:
        """Parameters the prepared features depend on; equal keys can share :class:`BreakoutFeatures`."""
        return (self.high_lookback, self.volume_lookback, self.rs_lookback)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params().items())
        return f"DailyBreakoutScanner({args})"

    # ------------------------------------------------------------------ vectorised form
    def prepare(self, panel: Panel) -> BreakoutFeatures:
        """Compute the threshold-independent features (SMAs, rolling high, volume average, RS) once."""
        out = self._stream(panel, evaluate=False)
        n_candidates, session, symbol, position, values, symbol_bounds, capacity_bounds, _, _ = out
        return BreakoutFeatures(
            key=self.features_key(),
            shape=(int(panel.available.shape[0]), int(panel.available.shape[1])),
            symbol_bounds=symbol_bounds,
            capacity_bounds=capacity_bounds,
            n_candidates=n_candidates,
            session=session,
            symbol=symbol,
            position=position,
            values=values,
        )

    def scan(self, panel: Panel, features: BreakoutFeatures | None = None) -> SetupTable:
        """Every setup of every session of ``panel`` (no lookahead), sorted by session then rank.

        ``features`` from :meth:`prepare` (of this or another scanner with the same
        :meth:`features_key`) skips the indicator work; without them the features are streamed and
        the thresholds applied in the same pass (no candidate table).
        """
        if features is None:
            n_hits, session, symbol, _, values, _, capacity_bounds, base, days = self._stream(
                panel, evaluate=True
            )
            hits = _Hits(capacity_bounds, n_hits, session, symbol, values, base, days)
            return _assemble(hits, panel.available.shape[0], 1.0 - self.hard_stop)
        feats = self._check_features(panel, features)
        capacity = feats.session.shape[0]
        hits = _Hits.empty(feats.capacity_bounds, feats.n_candidates.shape[0], capacity, 4)
        args = (
            _f64(panel.high), _f64(panel.low), np.ascontiguousarray(panel.available, dtype=bool),
            feats.capacity_bounds, feats.n_candidates, feats.session, feats.symbol, feats.position,
            feats.values, self._thresholds(), self._bounds(), hits.session, hits.symbol, hits.values,
            hits.base, hits.days, hits.n,
        )  # fmt: skip
        chunks = hits.n.shape[0]
        _each_chunk(_bk.scan_chunk_nb, chunks if _threads_allowed() else 1, args, chunks)
        return _assemble(hits, feats.shape[0], 1.0 - self.hard_stop)

    def _thresholds(self) -> np.ndarray:
        return np.array(
            [self.min_price, self.max_distance_from_high, self.min_volume_ratio, self.max_base_width]
        )

    def _bounds(self) -> np.ndarray:
        return np.array([self.min_history, self.min_base_days, self.max_base_days], dtype=np.int64)

    def _stream(self, panel: Panel, evaluate: bool) -> tuple[np.ndarray, ...]:
        """:func:`~._breakout_stream.prepare_chunk_nb` over the panel, one chunk of symbols per thread:
        ``(n_out, session, symbol, position, values, symbol_bounds, capacity_bounds, base, days)``,
        the candidates (or with ``evaluate`` the hits) of chunk ``c`` at rows
        ``capacity_bounds[c]:capacity_bounds[c] + n_out[c]``."""
        available = np.ascontiguousarray(panel.available, dtype=bool)
        bars = np.count_nonzero(available, axis=0)
        symbol_bounds = _split(bars, _chunks())
        cumulative = np.zeros(bars.shape[0] + 1, dtype=np.int64)
        np.cumsum(bars, out=cumulative[1:])
        capacity_bounds = cumulative[symbol_bounds]
        capacity = int(capacity_bounds[-1])
        n_out = np.zeros(symbol_bounds.shape[0] - 1, dtype=np.int64)
        session = np.empty(capacity, dtype=np.int32)
        symbol = np.empty(capacity, dtype=np.int32)
        position = np.empty(capacity if not evaluate else 0, dtype=np.int32)
        values = np.empty((capacity, 4 if evaluate else 6))
        base = np.empty((capacity if evaluate else 0, 2))
        days = np.empty(capacity if evaluate else 0, dtype=np.int64)
        low = _f64(panel.low) if evaluate else np.empty((0, 0))
        lookbacks = np.array([self.high_lookback, self.volume_lookback, self.rs_lookback], dtype=np.int64)
        args = (
            _f64(panel.close), _f64(panel.raw_close), _f64(panel.high), low, _f64(panel.volume), available,
            symbol_bounds, capacity_bounds, lookbacks, self._thresholds(), self._bounds(), evaluate,
            n_out, session, symbol, position, values, base, days,
        )  # fmt: skip
        n_sessions = int(available.shape[0])
        kernel: Any = _bs.prepare_chunk_nb

        pool = scratch_pool()  # the calling thread's, inside chunked.reusing_scratch()

        def stream_chunk(chunk: int, *chunk_args: Any) -> None:
            width = int(symbol_bounds[chunk + 1] - symbol_bounds[chunk])
            key = (chunk, width, n_sessions, self.high_lookback, evaluate)
            scratch = None if pool is None else pool.get(key)
            if scratch is None:
                scratch = _bs.stream_scratch(width, n_sessions, self.high_lookback, evaluate)
                if pool is not None:
                    pool[key] = scratch
            kernel(chunk, *chunk_args, *scratch)

        _each_chunk(stream_chunk, n_out.shape[0], args)
        return n_out, session, symbol, position, values, symbol_bounds, capacity_bounds, base, days

    def _check_features(self, panel: Panel, features: BreakoutFeatures) -> BreakoutFeatures:
        if features.shape != panel.available.shape:
            raise ConfigError(
                f"prepared features are for a panel of shape {features.shape}, not "
                f"{panel.available.shape}; call prepare() on this panel"
            )
        if features.key != self.features_key():
            raise ConfigError(
                f"prepared features use (high_lookback, volume_lookback, rs_lookback) = {features.key}, "
                f"this scanner needs {self.features_key()}; call prepare() with this scanner"
            )
        return features

    # ------------------------------------------------------------------ per-date form
    def scan_for_setups(self, date: Any, data: Panel) -> list[Setup]:
        """The ranked setups at the close of session ``date``, from data up to ``date`` only.

        An independent plain-numpy implementation over a short tail of each symbol's bars (the live
        scanning path); it returns the same setups as :meth:`scan` for that session.
        """
        t = session_position(data, date)
        panel = data.truncate(t)
        tail = max(
            self.high_lookback,
            self.max_base_days + 1,
            TREND_SLOW,
            self.volume_lookback + 1,
            self.rs_lookback + 1,
        )
        n_bars = panel.available.sum(axis=0)
        # look in a recent slice of sessions first; a symbol with gaps there falls back to all rows
        recent = max(0, t + 1 - 2 * tail)
        setups: list[Setup] = []
        for j in np.flatnonzero(panel.available[t]):
            rows = recent + np.flatnonzero(panel.available[recent:, j])
            if rows.shape[0] < min(tail, int(n_bars[j])):
                rows = np.flatnonzero(panel.available[:, j])
            setup = self._evaluate(panel, int(j), rows[-tail:], int(n_bars[j]))
            if setup is not None:
                setups.append(setup)
        return sorted(setups, key=Setup.rank_key)

    def _evaluate(self, panel: Panel, j: int, rows: np.ndarray, n_bars: int) -> Setup | None:
        """All six conditions for symbol ``j`` at its last bar ``rows[-1]`` (``n_bars`` bars so far)."""
        close = panel.close[rows, j]
        high = panel.high[rows, j]
        low = panel.low[rows, j]
        volume = panel.volume[rows, j]
        c = float(close[-1])
        if not panel.raw_close[rows[-1], j] >= self.min_price:
            return None
        if n_bars < max(TREND_SLOW, self.min_history):
            # SMA50 is undefined below 50 bars, so the trend rule fails too
            return None
        sma_fast = _plain_mean(close[-TREND_FAST:])
        sma_slow = _plain_mean(close[-TREND_SLOW:])
        if not (c > sma_fast and sma_fast > sma_slow):
            return None
        top = float(np.max(high[-self.high_lookback :]))
        distance = (top - c) / top
        if not distance <= self.max_distance_from_high:
            return None
        if n_bars <= self.volume_lookback:
            return None
        avg_volume = _plain_mean(volume[-self.volume_lookback - 1 : -1])
        if not (avg_volume > 0 and volume[-1] >= self.min_volume_ratio * avg_volume):
            return None
        base = _base_search(
            high, low, min(self.max_base_days, n_bars - 1), self.min_base_days, self.max_base_width
        )
        if base is None or not c > base[1]:
            return None
        days, base_high, width = base
        volume_ratio = float(volume[-1]) / avg_volume
        rs = c / float(close[-1 - self.rs_lookback]) - 1.0 if n_bars > self.rs_lookback else float("nan")
        score = score_one(c, sma_fast, sma_slow, distance, volume_ratio, days, width, rs)
        return Setup(
            symbol=panel.symbols[j],
            session=_date(panel.sessions[-1]),
            reference_price=c,
            initial_stop=c * (1.0 - self.hard_stop),
            score=score,
            base_high=base_high,
            base_days=days,
            base_width=width,
            volume_ratio=volume_ratio,
            distance_from_high=distance,
            rs=rs,
        )


def _base_search(
    high: np.ndarray, low: np.ndarray, longest: int, shortest: int, max_width: float
) -> tuple[int, float, float] | None:
    """``(L*, base_high, width)`` over the windows of the L bars before the last one, or None.

    Grows L from ``shortest`` until the width first exceeds ``max_width`` (RULES section 3.4).
    """
    found: tuple[int, float, float] | None = None
    for length in range(shortest, longest + 1):
        top = float(np.max(high[-1 - length : -1]))
        width = (top - float(np.min(low[-1 - length : -1]))) / top
        if not width <= max_width:
            break
        found = (length, top, width)
    return found


@dataclass(frozen=True)
class _Hits:
    """A scan's hits before ranking, chunk ``c``'s at rows ``capacity_bounds[c]:capacity_bounds[c] +
    n[c]``: session, symbol, (close, distance from the high, volume ratio, RS), (base high, base
    width), base length."""

    capacity_bounds: np.ndarray
    n: np.ndarray
    session: np.ndarray
    symbol: np.ndarray
    values: np.ndarray
    base: np.ndarray
    days: np.ndarray

    @classmethod
    def empty(cls, capacity_bounds: np.ndarray, chunks: int, capacity: int, n_values: int) -> _Hits:
        return cls(
            capacity_bounds,
            np.zeros(chunks, dtype=np.int64),
            np.empty(capacity, dtype=np.int32),
            np.empty(capacity, dtype=np.int32),
            np.empty((capacity, n_values)),
            np.empty((capacity, 2)),
            np.empty(capacity, dtype=np.int64),
        )


def _assemble(hits: _Hits, n_sessions: int, stop_factor: float) -> SetupTable:
    """The SetupTable of the hits in rank order (:func:`~._breakout_kernels.rank_hits_nb`)."""
    total = int(hits.n.sum())
    source = np.empty(total, dtype=np.int64)
    score = np.empty(total)
    volume_ratio = np.empty(total)
    start = np.zeros(n_sessions + 1, dtype=np.int64)
    filled = np.zeros(n_sessions, dtype=np.int64)
    _bk.rank_hits_nb(
        hits.capacity_bounds, hits.n, hits.session, hits.values, hits.base, hits.days, start, filled,
        source, score, volume_ratio,
    )  # fmt: skip
    close = hits.values[source, 0]
    return SetupTable(
        session_idx=hits.session[source].astype(np.int64),
        symbol_idx=hits.symbol[source].astype(np.int64),
        reference_price=close,
        initial_stop=close * stop_factor,
        score=score,
        base_high=hits.base[source, 0],
        base_days=hits.days[source],
        base_width=hits.base[source, 1],
        volume_ratio=volume_ratio,
        distance_from_high=hits.values[source, 1],
        rs=hits.values[source, 3],
    )


def _plain_mean(window: np.ndarray) -> float:
    """The window's values summed one after the other, oldest first, divided by their count: the
    arithmetic of the kernels (RULES section 8). ``np.mean`` sums pairwise, which can differ in the
    last bit and flip a literal comparison."""
    return float(np.cumsum(window)[-1] / window.shape[0])


def _each_chunk(kernel: Any, threads: int, args: tuple[Any, ...], chunks: int | None = None) -> None:
    """``kernel(chunk, *args)`` for every chunk, on ``threads`` threads (the kernels release the GIL)."""
    n = threads if chunks is None else chunks
    if threads <= 1 or n <= 1:
        for chunk in range(n):
            kernel(chunk, *args)
        return
    with ThreadPoolExecutor(max_workers=min(threads, n)) as pool:
        list(pool.map(lambda chunk: kernel(chunk, *args), range(n)))


def _split(bars: np.ndarray, chunks: int) -> np.ndarray:
    """Bounds of ``chunks`` runs of consecutive symbols holding about equal numbers of bars."""
    n_symbols = bars.shape[0]
    chunks = max(1, min(chunks, n_symbols))
    cumulative = np.cumsum(bars)
    total = int(cumulative[-1]) if n_symbols else 0
    inner = np.searchsorted(cumulative, total * np.arange(1, chunks) / chunks, side="left") + 1
    bounds = np.concatenate(([0], np.minimum(inner, n_symbols), [n_symbols])).astype(np.int64)
    return np.maximum.accumulate(bounds)


def _f64(values: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(values, dtype=np.float64)


def _int(name: str, value: float) -> int:
    if int(value) != value or value < 1:
        raise ConfigError(f"daily_breakout {name} must be a positive whole number of bars, got {value!r}")
    return int(value)


def _date(value: Any) -> dt.date:
    return dt.date.fromisoformat(str(np.asarray(value).astype("datetime64[D]")))
