"""The fast engine's state, records and constants.

The kernels (:mod:`._kernels`, :mod:`._exits_nb`, :mod:`._book_nb`, :mod:`._bars_nb`) take a few
NamedTuples instead of long argument lists, in the style of vectorbt's ``portfolio/enums.py``:

- :class:`Bars`: the panel's arrays, each symbol's bar index and the EMA stack (what the rules read);
- :class:`RuleTable`: every sleeve's exit program (rule codes and parameter rows) and sizer;
- :class:`SetupRows`: every sleeve's ranked setups, with per-(sleeve, session) pointers;
- :class:`Book`: the open positions (a record array of :data:`position_dt`, one slot each), their
  trails, scale-out levels and queued exits, the pending entries and the per-sleeve counts;
- :class:`Journal`: the trade and fill records the engine writes (:data:`trade_dt`, :data:`fill_dt`);
- :class:`Curves`: the equity curve, one row per session;
- the account: one :data:`account_dt` record (cash, costs, fill policy), changed in place.

Every exit-rule constant is derived from the primitives' declarations in
:mod:`trading_playbook.core.exits.spec` (``CODE``, ``SLOTS``, ``REASONS``): module-level ints and
floats, which numba compiles as constants.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from trading_playbook.core._jit import whole_argument
from trading_playbook.core.exits import spec as S
from trading_playbook.core.types import ExitReason

# ---------------------------------------------------------------- rule codes (declared per primitive)
RULE_HARD_STOP = S.HardStop.CODE
RULE_BREAKEVEN = S.BreakevenStop.CODE
RULE_TRAIL = S.TrailingStop.CODE
RULE_MA_BREAK = S.MaBreak.CODE
RULE_LOWER_CLOSE = S.LowerClose.CODE
RULE_LOWER_HIGH = S.LowerHigh.CODE
RULE_EMA_BREAK = S.EmaBreak.CODE
RULE_TIME_STOP = S.TimeStop.CODE
RULE_STOP_LOSS = S.StopLossClose.CODE
RULE_TARGET = S.TargetClose.CODE
RULE_SCALE_OUT = S.ScaleOut.CODE

# ---------------------------------------------------------------- parameter columns (declared slots)
P_AFTER_PARTIAL = S.SLOT_AFTER_PARTIAL  # every rule: 1.0 = inactive until a partial was taken
P_REASON = S.SLOT_REASON  # every rule: the code of its reason
N_PARAMS = S.N_SLOT_COLUMNS
MAX_TIERS = S.MAX_TIERS
MAX_LEVELS = S.MAX_LEVELS

HARD_STOP_PCT = S.slot_columns(S.HardStop)["pct"]
TRAIL_BASIS = S.slot_columns(S.TrailingStop)["basis"]
TRAIL_UPDATE = S.slot_columns(S.TrailingStop)["update"]
TRAIL_ACTIVATION = S.slot_columns(S.TrailingStop)["activation"]  # NaN: none
TRAIL_ATR_PERIOD = S.slot_columns(S.TrailingStop)["atr_period"]
TRAIL_TIERS = S.slot_columns(S.TrailingStop)["tiers"]  # count, then (min_profit, mode, value) triples
TRAIL_RESTING = S.choice_code(S.TrailingStop, "basis", "resting")
TRAIL_EVERY_CLOSE = S.choice_code(S.TrailingStop, "update", "every_close")
TIER_PCT = S.choice_code(S.TrailTier, "mode", "pct")
TIER_ATR = S.choice_code(S.TrailTier, "mode", "atr")
MA_PERIOD = S.slot_columns(S.MaBreak)["period"]
MA_MAX_PROFIT = S.slot_columns(S.MaBreak)["max_profit"]  # NaN: none
MA_MIN_PEAK_HIGH = S.slot_columns(S.MaBreak)["min_peak_high_profit"]  # NaN: none
LOWER_CLOSE_MIN_PEAK = S.slot_columns(S.LowerClose)["min_peak_profit"]
LOWER_HIGH_MIN_PEAK = S.slot_columns(S.LowerHigh)["min_peak_profit"]
EMA_ROW = S.slot_columns(S.EmaBreak)["period"]  # the row of the run's EMA stack
TIME_STOP_SESSIONS = S.slot_columns(S.TimeStop)["sessions"]
STOP_LOSS_PCT = S.slot_columns(S.StopLossClose)["pct"]
TARGET_PCT = S.slot_columns(S.TargetClose)["pct"]
SCALE_FRACTION = S.slot_columns(S.ScaleOut)["fraction"]
SCALE_LEVELS = S.slot_columns(S.ScaleOut)["levels"]  # count, then the levels
SCALE_REASONS = S.slot_columns(S.ScaleOut)["level_reasons"]  # count, then each level's reason code

# ---------------------------------------------------------------- the engine's own reasons
REASON_END_OF_DATA = int(ExitReason.END_OF_DATA)
REASON_END_OF_TEST = int(ExitReason.END_OF_TEST)
REASON_UNIVERSE_EXIT = int(ExitReason.UNIVERSE_EXIT)

# ---------------------------------------------------------------- sizers
SIZER_PERCENT_EQUITY = 0
SIZER_PERCENT_CASH = 1
SIZER_RISK = 2
SIZER_FIXED_DOLLAR = 3
SIZER_ATR_TARGET = 4
N_SIZER_PARAMS = 4

# what to do with a sale decided at the close
SALE_AT_CLOSE = 0
SALE_QUEUE = 1  # for the symbol's next open (exit_fill = "next_open")
SALE_DROP = 2  # a forced END_OF_DATA / END_OF_TEST sale follows

# Book.counts / Journal.counts
B_ORDER = 0  # open slots, in opening order: order[:counts[B_ORDER]]
B_ENTRIES = 1  # pending entries: entries[:counts[B_ENTRIES]], in queue order
J_TRADES = 0
J_FILLS = 1

# ---------------------------------------------------------------- records
position_dt = np.dtype(
    [
        ("active", np.int64),
        ("sleeve", np.int64),
        ("symbol", np.int64),
        ("entry_session", np.int64),
        ("orig_shares", np.int64),
        ("held", np.int64),  # shares held now
        ("pending", np.int64),  # shares already queued for sale at the next open
        ("pq_n", np.int64),  # sales queued for the next open
        ("partial_taken", np.int64),
        ("trade", np.int64),  # row of the trade record
        ("entry", np.float64),
        ("initial_stop", np.float64),
        ("peak_close", np.float64),
        ("peak_high", np.float64),
        ("last_close", np.float64),
        ("max_high", np.float64),
        ("min_low", np.float64),
        ("exit_value", np.float64),  # sum of shares * fill over the exit fills so far
        ("commission", np.float64),  # entry commission plus every exit fill's commission so far
    ],
    align=True,
)

entry_dt = np.dtype([("sleeve", np.int64), ("symbol", np.int64), ("shares", np.int64)], align=True)

account_dt = np.dtype(
    [
        ("cash", np.float64),
        ("per_share", np.float64),
        ("per_order", np.float64),
        ("minimum", np.float64),
        ("sell", np.float64),  # 1 - slippage
        ("buy", np.float64),  # 1 + slippage
        ("starting_capital", np.float64),
        ("entry_at_close", np.bool_),
        ("exit_at_next_open", np.bool_),
        ("universe_exit", np.bool_),  # Bars.leaving is read: [universe] policy = "exit"
    ],
    align=True,
)

trade_dt = np.dtype(
    [
        ("sleeve", np.int64),
        ("symbol", np.int64),
        ("entry_session", np.int64),
        ("exit_session", np.int64),
        ("entry_price", np.float64),
        ("initial_stop", np.float64),
        ("shares", np.int64),
        ("entry_commission", np.float64),
        ("max_high", np.float64),
        ("min_low", np.float64),
        ("closed", np.int64),
    ],
    align=True,
)

fill_dt = np.dtype(
    [
        ("trade", np.int64),
        ("session", np.int64),
        ("shares", np.int64),
        ("price", np.float64),
        ("reason", np.int64),
        ("commission", np.float64),
    ],
    align=True,
)


# ---------------------------------------------------------------- state
@whole_argument
class Bars(NamedTuple):
    """The panel's arrays (sessions ``0..end``), each symbol's bar index and the EMA stack."""

    open: np.ndarray  # float64 (T, N)
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    available: np.ndarray  # bool (T, N)
    first_bar: np.ndarray  # int64 (N,), -1: none
    last_bar: np.ndarray  # int64 (N,), -1: none
    gap_ptr: np.ndarray  # int64 (N + 1,): gap_rows[gap_ptr[j]:gap_ptr[j + 1]] are symbol j's gaps
    gap_rows: np.ndarray  # int64, sessions without a bar between a symbol's first and last bar
    ema: np.ndarray  # float64 (K, T, N): the EMAs the rules read (EMA_ROW)
    scratch: np.ndarray  # float64: the bar values one SMA / ATR reads
    leaving: np.ndarray  # bool (T, N): sold at this close (universe policy "exit"); (1, 1) when unused


@whole_argument
class RuleTable(NamedTuple):
    """Every sleeve's exit program and sizer."""

    kind: np.ndarray  # int64 (S, R): RULE_* codes
    params: np.ndarray  # float64 (S, R, N_PARAMS): parameter rows
    n_rules: np.ndarray  # int64 (S,)
    max_positions: np.ndarray  # int64 (S,)
    weight: np.ndarray  # float64 (S,)
    hard_stop: np.ndarray  # float64 (S,)
    sizer_kind: np.ndarray  # int64 (S,): SIZER_* codes
    sizer_params: np.ndarray  # float64 (S, N_SIZER_PARAMS)


@whole_argument
class SetupRows(NamedTuple):
    """Every sleeve's setups in rank order; ``ptr[s, t]:ptr[s, t + 1]`` are sleeve s's at session t."""

    ptr: np.ndarray  # int64 (S, T + 1)
    symbol: np.ndarray  # int64
    reference: np.ndarray  # float64
    stop: np.ndarray  # float64
    atr: np.ndarray  # float64 (atr_target sizer; NaN otherwise)


@whole_argument
class Book(NamedTuple):
    """Open positions and pending orders.

    A position lives in a slot of ``pos`` (at most ``sum(max_positions)`` are open or pending).
    ``trail[c, r]`` is the trail of rule ``r`` (NaN = undefined), ``levels[c, r]`` a bit mask of the
    scale-out levels taken, ``pq_shares`` / ``pq_reason`` the sales queued for the next open.
    """

    pos: np.ndarray  # position_dt (capacity,)
    trail: np.ndarray  # float64 (capacity, R)
    levels: np.ndarray  # int64 (capacity, R)
    pq_shares: np.ndarray  # int64 (capacity, queue)
    pq_reason: np.ndarray  # int64 (capacity, queue)
    order: np.ndarray  # int64 (capacity + 1,): open slots in opening order
    snapshot: np.ndarray  # int64 (capacity + 1,): a copy a step walks while positions close
    entries: np.ndarray  # entry_dt (capacity,): pending entries in queue order
    held: np.ndarray  # bool (S, N): held or pending entry, per sleeve
    open_count: np.ndarray  # int64 (S,)
    pending_count: np.ndarray  # int64 (S,)
    realised: np.ndarray  # float64 (S,): closed trades' pnl, in close order
    counts: np.ndarray  # int64 (2,): B_ORDER, B_ENTRIES


@whole_argument
class Journal(NamedTuple):
    """What the engine writes: trade records (in opening order) and fill records (in fill order)."""

    trades: np.ndarray  # trade_dt
    fills: np.ndarray  # fill_dt
    counts: np.ndarray  # int64 (2,): J_TRADES, J_FILLS


@whole_argument
class Curves(NamedTuple):
    """One row per session ``start..end``."""

    equity: np.ndarray
    cash: np.ndarray
    positions: np.ndarray  # int64
    exposure: np.ndarray
    sleeve: np.ndarray  # (S, sessions)


def new_book(n_sleeves: int, n_symbols: int, capacity: int, n_rules: int, queue: int) -> Book:
    """An empty :class:`Book` for ``capacity`` positions."""
    return Book(
        pos=np.zeros(capacity, dtype=position_dt),
        trail=np.full((capacity, n_rules), np.nan),
        levels=np.zeros((capacity, n_rules), dtype=np.int64),
        pq_shares=np.zeros((capacity, queue), dtype=np.int64),
        pq_reason=np.zeros((capacity, queue), dtype=np.int64),
        order=np.zeros(capacity + 1, dtype=np.int64),
        snapshot=np.zeros(capacity + 1, dtype=np.int64),
        entries=np.zeros(capacity, dtype=entry_dt),
        held=np.zeros((n_sleeves, n_symbols), dtype=np.bool_),
        open_count=np.zeros(n_sleeves, dtype=np.int64),
        pending_count=np.zeros(n_sleeves, dtype=np.int64),
        realised=np.zeros(n_sleeves),
        counts=np.zeros(2, dtype=np.int64),
    )


def new_curves(n_sleeves: int, n_sessions: int) -> Curves:
    """Zeroed curves for ``n_sessions`` rows."""
    return Curves(
        equity=np.zeros(n_sessions),
        cash=np.zeros(n_sessions),
        positions=np.zeros(n_sessions, dtype=np.int64),
        exposure=np.zeros(n_sessions),
        sleeve=np.zeros((n_sleeves, n_sessions)),
    )
