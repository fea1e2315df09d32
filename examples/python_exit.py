"""An exit written in plain Python, registered by name, run on the reference engine.

Run it from the repository root (offline, synthetic data)::

    .venv/bin/python examples/python_exit.py

The exit: take the whole position off at the close once it is up 12 %, or when the close falls 6 %
below the highest close since entry, or after 15 sessions. It only reads the position and today's
bar, so it cannot look ahead.
"""

from __future__ import annotations

from trading_playbook import BacktestEngine, get_exit_strategy, get_scanner, register_exit_strategy
from trading_playbook.data import synthetic_bars


@register_exit_strategy(
    "profit_or_giveback", description="Out at +12 %, on a 6 % give-back, or after 15 sessions"
)
class ProfitOrGiveback:
    """The design's ExitStrategyProtocol: ``check_exit(position, current_bar, bars_held)``."""

    hard_stop = 0.08  # sets the initial stop used for R multiples

    def __init__(self, target: float = 0.12, giveback: float = 0.06, max_sessions: int = 15) -> None:
        self.target = target
        self.giveback = giveback
        self.max_sessions = max_sessions

    def check_exit(self, position, current_bar, bars_held):  # type: ignore[no-untyped-def]
        if current_bar.close >= position.entry_price * (1 + self.target):
            return True, "TARGET", None
        if current_bar.close < position.peak_close * (1 - self.giveback):
            return True, "GIVEBACK", None
        if bars_held >= self.max_sessions:
            return True, "TIME_STOP", None
        return False, "", None


def main() -> None:
    bars = synthetic_bars(n_symbols=20, start="2014-01-01", end="2018-12-31", seed=5)
    engine = BacktestEngine(
        scanner=get_scanner("daily_breakout", preset="moderate"),
        exit_strategy=get_exit_strategy("profit_or_giveback", giveback=0.05),
        data=bars,
        max_positions=4,
        engine="reference",  # Python exits run on the event-driven engine
    )
    result = engine.run("2015-01-01", "2018-12-31")
    reasons: dict[str, int] = {}
    for trade in result.trades:
        reasons[trade.exit_reason] = reasons.get(trade.exit_reason, 0) + 1
    print(f"{len(result.trades)} trades, total return {result.metrics['total_return']:+.1%}")
    print("exit reasons:", dict(sorted(reasons.items())))


if __name__ == "__main__":
    main()
