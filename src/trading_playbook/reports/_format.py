"""Number formatting shared by every report renderer: an undefined value is always an em dash."""

from __future__ import annotations

import math
from typing import Any

DASH = "—"


def _defined(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def pct(value: Any, digits: int = 1, *, signed: bool = True) -> str:
    """0.1234 -> '+12.3%'."""
    if not _defined(value):
        return DASH
    return f"{value * 100:+.{digits}f}%" if signed else f"{value * 100:.{digits}f}%"


def money(value: Any, *, signed: bool = False) -> str:
    """1234.5 -> '$1,234.50' ('-$12.00' for losses)."""
    if not _defined(value):
        return DASH
    sign = "-" if value < 0 else ("+" if signed and value > 0 else "")
    return f"{sign}${abs(value):,.2f}"


def num(value: Any, digits: int = 2) -> str:
    """A plain number with fixed decimals (integers stay integers)."""
    if not _defined(value):
        return DASH
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.{digits}f}"


def p_value(value: Any) -> str:
    """'p = 0.0123', or 'p < 0.0001' for tiny values."""
    if not _defined(value):
        return DASH
    return "p < 0.0001" if value < 0.0001 else f"p = {value:.4f}"


def price(value: Any) -> str:
    return num(value, 2)


def interval(ci: Any, fmt: str = "num") -> str:
    """A confidence interval [lo, hi] as 'lo to hi'."""
    if not isinstance(ci, list | tuple) or len(ci) != 2 or not all(_defined(v) for v in ci):
        return DASH
    if fmt == "pct":
        return f"{pct(ci[0])} to {pct(ci[1])}"
    if fmt == "rate":
        return f"{pct(ci[0], signed=False)} to {pct(ci[1], signed=False)}"
    if fmt == "money":
        return f"{money(ci[0], signed=True)} to {money(ci[1], signed=True)}"
    return f"{num(ci[0])} to {num(ci[1])}"


def text(value: Any) -> str:
    """Any value as table text (None -> dash, bools as yes/no)."""
    if value is None:
        return DASH
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return num(value, 4) if abs(value) < 1 else num(value, 2)
    if isinstance(value, list | tuple):
        return ", ".join(text(v) for v in value) if value else "[]"
    return str(value)
