"""The background producer of a block-by-block load (data.prefetch)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from trading_playbook.data.prefetch import prefetched


def _counting(n: int, made: list[int], fail_at: int | None = None) -> Iterator[int]:
    for i in range(n):
        if i == fail_at:
            raise ValueError(f"block {i} is bad")
        made.append(i)
        yield i


def test_items_arrive_in_order_made_on_another_thread() -> None:
    threads: set[str] = set()

    def items() -> Iterator[int]:
        for i in range(50):
            threads.add(threading.current_thread().name)
            yield i

    assert list(prefetched(items())) == list(range(50))
    assert threads == {"playbook-prefetch"}


def test_the_producer_runs_ahead_by_at_most_depth_plus_one() -> None:
    made: list[int] = []
    consumer = prefetched(_counting(10, made), depth=1)
    assert next(consumer) == 0
    time.sleep(0.3)  # the producer fills the queue (1) and holds one more item it cannot put
    assert len(made) <= 3
    assert list(consumer) == list(range(1, 10))


def test_a_producer_error_is_raised_to_the_caller_at_that_item() -> None:
    made: list[int] = []
    got: list[int] = []
    with pytest.raises(ValueError, match="block 3 is bad"):
        for item in prefetched(_counting(10, made, fail_at=3)):
            got.append(item)
    assert got == [0, 1, 2]


def test_a_caller_that_stops_early_stops_and_joins_the_producer() -> None:
    made: list[int] = []
    before = threading.active_count()
    consumer = prefetched(_counting(1_000, made))
    assert next(consumer) == 0
    consumer.close()  # type: ignore[attr-defined]
    assert threading.active_count() == before
    assert len(made) <= 3


def test_a_consumer_dropped_unstarted_stops_the_producer() -> None:
    made: list[int] = []
    before = threading.active_count()
    consumer = prefetched(_counting(1_000, made))
    del consumer
    deadline = time.monotonic() + 5
    while threading.active_count() > before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert threading.active_count() == before
    assert len(made) <= 3
