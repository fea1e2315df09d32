"""The numba kernel of the synthetic generator: one symbol's path from its random numbers.

:mod:`trading_playbook.data.synthetic` draws every random number of a symbol at once with numpy
(its own stream) and this kernel turns them into raw bars in one pass per symbol: the phase chain, the
volatility process, bars, volume, splits, dividends and the vendor-style adjusted close. numpy over
(symbols x sessions) arrays needed about a hundred passes over the data and most of its time went
there; the loop is a few times faster and needs no (symbols x sessions) scratch arrays.
"""

from __future__ import annotations

import numpy as np

from trading_playbook.core._builtins_nb import max2, min2, to_int  # the builtins compile apart
from trading_playbook.core._jit import callee_kernel, njit  # numba's, cached by _jit.KernelCache

__all__ = ["symbol_bars_nb"]

TREND, BASE, BREAKOUT, DECLINE, CHOP = 0, 1, 2, 3, 4
VOLUME_FACTOR = (1.0, 0.7, 1.0, 1.15, 0.9)  # by phase; a breakout's is drawn (2-4x)

# rows of the normals (6, m) of a symbol
Z_VOL, Z_GAP, Z_UP, Z_DOWN, Z_STEP, Z_VOLUME = 0, 1, 2, 3, 4, 5
# rows of the phase uniforms (5, k)
P_LENGTH, P_SIZE, P_CHOICE, P_OTHER, P_SPIKE = 0, 1, 2, 3, 4
# the per-symbol uniforms used here
U_LEVEL, U_START, U_PAYER, U_YIELD, U_THRESHOLD, U_OFFSET = 4, 5, 6, 7, 8, 9


@callee_kernel()
def _round2(x: float) -> float:  # pragma: no cover - numba
    """numpy's ``round(x, 2)``: scale, round half to even, scale back."""
    return float(np.rint(x * 100.0) / 100.0)


@callee_kernel()
def _phases_nb(
    z: np.ndarray,
    ph: np.ndarray,
    sigma: np.ndarray,
    gap: np.ndarray,
    log_close: np.ndarray,
    phase: np.ndarray,
    spike: np.ndarray,
    log_start: float,
) -> None:  # pragma: no cover - numba
    """Log closes and phases of one symbol's ``m`` positions; ``sigma`` is calmer in a base, a
    breakout's ``gap`` is made positive and its volume multiple set in ``spike`` (all in place)."""
    m = log_close.shape[0]
    t = 0
    price = log_start
    state = np.int64(TREND)  # not the literal 0: numba would compile _next_state_nb for it apart
    step = 0
    while t < m:
        if state == BASE:
            span = min2(12 + to_int(np.floor(ph[P_LENGTH, step] * 33.0)), m - t)
            deviation = 0.0
            previous = price
            base_high = -np.inf
            for j in range(span):
                p = t + j
                sigma[p] *= 0.4
                deviation = 0.8 * deviation + 0.006 * z[Z_STEP, p]
                close = price + min2(max2(deviation, -0.03), 0.03)
                log_close[p] = close
                phase[p] = BASE
                reach = max2(previous + gap[p] * sigma[p], close) + abs(0.5 * z[Z_UP, p]) * sigma[p]
                base_high = max2(base_high, reach)
                previous = close
            t += span
            price = log_close[t - 1]
            if t < m:  # the breakout session: a close above every high of the base
                log_close[t] = base_high + 0.005 + 0.025 * ph[P_SIZE, step]
                gap[t] = abs(gap[t])
                phase[t] = BREAKOUT
                spike[t] = 2.0 + 2.0 * ph[P_SPIKE, step]  # the breakout's volume multiple
                price = log_close[t]
                t += 1
            state = TREND if ph[P_CHOICE, step] < 0.7 else DECLINE
        else:
            span = min2(20 + to_int(np.floor(ph[P_LENGTH, step] * 50.0)), m - t)
            drift = 0.0
            if state == TREND:
                drift = 0.001 + 0.002 * ph[P_SIZE, step]
            elif state == DECLINE:
                drift = -(0.0015 + 0.0025 * ph[P_SIZE, step])
            for j in range(span):
                p = t + j
                price += drift + sigma[p] * z[Z_STEP, p]
                log_close[p] = price
                phase[p] = state
            t += span
            state = _next_state_nb(state, ph[P_CHOICE, step], ph[P_OTHER, step], price)
        step += 1


@callee_kernel()
def _next_state_nb(state: int, choice: float, other: float, log_price: float) -> int:  # pragma: no cover
    """Below 8 dollars a trend; after a trend a base (60 %), a decline or chop; after a decline or chop
    a trend (60 %) or the other one."""
    if np.exp(log_price) < 8.0:
        return TREND
    if state == TREND:
        if choice < 0.6:
            return BASE
        return DECLINE if other < 0.5 else CHOP
    if choice < 0.6:
        return TREND
    return CHOP if state == DECLINE else DECLINE


@njit(cache=True, error_model="numpy", nogil=True)
def symbol_bars_nb(
    z: np.ndarray,
    ph: np.ndarray,
    split_k: np.ndarray,
    u: np.ndarray,
    level_z: float,
    out: np.ndarray,
    work: np.ndarray,
    phase: np.ndarray,
) -> None:  # pragma: no cover - numba
    """Raw bars of one symbol into ``out`` (8, m): open, high, low, close, volume, split, dividend,
    adjusted_close, from its normals ``z`` (6, m), phase uniforms ``ph`` (5, k), split coefficients
    ``split_k`` and per-symbol uniforms ``u``. ``work`` (4, m) float64 and ``phase`` (m,) int64 are
    scratch (allocated by numpy: numba's array allocators compiled for the kernel cost a first run
    about half a second)."""
    m = z.shape[1]
    sigma = work[0]
    gap = work[1]
    log_close = work[2]
    spike = work[3]
    shock = 0.0
    level = 0.012 + 0.01 * u[U_LEVEL]
    for p in range(m):
        shock = 0.97 * shock + 0.06 * z[Z_VOL, p]
        sigma[p] = level * np.exp(min2(max2(shock, -1.0), 1.0))
        gap[p] = 0.3 * z[Z_GAP, p]
        phase[p] = 0
    _phases_nb(z, ph, sigma, gap, log_close, phase, spike, np.log(15.0 + 65.0 * u[U_START]))
    # quarterly ex-dividend drops for about 40 % of symbols
    payer = u[U_PAYER] < 0.4
    offset = 20 + to_int(np.floor(u[U_OFFSET] * 43.0))
    dividend_yield = 0.003 + 0.005 * u[U_YIELD]
    drop = np.log1p(-dividend_yield)
    threshold = 100.0 + 150.0 * u[U_THRESHOLD]
    volume_level = np.exp(np.log(1.5e6) + 0.8 * level_z)
    divisor = 1.0
    n_splits = 0
    split_day = -1  # a split decided at a close takes effect the next session
    effect = 0.0
    previous_close = 0.0
    previous_log = log_close[0]
    for p in range(m):
        out[5, p] = 1.0
        if p == split_day:
            divisor *= split_k[n_splits - 1]
            out[5, p] = split_k[n_splits - 1]
        if payer and p >= offset and (p - offset) % 63 == 0:
            effect += drop
        lc = log_close[p] + effect
        close = np.exp(lc)
        s = sigma[p]
        opening = (close if p == 0 else previous_close) * np.exp(gap[p] * s)
        high = max2(opening, close) * np.exp(abs(0.5 * z[Z_UP, p]) * s)
        low = min2(opening, close) * np.exp(-abs(0.5 * z[Z_DOWN, p]) * s)
        move = (lc - previous_log) / s
        factor = spike[p] if phase[p] == BREAKOUT else VOLUME_FACTOR[phase[p]]
        volume = volume_level * factor * np.exp(0.3 * z[Z_VOLUME, p]) * (1.0 + 0.2 * min2(abs(move), 4.0))
        out[0, p] = _round2(opening / divisor)
        out[1, p] = _round2(high / divisor)
        out[2, p] = _round2(low / divisor)
        out[3, p] = _round2(close / divisor)
        out[4, p] = np.rint(volume * divisor)
        previous_close = close
        previous_log = lc
        # a split (2:1, 3:1 or 4:1) the session after the raw close first runs above the threshold
        if close / divisor > threshold and p + 1 < m and n_splits < split_k.shape[0]:
            n_splits += 1
            split_day = p + 1
    _dividends_nb(out, payer, offset, dividend_yield)
    _adjusted_close_nb(out)


@callee_kernel()
def _dividends_nb(
    out: np.ndarray, payer: bool, offset: int, dividend_yield: float
) -> None:  # pragma: no cover
    """The cash dividend of each ex day: the yield times the previous raw close (4 decimals)."""
    m = out.shape[1]
    for p in range(m):
        out[6, p] = 0.0
    if not payer:
        return
    for p in range(offset, m, 63):
        previous = out[3, p - 1] if p > 0 else out[3, 0]
        out[6, p] = np.rint(dividend_yield * previous * 10000.0) / 10000.0


@callee_kernel()
def _adjusted_close_nb(out: np.ndarray) -> None:  # pragma: no cover - numba
    """The split- and dividend-adjusted close (4 decimals), back-adjusted as vendors do."""
    m = out.shape[1]
    later_split = 1.0
    later_dividend = 1.0
    for p in range(m - 1, -1, -1):
        out[7, p] = np.rint(out[3, p] / later_split * later_dividend * 10000.0) / 10000.0
        later_split *= out[5, p]
        if out[6, p] > 0.0:
            previous = out[3, p - 1] if p > 0 else out[3, 0]
            later_dividend *= 1.0 - out[6, p] / previous
