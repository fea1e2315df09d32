"""The daily_breakout kernels: the streamed features equal core.indicators bit for bit, any split of the
symbols into chunks (one thread or several) gives identical setups, and a forked child (after the
parent scanned on threads) scans in one thread."""

from __future__ import annotations

import multiprocessing
import sys
from pathlib import Path

import numba
import numpy as np
import pytest

from trading_playbook.core import indicators
from trading_playbook.core.panel import Panel
from trading_playbook.core.scanners import DailyBreakoutScanner
from trading_playbook.core.scanners import daily_breakout as db
from trading_playbook.core.scanners.chunked import reusing_scratch, scratch_pool
from trading_playbook.core.types import SetupTable
from trading_playbook.testing import random_walks, walk_panel


def random_panel(seed: int, n_sessions: int = 400, n_symbols: int = 7, gap_rate: float = 0.15) -> Panel:
    """Trending random walks with random gaps and symbols listed late (different history lengths)."""
    rng = np.random.default_rng(seed)
    close, high, low, volume, available = random_walks(rng, n_sessions, n_symbols, gap_rate)
    available[: rng.integers(0, n_sessions // 2), 0] = False  # a late listing
    available[:, -1] = False  # a symbol without any bar
    available[-1, 1] = True
    return walk_panel(close, high, low, volume, available)


def assert_tables_identical(a: SetupTable, b: SetupTable) -> None:
    for name in SetupTable.__dataclass_fields__:
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype, name
        assert np.array_equal(x, y, equal_nan=True), name


SCANNERS = [
    DailyBreakoutScanner("very_relaxed", min_price=0.0),
    DailyBreakoutScanner("relaxed", min_base_days=2, max_base_days=30, high_lookback=37, rs_lookback=60),
    DailyBreakoutScanner("very_relaxed", min_base_days=1, high_lookback=1, volume_lookback=1, rs_lookback=1),
]


@pytest.mark.parametrize("scanner", SCANNERS, ids=["very_relaxed", "custom", "windows_of_one"])
@pytest.mark.parametrize("seed", [0, 1])
def test_any_chunking_serial_or_parallel_gives_identical_setups(
    scanner: DailyBreakoutScanner, seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    panel = random_panel(seed)
    monkeypatch.setattr(db, "_chunks", lambda: 1)
    serial = scanner.scan(panel)
    assert len(serial) > 0
    for chunks in (2, 3, 5, 20):  # 20 > symbols: empty chunks
        monkeypatch.setattr(db, "_chunks", lambda c=chunks: c)
        features = scanner.prepare(panel)
        assert features.n_candidates.shape[0] == min(chunks, panel.n_symbols)
        assert_tables_identical(scanner.scan(panel, features), serial)


@pytest.mark.parametrize("seed", [2, 3])
def test_streamed_features_equal_the_indicator_module_bit_for_bit(seed: int) -> None:
    """Every candidate's close, volume average, rolling high and RS equal core.indicators' values, and
    the candidates are exactly the bars with close > SMA20 > SMA50."""
    panel = random_panel(seed, n_sessions=700)
    scanner = DailyBreakoutScanner(high_lookback=60, volume_lookback=13, rs_lookback=9)
    features = scanner.prepare(panel)
    av = panel.available
    sma_fast = indicators.sma(panel.close, 20, av)
    sma_slow = indicators.sma(panel.close, 50, av)
    avg = indicators.avg_volume_before(panel.volume, av, 13)
    top = indicators.rolling_max(panel.high, 60, av, min_periods=1)
    prev = np.full_like(panel.close, np.nan)
    for j in range(panel.n_symbols):
        rows = np.flatnonzero(av[:, j])
        prev[rows[9:], j] = panel.close[rows[:-9], j]
    with np.errstate(invalid="ignore"):
        trend = (panel.close > sma_fast) & (sma_fast > sma_slow)
    rows = [
        np.arange(lo, lo + n)
        for lo, n in zip(features.capacity_bounds[:-1], features.n_candidates, strict=True)
    ]
    q = np.concatenate(rows)
    t, j = features.session[q], features.symbol[q]
    assert sorted(zip(j.tolist(), t.tolist(), strict=True)) == sorted(zip(*np.nonzero(trend.T), strict=True))
    values = features.values[q]
    assert np.array_equal(values[:, 0], panel.close[t, j])
    assert np.array_equal(values[:, 1], panel.raw_close[t, j])
    assert np.array_equal(values[:, 2], panel.volume[t, j])
    assert np.array_equal(values[:, 3], avg[t, j], equal_nan=True)
    assert np.array_equal(values[:, 4], top[t, j])
    with np.errstate(invalid="ignore"):
        assert np.array_equal(values[:, 5], panel.close[t, j] / prev[t, j] - 1.0, equal_nan=True)
    position = np.cumsum(av, axis=0) - 1
    assert np.array_equal(features.position[q], position[t, j])


def _scan_in_child(queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    table = DailyBreakoutScanner("very_relaxed", min_price=0.0).scan(random_panel(0))
    queue.put((len(table), float(table.score.sum()), db._FORK_STATE.forked))


@pytest.mark.skipif(
    sys.platform != "linux" or "fork" not in multiprocessing.get_all_start_methods(), reason="needs fork"
)
def test_a_forked_child_scans_with_the_serial_kernels() -> None:
    """A forked child (a research worker) scans in one thread and gets the parent's setups."""
    parent = DailyBreakoutScanner("very_relaxed", min_price=0.0).scan(random_panel(0))
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_scan_in_child, args=(queue,))
    child.start()
    child.join(timeout=60)
    assert child.exitcode == 0
    assert queue.get(timeout=5) == (len(parent), float(parent.score.sum()), True)


def test_chunks_hold_about_equal_bars() -> None:
    bars = np.array([10, 0, 10, 10, 10, 0])
    assert db._split(bars, 2).tolist() == [0, 3, 6]
    assert db._split(bars, 1).tolist() == [0, 6]
    bounds = db._split(bars, 10)
    assert bounds[0] == 0 and bounds[-1] == 6 and np.all(np.diff(bounds) >= 0) and len(bounds) == 7
    assert db._split(np.zeros(0, dtype=np.int64), 2).tolist() == [0, 0]


def test_the_kernel_score_table_equals_score_one() -> None:
    """The kernels' copy of the score table (trend always holds for a setup) at every boundary."""
    from trading_playbook.core.scanners._breakout_kernels import _score_nb
    from trading_playbook.core.scanners._breakout_score import score_one

    score_nb = numba.njit(lambda d, r, n, w, s: _score_nb(d, r, n, w, s))  # called-only: via a kernel

    for distance in (0.0, 0.15, 0.1500001, 0.25, 0.2500001, 0.4):
        for ratio in (0.5, 1.1999, 1.2, 1.9999, 2.0, 5.0):
            for days in (1, 6, 7, 14, 15, 60, 61, 90, 91):
                for width in (0.0, 0.05, 0.0500001, 0.08, 0.0800001, 0.12, 0.1200001, 0.2):
                    for rs in (float("nan"), -0.1, 0.0999, 0.10, 0.1499, 0.15, 1.0):
                        expected = score_one(11.0, 10.0, 9.0, distance, ratio, days, width, rs)
                        assert score_nb(distance, ratio, days, width, rs) == expected


def test_a_worker_thread_gets_the_serial_kernels_and_the_same_setups() -> None:
    import threading

    scanner = DailyBreakoutScanner("very_relaxed", min_price=0.0)
    panel = random_panel(4)
    main = scanner.scan(panel)
    got: dict[str, object] = {}

    def work() -> None:
        got["chunks"] = scanner.prepare(panel).n_candidates.shape[0]
        got["table"] = scanner.scan(panel)

    worker = threading.Thread(target=work)
    worker.start()
    worker.join(timeout=60)
    assert got["chunks"] == 1
    assert isinstance(got["table"], SetupTable)
    assert_tables_identical(got["table"], main)


def test_a_scan_does_not_start_numbas_threading_layer_and_follows_set_num_threads() -> None:
    """The chunks follow numba's thread count without starting its threading layer (OpenMP/TBB and
    their threads, about 70 ms a command, for kernels run on Python threads); once a caller set the
    count (which starts the layer), the scan follows it."""
    import subprocess
    import textwrap

    code = textwrap.dedent(
        """
        import numba
        from numba.np.ufunc import parallel
        from trading_playbook.core.scanners import daily_breakout as db
        from tests.unit.test_scanner_breakout_kernels import random_panel
        panel = random_panel(0)
        db.DailyBreakoutScanner("very_relaxed").scan(panel)
        print(parallel._is_initialized, db._chunks() == numba.config.NUMBA_NUM_THREADS)
        numba.set_num_threads(1)
        print(db._chunks(), db.DailyBreakoutScanner("very_relaxed").prepare(panel).n_candidates.shape[0])
        """
    )
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=root, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "True", "1", "1"]


def test_scans_reusing_the_scratch_give_the_setups_of_fresh_scans() -> None:
    """Within reusing_scratch() a scan reuses the previous scan's gather table (same shape): each
    scan's setups are those of a scan with fresh scratch, and the scratch is dropped at the end."""
    scanner = DailyBreakoutScanner("very_relaxed", min_price=0.0)
    panels = [random_panel(seed) for seed in (5, 6, 5)]
    fresh = [scanner.scan(panel) for panel in panels]
    with reusing_scratch():
        with reusing_scratch():  # nested: the outer context owns the pool
            reused = [scanner.scan(panel) for panel in panels]
        pool = scratch_pool()
        assert pool  # kept while the outer context is open
    assert scratch_pool() is None
    for got, want in zip(reused, fresh, strict=True):
        assert_tables_identical(got, want)
