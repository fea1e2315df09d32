"""Running window sums that decide ``close > SMA20 > SMA50`` exactly without summing every window.

RULES section 8 defines a moving average as the plain mean of its window, summed oldest value first
(:func:`~trading_playbook.core._indicator_kernels.window_mean_nb`); a running sum (add the new
value, subtract the one leaving) differs from it in the last bits, and with literal comparisons that
can flip a decision. The scanner only *compares* its SMAs (the trend rule), so it keeps running sums
together with a rigorous bound on how far the plain mean can be from them, and sums the windows
afresh only when a comparison falls inside the bound (a close within about 1e-14 of its SMA: equal
prices, flat series). Every decision is the one the plain means give; the bound is:

- ``err`` bounds ``|total - E|``, E the exact (real) sum of the window: every running update
  ``total + new - old`` adds ``4u`` times the magnitude of each of its two rounded results (a
  rounding is off by at most ``u`` times its result, u = 2^-53 the unit roundoff; 4u covers the
  rounding of the bound itself); a sum summed afresh starts with ``err = 4 n u total``;
- the plain mean ``fl(F / n)``, F the window summed oldest first in floating point, is within
  ``((n + 2) u (total + err) + err) / n`` of ``total / n`` (recursive summation of n positive values
  is within ``(n - 1) u E`` of E, the division adds ``u``); the scanner's margin
  ``(2 (n + 3) u (total + err) + 2 err) / n`` doubles that, which also covers the rounding of
  ``total / n`` and of the thresholds ``mean +- margin`` it compares with.

Windows holding a value that is not a positive finite number are summed afresh (the bound assumes
positive values), as are windows once ``err`` exceeds ``RESEED`` of the total (a long history of
large prices followed by small ones); both are rare.

Volumes: the average volume is *stored* (the volume ratio), so it must be the plain mean itself.
Volumes that are whole multiples of 1/256 below ``2^45 / (n + 1)`` sum exactly in float64 in any
order (every partial sum of up to n + 1 of them is a multiple of 1/256 below 2^45, within the 53-bit
mantissa), so their running sum *is* the plain sum; a window holding any other volume is summed
afresh.
"""

from __future__ import annotations

import numpy as np

from trading_playbook.core._jit import njit  # numba's; also: cache keys cover the kernels' other files

__all__ = ["RESEED", "UNIT_ROUNDOFF", "VOLUME_SUM_LIMIT", "exact_volume", "positive_finite"]

UNIT_ROUNDOFF = 2.0**-53
RESEED = 2.0**-40  # a running sum is summed afresh once its error bound exceeds this share of it
VOLUME_SCALE = 256.0  # volumes that are multiples of 1 / VOLUME_SCALE ...
VOLUME_SUM_LIMIT = 2.0**45  # ... whose sums stay below this are exact (45 + 8 bits <= 53)


@njit(cache=True, inline="always")
def positive_finite(x: float) -> bool:  # pragma: no cover - numba
    """A value the running-sum bound covers (NaN, inf, 0 and negatives are not)."""
    return x > 0.0 and x < np.inf


@njit(cache=True, inline="always")
def exact_volume(v: float, limit: float) -> bool:  # pragma: no cover - numba
    """A volume that sums exactly with others: a multiple of ``1 / VOLUME_SCALE`` in ``[0, limit)``
    (``limit = VOLUME_SUM_LIMIT / terms`` for sums of up to ``terms`` volumes)."""
    scaled = v * VOLUME_SCALE  # exact: a power of two
    return v >= 0.0 and v < limit and np.floor(scaled) == scaled
