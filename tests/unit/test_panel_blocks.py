"""The split events of a panel and the block-by-block panel builder (issue 14)."""

from __future__ import annotations

import numpy as np
import pytest

from trading_playbook.core.errors import DataError
from trading_playbook.core.panel import SplitEvents, panel_from_arrays
from trading_playbook.core.panel_blocks import BarBlock, panel_from_blocks

DAYS = np.array(["2020-01-02", "2020-01-03", "2020-01-06", "2020-01-07"], dtype="datetime64[D]")


def _bars() -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Three symbols: A (4 bars, a 2:1 split on the third), B (2 bars), C (3 bars, a gap)."""
    codes = np.array([0, 0, 0, 0, 1, 1, 2, 2, 2])
    day = DAYS[[0, 1, 2, 3, 2, 3, 0, 1, 3]]
    close = np.array([100.0, 102, 51, 52, 10, 11, 7, 7.5, 8])
    columns = {
        "open": close - 1,
        "high": close + 1,
        "low": close - 2,
        "close": close,
        "volume": np.arange(9, dtype=float) * 100 + 1,
        "split": np.array([1.0, 1, 2, 1, 1, 1, 1, 1, 1]),
    }
    return codes, day, columns


def test_split_events_round_trip_and_slices() -> None:
    grid = np.ones((4, 3))
    grid[2, 0], grid[3, 2], grid[1, 1] = 2.0, 3.0, np.nan
    events = SplitEvents.from_grid(grid)
    np.testing.assert_array_equal(events.dense(), grid)
    np.testing.assert_array_equal(events.truncate(2).dense(), grid[:3])
    np.testing.assert_array_equal(
        events.take(np.array([1, 3]), np.array([1, 2])).dense(), grid[np.ix_([1, 3], [1, 2])]
    )
    np.testing.assert_array_equal(events.columns(1, 3).dense(), grid[:, 1:3])


@pytest.mark.parametrize("adjustment", ["split", "raw"])
@pytest.mark.parametrize("cut", [1, 2])
def test_blocks_build_the_same_panel_as_all_bars_at_once(adjustment: str, cut: int) -> None:
    codes, day, columns = _bars()
    whole = panel_from_arrays(codes, ("A", "B", "C"), day, dict(columns), adjustment)
    first = codes < cut
    blocks = [
        BarBlock(0, cut, codes[first], day[first], {k: v[first] for k, v in columns.items()}),
        BarBlock(cut, 3 - cut, codes[~first] - cut, day[~first], {k: v[~first] for k, v in columns.items()}),
    ]
    blocked = panel_from_blocks(("A", "B", "C"), whole.sessions, blocks, adjustment)
    for name in ("open", "high", "low", "close", "volume", "raw_close", "available"):
        np.testing.assert_array_equal(getattr(blocked, name), getattr(whole, name), err_msg=name)
    np.testing.assert_array_equal(blocked.split, whole.split)
    assert blocked.close[0, 0] == (100.0 if adjustment == "raw" else 50.0)  # back-adjusted 2:1


def test_blocks_refuse_duplicates_gaps_in_the_columns_and_dates_off_the_axis() -> None:
    *_, columns = _bars()
    sessions = DAYS
    twice = BarBlock(0, 1, np.array([0, 0]), DAYS[[1, 1]], {k: v[:2] for k, v in columns.items()})
    with pytest.raises(DataError, match="duplicate"):
        panel_from_blocks(("A",), sessions, [twice], "split")
    later = BarBlock(1, 1, np.array([0]), DAYS[:1], {k: v[:1] for k, v in columns.items()})
    with pytest.raises(DataError, match="in order"):
        panel_from_blocks(("A", "B"), sessions, [later], "split")
    off = BarBlock(
        0,
        1,
        np.array([0]),
        np.array(["2020-01-04"], dtype="datetime64[D]"),
        {k: v[:1] for k, v in columns.items()},
    )
    with pytest.raises(DataError, match="2020-01-04 is not on the panel's session axis"):
        panel_from_blocks(("A",), sessions, [off], "split")
    one = BarBlock(0, 1, np.array([0]), DAYS[:1], {k: v[:1] for k, v in columns.items()})
    with pytest.raises(DataError, match="held 1 of 2 symbols"):
        panel_from_blocks(("A", "B"), sessions, [one], "split")


@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("adjustment", ["split", "all", "raw"])
def test_blocks_of_synthetic_bars_match_the_whole_load_bit_for_bit(adjustment: str, threads: int) -> None:
    """Validated (ordered) blocks of synthetic bars: late listings, early delistings,
    splits and dividends, blocks whose widths are not multiples of eight, against all bars at once."""
    from trading_playbook.data.synthetic import synthetic_arrays

    bars = synthetic_arrays(29, "1999-01-01", "2004-12-31", seed=11)
    assert (bars.values["split"] != 1.0).any() and len(np.unique(bars.day)) > 1_000
    symbols = bars.symbols
    whole = panel_from_arrays(bars.codes, symbols, bars.day, dict(bars.values), adjustment)
    assert not whole.available.all()  # some symbols list late or delist early
    blocks = []
    for first, last in ((0, 13), (13, 21), (21, 29)):
        keep = (bars.codes >= first) & (bars.codes < last)
        columns = {k: v[keep] for k, v in bars.values.items()}
        blocks.append(BarBlock(first, last - first, bars.codes[keep] - first, bars.day[keep], columns))
    blocked = panel_from_blocks(symbols, whole.sessions, iter(blocks), adjustment, threads=threads)
    for name in ("open", "high", "low", "close", "volume", "raw_close", "available"):
        np.testing.assert_array_equal(getattr(blocked, name), getattr(whole, name), err_msg=name)
        assert getattr(blocked, name).tobytes() == getattr(whole, name).tobytes(), name
    np.testing.assert_array_equal(blocked.split, whole.split)
    for name in ("rows", "cols", "coefficients"):  # the events in bar order, as the whole load has them
        np.testing.assert_array_equal(getattr(blocked.splits, name), getattr(whole.splits, name))


def test_a_block_refuses_symbol_codes_beyond_its_width() -> None:
    codes, day, columns = _bars()
    block = BarBlock(0, 2, codes, day, columns)  # codes reach 2 in a block of 2 symbols
    with pytest.raises(DataError, match=r"symbol codes outside 0\.\.1"):
        panel_from_blocks(("A", "B"), DAYS, [block], "split")


def test_an_error_in_one_thread_is_raised() -> None:
    """Two threads: the second block holds a duplicate bar; the load raises it (the other thread
    stops taking blocks) and returns."""
    codes, day, columns = _bars()
    taken: list[int] = []

    def blocks():
        for first in range(3):
            keep = codes == first
            rows = np.flatnonzero(keep)
            if first == 1:  # B's two bars, the second one twice
                rows = np.append(rows, rows[-1])
            taken.append(first)
            yield BarBlock(first, 1, codes[rows] - first, day[rows], {k: v[rows] for k, v in columns.items()})
        for first in range(3, 50):
            taken.append(first)
            yield BarBlock(first, 1, np.zeros(1, np.int64), DAYS[:1], {k: v[:1] for k, v in columns.items()})

    with pytest.raises(DataError, match="duplicate"):
        panel_from_blocks(tuple(f"S{i:02d}" for i in range(50)), DAYS, blocks(), "split", threads=2)
    assert taken[:2] == [0, 1]
