"""Our fast engine on the comparable rule, so that the peers can also be compared like for like.

The same rule as the peers (``peers_common``): the entry signal is computed with
``trading_playbook.core.indicators.window_set`` (numba, the rule's three windows over each symbol's own
bars in one streaming pass on two threads) and handed to
:func:`trading_playbook.core.simulate.fast.run_fast` as a precomputed :class:`SetupTable`; the exit is
``ExitSpec("comparable", (HardStop(0.08), TimeStop(17)))``; ``entry_fill = "close"`` (the peers fill
at the signal close), 10 positions of 10 % of equity, 5 bp slippage. Same-day signals are ranked by
volume ratio, then symbol (RULES section 3's tie-breaks with every score 0).
"""

from __future__ import annotations

import time

import numpy as np
from peers_common import ComparableRule

from trading_playbook.core import indicators
from trading_playbook.core.exits.spec import ExitSpec, HardStop, TimeStop
from trading_playbook.core.panel import Panel
from trading_playbook.core.simulate.fast import run_fast
from trading_playbook.core.simulate.settings import PortfolioSettings, SleeveSpec
from trading_playbook.core.sizing import PercentEquitySizer
from trading_playbook.core.types import EquityCurve, SetupTable, Trade

__all__ = ["OursComparableRunner", "comparable_setups"]


def comparable_setups(panel: Panel, rule: ComparableRule) -> SetupTable:
    """The rule's entry signals as a ranked :class:`SetupTable`."""
    avail = panel.available
    close, high, volume = panel.close, panel.high, panel.volume
    # the three indicators of the rule in one streaming pass (the values of rolling_max(...,
    # include_current=False), sma and avg_volume_before, bitwise)
    windows = indicators.window_set(
        avail,
        {
            "prev_high": indicators.Window("max", high, rule.breakout, lag=1),
            "sma": indicators.Window("mean", close, rule.trend_sma),
            "avg_volume": indicators.Window("mean", volume, rule.volume_window, lag=1),
        },
    )
    prev_high, sma, avg_volume = windows["prev_high"], windows["sma"], windows["avg_volume"]
    with np.errstate(invalid="ignore", divide="ignore"):
        # (close > prev_high) & (close > sma) & (volume > ratio * avg_volume), with two scratch
        # arrays instead of six temporaries
        signal = np.greater(close, prev_high)
        other = np.greater(close, sma)
        signal &= other
        signal &= np.greater(volume, np.multiply(avg_volume, rule.volume_ratio), out=other)
        flat = np.flatnonzero(signal)
        session, symbol = np.divmod(flat, close.shape[1])
        ratio = volume.ravel()[flat] / avg_volume.ravel()[flat]
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


class ComparableScanner:
    """The comparable rule's signals as a vectorised scanner (the runner passes the setups itself)."""

    def __init__(self, rule: ComparableRule) -> None:
        self.rule = rule

    def scan(self, panel: Panel) -> SetupTable:
        return comparable_setups(panel, self.rule)


def _sleeve(rule: ComparableRule) -> SleeveSpec:
    spec = ExitSpec(
        name="comparable",
        rules=(HardStop(rule.stop), TimeStop(rule.time_stop)),
        hard_stop=rule.stop,
    )
    return SleeveSpec(
        name="main",
        scanner=ComparableScanner(rule),
        exit=spec,
        sizer=PercentEquitySizer(),
        max_positions=rule.max_positions,
    )


class OursComparableRunner:
    """The timed steps on one panel: ``run()`` computes the setups and runs ``run_fast`` once.

    The first ``run()`` loads (or compiles) the numba cache; the benchmark discards it.
    """

    engine = "ours (fast)"
    steps = (
        ("signals", "comparable rule: signals (core.indicators, warm)"),
        ("run_fast", "comparable rule: run_fast (warm)"),
    )
    total_label = "comparable rule: signals + run_fast (warm)"

    def __init__(self, panel: Panel, rule: ComparableRule) -> None:
        self.panel = panel
        self.rule = rule
        self.n_symbols = panel.n_symbols
        self.sleeve = _sleeve(rule)
        self.settings = PortfolioSettings(starting_capital=rule.starting_capital, entry_fill="close")
        self.setups: SetupTable | None = None
        self.result: tuple[list[Trade], EquityCurve] | None = None

    def run(self) -> dict[str, float]:
        c0, t0 = time.process_time(), time.perf_counter()
        self.setups = comparable_setups(self.panel, self.rule)
        t1 = time.perf_counter()
        end = self.panel.n_sessions - 1
        self.result = run_fast(
            self.panel, [self.sleeve], self.settings, start=0, end=end, setups=[self.setups]
        )
        t2, c2 = time.perf_counter(), time.process_time()
        return {"signals": t1 - t0, "run_fast": t2 - t1, "cpu": c2 - c0}

    def trades(self) -> int:
        assert self.result is not None
        return len(self.result[0])

    def sanity(self) -> dict[str, float]:
        """A few figures of the last run (not timed)."""
        assert self.result is not None and self.setups is not None
        trades, curve = self.result
        return {
            "signals": float(len(self.setups)),
            "trades": float(len(trades)),
            "final_value": float(curve.equity[-1]),
            "max_positions_seen": float(np.max(curve.positions)),
        }
