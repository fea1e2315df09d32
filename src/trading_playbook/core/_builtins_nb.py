"""``min``, ``max`` and ``int`` for numba kernels, emitted in place (no compile of their own).

numba implements the builtins ``min``/``max``/``int`` on numbers as ``@overload``\\ s: a call compiles
the overload's implementation as a function of its own (typing, lowering, module optimisation and
machine code) for each distinct tuple of argument types, in every process, as it is not cached on
disk with the kernels that call it; a first run paid about 0.05 s for each of a dozen (issue 9,
point 9). These are intrinsics: their few instructions are emitted right into the calling kernel, and
they compute what the builtins compute, bit for bit, NaN and signed zeros included (numba's
``do_minmax`` and ``cast_int``):

- :func:`min2` ``(a, b)`` is ``b if b < a else a`` and :func:`max2` ``(a, b)`` is ``b if b > a else
  a`` (the first argument unless the second compares strictly beyond it), in the type both unify to;
- :func:`to_int` ``(x)`` is ``x`` for an integer and ``x`` truncated toward zero to ``intp`` for a
  float or a boolean.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any, TypeVar, cast

from numba.core import types
from numba.core.typing.templates import signature
from numba.extending import intrinsic

__all__ = ["max2", "min2", "to_int"]

N = TypeVar("N", bound=float)  # int or float (mypy promotes int to float)


def _select(cmp: Any, typingctx: Any, a: Any, b: Any) -> Any:
    """Signature and code of ``b if cmp(b, a) else a`` in the type ``a`` and ``b`` unify to; None
    (numba tries its other templates) unless both are numbers."""
    a, b = types.unliteral(a), types.unliteral(b)
    if not isinstance(a, types.Number) or not isinstance(b, types.Number):
        return None
    result = typingctx.unify_types(a, b)
    if result is None:
        return None

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        x = context.cast(builder, args[0], sig.args[0], result)
        y = context.cast(builder, args[1], sig.args[1], result)
        compare = context.get_function(cmp, signature(types.boolean, result, result))
        return builder.select(compare(builder, (y, x)), y, x)

    return result(a, b), codegen


@intrinsic
def _min2(typingctx: Any, a: Any, b: Any) -> Any:
    return _select(operator.lt, typingctx, a, b)


@intrinsic
def _max2(typingctx: Any, a: Any, b: Any) -> Any:
    return _select(operator.gt, typingctx, a, b)


@intrinsic
def _to_int(typingctx: Any, x: Any) -> Any:
    x = types.unliteral(x)
    if isinstance(x, types.Integer):
        result = x
    elif isinstance(x, (types.Float, types.Boolean)):
        result = types.intp
    else:
        return None

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        return context.cast(builder, args[0], sig.args[0], result)

    return result(x), codegen


min2 = cast(Callable[[N, N], N], _min2)
"""``min(a, b)`` of two numbers in a kernel: ``b if b < a else a``."""
max2 = cast(Callable[[N, N], N], _max2)
"""``max(a, b)`` of two numbers in a kernel: ``b if b > a else a``."""
to_int = cast(Callable[[float], int], _to_int)
"""``int(x)`` of a number in a kernel: an integer as it is, a float or a boolean truncated to ``intp``."""
