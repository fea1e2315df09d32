"""Producing the next blocks of a load on a background thread while the caller uses the current one.

A block-by-block load (:func:`trading_playbook.data.api.synthetic_blocks`) alternates two kinds of
work: making a block (generating and validating bars) and using it (writing it into the panel's grids,
scanning it). Both are numpy and numba code that releases the GIL, so running the making of block
``k + 1`` beside the use of block ``k`` keeps both cores busy. The caller stays on its own thread
(the scanner only spreads its kernels over threads from the main thread), the blocks arrive in order
and each is made exactly as it would be without the thread.
"""

from __future__ import annotations

import queue
import threading
import weakref
from collections.abc import Iterator
from typing import TypeVar

__all__ = ["prefetched"]

T = TypeVar("T")

_END = object()  # the producer's last message when the blocks ran out


def prefetched(items: Iterator[T], depth: int = 1) -> Iterator[T]:
    """The items of ``items`` in order, each made on a background thread (started at once) while the
    caller works.

    At most ``depth`` finished items wait in the queue (plus the one being made), which bounds the
    extra memory. An exception raised while making an item is raised to the caller at that item.
    When the caller stops early (an error, ``close()``), the producer stops after the item it is
    making and the thread is joined before this generator returns.
    """
    box: queue.Queue[tuple[object, BaseException | None]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(message: tuple[object, BaseException | None]) -> bool:
        while not stop.is_set():
            try:
                box.put(message, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put((item, None)):
                    return
            put((_END, None))
        except BaseException as exc:  # handed to the caller's thread and raised there
            put((_END, exc))

    thread = threading.Thread(target=produce, name="playbook-prefetch", daemon=True)
    thread.start()  # now: the first item is made while the caller still prepares (e.g. the session axis)
    consumer: Iterator[T] = _consume(box, stop, thread)
    weakref.finalize(consumer, stop.set)  # a consumer dropped unstarted stops the producer too
    return consumer


def _consume(
    box: queue.Queue[tuple[object, BaseException | None]], stop: threading.Event, thread: threading.Thread
) -> Iterator[T]:
    """The caller's side of :func:`prefetched`."""
    try:
        while True:
            item, error = box.get()
            if error is not None:
                raise error
            if item is _END:
                return
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        thread.join()
