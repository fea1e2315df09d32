"""The numba kernel of the trade bootstrap of :mod:`trading_playbook.core.metrics`.

A run of the full shared data has about 10,000 trades; 2,000 resamples of them are 20 million draws.
The draws are exactly those of ``rng.integers(0, n, size=n)`` on numpy's default generator (PCG64),
one resample after the other: the kernel runs the generator itself, from the state numpy hands out
(``rng.bit_generator.state``), and gives the advanced state back, so the generator continues exactly
as if numpy had drawn. numba's own ``Generator.integers`` calls numpy's C generator through a function
pointer once per draw (about 6 ns a draw here); inlined, the 128-bit step, its output permutation and
Lemire's bounded draw cost about half of that, and the mean is still summed in draw order.

What is reproduced (numpy's ``_pcg64.c`` and ``distributions.c``, ``random_bounded_uint64_fill``):

- PCG64 (``PCG_XSL_RR_128_64``): ``state = state * MULT + inc`` (mod 2**128), output
  ``rotr64(hi ^ lo, hi >> 58)`` of the new state.
- ``next_uint32``: one 64-bit output serves two draws, its low half first; the high half waits in
  ``uinteger`` with ``has_uint32`` set (part of the state, also across calls).
- ``integers(0, n)`` with ``n - 1 < 2**32 - 1``: Lemire's rejection on 32-bit draws,
  ``m = u32 * n``, rejected while ``m mod 2**32 < (2**32 - n) mod n``, the draw is ``m >> 32``;
  ``n == 1`` draws nothing (every index is 0).

``nogil``: the metrics run two halves of the resamples side by side, each on its own stream
(:func:`trading_playbook.core.metrics._bootstrap_trades`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

from trading_playbook.core._jit import njit  # numba's; also: cache keys cover the kernels' other files

__all__ = ["PCG64_STATE_WORDS", "bootstrap_trades_nb"]

#: ``state`` words of :func:`bootstrap_trades_nb`: state high, state low, increment high, increment
#: low, ``has_uint32``, ``uinteger`` (numpy's names)
PCG64_STATE_WORDS = 6
_MULT_HI = np.uint64(0x2360ED051FC65DA4)  # PCG_DEFAULT_MULTIPLIER_128, high and low 64 bits
_MULT_LO = np.uint64(0x4385DF649FCCF645)
_LOW32 = np.uint64(0xFFFFFFFF)
_U32 = np.uint64(32)


def _mul_high_typer(typingctx: Any, a: Any, b: Any) -> Any:  # pragma: no cover - numba
    """The high 64 bits of the 128-bit product of two uint64 (one ``mul`` on x86-64)."""

    def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
        wide = ir.IntType(128)
        product = builder.mul(builder.zext(args[0], wide), builder.zext(args[1], wide))
        return builder.trunc(builder.lshr(product, ir.Constant(wide, 64)), ir.IntType(64))

    return types.uint64(types.uint64, types.uint64), codegen


_mul_high: Any = intrinsic(_mul_high_typer)  # called as _mul_high(a, b) in a kernel


@njit(cache=True, error_model="numpy", nogil=True)
def bootstrap_trades_nb(
    pnl: np.ndarray, state: np.ndarray, means: np.ndarray, win_rates: np.ndarray
) -> None:  # pragma: no cover - numba
    """For each resample ``b`` (``means.shape[0]`` of them): ``len(pnl)`` trades drawn with replacement
    by the PCG64 generator in ``state`` (uint64, :data:`PCG64_STATE_WORDS` words, advanced in place);
    ``means[b]`` = their mean P&L (summed in draw order), ``win_rates[b]`` = the share with
    ``pnl > 0``. ``len(pnl)`` is below ``2**32``."""
    n = pnl.shape[0]
    hi, lo, inc_hi, inc_lo = state[0], state[1], state[2], state[3]
    has_uint32, uinteger = state[4], state[5]
    span = np.uint64(n)
    threshold = (_LOW32 - (span - np.uint64(1))) % span if n > 0 else np.uint64(0)
    for b in range(means.shape[0]):
        total = 0.0
        wins = 0
        for _ in range(n):
            m = np.uint64(0)
            while n > 1:
                if has_uint32:
                    has_uint32 = np.uint64(0)
                    m = uinteger * span
                else:  # one step of the generator: two 32-bit draws
                    product_lo = lo * _MULT_LO
                    product_hi = _mul_high(lo, _MULT_LO) + lo * _MULT_HI + hi * _MULT_LO
                    lo = product_lo + inc_lo
                    hi = product_hi + inc_hi + np.uint64(lo < inc_lo)
                    mixed = hi ^ lo
                    turn = hi >> np.uint64(58)
                    out = (mixed >> turn) | (mixed << ((np.uint64(64) - turn) & np.uint64(63)))
                    uinteger = out >> _U32
                    has_uint32 = np.uint64(1)
                    m = (out & _LOW32) * span
                if (m & _LOW32) >= threshold:  # Lemire: accept (almost always)
                    break
            value = pnl[m >> _U32]
            total += value
            wins += value > 0.0
        means[b] = total / n
        win_rates[b] = wins / n
    state[0], state[1], state[4], state[5] = hi, lo, has_uint32, uinteger
