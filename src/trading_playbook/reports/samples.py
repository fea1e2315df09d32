"""Small hand-made runs for tests, docs and report previews (no engine, no data needed).

:func:`hand_worked_run` is the five-session, three-trade run whose every statistic is worked out by
hand in ``tests/unit/test_metrics.py``; :func:`random_run` is a seeded, realistic-looking run of any
length (a random-walk equity curve with random trades), for charts and edge cases.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from trading_playbook.core.types import EquityCurve, PartialExit, RunResult, Trade

__all__ = ["hand_worked_run", "make_curve", "make_trade", "random_run"]


def make_curve(
    dates: list[str] | np.ndarray, equity: list[float] | np.ndarray, positions: list[int] | None = None
) -> EquityCurve:
    """An equity curve with cash = equity where no position is open (exposure derived from positions)."""
    eq = np.asarray(equity, dtype=np.float64)
    pos = np.zeros(eq.size, dtype=np.int64) if positions is None else np.asarray(positions, dtype=np.int64)
    exposure = np.where(pos > 0, 0.5, 0.0)
    return EquityCurve(
        dates=np.asarray(dates, dtype="datetime64[D]"),
        equity=eq,
        cash=eq * (1.0 - exposure),
        positions=pos,
        exposure=exposure,
    )


def make_trade(
    symbol: str,
    entry: str,
    exit_: str,
    entry_price: float,
    exit_price: float,
    shares: int,
    reason: str,
    *,
    sessions_held: int = 1,
    hard_stop: float = 0.08,
    partial_exits: tuple[PartialExit, ...] = (),
) -> Trade:
    """A trade with pnl, pnl_pct and r_multiple derived as RULES section 6 says (no commission)."""
    pnl = (exit_price - entry_price) * shares
    initial_stop = entry_price * (1.0 - hard_stop)
    return Trade(
        symbol=symbol,
        entry_date=dt.date.fromisoformat(entry),
        exit_date=dt.date.fromisoformat(exit_),
        entry_price=entry_price,
        exit_price=exit_price,
        shares=shares,
        exit_reason=reason,
        pnl=pnl,
        pnl_pct=pnl / (entry_price * shares),
        r_multiple=(pnl / shares) / (entry_price - initial_stop),
        sessions_held=sessions_held,
        mfe=max(exit_price / entry_price - 1.0, 0.0),
        mae=min(exit_price / entry_price - 1.0, 0.0),
        partial_exits=partial_exits,
        initial_stop=initial_stop,
    )


def hand_worked_run() -> RunResult:
    """Five sessions, equity 1000 -> 1000, 1100, 990, 1045, 1210; three trades (two wins, one loss)."""
    curve = make_curve(
        ["2021-01-04", "2021-01-05", "2021-01-06", "2021-01-07", "2021-01-08"],
        [1000.0, 1100.0, 990.0, 1045.0, 1210.0],
        [1, 1, 1, 1, 0],
    )
    trades = [
        # entry 100 x 10, exit 110: pnl +100, +10 %, R = 10 / 8 = 1.25
        make_trade("AAA", "2021-01-04", "2021-01-05", 100.0, 110.0, 10, "TARGET", sessions_held=1),
        # entry 50 x 20, exit 47.5: pnl -50, -5 %, R = -2.5 / 4 = -0.625
        make_trade("BBB", "2021-01-05", "2021-01-06", 50.0, 47.5, 20, "STOP_LOSS", sessions_held=1),
        # entry 25 x 40, exit 29 (one partial at 27): pnl +160, +16 %, R = 4 / 2 = 2.0
        make_trade(
            "CCC",
            "2021-01-05",
            "2021-01-08",
            25.0,
            29.0,
            40,
            "TIME_STOP",
            sessions_held=3,
            partial_exits=(PartialExit(dt.date(2021, 1, 7), 10, 27.0, "SCALE_1"),),
        ),
    ]
    config = {"scanner": {"name": "daily_breakout", "preset": "default"}, "exit": {"name": "fixed"}}
    data = {
        "source": "hand",
        "symbols": 3,
        "first_session": "2021-01-04",
        "last_session": "2021-01-08",
        "fingerprint": "hand",
    }
    return RunResult(
        trades=trades, equity=curve, config=config, data=data, starting_capital=1000.0, engine="hand"
    )


def random_run(
    n_sessions: int = 756, n_trades: int = 60, *, seed: int = 7, start: str = "2015-01-02"
) -> RunResult:
    """A seeded random run: business-day sessions, a drifting equity curve and random trades."""
    rng = np.random.default_rng(seed)
    dates = np.busday_offset(np.datetime64(start, "D"), np.arange(n_sessions), roll="forward")
    returns = rng.normal(0.0004, 0.01, n_sessions)
    equity = 100_000.0 * np.cumprod(1.0 + returns)
    positions = rng.integers(0, 4, n_sessions)
    reasons = ("TRAILING_STOP", "MA_BREAK", "TIME_STOP", "HARD_STOP", "LOWER_CLOSE")
    trades = []
    for i in range(n_trades):
        a = int(rng.integers(0, max(n_sessions - 1, 1)))
        b = min(a + int(rng.integers(0, 18)), n_sessions - 1)
        entry_price = float(rng.uniform(20, 200))
        exit_price = entry_price * (1.0 + float(rng.normal(0.01, 0.07)))
        trades.append(
            make_trade(
                f"S{i % 23:02d}",
                str(dates[a]),
                str(dates[b]),
                entry_price,
                exit_price,
                int(rng.integers(10, 500)),
                reasons[int(rng.integers(0, len(reasons)))],
                sessions_held=b - a,
            )
        )
    curve = make_curve(dates, equity, positions.tolist())
    config = {
        "scanner": {"name": "daily_breakout", "preset": "moderate"},
        "exit": {"name": "smart_exits"},
        "portfolio": {"max_positions": 3},
    }
    data = {
        "source": "random",
        "symbols": 23,
        "first_session": str(dates[0]),
        "last_session": str(dates[-1]),
        "fingerprint": f"random-{seed}",
    }
    return RunResult(
        trades=trades, equity=curve, config=config, data=data, starting_capital=100_000.0, engine="random"
    )
