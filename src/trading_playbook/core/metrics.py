"""Performance, trade and validation statistics of a run (pure: no I/O, no clock, seeded randomness).

:func:`compute_metrics` turns a :class:`~trading_playbook.core.types.RunResult` (its equity curve and
trades) and an optional :class:`BenchmarkSeries` into a JSON-safe ``dict``: every value is a plain
``int``, ``float``, ``str``, ``bool``, ``None``, list or dict, and an undefined statistic (a Sharpe
ratio of a flat curve, a profit factor without losing trades, anything of a run without trades) is
``None``, never NaN or infinity.

Conventions (the same as empyrical, against which the tests check them):

- Daily returns ``r_t = equity_t / equity_{t-1} - 1``, the first one against the starting capital, so
  ``prod(1 + r) - 1`` is the total return.
- Years = sessions / 252. ``cagr = (final / start) ** (1 / years) - 1``.
- ``annual_volatility = std(r, ddof=1) * sqrt(252)``. The risk-free rate is annual and simple; its daily
  value is ``risk_free_rate / 252``. ``sharpe = mean(r - rf) / std(r - rf, ddof=1) * sqrt(252)``;
  ``sortino = mean(r - rf) * 252 / (sqrt(mean(min(r - rf, 0) ** 2)) * sqrt(252))``.
- Max drawdown is measured on the equity with the starting capital as the first peak;
  ``calmar = cagr / |max_drawdown|``.
- Monthly and yearly returns: last equity of the period over the last equity of the previous period
  (the starting capital for the first), keys ``"YYYY-MM"`` and ``"YYYY"``.
- A trade wins when ``pnl > 0`` and loses when ``pnl < 0``; a scratch trade (``pnl == 0``) counts in
  the win-rate denominator and breaks both streaks. Streaks follow the order of exit (exit date, then
  entry date, then symbol).
- Turnover (annual) = (entry notional + exit notional) / 2 / mean equity / years.
- Validation: the sample-size status (RULES: fewer than 30 trades INSUFFICIENT, 30 to 49 PRELIMINARY,
  50 or more ADEQUATE); 95 % percentile bootstrap intervals for expectancy and win rate (trades
  resampled with replacement; half the resamples from the seed's generator, half from its first
  spawned child) and for the Sharpe ratio (circular block bootstrap of daily returns,
  20-session blocks, shorter for runs under 400 sessions, which keeps short-range dependence); the t-statistic of the mean trade return
  (``pnl_pct``) with its two-sided p-value.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from trading_playbook.core._order_stats import median, percentiles
from trading_playbook.core._student_t import two_sided_p
from trading_playbook.core._trade_columns import TradeColumns, extreme_index
from trading_playbook.core.errors import DataError
from trading_playbook.core.panel import Panel
from trading_playbook.core.types import RunResult, Trade

__all__ = [
    "ADEQUATE_TRADES",
    "PERIODS_PER_YEAR",
    "PRELIMINARY_TRADES",
    "BenchmarkSeries",
    "benchmark_from_panel",
    "compute_metrics",
    "sample_size_status",
]

PERIODS_PER_YEAR = 252
PRELIMINARY_TRADES = 30
ADEQUATE_TRADES = 50
N_BOOTSTRAP = 2000
SHARPE_BLOCK_SESSIONS = 20
_SURVIVORSHIP_NOTE = (
    "The universe is a list of today's index constituents: symbols that were delisted or dropped "
    "during the backtest are missing, so results are optimistic (survivorship bias)."
)


# ---------------------------------------------------------------------------------------- benchmark
@dataclass(frozen=True)
class BenchmarkSeries:
    """Buy-and-hold comparison curves on the sessions of a panel window.

    ``curves`` maps a name to the growth of 1 (1.0 at the first session). ``"equal_weight"`` is always
    there: equal dollars in every symbol with a bar at the first session, bought at that close and
    held (a symbol whose data ends is held at its last close). A named symbol, when asked for and
    present, is its close normalised the same way.
    """

    dates: np.ndarray  # datetime64[D][S]
    curves: dict[str, np.ndarray] = field(default_factory=dict)  # name -> float64[S]
    labels: dict[str, str] = field(default_factory=dict)  # name -> human label


def benchmark_from_panel(
    panel: Panel, start: object, end: object, symbol: str | None = None
) -> BenchmarkSeries:
    """Equal-weight buy-and-hold of the panel's universe over ``[start, end]``, plus ``symbol``.

    Parameters
    ----------
    panel : Panel
        The panel the run used (its adjustment is kept: split-adjusted prices ignore dividends).
    start, end : date-like
        First and last session of the comparison (inclusive).
    symbol : str, optional
        A symbol to compare with as well; a :class:`DataError` names it if the panel lacks it.

    Returns
    -------
    BenchmarkSeries
    """
    lo = panel.session_index(start, side="left")
    hi = panel.session_index(end, side="right")
    if hi < lo:
        raise DataError(f"no session between {start} and {end} in the loaded data; check --start/--end")
    close = panel.close[lo : hi + 1]
    dates = panel.sessions[lo : hi + 1].astype("datetime64[D]")
    curves = {"equal_weight": _equal_weight_curve(close)}
    labels = {"equal_weight": f"Equal-weight buy & hold ({int(np.isfinite(close[0]).sum())} symbols)"}
    if symbol is not None:
        held = _ffill(close[:, panel.symbol_index(symbol)])
        first = held[np.isfinite(held)][:1]
        curves[symbol] = held / first[0] if first.size else np.full(held.shape, np.nan)
        labels[symbol] = f"{symbol} buy & hold"
    return BenchmarkSeries(dates=dates, curves=curves, labels=labels)


def _ffill(values: np.ndarray) -> np.ndarray:
    """Forward-fill NaN down axis 0 (a 1-d or 2-d array); leading NaNs stay NaN."""
    x = np.asarray(values, dtype=np.float64)
    missing = np.isnan(x)
    if not missing.any():
        return x.copy()
    rows = np.arange(x.shape[0]).reshape((-1,) + (1,) * (x.ndim - 1))
    source = np.where(missing, 0, rows)
    np.maximum.accumulate(source, axis=0, out=source)
    if x.ndim == 1:
        return x[source]
    return np.take_along_axis(x, source, axis=0)


def _equal_weight_curve(close: np.ndarray) -> np.ndarray:
    from trading_playbook.core._benchmark_nb import equal_weight_growth_nb

    start = close[0]
    held = np.flatnonzero(np.isfinite(start) & (start > 0))
    if not held.size:
        return np.full(close.shape[0], np.nan)
    # symbols summed one after the other for each session (a column-major mean): numpy's pairwise sum
    # along a row depends on the memory alignment of the array, so the last digit could change from
    # one load of the same data to the next
    out = np.empty(close.shape[0])
    scratch = np.empty((2, held.shape[0]))
    equal_weight_growth_nb(np.ascontiguousarray(close, dtype=np.float64), held, scratch[0], scratch[1], out)
    return out


# ---------------------------------------------------------------------------------------- helpers
def _num(value: float | np.floating[Any] | None) -> float | None:
    """A plain float, or None when undefined (NaN, infinite, missing)."""
    if value is None:
        return None
    out = float(value)
    return out if math.isfinite(out) else None


def _iso(value: Any) -> str:
    return str(np.asarray(value).astype("datetime64[D]"))


def sample_size_status(n_trades: int) -> str:
    """INSUFFICIENT below 30 trades, PRELIMINARY for 30 to 49, ADEQUATE from 50 (the design's rule)."""
    if n_trades < PRELIMINARY_TRADES:
        return "INSUFFICIENT"
    if n_trades < ADEQUATE_TRADES:
        return "PRELIMINARY"
    return "ADEQUATE"


def _daily_returns(equity: np.ndarray, starting_capital: float) -> np.ndarray:
    previous = np.concatenate(([starting_capital], equity[:-1]))
    return np.asarray(equity / previous - 1.0, dtype=np.float64)


def _sharpe(returns: np.ndarray, rf_daily: float) -> float | None:
    if returns.size < 2:
        return None
    excess = returns - rf_daily
    sd = float(np.std(excess, ddof=1))
    if not sd > 0.0:
        return None
    return _num(float(np.mean(excess)) / sd * math.sqrt(PERIODS_PER_YEAR))


def _sortino(returns: np.ndarray, rf_daily: float) -> float | None:
    if returns.size < 2:
        return None
    excess = returns - rf_daily
    downside = math.sqrt(float(np.mean(np.minimum(excess, 0.0) ** 2))) * math.sqrt(PERIODS_PER_YEAR)
    if not downside > 0.0:
        return None
    return _num(float(np.mean(excess)) * PERIODS_PER_YEAR / downside)


def _cagr(growth: float, years: float) -> float | None:
    if years <= 0 or not growth > 0:
        return None
    try:
        return _num(growth ** (1.0 / years) - 1.0)
    except OverflowError:  # a short run's extrapolation beyond float range: undefined, not an error
        return None


# ---------------------------------------------------------------------------------------- equity side
def _drawdown(dates: np.ndarray, equity: np.ndarray, starting_capital: float) -> dict[str, Any]:
    """Deepest peak-to-trough fall, with the starting capital as the first peak."""
    values = np.concatenate(([starting_capital], equity))
    peaks = np.maximum.accumulate(values)
    depth = values / peaks - 1.0
    trough = int(np.argmin(depth))
    out: dict[str, Any] = {
        "max_drawdown": _num(depth[trough]) if values.size > 1 else None,
        "peak_date": None,
        "trough_date": None,
        "recovery_date": None,
        "duration_sessions": None,
        "recovery_sessions": None,
        "recovered": None,
    }
    if values.size < 2 or depth[trough] >= 0.0:
        return out
    peak = int(np.flatnonzero(values[: trough + 1] == peaks[trough])[-1])
    after = np.flatnonzero(values[trough + 1 :] >= peaks[trough])
    recovery = trough + 1 + int(after[0]) if after.size else None
    # index k of ``values`` is session k-1; the starting capital sits at the first session
    peak_s, trough_s = max(peak - 1, 0), trough - 1
    end_s = (recovery - 1) if recovery is not None else len(equity) - 1
    out.update(
        peak_date=_iso(dates[peak_s]),
        trough_date=_iso(dates[trough_s]),
        recovery_date=_iso(dates[recovery - 1]) if recovery is not None else None,
        duration_sessions=int(end_s - peak_s),
        recovery_sessions=int(recovery - trough) if recovery is not None else None,
        recovered=recovery is not None,
    )
    return out


def _period_returns(
    dates: np.ndarray, equity: np.ndarray, starting_capital: float, freq: str
) -> dict[str, float | None]:
    """Return of each calendar month ('M') or year ('Y'), keyed 'YYYY-MM' / 'YYYY'."""
    if equity.size == 0:
        return {}
    periods = np.asarray(dates).astype("datetime64[D]").astype(f"datetime64[{freq}]")
    ends = np.append(np.flatnonzero(periods[1:] != periods[:-1]), periods.shape[0] - 1)
    # the last equity of each period that is a number (as pandas' groupby().last() skips NaN)
    filled = _ffill(np.asarray(equity, dtype=np.float64))
    last = filled[ends]
    starts = np.concatenate(([0], ends[:-1] + 1))
    seen = np.maximum.accumulate(np.where(np.isnan(equity), -1, np.arange(equity.shape[0])))
    last[seen[ends] < starts] = np.nan  # a period holding only NaN
    previous = np.concatenate(([starting_capital], last[:-1]))
    return {
        p: _num(v)
        for p, v in zip(periods[ends].astype(str).tolist(), (last / previous - 1.0).tolist(), strict=True)
    }


def _equity_metrics(result: RunResult, rf_daily: float) -> dict[str, Any]:
    curve = result.equity
    equity = np.asarray(curve.equity, dtype=np.float64)
    n = equity.size
    start = float(result.starting_capital)
    years = n / PERIODS_PER_YEAR
    returns = _daily_returns(equity, start)
    final = float(equity[-1]) if n else start
    growth = final / start
    dd = _drawdown(curve.dates, equity, start)
    cagr = _cagr(growth, years)
    max_dd = dd["max_drawdown"]
    exposure = np.asarray(curve.exposure, dtype=np.float64)
    positions = np.asarray(curve.positions)
    return {
        "sessions": int(n),
        "years": _num(years),
        "first_session": _iso(curve.dates[0]) if n else None,
        "last_session": _iso(curve.dates[-1]) if n else None,
        "starting_capital": _num(start),
        "final_equity": _num(final),
        "total_return": _num(growth - 1.0) if n else None,
        "cagr": cagr,
        "annual_volatility": _num(np.std(returns, ddof=1) * math.sqrt(PERIODS_PER_YEAR)) if n > 1 else None,
        "sharpe": _sharpe(returns, rf_daily),
        "sortino": _sortino(returns, rf_daily),
        "calmar": _num(cagr / abs(max_dd)) if cagr is not None and max_dd else None,
        "max_drawdown": max_dd,
        "drawdown": dd,
        "exposure": _num(np.nanmean(exposure)) if exposure.size else None,
        "time_in_market": _num(np.mean(positions > 0)) if positions.size else None,
        "mean_equity": _num(np.mean(equity)) if n else None,
        "monthly_returns": _period_returns(curve.dates, equity, start, "M"),
        "yearly_returns": _period_returns(curve.dates, equity, start, "Y"),
    }


# ---------------------------------------------------------------------------------------- trade side
def _trade_brief(trade: Trade) -> dict[str, Any]:
    return {
        "symbol": trade.symbol,
        "entry_date": trade.entry_date.isoformat(),
        "exit_date": trade.exit_date.isoformat(),
        "pnl": _num(trade.pnl),
        "pnl_pct": _num(trade.pnl_pct),
        "r_multiple": _num(trade.r_multiple),
        "exit_reason": trade.exit_reason,
    }


def _longest_streak(flags: np.ndarray) -> int:
    """Length of the longest run of True in a bool array (0 without any)."""
    if not flags.any():
        return 0
    edges = np.diff(np.concatenate(([0], flags.astype(np.int8), [0])))
    return int((np.flatnonzero(edges == -1) - np.flatnonzero(edges == 1)).max())


def _mean(values: np.ndarray) -> float | None:
    finite = values[np.isfinite(values)]
    return _num(np.mean(finite)) if finite.size else None


def _exit_reasons(cols: TradeColumns) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for reason, rows in cols.reason_groups():
        pnl = cols.pnl[rows]
        out[reason] = {
            "count": int(rows.shape[0]),
            "wins": int(np.sum(pnl > 0)),
            "win_rate": _num(np.mean(pnl > 0)),
            "avg_return": _mean(cols.pnl_pct[rows]),
            "avg_r": _mean(cols.r_multiple[rows]),
            "total_pnl": _num(np.sum(pnl)),
        }
    return out


def _trade_metrics(
    trades: Sequence[Trade], years: float, mean_equity: float | None, cols: TradeColumns | None = None
) -> dict[str, Any]:
    """The trade side of the metrics; ``cols`` (``TradeColumns.of(trades)``) when already read."""
    cols = TradeColumns.of(trades) if cols is None else cols
    n = len(trades)
    pnl, pct, held = cols.pnl, cols.pnl_pct, cols.sessions_held
    wins, losses = pnl > 0, pnl < 0
    gross_win, gross_loss = float(pnl[wins].sum()), float(-pnl[losses].sum())
    by_exit = pnl[cols.exit_order()] if n else pnl
    notional = cols.notional() / 2.0
    best = trades[extreme_index(pct, largest=True)] if n else None
    worst = trades[extreme_index(pct, largest=False)] if n else None
    return {
        "trades": n,
        "trades_per_year": _num(n / years) if years > 0 else None,
        "turnover": _num(notional / mean_equity / years) if mean_equity and years > 0 else None,
        "wins": int(wins.sum()),
        "losses": int(losses.sum()),
        "win_rate": _num(np.mean(wins)) if n else None,
        "avg_win": _mean(pnl[wins]),
        "avg_loss": _mean(pnl[losses]),
        "avg_win_pct": _mean(pct[wins]),
        "avg_loss_pct": _mean(pct[losses]),
        "gross_profit": _num(gross_win),
        "gross_loss": _num(-gross_loss),
        "net_pnl": _num(pnl.sum()),
        "profit_factor": _num(gross_win / gross_loss) if gross_loss > 0 else None,
        "expectancy": _mean(pnl),
        "expectancy_pct": _mean(pct),
        "expectancy_r": _mean(cols.r_multiple),
        "avg_sessions_held": _mean(held),
        "median_sessions_held": _num(median(held)) if n else None,
        "best_trade": _trade_brief(best) if best is not None else None,
        "worst_trade": _trade_brief(worst) if worst is not None else None,
        "longest_win_streak": _longest_streak(by_exit > 0),
        "longest_loss_streak": _longest_streak(by_exit < 0),
        "exit_reasons": _exit_reasons(cols),
    }


_SLEEVE_KEYS = (
    "trades",
    "win_rate",
    "net_pnl",
    "expectancy",
    "expectancy_pct",
    "expectancy_r",
    "profit_factor",
    "avg_sessions_held",
)


def _sleeve_metrics(result: RunResult, years: float, cols: TradeColumns) -> dict[str, dict[str, Any]]:
    """Per-sleeve trade figures and return on the sleeve's capital, for runs with two or more sleeves.

    The sleeve's starting capital is recovered from the P&L attribution: final sleeve equity minus the
    sleeve's trade P&L (every position is closed by the end of a run).
    """
    names = sorted(set(result.equity.sleeve_equity) | (set(cols.sleeves) - {""}))
    if len(names) < 2:
        return {}
    out: dict[str, dict[str, Any]] = {}
    for name in names:
        part = _trade_metrics([t for t in result.trades if t.sleeve == name], years, None)
        row = {key: part[key] for key in _SLEEVE_KEYS}
        curve = result.equity.sleeve_equity.get(name)
        final = _num(curve[-1]) if curve is not None and len(curve) else None
        start = final - part["net_pnl"] if final is not None and part["net_pnl"] is not None else None
        row["final_equity"] = final
        row["starting_capital"] = _num(start)
        row["total_return"] = _num(part["net_pnl"] / start) if start and start > 0 else None
        out[name] = row
    return out


# ---------------------------------------------------------------------------------------- benchmark stats
def _benchmark_metrics(
    result: RunResult,
    benchmark: BenchmarkSeries,
    returns: np.ndarray,
    total_return: float | None,
    strategy_cagr: float | None,
    rf_daily: float,
) -> dict[str, dict[str, Any]]:
    dates = np.asarray(result.equity.dates).astype("datetime64[D]")
    pos = np.searchsorted(benchmark.dates.astype("datetime64[D]"), dates, side="right") - 1
    years = dates.size / PERIODS_PER_YEAR
    out: dict[str, dict[str, Any]] = {}
    for name, curve in benchmark.curves.items():
        values = np.where(pos >= 0, curve[np.clip(pos, 0, None)], np.nan) if dates.size else curve[:0]
        values = _ffill(values)
        finite = np.isfinite(values)
        if not finite.any():
            continue
        values = values / values[finite][0]
        bench_returns = np.nan_to_num(np.concatenate(([0.0], values[1:] / values[:-1] - 1.0)), nan=0.0)
        bench_total = float(values[finite][-1] - 1.0)
        out[name] = {
            "label": benchmark.labels.get(name, name),
            "total_return": _num(bench_total),
            "cagr": _cagr(1.0 + bench_total, years),
            "sharpe": _sharpe(bench_returns, rf_daily),
            "max_drawdown": _drawdown(dates, values, 1.0)["max_drawdown"],
            "excess_return": _num(total_return - bench_total) if total_return is not None else None,
            "excess_cagr": _excess(strategy_cagr, _cagr(1.0 + bench_total, years)),
            **_beta_correlation(returns, bench_returns),
        }
    return out


def _excess(strategy: float | None, bench: float | None) -> float | None:
    return _num(strategy - bench) if strategy is not None and bench is not None else None


def _beta_correlation(returns: np.ndarray, bench_returns: np.ndarray) -> dict[str, float | None]:
    if returns.size < 2:
        return {"beta": None, "correlation": None}
    r = returns - returns.mean()
    b = bench_returns - bench_returns.mean()
    var_b, var_r = float(np.mean(b * b)), float(np.mean(r * r))
    cov = float(np.mean(r * b))
    return {
        "beta": _num(cov / var_b) if var_b > 0 else None,
        "correlation": _num(cov / math.sqrt(var_b * var_r)) if var_b > 0 and var_r > 0 else None,
    }


# ---------------------------------------------------------------------------------------- validation
def _percentile_ci(samples: np.ndarray) -> list[float | None] | None:
    finite = samples[np.isfinite(samples)]
    if finite.size == 0:
        return None
    lo, hi = percentiles(finite, [2.5, 97.5])
    return [_num(lo), _num(hi)]


def _bootstrap_sharpe(
    returns: np.ndarray, rf_daily: float, rng: np.random.Generator, n_boot: int
) -> np.ndarray:
    """Circular block bootstrap of the annualised Sharpe ratio (blocks keep short-range dependence).

    Each resample is ``n_blocks`` blocks of ``block`` consecutive sessions (wrapping around the end),
    cut to ``n`` sessions. Its mean and standard deviation come from each block's sum and sum of
    squares, read off prefix sums of the doubled series: O(blocks) per resample instead of O(sessions).
    """
    n = returns.size
    block = min(SHARPE_BLOCK_SESSIONS, max(1, math.isqrt(n)))  # short runs: shorter blocks
    n_blocks = -(-n // block)
    excess = returns - rf_daily
    doubled = np.concatenate((excess, excess))
    prefix = np.concatenate(([0.0], np.cumsum(doubled)))
    prefix_sq = np.concatenate(([0.0], np.cumsum(doubled * doubled)))
    lengths = np.full(n_blocks, block, dtype=np.int64)
    lengths[-1] = n - (n_blocks - 1) * block  # the last block is cut so the resample has n sessions
    starts = rng.integers(0, n, size=(n_boot, n_blocks))
    total = (prefix[starts + lengths] - prefix[starts]).sum(axis=1)
    total_sq = (prefix_sq[starts + lengths] - prefix_sq[starts]).sum(axis=1)
    mean = total / n
    with np.errstate(divide="ignore", invalid="ignore"):
        variance = np.maximum(total_sq - total * mean, 0.0) / (n - 1)
        sd = np.sqrt(variance)
        return np.where(sd > 0, mean / sd * math.sqrt(PERIODS_PER_YEAR), np.nan)


def _bootstrap_trades(
    pnl: np.ndarray, rng: np.random.Generator, n_boot: int
) -> tuple[np.ndarray, np.ndarray]:
    """Mean P&L and win rate of ``n_boot`` resamples of the trades (with replacement).

    The first half of the resamples draws from ``rng``, the second from ``rng.spawn(1)[0]`` (an
    independent stream of the same seed). The draws are numpy's own (``rng.integers(0, n, size=n)``
    per resample) and ``rng`` is left where numpy would have left it.
    """
    return _start_trade_bootstrap(pnl, rng, n_boot)()


def _start_trade_bootstrap(
    pnl: np.ndarray, rng: np.random.Generator, n_boot: int
) -> Callable[[], tuple[np.ndarray, np.ndarray]]:
    """Start :func:`_bootstrap_trades`; the returned function waits for it and returns its result.

    A large run draws its two halves on two threads (the kernel releases the GIL) while the caller
    computes the other metrics, so on two cores the 20 million draws of a 10,000-trade run overlap
    the rest instead of following it. The split is fixed (not by the number of cores), so a seed gives
    the same intervals on every machine. ``rng`` advances only when the returned function is called.
    """
    from trading_playbook.core._bootstrap_nb import bootstrap_trades_nb

    values = np.ascontiguousarray(pnl, dtype=np.float64)
    if values.size >= 1 << 32:  # the kernel's 32-bit bounded draws (numpy switches to 64-bit ones)
        raise ValueError(f"the trade bootstrap takes fewer than 2**32 trades, not {values.size:,}")
    means, win_rates = np.empty(n_boot), np.empty(n_boot)
    first = _pcg64_words(rng)
    half = slice(None, n_boot // 2), slice(n_boot // 2, None)
    jobs = [(first, half[0]), (_pcg64_words(rng.spawn(1)[0]), half[1])]

    def result() -> tuple[np.ndarray, np.ndarray]:
        _set_pcg64_words(rng, first)
        return means, win_rates

    if values.size * n_boot < 1_000_000:  # a small run: a thread costs more than it saves
        for words, part in jobs:
            bootstrap_trades_nb(values, words, means[part], win_rates[part])
        return result
    pool = ThreadPoolExecutor(max_workers=2)
    futures = [pool.submit(bootstrap_trades_nb, values, w, means[p], win_rates[p]) for w, p in jobs]
    pool.shutdown(wait=False)  # the threads end when their work is done; wait() waits for it

    def wait() -> tuple[np.ndarray, np.ndarray]:
        for future in futures:
            future.result()
        return result()

    return wait


def _pcg64_words(rng: np.random.Generator) -> np.ndarray:
    """The state of ``rng`` (numpy's PCG64) as the kernel's six uint64 words."""
    state = rng.bit_generator.state
    if state["bit_generator"] != "PCG64":
        raise TypeError(f"the trade bootstrap draws with PCG64, not {state['bit_generator']}")
    inner = state["state"]
    words = (
        inner["state"] >> 64,
        inner["state"] & _LOW64,
        inner["inc"] >> 64,
        inner["inc"] & _LOW64,
        state["has_uint32"],
        state["uinteger"],
    )
    return np.array(words, dtype=np.uint64)


def _set_pcg64_words(rng: np.random.Generator, words: np.ndarray) -> None:
    """Put the kernel's advanced state back into ``rng``."""
    hi, lo, inc_hi, inc_lo, has_uint32, uinteger = (int(w) for w in words)
    rng.bit_generator.state = {
        "bit_generator": "PCG64",
        "state": {"state": hi << 64 | lo, "inc": inc_hi << 64 | inc_lo},
        "has_uint32": has_uint32,
        "uinteger": uinteger,
    }


_LOW64 = (1 << 64) - 1


def compile_kernels() -> None:
    """Compile (or load from numba's cache) the metrics' kernels for the argument types every run
    passes: float64 C arrays, int64 indices and a numpy Generator, exactly as
    :func:`compute_metrics` and :func:`benchmark_from_panel` call them. A command calls this while
    it waits for something else (the first run's compile worker), so that numba's compile is not
    paid later on the critical path; the values computed here are discarded."""
    _equal_weight_curve(np.ones((2, 2)))
    _bootstrap_trades(np.zeros(2), np.random.default_rng(0), 1)


@dataclass(frozen=True)
class _Bootstrap:
    """The validation's generator and its trade bootstrap, started before the other metrics."""

    seed: int
    rng: np.random.Generator
    n_boot: int
    trades: Callable[[], tuple[np.ndarray, np.ndarray]] | None  # waits for the trade bootstrap

    @classmethod
    def start(cls, cols: TradeColumns, seed: int, n_boot: int) -> _Bootstrap:
        rng = np.random.default_rng(seed)
        trades = _start_trade_bootstrap(cols.pnl, rng, n_boot) if len(cols) >= 2 else None
        return cls(seed, rng, n_boot, trades)


def _validation(
    cols: TradeColumns, returns: np.ndarray, rf_daily: float, boot: _Bootstrap, survivorship: bool
) -> dict[str, Any]:
    n, rng, n_boot, seed = len(cols), boot.rng, boot.n_boot, boot.seed
    pct = cols.pnl_pct
    ci: dict[str, list[float | None] | None] = {"expectancy": None, "win_rate": None, "sharpe": None}
    if boot.trades is not None:
        means, win_rates = boot.trades()  # the Sharpe's draws follow the trades' in rng
        ci["expectancy"] = _percentile_ci(means)
        ci["win_rate"] = _percentile_ci(win_rates)
    if returns.size >= 3:
        ci["sharpe"] = _percentile_ci(_bootstrap_sharpe(returns, rf_daily, rng, n_boot))
    t_stat = p_value = None
    finite = pct[np.isfinite(pct)]
    if finite.size >= 2 and np.std(finite, ddof=1) > 0:
        t_raw = float(np.mean(finite) / (np.std(finite, ddof=1) / math.sqrt(finite.size)))
        t_stat, p_value = _num(t_raw), _num(two_sided_p(t_raw, finite.size - 1))
    warnings: list[str] = []
    if survivorship:
        warnings.append(_SURVIVORSHIP_NOTE)
    return {
        "sample_size_status": sample_size_status(n),
        "trades": n,
        "confidence_level": 0.95,
        "bootstrap_samples": int(n_boot),
        "seed": int(seed),
        "ci": ci,
        "t_stat": t_stat,
        "p_value": p_value,
        "survivorship_warning": bool(survivorship),
        "warnings": warnings,
    }


def _pct(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None else f"{value * 100:+.{digits}f}%"


def _verdict(m: dict[str, Any]) -> str:
    """One line a reader can trust: sample status first, then return against the benchmark and the edge."""
    v = m["validation"]
    status = v["sample_size_status"]
    if m["sessions"] == 0:
        return f"{status}: the run has no sessions; nothing to judge."
    if m["trades"] == 0:
        return (
            f"{status}: no trades in {m['sessions']} session(s) "
            f"({m['first_session']} to {m['last_session']}); nothing to judge."
        )
    n = m["trades"]
    parts = [f"{status}: {n:,} trade{'' if n == 1 else 's'}, {_pct(m['total_return'])} total return"]
    ew = m["benchmarks"].get("equal_weight")
    if ew is not None:
        parts.append(f"vs {_pct(ew['total_return'])} equal-weight buy & hold")
    line = f"{parts[0]} {parts[1]}" if len(parts) > 1 else parts[0]
    exp_ci = v["ci"]["expectancy"]
    if status == "INSUFFICIENT":
        tail = "too few trades to conclude anything"
    elif exp_ci is not None and exp_ci[0] is not None and exp_ci[0] > 0:
        tail = "expectancy positive at 95 % confidence"
    elif exp_ci is not None and exp_ci[1] is not None and exp_ci[1] < 0:
        tail = "expectancy negative at 95 % confidence"
    else:
        tail = "edge not distinguishable from zero at 95 % confidence"
    if v["survivorship_warning"]:
        tail += "; survivorship-biased universe"
    return f"{line}; {tail}."


# ---------------------------------------------------------------------------------------- public API
def compute_metrics(
    result: RunResult,
    *,
    benchmark: BenchmarkSeries | None = None,
    risk_free_rate: float = 0.0,
    survivorship_warning: bool = False,
    seed: int = 0,
    n_bootstrap: int = N_BOOTSTRAP,
    meanwhile: Callable[[], object] | None = None,
) -> dict[str, Any]:
    """Every summary statistic of a run, JSON-safe (undefined values are ``None``).

    Parameters
    ----------
    result : RunResult
        Trades and equity curve of the run (``result.metrics`` is ignored).
    benchmark : BenchmarkSeries, optional
        Comparison curves (see :func:`benchmark_from_panel`); each gives a ``benchmarks[name]`` entry
        with total return, CAGR, Sharpe, max drawdown, excess return, beta and correlation.
    risk_free_rate : float
        Annual, simple; used by Sharpe and Sortino as ``risk_free_rate / 252`` per session.
    survivorship_warning : bool
        True when the universe is a list of today's constituents; adds a warning to ``validation``.
    seed : int
        Seed of the bootstrap: the same inputs and seed give the same intervals.
    n_bootstrap : int
        Bootstrap resamples (2000 by default).
    meanwhile : callable, optional
        Called once, without arguments, while the trade bootstrap draws on its threads (it releases
        the GIL), before the other metrics are computed: work of the caller that does not need the
        metrics (a command builds its report rows there). What it raises propagates; it cannot
        change a metric (the bootstrap's draws and the other figures depend only on ``result``).

    Returns
    -------
    dict
        Flat headline figures (``total_return``, ``cagr``, ``sharpe``, ``max_drawdown``, ``trades``,
        ``win_rate``, ``expectancy_r`` ...) plus nested ``drawdown``, ``exit_reasons``,
        ``monthly_returns``, ``yearly_returns``, ``benchmarks``, ``sleeves`` (two or more sleeves
        only), ``validation`` and ``verdict``.

    Examples
    --------
    >>> import numpy as np
    >>> from trading_playbook.core.types import EquityCurve, RunResult
    >>> dates = np.array(["2020-01-02", "2020-01-03"], dtype="datetime64[D]")
    >>> curve = EquityCurve(dates, np.array([100.0, 110.0]), np.array([100.0, 110.0]),
    ...                     np.zeros(2, dtype=np.int64), np.zeros(2))
    >>> m = compute_metrics(RunResult([], curve, {}, {}, 100.0))
    >>> round(m["total_return"], 10), m["trades"], m["validation"]["sample_size_status"]
    (0.1, 0, 'INSUFFICIENT')
    """
    rf_daily = risk_free_rate / PERIODS_PER_YEAR
    equity_part = _equity_metrics(result, rf_daily)
    years = equity_part["sessions"] / PERIODS_PER_YEAR
    cols = TradeColumns.of(result.trades)
    boot = _Bootstrap.start(cols, seed, n_bootstrap)  # on two threads while the rest is computed
    if meanwhile is not None:
        meanwhile()
    trade_part = _trade_metrics(result.trades, years, equity_part["mean_equity"], cols)
    returns = _daily_returns(
        np.asarray(result.equity.equity, dtype=np.float64), float(result.starting_capital)
    )
    metrics: dict[str, Any] = {**equity_part, **trade_part, "risk_free_rate": float(risk_free_rate)}
    metrics["sleeves"] = _sleeve_metrics(result, years, cols)
    metrics["benchmarks"] = (
        _benchmark_metrics(
            result, benchmark, returns, equity_part["total_return"], equity_part["cagr"], rf_daily
        )
        if benchmark
        else {}
    )
    metrics["validation"] = _validation(cols, returns, rf_daily, boot, survivorship_warning)
    metrics["notes"] = _edge_notes(metrics)
    metrics["verdict"] = _verdict(metrics)
    return metrics


def _edge_notes(m: dict[str, Any]) -> list[str]:
    notes: list[str] = []
    if m["sessions"] == 0:
        notes.append("The run has no sessions: every statistic is undefined.")
    elif m["sessions"] == 1:
        notes.append("The run has one session: volatility, Sharpe and Sortino need two or more.")
    if 0 < m["sessions"] < PERIODS_PER_YEAR:
        notes.append(
            f"The run spans {m['sessions']} sessions, less than a year: annualised figures (CAGR, "
            "volatility, Sharpe, Sortino, Calmar, trades per year, turnover) are extrapolations."
        )
    if m["trades"] == 0:
        notes.append("The run made no trades: trade statistics are undefined.")
    elif m["trades"] == 1:
        notes.append(
            "The run made one trade: spreads, confidence intervals and the t-statistic need two or more."
        )
    return notes
