"""numba types a plain ndarray argument as before, without importing ``numpy.ma`` (issue 14)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from numba.core.typing import typeof as numba_typeof

from trading_playbook.core import _array_typeof


def _arrays() -> list[np.ndarray]:
    base = np.arange(24, dtype=np.float64).reshape(2, 3, 4)
    readonly = np.arange(5.0)
    readonly.flags.writeable = False
    out = [
        base,
        base[:, ::2],  # any layout
        np.asfortranarray(base),
        base.T,
        np.float32(1.5) * np.ones(3, dtype=np.float32),
        np.zeros((0, 4), dtype=np.int32),
        np.array(3.0),  # zero dimensions
        np.arange(6, dtype=np.int8),
        np.array([True, False]),
        np.array(["2020-01-02"], dtype="datetime64[D]"),
        np.zeros(2, dtype=[("a", np.float64), ("b", np.int32)]),
        np.zeros(2, dtype=np.complex128),
        np.zeros(2, dtype=np.float16),
        np.zeros(2, dtype=object),
        np.zeros(2, dtype="S3"),
        readonly,
    ]
    return out


def _numba(value: object) -> object:
    return _array_typeof.NUMBA_RULE(value, numba_typeof.Purpose.argument)


def test_numbas_rule_is_replaced() -> None:
    assert numba_typeof.typeof_impl.dispatch(np.ndarray) is _array_typeof._typeof_plain_ndarray
    assert _array_typeof.install()  # already: a no-op


@pytest.mark.parametrize("value", _arrays(), ids=lambda a: f"{a.dtype}-{a.shape}")
def test_the_type_is_numbas(value: np.ndarray) -> None:
    assert numba_typeof.typeof(value, numba_typeof.Purpose.argument) == _numba(value)


@pytest.mark.parametrize("dtype", ["V8", "longdouble", "clongdouble"])
def test_an_unsupported_dtype_raises_numbas_error(dtype: str) -> None:
    value = np.zeros(2, dtype=dtype)
    with pytest.raises(Exception) as theirs:
        _numba(value)
    with pytest.raises(Exception) as ours:
        _array_typeof._typeof_plain_ndarray(value, numba_typeof.Purpose.argument)
    assert (type(ours.value), str(ours.value)) == (type(theirs.value), str(theirs.value))


def test_a_masked_array_is_still_refused() -> None:
    with pytest.raises(Exception, match="MaskedArray"):
        numba_typeof.typeof(np.ma.masked_array([1.0, 2.0]), numba_typeof.Purpose.argument)


def test_a_kernel_call_imports_no_numpy_ma() -> None:
    code = (
        "import sys, numba, numpy as np\n"
        "from trading_playbook._blas_probe import defer_blas_import\n"
        "assert defer_blas_import()  # as the CLI does: else the compile imports SciPy, and it numpy.ma\n"
        "import trading_playbook.core._jit\n"
        "@numba.njit\n"
        "def total(x):\n"
        "    return x.sum()\n"
        "assert total(np.arange(4.0)) == 6.0\n"
        "print('numpy.ma' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "False"
