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
from typing import Any, cast

import numpy as np

from trading_playbook.core.errors import SimulationError
from trading_playbook.core.exits.spec import (
    EXIT_RULE_TYPES,
    REASON_CODES,
    ExitRule,
    ExitSpec,
    ScaleOut,
    Slot,
    choice_code,
    is_gated,
    slot_columns,
)
from trading_playbook.core.panel import Panel
from trading_playbook.core.scanners.base import VectorScanner
from trading_playbook.core.simulate import _records as rec
from trading_playbook.core.simulate._bars_nb import bar_index, means_at_nb
from trading_playbook.core.simulate._kernels import simulate_nb
from trading_playbook.core.simulate.settings import PortfolioSettings, SleeveSpec, check_run
from trading_playbook.core.sizing import (
    AtrTargetSizer,
    FixedDollarSizer,
    PercentCashSizer,
    PercentEquitySizer,
    RiskSizer,
)
from trading_playbook.core.types import TRADE_FIELDS, EquityCurve, PartialExit, SetupTable, Trade, TradeList

__all__ = [
    "CompiledSleeves",
    "FastRun",
    "TradeNumbers",
    "compile_sleeves",
    "decode_trades",
    "encode_rule",
    "run_fast",
    "run_fast_records",
    "trade_numbers",
]

_USE_REFERENCE = "use --engine reference (the plain-Python engine runs user-written components)"
_CUSTOM_REASON_BASE = 1000  # codes of reason names no primitive declares (a scale-out's own names)
_PRIMITIVES = frozenset(EXIT_RULE_TYPES.values())


@dataclass(frozen=True)
class CompiledSleeves:
    """Sleeves encoded for the kernel: the rule table, what the rules read, the reason names."""

    rules: rec.RuleTable
    sizer_atr_period: tuple[int | None, ...]
    queue_capacity: int
    reason_names: dict[int, str]
    ema_rows: dict[int, int]  # EMA period -> row of the run's EMA stack
    longest_window: int  # the longest SMA / ATR window a rule reads


@dataclass(frozen=True)
class FastRun:
    """The kernel's raw output: structured trade and fill records plus the equity curve."""

    trades: np.ndarray  # _records.trade_dt records, in opening order
    fills: np.ndarray  # _records.fill_dt records, in fill order
    equity: EquityCurve
    sleeve_names: tuple[str, ...]
    reason_names: dict[int, str]

    def decode(self, panel: Panel) -> list[Trade]:
        """The :class:`Trade` objects (ordered by entry session, symbol, sleeve)."""
        return decode_trades(self.trades, self.fills, panel, self.sleeve_names, self.reason_names)

    def numbers(self, panel: Panel) -> TradeNumbers:
        """The trades' pnl, pnl_pct and R multiple as arrays, in :meth:`decode`'s order."""
        return trade_numbers(self.trades, self.fills, panel)


def _exit_spec(sleeve: SleeveSpec) -> ExitSpec:
    if sleeve.exit_spec is None:
        raise SimulationError(
            f"sleeve {sleeve.name!r}: the exit {type(sleeve.exit).__name__!r} is Python code the fast "
            f"engine cannot compile; {_USE_REFERENCE}"
        )
    return sleeve.exit_spec


def _reason_code(name: str, reasons: dict[int, str]) -> int:
    """The code of reason ``name`` (declared, or a new code of this run for a custom name)."""
    code = REASON_CODES.get(name)
    if code is None:
        known = {v: c for c, v in reasons.items()}
        code = known.get(name, _CUSTOM_REASON_BASE + sum(1 for c in reasons if c >= _CUSTOM_REASON_BASE))
    reasons[code] = name
    return code


def _encode_value(
    owner: type, field_name: str, value: Any, slot: Slot, ema_rows: dict[int, int], reasons: dict[int, str]
) -> float:
    """One scalar of a slot as a float (:class:`~trading_playbook.core.exits.spec.Slot` says how)."""
    if slot.encode == "reason":
        return float(_reason_code(str(value), reasons))
    if slot.encode == "ema_row":
        return float(ema_rows.setdefault(int(value), len(ema_rows)))
    if value is None:
        return math.nan
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, str):
        return choice_code(owner, field_name, value)
    return float(value)


def _encode_item(item: Any, slot: Slot, ema_rows: dict[int, int], reasons: dict[int, str]) -> list[float]:
    """The ``slot.width`` columns of one item of a sequence slot (a dataclass item: its fields)."""
    if dataclasses.is_dataclass(item):
        return [
            _encode_value(type(item), f.name, getattr(item, f.name), slot, ema_rows, reasons)
            for f in dataclasses.fields(item)
        ]
    return [_encode_value(type(item), slot.field, item, slot, ema_rows, reasons)]


def encode_rule(rule: ExitRule, row: np.ndarray, ema_rows: dict[int, int], reasons: dict[int, str]) -> int:
    """Write ``rule``'s parameter row from its declared slots; return its declared kind code.

    Column ``P_AFTER_PARTIAL`` holds the gating, ``P_REASON`` the code of the primitive's reason, and
    each slot its columns (:func:`~trading_playbook.core.exits.spec.slot_columns`).
    """
    cls: type = type(rule)
    if cls not in _PRIMITIVES:
        raise SimulationError(f"exit rule {cls.__name__!r} cannot be compiled; {_USE_REFERENCE}")
    row[rec.P_AFTER_PARTIAL] = 1.0 if is_gated(rule) else 0.0
    row[rec.P_REASON] = _reason_code(rule.REASONS[0], reasons)
    for slot, column in zip(rule.SLOTS, slot_columns(cls).values(), strict=True):
        value = getattr(rule, slot.field)
        if not slot.items:
            row[column] = _encode_value(cls, slot.field, value, slot, ema_rows, reasons)
            continue
        items = tuple(value)
        if len(items) > slot.items:
            raise SimulationError(
                f"a {rule.kind} has {len(items)} {slot.field}; the fast engine takes {slot.items}"
            )
        row[column] = len(items)
        for i, item in enumerate(items):
            first = column + 1 + i * slot.width
            row[first : first + slot.width] = _encode_item(item, slot, ema_rows, reasons)
    return rule.CODE


def _encode_sizer(sleeve: SleeveSpec, settings: PortfolioSettings) -> tuple[int, list[float], int | None]:
    """Kind code, parameters and ATR period (atr_target) of a sleeve's sizer (core.sizing contract)."""
    sizer = sleeve.sizer
    max_pos = sleeve.max_positions
    if isinstance(sizer, PercentEquitySizer):
        fraction = sizer.fraction if sizer.fraction is not None else 1.0 / max_pos
        return rec.SIZER_PERCENT_EQUITY, [fraction], None
    if isinstance(sizer, PercentCashSizer):
        return rec.SIZER_PERCENT_CASH, [sizer.fraction], None
    if isinstance(sizer, RiskSizer):
        return rec.SIZER_RISK, [sizer.fraction], None
    if isinstance(sizer, FixedDollarSizer):
        capital = settings.starting_capital * sleeve.weight
        amount = sizer.amount if sizer.amount is not None else capital / max_pos
        return rec.SIZER_FIXED_DOLLAR, [amount], None
    if isinstance(sizer, AtrTargetSizer):
        cap = sizer.max_fraction if sizer.max_fraction is not None else 1.0 / max_pos
        return rec.SIZER_ATR_TARGET, [sizer.risk_fraction, sizer.atr_multiple, cap], sizer.atr_period
    raise SimulationError(
        f"sleeve {sleeve.name!r}: the sizer {type(sizer).__name__!r} is Python code the fast engine cannot "
        f"compile; {_USE_REFERENCE}"
    )


def compile_sleeves(sleeves: Sequence[SleeveSpec], settings: PortfolioSettings) -> CompiledSleeves:
    """Encode the sleeves' exit rule sets and sizers for :func:`~._kernels.simulate_nb`.

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
    ema_rows: dict[int, int] = {}
    reasons: dict[int, str] = {}
    kind = np.full((n_sleeves, max_rules), -1, dtype=np.int64)
    params = np.zeros((n_sleeves, max_rules, rec.N_PARAMS), dtype=np.float64)
    sizer_kind = np.zeros(n_sleeves, dtype=np.int64)
    sizer_params = np.zeros((n_sleeves, rec.N_SIZER_PARAMS), dtype=np.float64)
    atr_periods: list[int | None] = []
    queue = 2
    longest = 1
    for s, (sleeve, spec) in enumerate(zip(sleeves, specs, strict=True)):
        for r, rule in enumerate(spec.rules):
            kind[s, r] = encode_rule(rule, params[s, r], ema_rows, reasons)
            if isinstance(rule, ScaleOut):
                queue += len(rule.levels)
        needs = spec.indicator_needs()
        longest = max([longest, *needs["sma"], *needs["atr"]])
        code, values, atr_period = _encode_sizer(sleeve, settings)
        sizer_kind[s] = code
        sizer_params[s, : len(values)] = values
        atr_periods.append(atr_period)
    rules = rec.RuleTable(
        kind=kind,
        params=params,
        n_rules=np.array([len(spec.rules) for spec in specs], dtype=np.int64),
        max_positions=np.array([s.max_positions for s in sleeves], dtype=np.int64),
        weight=np.array([s.weight for s in sleeves], dtype=np.float64),
        hard_stop=np.array([spec.hard_stop for spec in specs], dtype=np.float64),
        sizer_kind=sizer_kind,
        sizer_params=sizer_params,
    )
    return CompiledSleeves(
        rules=rules,
        sizer_atr_period=tuple(atr_periods),
        queue_capacity=queue,
        reason_names=reasons,
        ema_rows=ema_rows,
        longest_window=longest,
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
    check_run(sleeves, panel.n_sessions, start, end)
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
    bars = _bars(panel, end, compiled)
    eligible = None if panel.universe is None else panel.universe.eligible()
    table = _setup_rows(setups, compiled, bars, start, end, _symbol_ranks(panel), eligible)
    n_setups = int(table.symbol.shape[0])
    trade_capacity = n_setups + 1
    journal = rec.Journal(
        trades=np.zeros(trade_capacity, dtype=rec.trade_dt),
        fills=np.zeros(trade_capacity * compiled.queue_capacity, dtype=rec.fill_dt),
        counts=np.zeros(2, dtype=np.int64),
    )
    rules = compiled.rules
    n_sleeves = len(sleeves)
    capacity = int(rules.max_positions.sum())
    book = rec.new_book(n_sleeves, panel.n_symbols, capacity, rules.kind.shape[1], compiled.queue_capacity)
    curves = rec.new_curves(n_sleeves, end - start + 1)
    universe_exit = panel.universe is not None and panel.universe.exits
    account = _account(settings, universe_exit)
    simulate_nb(bars, rules, table, book, journal, account, curves, start, end)
    equity = EquityCurve(
        dates=panel.sessions[start : end + 1].astype("datetime64[D]"),
        equity=curves.equity,
        cash=curves.cash,
        positions=curves.positions,
        exposure=curves.exposure,
        sleeve_equity={s.name: curves.sleeve[i] for i, s in enumerate(sleeves)},
    )
    names = tuple(s.name for s in sleeves)
    n_trades, n_fills = int(journal.counts[rec.J_TRADES]), int(journal.counts[rec.J_FILLS])
    return FastRun(
        journal.trades[:n_trades], journal.fills[:n_fills], equity, names, dict(compiled.reason_names)
    )


def _account(settings: PortfolioSettings, universe_exit: bool) -> np.ndarray:
    """The account record: cash, costs and fill policy."""
    account = np.zeros(1, dtype=rec.account_dt)
    account["cash"] = settings.starting_capital
    account["per_share"] = settings.commission_per_share
    account["per_order"] = settings.commission_per_order
    account["minimum"] = settings.commission_min
    account["sell"] = 1.0 - settings.slippage
    account["buy"] = 1.0 + settings.slippage
    account["starting_capital"] = settings.starting_capital
    account["entry_at_close"] = settings.entry_fill == "close"
    account["exit_at_next_open"] = settings.exit_fill == "next_open"
    account["universe_exit"] = universe_exit
    return account


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
    if not sleeve.vectorised:
        raise SimulationError(
            f"sleeve {sleeve.name!r}: the scanner {type(sleeve.scanner).__name__!r} has no vectorised "
            f"scan(panel); {_USE_REFERENCE}"
        )
    table = cast(VectorScanner, sleeve.scanner).scan(panel)
    if not isinstance(table, SetupTable):
        raise SimulationError(
            f"sleeve {sleeve.name!r}: scanner.scan(panel) returned {type(table).__name__}, not a SetupTable; "
            f"{_USE_REFERENCE}"
        )
    return table


def _bars(panel: Panel, end: int, compiled: CompiledSleeves) -> rec.Bars:
    """The panel's arrays through ``end``, each symbol's bar index, and the EMAs the rules read.

    SMA, ATR and previous-bar values are computed by the kernel at the bars it reads them
    (``_bars_nb``, bit-identical to :mod:`trading_playbook.core.indicators`); an EMA depends on the
    whole history, so the rules' EMAs are ``indicators.ema`` over the panel.
    """
    rows = slice(0, end + 1)

    def take(a: np.ndarray, dtype: Any) -> np.ndarray:
        return np.ascontiguousarray(a[rows], dtype=dtype)

    close, available = take(panel.close, np.float64), take(panel.available, np.bool_)
    first, last, gap_ptr, gap_rows = bar_index(available)
    ema = np.full((1, 1, 1), np.nan)
    if compiled.ema_rows:
        from trading_playbook.core import indicators  # only rules reading an EMA: a run without stays lighter

        ema = np.empty((len(compiled.ema_rows), *close.shape))
        for period, row in compiled.ema_rows.items():
            ema[row] = indicators.ema(close, period, available)
    leaving = np.zeros((1, 1), dtype=np.bool_)
    if panel.universe is not None and panel.universe.exits:
        leaving = take(panel.universe.leaving(), np.bool_)
    return rec.Bars(
        open=take(panel.open, np.float64),
        high=take(panel.high, np.float64),
        low=take(panel.low, np.float64),
        close=close,
        available=available,
        first_bar=first,
        last_bar=last,
        gap_ptr=gap_ptr,
        gap_rows=gap_rows,
        ema=ema,
        scratch=np.zeros(max(compiled.longest_window, 1)),
        leaving=leaving,
    )


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


def _setup_rows(
    setups: Sequence[SetupTable],
    compiled: CompiledSleeves,
    bars: rec.Bars,
    start: int,
    end: int,
    symbol_rank: np.ndarray,
    eligible: np.ndarray | None = None,
) -> rec.SetupRows:
    """Concatenate each sleeve's setups of sessions start..end-1, ranked within each session (score
    desc, volume_ratio desc, symbol asc, as ``Setup.rank_key``), with per-(sleeve, session) pointers.
    With a universe, only the setups of symbols ``eligible`` on their session are kept."""
    n_sessions = bars.close.shape[0]
    ptr = np.zeros((len(setups), n_sessions + 1), dtype=np.int64)
    parts: dict[str, list[np.ndarray]] = {"symbol": [], "reference": [], "stop": [], "atr": []}
    offset = 0
    bounds = np.arange(n_sessions + 1)
    for s, tbl in enumerate(setups):
        all_sessions = np.asarray(tbl.session_idx, dtype=np.int64)
        all_symbols = np.asarray(tbl.symbol_idx, dtype=np.int64)
        wanted = (all_sessions >= start) & (all_sessions < end)
        if eligible is not None:
            inside = np.flatnonzero(wanted)
            wanted[inside] = eligible[all_sessions[inside], all_symbols[inside]]
        rows = np.flatnonzero(wanted)
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
        else:  # the atr_target sizer reads the setup bar's ATR
            parts["atr"].append(means_at_nb(bars, period, True, session, symbol))
        offset += int(session.shape[0])
    out = {
        name: np.ascontiguousarray(values[0] if len(values) == 1 else np.concatenate(values))
        for name, values in parts.items()
    }
    return rec.SetupRows(
        ptr=ptr, symbol=out["symbol"], reference=out["reference"], stop=out["stop"], atr=out["atr"]
    )


@dataclass(frozen=True)
class TradeNumbers:
    """The per-trade numbers of a run's records, in the decoded trades' order (entry session, symbol
    in code-point order, sleeve): what :func:`decode_trades` puts in each :class:`Trade`, as arrays.

    A sweep's trial reads its headline metrics from these without building the :class:`Trade`
    objects; both come from :func:`trade_numbers`, so they are the same floats.
    """

    order: np.ndarray  # int64[n]: the trade record behind each row
    by_trade: np.ndarray  # the fills sorted by trade (each trade's fills in fill order)
    bounds: np.ndarray  # trade record i's fills are by_trade[bounds[i]:bounds[i + 1]]
    exit_value: np.ndarray  # float64[n], per trade record (not reordered)
    fees: np.ndarray  # float64[n], per trade record
    pnl: np.ndarray  # float64[n], per trade record
    pnl_pct: np.ndarray  # float64[n], in row order
    r_multiple: np.ndarray  # float64[n], in row order


def trade_numbers(trades: np.ndarray, fills: np.ndarray, panel: Panel) -> TradeNumbers:
    """Order, exit value, fees, pnl, pnl_pct and R multiple of the kernel's trade records.

    Every field is computed column-wise with numpy in the reference engine's operation order (exit
    value and commission accumulated fill by fill, in fill order), so the floats are identical.
    """
    n = int(trades.shape[0])
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
    # trades in order of entry session, symbol (code-point order), sleeve
    order = np.lexsort((trades["sleeve"], _symbol_ranks(panel)[trades["symbol"]], trades["entry_session"]))
    return TradeNumbers(
        order=order,
        by_trade=by_trade,
        bounds=bounds,
        exit_value=exit_value,
        fees=fees,
        pnl=pnl,
        pnl_pct=(pnl / entry_value)[order],
        r_multiple=((pnl / shares) / (entry - trades["initial_stop"]))[order],
    )


def decode_trades(
    trades: np.ndarray,
    fills: np.ndarray,
    panel: Panel,
    sleeve_names: Sequence[str],
    reason_names: dict[int, str],
) -> list[Trade]:
    """Turn the kernel's trade and fill records into :class:`Trade` objects (RULES sections 6 and 7),
    from :func:`trade_numbers`."""
    n = int(trades.shape[0])
    if n == 0:
        return []
    nums = trade_numbers(trades, fills, panel)
    order, by_trade, bounds = nums.order, nums.by_trade, nums.bounds
    entry = trades["entry_price"]
    shares = trades["shares"]
    last_fill = by_trade[bounds[1:] - 1]
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
        (nums.exit_value / shares)[order].tolist(),
        shares[order].tolist(),
        reason_table[fills["reason"][last_fill[order]]].tolist(),
        nums.pnl[order].tolist(),
        nums.pnl_pct.tolist(),
        nums.r_multiple.tolist(),
        (exit_session - entry_session).tolist(),
        (trades["max_high"] / entry - 1.0)[order].tolist(),
        (trades["min_low"] / entry - 1.0)[order].tolist(),
        _partial_exits(fills, by_trade, bounds, order, session_dates, reason_table),
        trades["initial_stop"][order].tolist(),
        nums.fees[order].tolist(),
        names[trades["sleeve"][order]].tolist(),
    ]
    # the columns go with the trades: the metrics and the reports read them instead of the trades
    return TradeList(_make_trades(n, columns), dict(zip(TRADE_FIELDS, columns, strict=True)))


def _session_dates(panel: Panel) -> np.ndarray:
    """An object array of ``datetime.date``, one per session."""
    return panel.sessions.astype("datetime64[D]").astype(object)


def _reason_table(reason_names: dict[int, str], codes: np.ndarray) -> np.ndarray:
    """Reason name by reason code (an object array indexed by the integer codes)."""
    names = {code: name for name, code in REASON_CODES.items()} | reason_names
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
