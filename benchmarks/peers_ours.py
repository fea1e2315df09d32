"""Our fast engine on the comparable rule, so that the peers can also be compared like for like.

The same rule as the peers (``peers_common``): the entry signal is computed with
``trading_playbook.core.indicators`` (numba, windows over each symbol's own bars) and handed to
:func:`trading_playbook.core.simulate.fast.run_fast` as a precomputed :class:`SetupTable`; the exit is
``ExitSpec("comparable", (HardStop(0.08), TimeStop(17)))``; ``entry_fill = "close"`` (the peers fill
at the signal close), 10 positions of 10 % of equity, 5 bp slippage. Same-day signals are ranked by
volume ratio, then symbol (RULES section 3's tie-breaks with every score 0).
"""

from __future__ import annotations

import time

import numpy as np
from peers_common import ComparableRule, PeerTiming

from trading_playbook.core import indicators
from trading_playbook.core.exits.spec import ExitSpec, HardStop, TimeStop
from trading_playbook.core.panel import Panel
from trading_playbook.core.simulate.fast import run_fast
from trading_playbook.core.simulate.settings import PortfolioSettings, SleeveSpec
from trading_playbook.core.sizing import PercentEquitySizer
from trading_playbook.core.types import SetupTable

__all__ = ["comparable_setups", "run_ours_comparable"]


def comparable_setups(panel: Panel, rule: ComparableRule) -> SetupTable:
    """The rule's entry signals as a ranked :class:`SetupTable`."""
    avail = panel.available
    close, high, volume = panel.close, panel.high, panel.volume
    prev_high = indicators.rolling_max(high, rule.breakout, avail, include_current=False)
    sma = indicators.sma(close, rule.trend_sma, avail)
    avg_volume = indicators.avg_volume_before(volume, avail, rule.volume_window)
    with np.errstate(invalid="ignore", divide="ignore"):
        signal = (close > prev_high) & (close > sma) & (volume > rule.volume_ratio * avg_volume)
        session, symbol = np.nonzero(signal)
        ratio = volume[session, symbol] / avg_volume[session, symbol]
    order = np.lexsort((symbol, -ratio, session))
    session, symbol, ratio = session[order], symbol[order], ratio[order]
    reference = close[session, symbol]
    zeros = np.zeros(session.shape[0])
    return SetupTable(
        session_idx=session.astype(np.int64),
        symbol_idx=symbol.astype(np.int64),
        reference_price=reference,
        initial_stop=reference * (1.0 - rule.stop),
        score=zeros,
        base_high=zeros,
        base_days=np.zeros(session.shape[0], dtype=np.int64),
        base_width=zeros,
        volume_ratio=ratio,
        distance_from_high=zeros,
        rs=zeros,
    )


def _sleeve(rule: ComparableRule) -> SleeveSpec:
    spec = ExitSpec(
        name="comparable",
        rules=(HardStop(rule.stop), TimeStop(rule.time_stop)),
        hard_stop=rule.stop,
    )
    return SleeveSpec(
        name="main",
        scanner=None,
        exit=spec,
        sizer=PercentEquitySizer(),
        max_positions=rule.max_positions,
    )


def run_ours_comparable(
    panel: Panel, rule: ComparableRule, repeat: int
) -> tuple[list[PeerTiming], dict[str, float]]:
    """Time signals and ``run_fast`` on the comparable rule (one warm-up run, then best of ``repeat``)."""
    sleeve = _sleeve(rule)
    settings = PortfolioSettings(starting_capital=rule.starting_capital, entry_fill="close")
    end = panel.n_sessions - 1
    best_signals = best_sim = float("inf")
    trades: list[object] = []
    curve = None
    for attempt in range(repeat + 1):
        t0 = time.perf_counter()
        setups = comparable_setups(panel, rule)
        t1 = time.perf_counter()
        trades, curve = run_fast(panel, [sleeve], settings, start=0, end=end, setups=[setups])
        t2 = time.perf_counter()
        if attempt:  # the first run compiles (or loads the numba cache)
            best_signals = min(best_signals, t1 - t0)
            best_sim = min(best_sim, t2 - t1)
    assert curve is not None
    n = panel.n_symbols
    rows = [
        PeerTiming("ours (fast)", "comparable rule: signals (core.indicators, warm)", best_signals, n),
        PeerTiming("ours (fast)", "comparable rule: run_fast (warm)", best_sim, n, trades=len(trades)),
        PeerTiming(
            "ours (fast)",
            "comparable rule: signals + run_fast (warm)",
            best_signals + best_sim,
            n,
            len(trades),
        ),
    ]
    sanity = {
        "signals": float(len(setups)),
        "trades": float(len(trades)),
        "final_value": float(curve.equity[-1]),
        "max_positions_seen": float(np.max(curve.positions)),
    }
    return rows, sanity
