"""Sizers (RULES sections 6 and 8), hand-worked."""

from __future__ import annotations

import datetime as dt
import math

import pytest

from trading_playbook.core.errors import ConfigError
from trading_playbook.core.sizing import (
    AtrTargetSizer,
    FixedDollarSizer,
    PercentCashSizer,
    PercentEquitySizer,
    PositionSizerProtocol,
    RiskSizer,
    SizingContext,
    floor_shares,
)
from trading_playbook.core.types import Setup


def setup(price: float = 100.0, stop: float | None = None) -> Setup:
    stop = price * 0.92 if stop is None else stop
    return Setup("AAA", dt.date(2020, 1, 2), price, stop, 5.0, price, 10, 0.1, 1.5, 0.0, 0.0)


CTX = SizingContext(
    equity=100_000.0, cash=40_000.0, max_positions=3, starting_capital=90_000.0, atr={10: 2.5}
)


def test_percent_equity_default_is_one_over_max_positions() -> None:
    # (1/3 * 100000) / 100 = 333.33 -> 333
    assert PercentEquitySizer().size(setup(), CTX) == 333
    # 0.25 * 100000 / 30 = 833.33 -> 833
    assert PercentEquitySizer(0.25).size(setup(30.0), CTX) == 833


def test_percent_cash_default_0667() -> None:
    # 0.0667 * 40000 = 2668 / 100 -> 26
    assert PercentCashSizer().size(setup(), CTX) == 26


def test_risk_sizer() -> None:
    # 0.01 * 100000 = 1000 risk / (100 - 92) = 125
    assert RiskSizer().size(setup(), CTX) == 125
    # a stop at or above the reference gives no position
    assert RiskSizer().size(setup(100.0, 100.0), CTX) == 0


def test_fixed_dollar_default() -> None:
    # 90000 / 3 = 30000 / 100 = 300; explicit 5000 / 33 = 151.5 -> 151
    assert FixedDollarSizer().size(setup(), CTX) == 300
    assert FixedDollarSizer(5000.0).size(setup(33.0), CTX) == 151


def test_atr_target_and_cap() -> None:
    # risk 0.01 * 100000 = 1000 / (2 * 2.5) = 200 shares; cap (1/3 * 100000) / 100 = 333 -> 200
    assert AtrTargetSizer().size(setup(), CTX) == 200
    # quiet stock: ATR 0.5 -> 1000 / 1 = 1000 shares, capped at 333
    quiet = SizingContext(100_000.0, 0.0, 3, 100_000.0, atr={10: 0.5})
    assert AtrTargetSizer().size(setup(), quiet) == 333
    # undefined ATR -> 0
    assert AtrTargetSizer().size(setup(), SizingContext(1e5, 0.0, 3, 1e5, atr={10: math.nan})) == 0
    assert AtrTargetSizer(atr_period=14).atr_periods() == (14,)


def test_floor_shares_guards() -> None:
    assert floor_shares(1000.0, 0.0) == 0
    assert floor_shares(-5.0, 10.0) == 0
    assert floor_shares(1000.0, math.nan) == 0
    assert floor_shares(1000.0, 10.0) == 100


def test_validation_errors() -> None:
    with pytest.raises(ConfigError, match="fraction"):
        PercentEquitySizer(1.5)
    with pytest.raises(ConfigError, match="amount"):
        FixedDollarSizer(-1.0)
    with pytest.raises(ConfigError, match="atr_multiple"):
        AtrTargetSizer(atr_multiple=0.0)


def test_protocol_is_runtime_checkable() -> None:
    for sizer in (
        PercentEquitySizer(),
        PercentCashSizer(),
        RiskSizer(),
        FixedDollarSizer(),
        AtrTargetSizer(),
    ):
        assert isinstance(sizer, PositionSizerProtocol)
        assert sizer.kind
