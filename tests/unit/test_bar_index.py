"""``bar_index`` (each symbol's first/last bar and gaps, read by the fast engine's per-bar indicators)
equals a plain loop over the availability mask, on any mask: empty symbols, one bar, no gaps, gaps."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from trading_playbook.core.simulate._bars_nb import bar_index


def looped(available: np.ndarray) -> tuple[list[int], list[int], list[list[int]]]:
    first, last, gaps = [], [], []
    for j in range(available.shape[1]):
        rows = [t for t in range(available.shape[0]) if available[t, j]]
        first.append(rows[0] if rows else -1)
        last.append(rows[-1] if rows else -1)
        gaps.append([t for t in range(rows[0], rows[-1]) if not available[t, j]] if rows else [])
    return first, last, gaps


@settings(deadline=None)  # the first example compiles the kernel
@given(
    arrays(
        np.bool_,
        st.tuples(st.integers(1, 12), st.integers(1, 6)),
        elements=st.booleans(),
    )
)
def test_bar_index_equals_a_plain_loop(available: np.ndarray) -> None:
    first, last, gap_ptr, gap_rows = bar_index(available)
    want_first, want_last, want_gaps = looped(available)
    assert first.dtype == last.dtype == gap_ptr.dtype == gap_rows.dtype == np.int64
    assert first.tolist() == want_first and last.tolist() == want_last
    assert gap_ptr[0] == 0 and gap_ptr.shape == (available.shape[1] + 1,)
    got_gaps = [gap_rows[gap_ptr[j] : gap_ptr[j + 1]].tolist() for j in range(available.shape[1])]
    assert got_gaps == want_gaps


def test_bar_index_of_a_hand_worked_mask() -> None:
    available = np.array(
        [[True, False, False], [False, False, True], [True, False, True], [False, False, False]]
    )
    first, last, gap_ptr, gap_rows = bar_index(available)
    assert first.tolist() == [0, -1, 1] and last.tolist() == [2, -1, 2]
    assert gap_ptr.tolist() == [0, 1, 1, 1] and gap_rows.tolist() == [1]


def test_an_equal_mask_reuses_the_index_and_a_changed_one_does_not() -> None:
    """A sweep's trials index the same mask: the last index is returned for an equal mask (by content,
    also a copy), and a mask changed in place since gets its own index."""
    available = np.array([[True, True], [False, True], [True, True]])
    index = bar_index(available)
    assert bar_index(available.copy()) is index
    available[1, 0] = True
    _first, _last, gap_ptr, gap_rows = bar_index(available)
    assert gap_ptr.tolist() == [0, 0, 0] and gap_rows.tolist() == []
    assert bar_index(available) is not index
