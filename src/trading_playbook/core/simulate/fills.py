"""Fill arithmetic, in one place (RULES sections 4, 6 and 8).

The simulated broker prices fills with these functions and the engine books them with the same
ones, so the account's cash and the broker's cash are the same float64 numbers computed in the same
order. The fast engine's kernel mirrors exactly these expressions (the arithmetic contract in
:mod:`~trading_playbook.core.simulate.reference`).
"""

from __future__ import annotations

import math

from trading_playbook.core.simulate.settings import PortfolioSettings, commission_for

__all__ = [
    "affordable_shares",
    "buy_price",
    "cash_after_buy",
    "cash_after_sell",
    "commission_for",
    "sell_price",
]


def buy_price(price: float, slippage: float) -> float:
    """A buy fills at ``price * (1 + s)`` (slippage against the trader)."""
    return price * (1.0 + slippage)


def sell_price(price: float, slippage: float) -> float:
    """A sell fills at ``price * (1 - s)``."""
    return price * (1.0 - slippage)


def affordable_shares(shares: int, fill_price: float, cash: float, settings: PortfolioSettings) -> int:
    """The shares an entry gets at the fill: all of them if cash pays shares plus commission, else
    ``floor((cash - per_order) / (fill + per_share))``, reduced until the commission minimum fits."""
    if shares * fill_price + commission_for(shares, settings) <= cash:
        return shares
    room = (cash - settings.commission_per_order) / (fill_price + settings.commission_per_share)
    q = min(shares, max(0, math.floor(room)))
    while q > 0 and q * fill_price + commission_for(q, settings) > cash:
        q -= 1
    return q


def cash_after_buy(cash: float, shares: int, fill_price: float, commission: float) -> float:
    """``cash - (shares * fill + commission)``."""
    return cash - (shares * fill_price + commission)


def cash_after_sell(cash: float, shares: int, fill_price: float, commission: float) -> float:
    """``cash + (shares * fill - commission)``."""
    return cash + (shares * fill_price - commission)
