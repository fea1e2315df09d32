"""Entry scanners: the protocols and the built-in ``daily_breakout`` scanner (RULES section 3)."""

from __future__ import annotations

from trading_playbook.core.scanners.base import ScannerProtocol, VectorScanner, rank_order, session_position
from trading_playbook.core.scanners.daily_breakout import PRESETS, BreakoutFeatures, DailyBreakoutScanner

__all__ = [
    "PRESETS",
    "BreakoutFeatures",
    "DailyBreakoutScanner",
    "ScannerProtocol",
    "VectorScanner",
    "rank_order",
    "session_position",
]
