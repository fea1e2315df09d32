"""core._builtins_nb: ``min2``/``max2``/``to_int`` are numba's ``min``/``max``/``int``, bit for bit,
and compile nothing of their own (issue 9, point 9)."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from numba import njit
from numba.core.event import Listener, install_listener

from trading_playbook.core._builtins_nb import max2, min2, to_int

SPECIAL = [0.0, -0.0, 1.0, -1.0, 2.5, np.nan, np.inf, -np.inf, 5e-324, -1.7976931348623157e308]


@njit
def ours(a, b):  # type: ignore[no-untyped-def]
    return min2(a, b), max2(a, b)


@njit
def builtin(a, b):  # type: ignore[no-untyped-def]
    return min(a, b), max(a, b)


@njit
def ours_int(x):  # type: ignore[no-untyped-def]
    return to_int(x)


@njit
def builtin_int(x):  # type: ignore[no-untyped-def]
    return int(x)


@njit
def with_literals(n):  # type: ignore[no-untyped-def]
    # an integer literal argument and mixed int/float arguments unify as the builtins' do
    return max2(n, 1) - 1, min2(n, 2.5), max2(2.5, n)


def bits(x: float) -> int:
    return int(np.float64(x).view(np.int64))


def same(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return all(bits(x) == bits(y) for x, y in zip(a, b, strict=True))


def test_min2_max2_are_the_builtins_on_special_floats() -> None:
    for a, b in itertools.product(SPECIAL, SPECIAL):
        assert same(ours(a, b), builtin(a, b)), (a, b)
        assert same(ours(a, b), (min(a, b), max(a, b))), (a, b)  # Python's too


def test_signed_zeros_and_nan_keep_the_first_argument_unless_the_second_is_beyond() -> None:
    assert bits(min2_py(0.0, -0.0)) == bits(0.0)  # -0.0 < 0.0 is false: the first stays
    assert bits(min2_py(-0.0, 0.0)) == bits(-0.0)
    assert np.isnan(ours(np.nan, 1.0)[0]) and ours(1.0, np.nan) == (1.0, 1.0)


def min2_py(a: float, b: float) -> float:
    return float(ours(a, b)[0])


@settings(deadline=None)  # the first example compiles the kernels
@given(st.floats(allow_nan=True, allow_infinity=True), st.floats(allow_nan=True, allow_infinity=True))
def test_min2_max2_match_the_builtins_on_any_floats(a: float, b: float) -> None:
    assert same(ours(a, b), builtin(a, b))


@settings(deadline=None)  # the first example compiles the kernels
@given(st.integers(-(2**62), 2**62), st.integers(-(2**62), 2**62))
def test_min2_max2_match_the_builtins_on_integers(a: int, b: int) -> None:
    x, y = np.int64(a), np.int64(b)
    assert ours(x, y) == builtin(x, y) == (min(a, b), max(a, b))


def test_mixed_and_literal_arguments_unify_as_the_builtins() -> None:
    assert with_literals(np.int64(0)) == (0, 0.0, 2.5)
    assert with_literals(np.int64(5)) == (4, 2.5, 5.0)
    assert same(ours(np.int64(3), 2.5), builtin(np.int64(3), 2.5))


@settings(deadline=None)  # the first example compiles the kernels
@given(st.floats(-1e15, 1e15))
def test_to_int_truncates_floats_as_int(x: float) -> None:
    assert ours_int(x) == builtin_int(x) == int(x)


def test_to_int_keeps_integers_and_truncates_toward_zero() -> None:
    assert ours_int(np.int64(-7)) == -7
    assert ours_int(-2.9) == -2 and ours_int(2.9) == 2 and ours_int(True) == 1
    assert ours_int.nopython_signatures[-1].return_type == builtin_int.nopython_signatures[-1].return_type


def test_they_compile_nothing_of_their_own() -> None:
    def compiles(call) -> list[str]:  # type: ignore[no-untyped-def]
        names: list[str] = []

        class Audit(Listener):
            def on_start(self, event):  # type: ignore[no-untyped-def]
                names.append(event.data["dispatcher"].py_func.__name__)

            def on_end(self, event):  # type: ignore[no-untyped-def]
                pass

        with install_listener("numba:compile", Audit()):
            call()
        return names

    @njit
    def kernel(a, b, x):  # type: ignore[no-untyped-def]
        return min2(a, b) + max2(b, a) + to_int(x)

    @njit
    def with_builtins(a, b, x):  # type: ignore[no-untyped-def]
        return min(a, b) + max(b, a) + int(x)

    # argument types no other test uses: numba's overloads were not compiled for them yet
    args = (1.5, np.float32(2.0), np.float32(3.7))
    assert compiles(lambda: kernel(*args)) == ["kernel"]
    assert sorted(compiles(lambda: with_builtins(*args))) == ["impl", "impl", "impl", "with_builtins"]
    assert kernel(*args) == with_builtins(*args)
