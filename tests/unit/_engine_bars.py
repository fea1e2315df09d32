"""Scanners and sizers for the exit, reference-engine and scenario tests; the hand-made panels
(``make_panel``, ``flat``, ``day``) come from :mod:`trading_playbook.testing`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from trading_playbook.core.exits.rules import BarView
from trading_playbook.core.panel import Panel
from trading_playbook.core.simulate.settings import PortfolioSettings, SleeveSpec
from trading_playbook.core.sizing import SizingContext
from trading_playbook.core.types import Setup
from trading_playbook.testing import day, flat, make_panel

__all__ = ["NO_COSTS", "FixedShares", "ScriptedScanner", "bar", "day", "flat", "make_panel", "sleeve"]

Bar4 = tuple[float, float, float, float]

NO_COSTS = PortfolioSettings(slippage_bps=0.0)


@dataclass
class ScriptedScanner:
    """Per-date scanner that returns hand-written setups: {session index: [(symbol, score, volume_ratio)]}."""

    script: Mapping[int, Sequence[tuple[str, float, float]]]
    hard_stop: float = 0.08
    calls: list[int] = field(default_factory=list)

    def scan_for_setups(self, date: dt.date, panel: Panel) -> list[Setup]:
        t = panel.n_sessions - 1
        assert panel.sessions[t] == np.datetime64(date)
        self.calls.append(t)
        out = []
        for symbol, score, volume_ratio in self.script.get(t, ()):
            close = float(panel.close[t, panel.symbol_index(symbol)])
            out.append(
                Setup(
                    symbol,
                    date,
                    close,
                    close * (1 - self.hard_stop),
                    score,
                    close,
                    10,
                    0.1,
                    volume_ratio,
                    0.0,
                    0.0,
                )
            )
        return out


@dataclass(frozen=True)
class FixedShares:
    """Sizer giving a fixed number of shares per symbol (default 100)."""

    shares: Mapping[str, int] = field(default_factory=dict)
    default: int = 100
    kind: str = "fixed_shares"

    def size(self, setup: Setup, context: SizingContext) -> int:
        return self.shares.get(setup.symbol, self.default)


def sleeve(script, exit_spec, sizer=None, *, name="main", max_positions=3, weight=1.0) -> SleeveSpec:
    return SleeveSpec(
        name=name,
        scanner=ScriptedScanner(script),
        exit=exit_spec,
        sizer=sizer or FixedShares(),
        max_positions=max_positions,
        weight=weight,
    )


def bar(t: int, o: float, h: float, lo: float, c: float, **kw: object) -> BarView:
    return BarView(session=t, open=o, high=h, low=lo, close=c, **kw)  # type: ignore[arg-type]
