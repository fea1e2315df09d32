"""Kernels only other kernels call (``_jit.callee_kernel``): compiled into their callers, never on their own."""

from __future__ import annotations

import numba
import numpy as np
import pytest

from trading_playbook.core._jit import callee_kernel


@callee_kernel()
def _scaled_sum(x: np.ndarray, factor: float) -> float:  # pragma: no cover - numba
    total = 0.0
    for v in x:
        total += v * factor
    return total / x.shape[0]


@callee_kernel(error_model="python")
def _mean_raising(x: np.ndarray, n: int) -> float:  # pragma: no cover - numba
    total = 0.0
    for i in range(n):
        total += x[i]
    return total / n


@numba.njit
def _caller(x: np.ndarray) -> float:  # pragma: no cover - numba
    return _scaled_sum(x, 0.5) + _scaled_sum(x, 2.0)


@numba.njit
def _mean(x: np.ndarray, n: int) -> float:  # pragma: no cover - numba
    return _mean_raising(x, n)


def test_a_callee_runs_inside_its_caller_with_the_same_arithmetic() -> None:
    x = np.array([0.1, 0.2, 0.7, 1e-17])
    assert _caller(x) == _scaled_sum.py_func(x, 0.5) + _scaled_sum.py_func(x, 2.0)


def test_a_callee_is_compiled_once_whatever_constant_its_caller_passes() -> None:
    _caller(np.ones(3))
    assert len(_scaled_sum.overloads) == 1  # not once per literal 0.5 and 2.0


def test_calling_a_callee_from_python_is_a_clear_error_not_a_crash() -> None:
    _caller(np.ones(3))  # compiled for these types: still no machine code of its own
    with pytest.raises(TypeError, match="only other kernels call"):
        _scaled_sum(np.ones(3), 0.5)


def test_a_callee_keeps_the_python_error_model_when_asked() -> None:
    assert _mean(np.array([1.0, 2.0]), 2) == 1.5
    with pytest.raises(ZeroDivisionError):
        _mean(np.array([1.0, 2.0]), 0)
