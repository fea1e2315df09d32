"""NamedTuples passed to kernels whole (``_jit.whole_argument``): one LLVM argument, same values."""

from __future__ import annotations

from typing import NamedTuple

import numba
import numpy as np
from numba import typeof
from numba.core.datamodel.registry import default_manager

from trading_playbook.core._jit import callee_kernel, loop_kernel, whole_argument
from trading_playbook.core.simulate._records import Bars, Book, Curves, Journal, RuleTable, SetupRows


@whole_argument
class _Whole(NamedTuple):
    values: np.ndarray  # float64 (n,)
    counts: np.ndarray  # int64 (2,)
    mask: np.ndarray  # bool (n, 2)


class _Flat(NamedTuple):  # the same fields, numba's usual flattened arguments
    values: np.ndarray
    counts: np.ndarray
    mask: np.ndarray


def _state(cls: type, n: int = 5) -> tuple[np.ndarray, ...]:
    mask = np.zeros((n, 2), dtype=np.bool_)
    mask[::2, 1] = True
    return cls(np.arange(n, dtype=np.float64) / 3.0, np.zeros(2, dtype=np.int64), mask)


@callee_kernel()
def _masked_sum(state: _Whole, scale: float) -> float:  # pragma: no cover - numba
    total = 0.0
    for i in range(state.values.shape[0]):
        if state.mask[i, 1]:
            total += state.values[i] * scale
            state.counts[0] += 1
    return total


@numba.njit
def _through_callee(state: _Whole) -> float:  # pragma: no cover - numba
    return _masked_sum(state, 0.5) + _masked_sum(state, 2.0)


@loop_kernel(entry=True)
def _entry(state: _Whole, out: np.ndarray) -> None:  # pragma: no cover - numba
    out[0] = _masked_sum(state, 1.5)
    state.counts[1] = state.values.shape[0]


def _argument_type(value: tuple[np.ndarray, ...]) -> object:
    return default_manager.lookup(typeof(value)).get_argument_type()


def test_a_marked_named_tuple_is_one_llvm_argument_and_others_stay_flattened() -> None:
    whole = _argument_type(_state(_Whole))
    flat = _argument_type(_state(_Flat))
    assert not isinstance(whole, tuple)
    assert isinstance(flat, tuple) and len(flat) == 3  # each array itself flattened further


def test_the_session_loop_state_travels_whole() -> None:
    for cls in (Bars, RuleTable, SetupRows, Book, Journal, Curves):
        fields = [np.zeros((2, 2)) for _ in cls._fields]
        assert not isinstance(_argument_type(cls(*fields)), tuple), cls.__name__


def test_a_callee_reads_and_writes_a_whole_argument_as_its_python_function_does() -> None:
    state, expected = _state(_Whole), _state(_Whole)
    got = _through_callee(state)
    want = _masked_sum.py_func(expected, 0.5) + _masked_sum.py_func(expected, 2.0)
    assert got == want
    np.testing.assert_array_equal(state.counts, expected.counts)
    assert state.counts[0] == 6


def test_an_entry_kernel_unboxes_a_whole_argument_from_python() -> None:
    state, out = _state(_Whole, 7), np.zeros(1)
    _entry(state, out)
    assert out[0] == _masked_sum.py_func(_state(_Whole, 7), 1.5)
    assert list(state.counts) == [4, 7]
