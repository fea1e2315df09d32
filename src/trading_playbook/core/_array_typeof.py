"""numba's type of a plain ndarray argument, without importing ``numpy.ma`` (issue 14).

The first time a process passes a kernel an array of a given dtype, dimension count and layout,
numba's dispatcher types it in Python (its C code remembers the type from then on). numba's rule for
an ndarray first refuses a masked array with ``isinstance(val, np.ma.MaskedArray)``, and ``np.ma`` is
an attribute numpy 2 imports on first access: the question imports ``numpy.ma`` (about 15-20 ms of
bytecode and class creation) in the middle of a warm backtest's scan, on the scanner's thread, for
arrays that cannot be masked.

An array whose type is exactly ``np.ndarray`` is not a masked array (``MaskedArray`` is a subclass),
so :func:`_typeof_plain_ndarray` answers for it with the rest of numba's rule, line for line (the same
type, the same error for a dtype numba does not support); any other array (a subclass, a masked array)
goes to numba's rule itself. It is registered in place of numba's rule only when that rule is numba's
own ``_typeof_ndarray`` (nothing else replaced it); a test compares the two on arrays of every kind
numba types, so a numba release that changes its rule is seen. Revisit on numba upgrades.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba.core import errors, types
from numba.core.typing import typeof as _typeof
from numba.np import numpy_support

__all__ = ["NUMBA_RULE", "install"]

NUMBA_RULE: Any = _typeof.typeof_impl.dispatch(np.ndarray)  # numba's rule for every ndarray


def _typeof_plain_ndarray(val: Any, c: Any) -> Any:
    """numba's ``_typeof_ndarray`` without the masked-array question for an exact ``np.ndarray``."""
    if type(val) is not np.ndarray:
        return NUMBA_RULE(val, c)
    try:
        dtype = numpy_support.from_dtype(val.dtype)
    except errors.NumbaNotImplementedError:
        raise errors.NumbaValueError(f"Unsupported array dtype: {val.dtype}")  # noqa: B904 - as numba raises it
    layout = numpy_support.map_layout(val)
    readonly = not val.flags.writeable
    return types.Array(dtype, val.ndim, layout, readonly=readonly)


def install() -> bool:
    """Register :func:`_typeof_plain_ndarray` for ``np.ndarray`` when numba's own rule is the one
    registered; True when it is (or already was) the rule."""
    current = _typeof.typeof_impl.dispatch(np.ndarray)
    if current is _typeof_plain_ndarray:
        return True
    numba_own = (getattr(current, "__module__", ""), getattr(current, "__qualname__", ""))
    if current is not NUMBA_RULE or numba_own != ("numba.core.typing.typeof", "_typeof_ndarray"):
        return False
    _typeof.typeof_impl.register(np.ndarray)(_typeof_plain_ndarray)
    return True


install()
