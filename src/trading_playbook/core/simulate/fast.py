"""The fast engine: the session loop of RULES section 4 compiled with numba.

:func:`run_fast` has the signature and semantics of ``run_reference``: it encodes every sleeve's exit
rule set (:class:`~trading_playbook.core.exits.spec.ExitSpec`) into an integer-coded rule program with
a float parameter matrix, its sizer into a code and parameters, indexes each symbol's bars (the
kernel computes the SMA, ATR and previous-bar values the rules read at the bars it reads them; only an
EMA is computed on the whole panel), runs :func:`~trading_playbook.core.simulate._kernels.simulate_nb`
and decodes the structured trade and fill records into :class:`Trade` objects and an
:class:`EquityCurve`.

Only built-in components compile. A sleeve with an exit or sizer written in Python raises
:class:`SimulationError` (run it with ``--engine reference``).
"""

from __future__ import annotations

import collections
import dataclasses
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numba
import numpy as np

from trading_playbook.core.errors import SimulationError
from trading_playbook.core.exits.spec import (
    BreakevenStop,
    EmaBreak,
    ExitSpec,
    HardStop,
    LowerClose,
    LowerHigh,
    MaBreak,
    ScaleOut,
    StopLossClose,
    TargetClose,
    TimeStop,
    TrailingStop,
)
from trading_playbook.core.panel import Panel
from trading_playbook.core.simulate import _kernels as k
from trading_playbook.core.simulate.settings import PortfolioSettings, SleeveSpec
from trading_playbook.core.sizing import (
    AtrTargetSizer,
    FixedDollarSizer,
    PercentCashSizer,
    PercentEquitySizer,
    RiskSizer,
)
from trading_playbook.core.types import EquityCurve, ExitReason, PartialExit, SetupTable, Trade

__all__ = ["CompiledSleeves", "FastRun", "compile_sleeves", "decode_trades", "run_fast", "run_fast_records"]

_USE_REFERENCE = "use --engine reference (the plain-Python engine runs user-written components)"
_CUSTOM_REASON_BASE = 100


class _Indicators:
    """The (period -> stack row) maps and the stacked (K, T, N) arrays of one run."""

    def __init__(self) -> None:
        self.sma: dict[int, int] = {}
        self.ema: dict[int, int] = {}
        self.atr: dict[int, int] = {}
        self.prev_close = False
        self.prev_high = False

    def index(self, kind: str, period: int) -> int:
        table: dict[int, int] = getattr(self, kind)
        if period not in table:
            table[period] = len(table)
        return table[period]


@dataclass(frozen=True)
class CompiledSleeves:
    """Sleeves encoded for the kernel (exit programs, sizers, reason names)."""

    rule_kind: np.ndarray  # int64 (S, R)
    rule_params: np.ndarray  # float64 (S, R, N_PARAMS)
    n_rules: np.ndarray  # int64 (S,)
    max_positions: np.ndarray  # int64 (S,)
    weight: np.ndarray  # float64 (S,)
    hard_stop: np.ndarray  # float64 (S,)
    sizer_kind: np.ndarray  # int64 (S,)
    sizer_params: np.ndarray  # float64 (S, N_SIZER_PARAMS)
    sizer_atr_period: tuple[int | None, ...]
    queue_capacity: int
    reason_names: dict[int, str]
    needs: _Indicators


@dataclass(frozen=True)
class FastRun:
    """The kernel's raw output: structured trade and fill records plus the equity curve."""

    trades: np.ndarray  # _kernels.trade_dt records, in opening order
    fills: np.ndarray  # _kernels.fill_dt records, in fill order
    equity: EquityCurve
    sleeve_names: tuple[str, ...]
    reason_names: dict[int, str]

    def decode(self, panel: Panel) -> list[Trade]:
        """The :class:`Trade` objects (ordered by entry session, symbol, sleeve)."""
        return decode_trades(self.trades, self.fills, panel, self.sleeve_names, self.reason_names)


def _exit_spec(sleeve: SleeveSpec) -> ExitSpec:
    component = sleeve.exit
    if isinstance(component, ExitSpec):
        return component
    spec = getattr(component, "spec", None)
    if isinstance(spec, ExitSpec):
        return spec
    raise SimulationError(
        f"sleeve {sleeve.name!r}: the exit {type(component).__name__!r} is Python code the fast engine "
        f"cannot compile; {_USE_REFERENCE}"
    )


def _reason_code(name: str, reasons: dict[int, str]) -> int:
    if name in ExitReason.__members__:
        code = int(ExitReason[name])
    else:
        known = {v: c for c, v in reasons.items()}
        code = known.get(name, _CUSTOM_REASON_BASE + sum(1 for c in reasons if c >= _CUSTOM_REASON_BASE))
    reasons[code] = name
    return code


def _encode_rule(rule: Any, row: np.ndarray, needs: _Indicators, reasons: dict[int, str]) -> int:
    """Write one rule's parameters into ``row``; return its kind code."""
    row[k.P_AFTER_PARTIAL] = 1.0 if getattr(rule, "after_partial", False) else 0.0
    if isinstance(rule, HardStop):
        row[k.P_A] = rule.pct
        return k.RULE_HARD_STOP
    if isinstance(rule, BreakevenStop):
        return k.RULE_BREAKEVEN
    if isinstance(rule, TrailingStop):
        if len(rule.tiers) > k.MAX_TIERS:
            raise SimulationError(
                f"a trailing_stop has {len(rule.tiers)} tiers; the fast engine takes {k.MAX_TIERS}"
            )
        row[k.P_A] = 1.0 if rule.basis == "resting" else 0.0
        row[k.P_B] = 1.0 if rule.update == "every_close" else 0.0
        row[k.P_C] = math.nan if rule.activation is None else rule.activation
        uses_atr = any(t.mode == "atr" for t in rule.tiers)
        row[k.P_D] = needs.index("atr", rule.atr_period) if uses_atr else -1.0
        row[k.P_TIERS - 1] = len(rule.tiers)
        for i, tier in enumerate(rule.tiers):
            base = k.P_TIERS + 3 * i
            row[base] = tier.min_profit
            row[base + 1] = k.TIER_PCT if tier.mode == "pct" else k.TIER_ATR
            row[base + 2] = tier.value
        return k.RULE_TRAIL
    if isinstance(rule, MaBreak):
        row[k.P_A] = needs.index("sma", rule.period)
        row[k.P_B] = math.nan if rule.max_profit is None else rule.max_profit
        row[k.P_C] = math.nan if rule.min_peak_high_profit is None else rule.min_peak_high_profit
        return k.RULE_MA_BREAK
    if isinstance(rule, LowerClose):
        needs.prev_close = True
        row[k.P_A] = rule.min_peak_profit
        return k.RULE_LOWER_CLOSE
    if isinstance(rule, LowerHigh):
        needs.prev_high = True
        row[k.P_A] = rule.min_peak_profit
        return k.RULE_LOWER_HIGH
    if isinstance(rule, EmaBreak):
        row[k.P_A] = needs.index("ema", rule.period)
        return k.RULE_EMA_BREAK
    if isinstance(rule, TimeStop):
        row[k.P_A] = rule.sessions
        return k.RULE_TIME_STOP
    if isinstance(rule, StopLossClose):
        row[k.P_A] = rule.pct
        return k.RULE_STOP_LOSS
    if isinstance(rule, TargetClose):
        row[k.P_A] = rule.pct
        return k.RULE_TARGET
    if isinstance(rule, ScaleOut):
        if len(rule.levels) > k.MAX_LEVELS:
            raise SimulationError(
                f"a scale_out has {len(rule.levels)} levels; the fast engine takes {k.MAX_LEVELS}"
            )
        row[k.P_A] = rule.fraction
        row[k.P_B] = len(rule.levels)
        for i, level in enumerate(rule.levels):
            row[k.P_LEVELS + i] = level
            row[k.P_LEVELS + k.MAX_LEVELS + i] = _reason_code(rule.reason(i), reasons)
        return k.RULE_SCALE_OUT
    raise SimulationError(f"exit rule {type(rule).__name__!r} cannot be compiled; {_USE_REFERENCE}")


def _encode_sizer(sleeve: SleeveSpec, settings: PortfolioSettings) -> tuple[int, list[float], int | None]:
    """Kind code, parameters and ATR period (atr_target) of a sleeve's sizer (core.sizing contract)."""
    sizer = sleeve.sizer
    max_pos = sleeve.max_positions
    if isinstance(sizer, PercentEquitySizer):
        fraction = sizer.fraction if sizer.fraction is not None else 1.0 / max_pos
        return k.SIZER_PERCENT_EQUITY, [fraction], None
    if isinstance(sizer, PercentCashSizer):
        return k.SIZER_PERCENT_CASH, [sizer.fraction], None
    if isinstance(sizer, RiskSizer):
        return k.SIZER_RISK, [sizer.fraction], None
    if isinstance(sizer, FixedDollarSizer):
        capital = settings.starting_capital * sleeve.weight
        amount = sizer.amount if sizer.amount is not None else capital / max_pos
        return k.SIZER_FIXED_DOLLAR, [amount], None
    if isinstance(sizer, AtrTargetSizer):
        cap = sizer.max_fraction if sizer.max_fraction is not None else 1.0 / max_pos
        return k.SIZER_ATR_TARGET, [sizer.risk_fraction, sizer.atr_multiple, cap], sizer.atr_period
    raise SimulationError(
        f"sleeve {sleeve.name!r}: the sizer {type(sizer).__name__!r} is Python code the fast engine cannot "
        f"compile; {_USE_REFERENCE}"
    )


def compile_sleeves(sleeves: Sequence[SleeveSpec], settings: PortfolioSettings) -> CompiledSleeves:
    """Encode the sleeves' exit rule sets and sizers for :func:`simulate_nb`.

    Raises
    ------
    SimulationError
        When a sleeve has a component written in Python (run it on the reference engine).
    """
    if not sleeves:
        raise SimulationError("a backtest needs at least one sleeve (scanner, exit, sizer)")
    specs = [_exit_spec(s) for s in sleeves]
    n_sleeves = len(sleeves)
    max_rules = max(1, *(len(spec.rules) for spec in specs))
    needs = _Indicators()
    reasons: dict[int, str] = {}
    rule_kind = np.full((n_sleeves, max_rules), -1, dtype=np.int64)
    rule_params = np.zeros((n_sleeves, max_rules, k.N_PARAMS), dtype=np.float64)
    sizer_kind = np.zeros(n_sleeves, dtype=np.int64)
    sizer_params = np.zeros((n_sleeves, k.N_SIZER_PARAMS), dtype=np.float64)
    atr_periods: list[int | None] = []
    queue = 2
    for s, (sleeve, spec) in enumerate(zip(sleeves, specs, strict=True)):
        for r, rule in enumerate(spec.rules):
            rule_kind[s, r] = _encode_rule(rule, rule_params[s, r], needs, reasons)
            if isinstance(rule, ScaleOut):
                queue += len(rule.levels)
        kind, params, atr_period = _encode_sizer(sleeve, settings)
        sizer_kind[s] = kind
        sizer_params[s, : len(params)] = params
        if atr_period is not None:
            needs.index("atr", atr_period)
        atr_periods.append(atr_period)
    return CompiledSleeves(
        rule_kind=rule_kind,
        rule_params=rule_params,
        n_rules=np.array([len(spec.rules) for spec in specs], dtype=np.int64),
        max_positions=np.array([s.max_positions for s in sleeves], dtype=np.int64),
        weight=np.array([s.weight for s in sleeves], dtype=np.float64),
        hard_stop=np.array([spec.hard_stop for spec in specs], dtype=np.float64),
        sizer_kind=sizer_kind,
        sizer_params=sizer_params,
        sizer_atr_period=tuple(atr_periods),
        queue_capacity=queue,
        reason_names=reasons,
        needs=needs,
    )


def _check_window(panel: Panel, start: int, end: int) -> None:
    if panel.n_sessions == 0:
        raise SimulationError("the panel holds no sessions; check the data selection")
    if not 0 <= start <= end < panel.n_sessions:
        raise SimulationError(
            f"backtest window start={start}, end={end} is outside the panel's sessions 0..{panel.n_sessions - 1}"
        )


def run_fast_records(
    panel: Panel,
    sleeves: Sequence[SleeveSpec],
    settings: PortfolioSettings,
    *,
    start: int,
    end: int,
    setups: Sequence[SetupTable] | None = None,
) -> FastRun:
    """Simulate the portfolio on sessions ``start..end`` (inclusive) with the numba kernel.

    Like :func:`run_fast` but returns the kernel's structured records undecoded (a research sweep that
    only needs the equity curve skips building thousands of :class:`Trade` objects).

    Parameters
    ----------
    panel
        The aligned data, already cut after ``end``; history before ``start`` is warm-up.
    sleeves
        The strategies sharing the cash pool (settings.py documents the multi-sleeve semantics).
    settings
        Capital, fills, slippage and commissions.
    start, end
        First and last backtest session (indices into ``panel.sessions``).
    setups
        Precomputed setups, one table per sleeve (research sweeps reuse them); by default each
        sleeve's ``scanner.scan(panel)``.

    Returns
    -------
    FastRun
        Trade and fill records (``_kernels.trade_dt`` / ``fill_dt``) and the equity curve.
    """
    _check_window(panel, start, end)
    sleeve_names = [s.name for s in sleeves]
    if len(set(sleeve_names)) != len(sleeve_names):
        raise SimulationError(
            f"sleeve names must be unique, got {sleeve_names}; rename the [[sleeves]] entries"
        )
    compiled = compile_sleeves(sleeves, settings)
    if setups is None:
        visible = (
            panel if end == panel.n_sessions - 1 else panel.truncate(end)
        )  # the scan never sees past end
        setups = [_scan(sleeve, visible) for sleeve in sleeves]
    if len(setups) != len(sleeves):
        raise SimulationError(
            f"got {len(setups)} setup tables for {len(sleeves)} sleeves; pass one per sleeve"
        )
    arrays = _panel_arrays(panel, end)
    stacks = _indicator_stacks(arrays, compiled.needs)
    table = _setup_arrays(setups, compiled, arrays, stacks, start, end, _symbol_ranks(panel))

    n_setups = int(table["symbol"].shape[0])
    trade_capacity = n_setups + 1
    fill_capacity = trade_capacity * compiled.queue_capacity
    result = k.simulate_nb(
        arrays["open"],
        arrays["high"],
        arrays["low"],
        arrays["close"],
        arrays["available"],
        stacks["last_bar"],
        stacks["first_bar"],
        stacks["gap_ptr"],
        stacks["gap_rows"],
        stacks["sma_periods"],
        stacks["atr_periods"],
        stacks["ema"],
        start,
        end,
        compiled.rule_kind,
        compiled.rule_params,
        compiled.n_rules,
        compiled.max_positions,
        compiled.weight,
        compiled.hard_stop,
        compiled.sizer_kind,
        compiled.sizer_params,
        table["ptr"],
        table["symbol"],
        table["reference"],
        table["stop"],
        table["atr"],
        float(settings.starting_capital),
        settings.entry_fill == "close",
        settings.exit_fill == "next_open",
        float(settings.slippage),
        float(settings.commission_per_share),
        float(settings.commission_per_order),
        float(settings.commission_min),
        trade_capacity,
        fill_capacity,
        compiled.queue_capacity,
    )
    trades_rec, n_trades, fills_rec, n_fills, equity, cash, positions, exposure, sleeve_equity = result
    curve = EquityCurve(
        dates=panel.sessions[start : end + 1].astype("datetime64[D]"),
        equity=equity,
        cash=cash,
        positions=positions,
        exposure=exposure,
        sleeve_equity={s.name: sleeve_equity[i] for i, s in enumerate(sleeves)},
    )
    names = tuple(s.name for s in sleeves)
    return FastRun(trades_rec[:n_trades], fills_rec[:n_fills], curve, names, dict(compiled.reason_names))


def run_fast(
    panel: Panel,
    sleeves: Sequence[SleeveSpec],
    settings: PortfolioSettings,
    *,
    start: int,
    end: int,
    setups: Sequence[SetupTable] | None = None,
) -> tuple[list[Trade], EquityCurve]:
    """Simulate the portfolio on sessions ``start..end`` (inclusive) with the numba kernel.

    Same signature and semantics as ``run_reference``: the panel is already cut after ``end``,
    history before ``start`` is warm-up and nothing trades there.

    Parameters
    ----------
    panel
        The aligned data.
    sleeves
        The strategies sharing the cash pool (settings.py documents the multi-sleeve semantics).
    settings
        Capital, fills, slippage and commissions.
    start, end
        First and last backtest session (indices into ``panel.sessions``).
    setups
        Precomputed setups, one table per sleeve (research sweeps reuse them); by default each
        sleeve's ``scanner.scan(panel)``.

    Returns
    -------
    (trades, equity)
        Trades in order of entry session, symbol, sleeve; one equity row per session ``start..end``.

    Raises
    ------
    SimulationError
        A sleeve has a component written in Python (use ``--engine reference``), or the window is
        outside the panel.

    Examples
    --------
    >>> from trading_playbook.core.exits.spec import named_exit
    >>> from trading_playbook.core.sizing import PercentEquitySizer
    >>> sleeve = SleeveSpec("main", scanner, named_exit("smart_exits"), PercentEquitySizer())  # doctest: +SKIP
    >>> trades, equity = run_fast(panel, [sleeve], PortfolioSettings(), start=60, end=panel.n_sessions - 1)  # doctest: +SKIP
    """
    run = run_fast_records(panel, sleeves, settings, start=start, end=end, setups=setups)
    return run.decode(panel), run.equity


def _scan(sleeve: SleeveSpec, panel: Panel) -> SetupTable:
    scan = getattr(sleeve.scanner, "scan", None)
    if scan is None:
        raise SimulationError(
            f"sleeve {sleeve.name!r}: the scanner {type(sleeve.scanner).__name__!r} has no vectorised "
            f"scan(panel); {_USE_REFERENCE}"
        )
    table = scan(panel)
    if not isinstance(table, SetupTable):
        raise SimulationError(
            f"sleeve {sleeve.name!r}: scanner.scan(panel) returned {type(table).__name__}, not a SetupTable; "
            f"{_USE_REFERENCE}"
        )
    return table


def _panel_arrays(panel: Panel, end: int) -> dict[str, np.ndarray]:
    rows = slice(0, end + 1)

    def take(a: np.ndarray, dtype: Any) -> np.ndarray:
        return np.ascontiguousarray(a[rows], dtype=dtype)

    return {
        "open": take(panel.open, np.float64),
        "high": take(panel.high, np.float64),
        "low": take(panel.low, np.float64),
        "close": take(panel.close, np.float64),
        "available": take(panel.available, np.bool_),
    }


def _blocks(n_symbols: int) -> int:
    """Blocks of symbols the indicator pass runs in parallel: one per numba thread."""
    return max(1, min(n_symbols, numba.get_num_threads()))


def _periods(table: dict[int, int]) -> np.ndarray:
    """The periods of one indicator kind in stack-row order."""
    periods = np.zeros(len(table), dtype=np.int64)
    for period, row in table.items():
        periods[row] = period
    return periods


def _indicator_stacks(arrays: dict[str, np.ndarray], needs: _Indicators) -> dict[str, np.ndarray]:
    """What the kernel needs to read the rules' indicators: each symbol's bars and the periods.

    SMA, ATR and previous-bar values are computed by the kernel at the bars it reads them
    (``_kernels.mean_at_nb``, bit-identical to :mod:`trading_playbook.core.indicators`); only an EMA,
    which depends on the whole history, is computed on the whole panel (one parallel pass over blocks
    of symbols).
    """
    close, high, low, avail = arrays["close"], arrays["high"], arrays["low"], arrays["available"]
    first, last, gap_ptr, gap_rows = k.bar_index_nb(avail)
    out = {
        "first_bar": first,
        "last_bar": last,
        "gap_ptr": gap_ptr,
        "gap_rows": gap_rows,
        "sma_periods": _periods(needs.sma),
        "atr_periods": _periods(needs.atr),
        "ema": np.full((1, 1, 1), np.nan),
    }
    if needs.ema:
        unused = np.full((1, 1, 1), np.nan)
        out["ema"] = np.empty((len(needs.ema), *close.shape))
        k.indicator_stacks_nb(
            high,
            low,
            close,
            avail,
            np.zeros(0, dtype=np.int64),
            _periods(needs.ema),
            np.zeros(0, dtype=np.int64),
            unused,
            out["ema"],
            unused,
            unused[0],
            unused[0],
            np.empty(close.shape[1], dtype=np.int64),
            False,
            False,
            _blocks(close.shape[1]),
        )
    return out


def _symbol_ranks(panel: Panel) -> np.ndarray:
    """Each symbol column's rank in plain string (code-point) order, the ranking's last tie-break."""
    return np.argsort(np.argsort(np.array(panel.symbols, dtype=object))).astype(np.int64)


def _rank_order(
    session: np.ndarray, score: np.ndarray, volume_ratio: np.ndarray, symbol_rank: np.ndarray
) -> np.ndarray | slice:
    """Rows in order of session, then rank (score desc, volume_ratio desc, symbol asc).

    A scanner's table is documented to be in this order already: when every row's key is strictly
    after the previous row's, the order is the identity (``slice(None)``, no sort); otherwise (ties,
    NaN, a table out of order) the rows are sorted with a stable ``lexsort``.
    """
    if session.shape[0] > 1:
        d_session = session[1:] - session[:-1]
        a_score, b_score = score[:-1], score[1:]
        a_ratio, b_ratio = volume_ratio[:-1], volume_ratio[1:]
        ahead = (d_session > 0) | (
            (d_session == 0)
            & (
                (a_score > b_score)
                | (
                    (a_score == b_score)
                    & ((a_ratio > b_ratio) | ((a_ratio == b_ratio) & (symbol_rank[:-1] < symbol_rank[1:])))
                )
            )
        )
        if not ahead.all():
            return np.lexsort((symbol_rank, -volume_ratio, -score, session))
    return slice(None)


def _setup_arrays(
    setups: Sequence[SetupTable],
    compiled: CompiledSleeves,
    arrays: dict[str, np.ndarray],
    stacks: dict[str, np.ndarray],
    start: int,
    end: int,
    symbol_rank: np.ndarray,
) -> dict[str, np.ndarray]:
    """Concatenate each sleeve's setups of sessions start..end-1, ranked within each session (score
    desc, volume_ratio desc, symbol asc, as ``Setup.rank_key``), with per-(sleeve, session) pointers."""
    n_sessions = arrays["close"].shape[0]
    ptr = np.zeros((len(setups), n_sessions + 1), dtype=np.int64)
    parts: dict[str, list[np.ndarray]] = {"symbol": [], "reference": [], "stop": [], "atr": []}
    offset = 0
    bounds = np.arange(n_sessions + 1)
    for s, tbl in enumerate(setups):
        all_sessions = np.asarray(tbl.session_idx, dtype=np.int64)
        all_symbols = np.asarray(tbl.symbol_idx, dtype=np.int64)
        rows = np.flatnonzero((all_sessions >= start) & (all_sessions < end))
        order = _rank_order(
            all_sessions[rows],
            np.asarray(tbl.score, dtype=np.float64)[rows],
            np.asarray(tbl.volume_ratio, dtype=np.float64)[rows],
            symbol_rank[all_symbols[rows]],
        )
        keep: slice | np.ndarray = rows[order]
        if isinstance(order, slice) and rows.shape[0] and rows[-1] - rows[0] + 1 == rows.shape[0]:
            keep = slice(int(rows[0]), int(rows[-1]) + 1)  # one run of rows: views, no copies
        session = all_sessions[keep]
        symbol = all_symbols[keep]
        ptr[s] = offset + np.searchsorted(session, bounds, side="left")
        parts["symbol"].append(symbol)
        parts["reference"].append(np.asarray(tbl.reference_price, dtype=np.float64)[keep])
        parts["stop"].append(np.asarray(tbl.initial_stop, dtype=np.float64)[keep])
        period = compiled.sizer_atr_period[s]
        if period is None:
            parts["atr"].append(np.full(session.shape[0], np.nan))
        else:
            parts["atr"].append(
                k.setup_atr_nb(
                    arrays["high"],
                    arrays["low"],
                    arrays["close"],
                    arrays["available"],
                    stacks["first_bar"],
                    stacks["gap_ptr"],
                    stacks["gap_rows"],
                    period,
                    session,
                    symbol,
                )
            )
        offset += int(session.shape[0])
    out = {
        name: np.ascontiguousarray(values[0] if len(values) == 1 else np.concatenate(values))
        for name, values in parts.items()
    }
    out["ptr"] = ptr
    return out


def decode_trades(
    trades: np.ndarray,
    fills: np.ndarray,
    panel: Panel,
    sleeve_names: Sequence[str],
    reason_names: dict[int, str],
) -> list[Trade]:
    """Turn the kernel's trade and fill records into :class:`Trade` objects (RULES sections 6 and 7).

    Every field is computed column-wise with numpy in the reference engine's operation order (exit
    value and commission accumulated fill by fill, in fill order), so the floats are identical.
    """
    n = int(trades.shape[0])
    if n == 0:
        return []
    f_trade = fills["trade"]
    by_trade = np.argsort(f_trade, kind="stable")  # each trade's fills stay in fill order
    bounds = np.searchsorted(f_trade[by_trade], np.arange(n + 1), side="left")
    n_fills = np.diff(bounds)
    if not np.all(trades["closed"] == 1) or np.any(n_fills == 0):
        raise SimulationError("internal error of the fast engine: a position was left open at the end")
    # sums in fill order, as the reference engine accumulates them (np.add.at is unbuffered, sequential)
    exit_value = np.zeros(n)
    np.add.at(exit_value, f_trade, fills["shares"] * fills["price"])
    fees = trades["entry_commission"].copy()
    np.add.at(fees, f_trade, fills["commission"])
    entry = trades["entry_price"]
    shares = trades["shares"]
    entry_value = shares * entry
    pnl = (exit_value - entry_value) - fees
    last_fill = by_trade[bounds[1:] - 1]
    # trades in order of entry session, symbol (code-point order), sleeve
    order = np.lexsort((trades["sleeve"], _symbol_ranks(panel)[trades["symbol"]], trades["entry_session"]))
    entry_session = trades["entry_session"][order]
    exit_session = trades["exit_session"][order]
    session_dates = _session_dates(panel)
    reason_table = _reason_table(reason_names, fills["reason"])
    names = np.array(sleeve_names, dtype=object)
    columns = [
        np.array(panel.symbols, dtype=object)[trades["symbol"][order]].tolist(),
        session_dates[entry_session].tolist(),
        session_dates[exit_session].tolist(),
        entry[order].tolist(),
        (exit_value / shares)[order].tolist(),
        shares[order].tolist(),
        reason_table[fills["reason"][last_fill[order]]].tolist(),
        pnl[order].tolist(),
        (pnl / entry_value)[order].tolist(),
        ((pnl / shares) / (entry - trades["initial_stop"]))[order].tolist(),
        (exit_session - entry_session).tolist(),
        (trades["max_high"] / entry - 1.0)[order].tolist(),
        (trades["min_low"] / entry - 1.0)[order].tolist(),
        _partial_exits(fills, by_trade, bounds, order, session_dates, reason_table),
        trades["initial_stop"][order].tolist(),
        fees[order].tolist(),
        names[trades["sleeve"][order]].tolist(),
    ]
    return _make_trades(n, columns)


def _session_dates(panel: Panel) -> np.ndarray:
    """An object array of ``datetime.date``, one per session."""
    return panel.sessions.astype("datetime64[D]").astype(object)


def _reason_table(reason_names: dict[int, str], codes: np.ndarray) -> np.ndarray:
    """Reason name by reason code (an object array indexed by the integer codes)."""
    names = {int(r): r.name for r in ExitReason} | reason_names
    table = np.empty(max(max(names), int(codes.max(initial=0))) + 1, dtype=object)
    for code, name in names.items():
        table[code] = name
    return table


def _partial_exits(
    fills: np.ndarray,
    by_trade: np.ndarray,
    bounds: np.ndarray,
    order: np.ndarray,
    session_dates: np.ndarray,
    reason_table: np.ndarray,
) -> list[tuple[PartialExit, ...]]:
    """Every fill of a trade but its last, in fill order, for the trades in ``order``."""
    n = int(order.shape[0])
    out: list[tuple[PartialExit, ...]] = [()] * n
    count = (bounds[1:] - bounds[:-1])[order]
    multi = np.flatnonzero(count > 1)
    if multi.shape[0] == 0:
        return out
    # the non-final fills, trade by trade in fill order: trade i's are rows bounds[i] - i .. bounds[i+1] - i - 2
    final = np.zeros(by_trade.shape[0], dtype=np.bool_)
    final[bounds[1:] - 1] = True
    rows = by_trade[~final]
    partials = list(
        map(
            PartialExit,
            session_dates[fills["session"][rows]].tolist(),
            fills["shares"][rows].tolist(),
            fills["price"][rows].tolist(),
            reason_table[fills["reason"][rows]].tolist(),
        )
    )
    trade = order[multi]
    lo = (bounds[trade] - trade).tolist()
    hi = (bounds[trade + 1] - trade - 1).tolist()
    for pos, a, b in zip(multi.tolist(), lo, hi, strict=True):
        out[pos] = tuple(partials[a:b])
    return out


def _slot_setters() -> tuple[Any, ...] | None:
    """The slot descriptors' setters of :class:`Trade`'s fields, in field order (None: not slotted)."""
    if hasattr(Trade, "__post_init__"):
        return None
    setters = []
    for f in dataclasses.fields(Trade):
        descriptor = Trade.__dict__.get(f.name)
        if descriptor is None or not hasattr(descriptor, "__set__"):
            return None
        setters.append(descriptor.__set__)
    return tuple(setters)


_TRADE_SETTERS = _slot_setters()


def _make_trades(n: int, columns: list[list[Any]]) -> list[Trade]:
    """``[Trade(*row) for row in zip(*columns)]``, built column by column.

    ``Trade`` is a frozen, slotted dataclass without ``__post_init__``: its ``__init__`` only stores
    each argument in its slot. Filling the slots through their descriptors, one column at a time,
    gives equal objects at half the cost (the frozen ``__setattr__`` is bypassed exactly as the
    generated ``__init__`` bypasses it).
    """
    if _TRADE_SETTERS is None:
        return list(map(Trade, *columns))
    out = list(map(object.__new__, itertools.repeat(Trade, n)))
    for set_field, values in zip(_TRADE_SETTERS, columns, strict=True):
        collections.deque(map(set_field, out, values), maxlen=0)
    return out
