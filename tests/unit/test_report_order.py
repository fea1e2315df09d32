"""The report's trades by return (``reports._content._by_return``): numpy's lexsort gives the order of
the former ``sorted`` by key, for any returns (ties, -0.0, undefined returns, ints)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from trading_playbook.reports._content import _by_return

_returns = (
    st.none()
    | st.floats(allow_nan=False, allow_infinity=False, width=32)
    | st.sampled_from([0.0, -0.0, 0.5, -0.5, 1e-300, -1e300])
)


def _former(trades: list[dict]) -> list[int]:
    return sorted(
        range(len(trades)),
        key=lambda i: (trades[i]["pnl_pct"] is None, -(trades[i]["pnl_pct"] or 0.0), i),
    )


@settings(max_examples=300, deadline=None)
@given(st.lists(_returns, max_size=40))
def test_the_order_by_return_is_the_former_sort(returns: list[float | None]) -> None:
    trades = [{"pnl_pct": r} for r in returns]
    assert _by_return(trades) == _former(trades)


@given(st.lists(st.none() | st.integers(-(10**20), 10**20) | st.floats(allow_nan=False), max_size=12))
def test_returns_that_are_not_all_floats_are_sorted_as_before(returns: list) -> None:
    trades = [{"pnl_pct": r} for r in returns]
    assert _by_return(trades) == _former(trades)
