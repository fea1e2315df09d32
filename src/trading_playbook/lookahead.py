"""The no-lookahead proof: a backtest's past must not depend on its future.

:func:`check_lookahead` takes any engine as a callable ``run(panel) -> (trades, equity)`` and, for
several sessions T:

1. **Truncated**: runs on the panel cut after T. Every fill (entries, partial exits, final exits)
   and every equity row strictly before T must equal the full run's. Positions the cut run closes at
   T (END_OF_TEST) are not compared, nor is anything at T itself.
2. **Random future**: runs on a panel whose bars after T are replaced by a random walk continuing
   from each symbol's last bar (OHLCV, the split column and the adjustment factors kept, so earlier
   adjusted prices do not move; ``raw_close`` follows the kept factor ``raw / adjusted``). Every fill
   and every equity row up to and including T must equal the full run's, and with
   ``entry_fill="next_open"`` the entries filled at T+1 (decided at T's close) must name the same
   (sleeve, symbol) pairs. A decision that peeks one bar ahead sees a different future here, which
   a plain cut cannot show (the cut run has no bar after T at all).

Cut points default to ``n_cuts`` sessions spread over the full run's equity curve, moved to sessions
where no symbol is inside a data gap (a gap at T would turn into END_OF_DATA in the cut run, a
legitimate difference that is not lookahead).

Examples
--------
>>> from trading_playbook.core.simulate.fast import run_fast  # doctest: +SKIP
>>> report = check_lookahead(lambda p: run_fast(p, sleeves, settings, start=60, end=p.n_sessions - 1), panel)  # doctest: +SKIP
>>> report.passed, report.first_mismatch  # doctest: +SKIP
(True, None)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np

from trading_playbook.core.errors import SimulationError
from trading_playbook.core.panel import Panel
from trading_playbook.core.types import EquityCurve, Trade

__all__ = ["CutCheck", "LookaheadReport", "check_lookahead", "random_future"]

RunFn = Callable[[Panel], tuple[list[Trade], EquityCurve]]
Mode = Literal["truncated", "random_future"]


@dataclass(frozen=True)
class CutCheck:
    """One comparison: the full run against a run on altered data after session ``session``."""

    session: int
    date: dt.date
    mode: Mode
    compared_fills: int
    compared_rows: int
    mismatch: str | None = None

    @property
    def passed(self) -> bool:
        return self.mismatch is None


@dataclass(frozen=True)
class LookaheadReport:
    """The outcome of :func:`check_lookahead`: passed, every check, and the first mismatch."""

    passed: bool
    checks: tuple[CutCheck, ...]
    first_mismatch: str | None

    def summary(self) -> str:
        """A few lines for a terminal."""
        lines = [
            f"no-lookahead check: {'PASSED' if self.passed else 'FAILED'} ({len(self.checks)} comparisons)"
        ]
        for c in self.checks:
            state = "ok" if c.passed else f"MISMATCH: {c.mismatch}"
            lines.append(
                f"  T={c.date.isoformat()} {c.mode:<13} {c.compared_fills:>6} fills {c.compared_rows:>6} rows  {state}"
            )
        return "\n".join(lines)


# ---------------------------------------------------------------------------------------- events
Event = tuple[Any, ...]


def _events(trades: list[Trade], *, before: dt.date, inclusive: bool, skip_end_of_test: bool) -> list[Event]:
    """Every fill of ``trades`` dated before ``before`` (or on it, when ``inclusive``), as tuples."""

    def within(day: dt.date) -> bool:
        return day <= before if inclusive else day < before

    out: list[Event] = []
    for t in trades:
        key = (t.sleeve, t.symbol, t.entry_date.isoformat())
        if within(t.entry_date):
            out.append(("entry", *key, t.entry_price, t.shares, t.initial_stop))
        for p in t.partial_exits:
            if within(p.date):
                out.append(("partial", *key, p.date.isoformat(), p.shares, p.price, p.reason))
        if within(t.exit_date) and not (skip_end_of_test and t.exit_reason == "END_OF_TEST"):
            out.append(
                ("exit", *key, t.exit_date.isoformat(), t.exit_reason, t.exit_price, t.pnl, t.mfe, t.mae)
            )
    out.sort(key=repr)
    return out


def _first_difference(full: list[Event], other: list[Event], rtol: float) -> str | None:
    full_set = {repr(e): e for e in full}
    other_set = {repr(e): e for e in other}
    if rtol == 0.0 or len(full) != len(other):
        missing = [e for k, e in full_set.items() if k not in other_set]
        extra = [e for k, e in other_set.items() if k not in full_set]
        if missing or extra:
            first = sorted(missing + extra, key=lambda e: (e[3], repr(e)))[0]
            side = "only in the full run" if first in missing else "only in the altered run"
            return f"fill {first} {side}"
        return None
    for a, b in zip(full, other, strict=True):
        if not _same_event(a, b, rtol):
            return f"fill {a} (full run) != {b} (altered run)"
    return None


def _same_event(a: Event, b: Event, rtol: float) -> bool:
    if len(a) != len(b):
        return False
    for x, y in zip(a, b, strict=True):
        if isinstance(x, float) and isinstance(y, float):
            if not abs(x - y) <= rtol * max(abs(x), abs(y)):
                return False
        elif x != y:
            return False
    return True


def _rows_difference(
    full: EquityCurve, other: EquityCurve, last: np.datetime64, inclusive: bool, rtol: float
) -> tuple[int, str | None]:
    def rows(curve: EquityCurve) -> np.ndarray:
        dates = curve.dates.astype("datetime64[D]")
        mask = dates <= last if inclusive else dates < last
        return np.flatnonzero(mask)

    a, b = rows(full), rows(other)
    if a.shape != b.shape or not np.array_equal(full.dates[a], other.dates[b]):
        return int(a.shape[0]), f"equity curves cover different sessions before {last}"
    for name in ("equity", "cash", "positions"):
        x = np.asarray(getattr(full, name)[a], dtype=np.float64)
        y = np.asarray(getattr(other, name)[b], dtype=np.float64)
        bad = np.flatnonzero(~(np.abs(x - y) <= rtol * np.maximum(np.abs(x), np.abs(y))))
        if bad.size:
            i = int(bad[0])
            return int(
                a.shape[0]
            ), f"{name} on {full.dates[a][i]}: {x[i]!r} (full run) != {y[i]!r} (altered run)"
    return int(a.shape[0]), None


def _next_open_entries(trades: list[Trade], day: dt.date) -> list[tuple[str, str]]:
    return sorted((t.sleeve, t.symbol) for t in trades if t.entry_date == day)


# ---------------------------------------------------------------------------------------- data
def random_future(panel: Panel, last: int, seed: int = 0, volatility: float = 0.02) -> Panel:
    """``panel`` with every bar after session ``last`` replaced by a random walk.

    Each symbol's walk continues from its last close at or before ``last`` (a symbol without one starts
    from its real first close): ``open = prev_close * exp(e1)``, ``close = open * exp(e2)``,
    ``high = max(open, close) * exp(|e3|)``, ``low = min(open, close) * exp(-|e4|)`` with normal
    shocks of scale ``volatility`` (``e1`` half of it), volume = the last real volume times a
    log-normal factor. Bars exist exactly where the original has them; the split column and the
    adjustment factor ``raw_close / close`` of every session are kept, so prices up to ``last`` are
    untouched and ``raw_close`` stays consistent with the adjusted close.
    """
    n_sessions, n_symbols = panel.close.shape
    if not 0 <= last < n_sessions:
        raise SimulationError(f"cut session {last} is outside the panel's 0..{n_sessions - 1}")
    rng = np.random.default_rng(seed)
    avail = panel.available
    tail = avail[last + 1 :]
    n_tail = tail.shape[0]
    with np.errstate(invalid="ignore", divide="ignore"):
        factor = np.where(tail, panel.raw_close[last + 1 :] / panel.close[last + 1 :], np.nan)
    # each walk starts from the symbol's last close (and volume) at or before ``last``, else its first bar
    head = avail[: last + 1]
    seen = head.any(axis=0)
    cols = np.arange(n_symbols)
    last_row = last - np.argmax(head[::-1], axis=0)
    first_row = last + 1 + np.argmax(tail, axis=0)
    anchor_row = np.where(seen, last_row, np.minimum(first_row, n_sessions - 1))
    base_close = panel.close[anchor_row, cols]
    base_volume = panel.volume[anchor_row, cols]
    shocks = rng.standard_normal((4, n_tail, n_symbols)) * volatility
    gap, body = shocks[0] * 0.5, shocks[1]
    # log close moves only on the symbol's own bars: prev_close * exp(gap) is the open, * exp(body) the close
    steps = np.where(tail, gap + body, 0.0)
    close = base_close * np.exp(np.cumsum(steps, axis=0))
    open_ = close * np.exp(-body)
    high = np.maximum(open_, close) * np.exp(np.abs(shocks[2]))
    low = np.minimum(open_, close) * np.exp(-np.abs(shocks[3]))
    volume = np.round(base_volume * np.exp(rng.standard_normal((n_tail, n_symbols)) * 0.5))
    arrays: dict[str, np.ndarray] = {}
    for name, future in (
        ("open", open_),
        ("high", high),
        ("low", low),
        ("close", close),
        ("volume", volume),
        ("raw_close", close * factor),
    ):
        values = np.array(getattr(panel, name), dtype=np.float64, copy=True)
        values[last + 1 :] = np.where(tail, future, np.nan)
        arrays[name] = values
    return replace(
        panel,
        open=arrays["open"],
        high=arrays["high"],
        low=arrays["low"],
        close=arrays["close"],
        volume=arrays["volume"],
        raw_close=arrays["raw_close"],
    )


def _clean_cuts(panel: Panel, candidates: Sequence[int]) -> list[int]:
    """Move each cut to the nearest session where no symbol sits inside a data gap."""
    avail = panel.available
    n = avail.shape[0]
    before = np.maximum.accumulate(avail, axis=0)
    after = np.maximum.accumulate(avail[::-1], axis=0)[::-1]
    in_gap = before & ~avail
    in_gap[:-1] &= after[1:]
    in_gap[-1] = False
    clean = ~in_gap.any(axis=1)
    out: list[int] = []
    for c in candidates:
        for step in range(n):
            found = next((x for x in (c + step, c - step) if 0 <= x < n - 1 and clean[x]), None)
            if found is not None:
                out.append(found)
                break
        else:
            out.append(c)
    return sorted(set(out))


def _default_cuts(panel: Panel, curve: EquityCurve, n_cuts: int, start: int | None) -> list[int]:
    if len(curve) < 3:
        raise SimulationError("the backtest covers fewer than 3 sessions; nothing to check for lookahead")
    first = panel.session_index(curve.dates[0])
    if start is not None:
        first = max(first, start)
    last = panel.session_index(curve.dates[-1])
    span = last - 1 - first
    picks = [first + round(span * (i + 1) / (n_cuts + 1)) for i in range(n_cuts)]
    return _clean_cuts(panel, picks)


def _infer_entry_fill(trades: list[Trade], panel: Panel) -> str | None:
    """``"next_open"`` or ``"close"`` when every entry price is one constant multiple (1 + slippage) of
    its session's open, or of its close; None when neither holds (or there are no trades)."""
    if not trades:
        return None
    days = np.array([t.entry_date for t in trades], dtype="datetime64[D]")
    rows = np.searchsorted(panel.sessions.astype("datetime64[D]"), days)
    cols = np.array([panel.symbol_index(t.symbol) for t in trades], dtype=np.int64)
    price = np.array([t.entry_price for t in trades], dtype=np.float64)
    for mode, base in (("next_open", panel.open), ("close", panel.close)):
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = price / base[rows, cols]
        if np.all(np.isfinite(ratio)) and np.ptp(ratio) <= 1e-9 * float(np.max(np.abs(ratio))):
            return mode
    return None


# ---------------------------------------------------------------------------------------- check
def check_lookahead(
    run: RunFn,
    panel: Panel,
    *,
    cut_points: Sequence[int] | None = None,
    n_cuts: int = 4,
    seed: int = 0,
    start: int | None = None,
    entry_fill: Literal["next_open", "close", "auto"] = "auto",
    rtol: float = 0.0,
) -> LookaheadReport:
    """Prove that ``run`` decides nothing with data from the future (see the module docstring).

    Parameters
    ----------
    run
        The backtest as a function of the data: ``run(panel) -> (trades, equity)``. It must choose its
        last session from the panel it is given (``end = panel.n_sessions - 1``).
    panel
        The full data.
    cut_points
        Session indices T to cut after (each must leave at least one session after it); by default
        ``n_cuts`` clean sessions spread over the backtest.
    seed
        Seed of the random futures (cut k uses ``seed + k``).
    start
        First backtest session (default cut points are spread after it; by default the first session
        of the full run's equity curve).
    entry_fill
        The run's entry fill; with ``"next_open"`` the entries filled right after T are compared too.
        ``"auto"`` infers it from the full run's entry prices (every entry price is the same multiple
        of its session's open, or of its close); when it cannot tell, that comparison is skipped.
    rtol
        Relative tolerance on prices and equity (0: exact, what a deterministic engine gives).

    Returns
    -------
    LookaheadReport
    """
    full_trades, full_curve = run(panel)
    cuts = list(cut_points) if cut_points is not None else _default_cuts(panel, full_curve, n_cuts, start)
    fill_mode = _infer_entry_fill(full_trades, panel) if entry_fill == "auto" else entry_fill
    checks: list[CutCheck] = []
    modes: tuple[Mode, Mode] = ("truncated", "random_future")
    for k, cut in enumerate(cuts):
        if not 0 <= cut < panel.n_sessions - 1:
            raise SimulationError(
                f"cut point {cut} must leave at least one session after it (0..{panel.n_sessions - 2})"
            )
        day = dt.date.fromisoformat(str(panel.sessions[cut].astype("datetime64[D]")))
        stamp = panel.sessions[cut].astype("datetime64[D]")
        for mode in modes:
            altered = panel.truncate(cut) if mode == "truncated" else random_future(panel, cut, seed + k)
            trades, curve = run(altered)
            inclusive = mode == "random_future"
            full_events = _events(full_trades, before=day, inclusive=inclusive, skip_end_of_test=False)
            other_events = _events(trades, before=day, inclusive=inclusive, skip_end_of_test=not inclusive)
            mismatch = _first_difference(full_events, other_events, rtol)
            n_rows, row_mismatch = _rows_difference(full_curve, curve, stamp, inclusive, rtol)
            mismatch = mismatch or row_mismatch
            if mismatch is None and inclusive and fill_mode == "next_open":
                nxt = dt.date.fromisoformat(str(panel.sessions[cut + 1].astype("datetime64[D]")))
                want, got = _next_open_entries(full_trades, nxt), _next_open_entries(trades, nxt)
                if want != got:
                    mismatch = f"entries filled at the open of {nxt} (decided at {day}'s close): {want} (full run) != {got} (altered run)"
            checks.append(CutCheck(cut, day, mode, len(full_events), n_rows, mismatch))
    first = next((c for c in checks if not c.passed), None)
    first_text = None if first is None else f"T={first.date.isoformat()} ({first.mode}): {first.mismatch}"
    return LookaheadReport(passed=first is None, checks=tuple(checks), first_mismatch=first_text)
