"""Point-in-time universes: which symbols may be traded on which session (pure, no I/O).

A :class:`Membership` is a validated list of membership intervals (``ticker``, ``start``, ``end``
inclusive, NaT = still a member, and the ``data_symbol`` whose price series holds that stay; the
adapter :mod:`trading_playbook.data.universe` reads and checks the file). Applied to a loaded
:class:`~trading_playbook.core.panel.Panel` it gives:

- :func:`split_reused_tickers`: one price series is never shared by two member stays separated by a
  long gap (a ticker reused by another company, or one that left and came back): the series is cut
  at the gap into two symbols, so no indicator, setup or position spans the two histories;
- :func:`membership_mask`: the (sessions x symbols) :class:`MembershipMask` the engines read (member
  on session t, member on the session after t, and the policy for a stock that leaves while held);
- :func:`coverage`: per session, the members, the members whose price series is in the data, and the
  members with a bar that session.

Membership on session t is known at t. The end of a stay is treated as known at its last member
day's close: an index removal is announced days before it takes effect, and index funds sell at
that close (policy ``exit``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Literal

import numpy as np

from trading_playbook.core.errors import DataError
from trading_playbook.core.types import Setup, SetupTable

if TYPE_CHECKING:
    from trading_playbook.core.panel import Panel

__all__ = [
    "Coverage",
    "Membership",
    "MembershipMask",
    "Policy",
    "SeriesSplit",
    "apply_membership",
    "coverage",
    "cut_series",
    "member_setups",
    "members_only",
    "membership_mask",
    "split_reused_tickers",
]

Policy = Literal["hold", "exit"]
POLICIES: tuple[str, ...] = ("hold", "exit")


@dataclass(frozen=True, eq=False)
class Membership:
    """Validated membership intervals, one entry per continuous stay (arrays of equal length).

    ``end`` is inclusive (the last member day); NaT means still a member. ``data_symbol`` names the
    price series that holds the stay (the ticker unless the file maps it); ``explicit`` is True where
    the file named it (the user's statement of which company it is). ``line`` is the row's line in
    the file (for messages), ``source`` the file or registered name.
    """

    ticker: tuple[str, ...]
    start: np.ndarray  # datetime64[D]
    end: np.ndarray  # datetime64[D], NaT: still a member
    data_symbol: tuple[str, ...]
    explicit: np.ndarray  # bool
    line: np.ndarray  # int64
    source: str = "<membership>"

    def __len__(self) -> int:
        return len(self.ticker)

    @property
    def fingerprint(self) -> str:
        """Content hash of the intervals (stable across runs and file formatting)."""
        h = hashlib.blake2b(digest_size=12)
        for i in range(len(self)):
            h.update(f"{self.ticker[i]},{self.start[i]},{self.end[i]},{self.data_symbol[i]};".encode())
        return h.hexdigest()

    def end_or(self, fill: np.datetime64) -> np.ndarray:
        """``end`` with NaT (still a member) replaced by ``fill``."""
        return np.where(np.isnat(self.end), fill, self.end)

    def with_data_symbols(self, symbols: tuple[str, ...]) -> Membership:
        """The same stays mapped to other price series (after a split)."""
        return replace(self, data_symbol=tuple(symbols))


@dataclass(frozen=True, eq=False)
class MembershipMask:
    """What the engines read, aligned with a panel (sessions x symbols).

    ``member[t, j]``: symbol j is a member on session t. ``member_next[t, j]``: it is a member on the
    session after t (on the panel's last session: on the next calendar day). ``policy`` ``hold``: a
    position in a stock that leaves exits as usual; ``exit``: it is sold at the close of its last
    member day (reason UNIVERSE_EXIT), and a stock gets no setup on that day (it could not be held).
    """

    member: np.ndarray  # bool (T, N)
    member_next: np.ndarray  # bool (T, N)
    policy: str = "hold"

    @property
    def exits(self) -> bool:
        return self.policy == "exit"

    def eligible(self) -> np.ndarray:
        """bool (T, N): where a setup may be taken (member that session; under ``exit`` also the next)."""
        return self.member & self.member_next if self.exits else self.member

    def leaving(self) -> np.ndarray:
        """bool (T, N): where a held position must be sold at the close (``exit`` only; else all False)."""
        if not self.exits:
            return np.zeros_like(self.member)
        return ~self.member_next

    def truncate(self, last: int) -> MembershipMask:
        return replace(self, member=self.member[: last + 1], member_next=self.member_next[: last + 1])

    def take(self, rows: np.ndarray, cols: np.ndarray) -> MembershipMask:
        grid = np.ix_(rows, cols)
        return replace(self, member=self.member[grid], member_next=self.member_next[grid])


@dataclass(frozen=True)
class SeriesSplit:
    """One price series cut at a gap between member stays: bars up to ``at`` became ``earlier``."""

    symbol: str
    earlier: str
    at: str  # ISO date: the last day of the earlier stays
    gap_days: int
    stays: tuple[str, str]  # the two stays around the gap, "start..end"

    def line(self) -> str:
        return (
            f"{self.symbol}: bars up to {self.at} are {self.earlier} (stays {self.stays[0]} and "
            f"{self.stays[1]} are {self.gap_days} days apart)"
        )


@dataclass(frozen=True)
class Coverage:
    """Per session of a panel: members, members whose price series is loaded, members with a bar."""

    sessions: np.ndarray  # datetime64[D] (T,)
    members: np.ndarray  # int64 (T,)
    with_data: np.ndarray  # int64 (T,)
    with_bar: np.ndarray  # int64 (T,)
    splits: tuple[SeriesSplit, ...] = field(default=())

    def window(self, lo: int, hi: int) -> Coverage:
        rows = slice(lo, hi + 1)
        return replace(
            self,
            sessions=self.sessions[rows],
            members=self.members[rows],
            with_data=self.with_data[rows],
            with_bar=self.with_bar[rows],
        )

    @property
    def member_days(self) -> int:
        return int(self.members.sum())

    @property
    def unseen_share(self) -> float:
        """Share of member-days without a bar (the run could not see that member that day)."""
        total = self.member_days
        return float(1.0 - self.with_bar.sum() / total) if total else 0.0

    @property
    def no_data_share(self) -> float:
        """Share of member-days whose price series is not in the data at all."""
        total = self.member_days
        return float(1.0 - self.with_data.sum() / total) if total else 0.0


# ---------------------------------------------------------------------------------------- splitting
def _groups(order: np.ndarray, start: np.ndarray, end: np.ndarray, gap_days: int) -> list[list[int]]:
    """Consecutive stays (sorted by start) joined while the gap between them is at most ``gap_days``."""
    groups: list[list[int]] = []
    for i in order:
        if groups:
            prev = groups[-1][-1]
            if (start[i] - end[prev]).astype(np.int64) <= gap_days:
                groups[-1].append(int(i))
                continue
        groups.append([int(i)])
    return groups


def _has_bars(sessions: np.ndarray, avail: np.ndarray, first: np.datetime64, last: np.datetime64) -> bool:
    lo = int(np.searchsorted(sessions, first, side="left"))
    hi = int(np.searchsorted(sessions, last, side="right"))
    return bool(avail[lo:hi].any())


def _span(membership: Membership, ends: np.ndarray, group: list[int]) -> str:
    first, last = group[0], group[-1]
    end = "" if np.isnat(membership.end[last]) else str(ends[last])
    return f"{membership.start[first]}..{end}"


def split_reused_tickers(
    panel_sessions: np.ndarray,
    panel_symbols: tuple[str, ...],
    available: np.ndarray,
    membership: Membership,
    *,
    gap_days: int = 365,
    mode: Literal["split", "refuse"] = "split",
) -> tuple[Membership, list[tuple[str, str, int]], tuple[SeriesSplit, ...]]:
    """Find price series shared by member stays more than ``gap_days`` apart, with bars on both sides.

    Such a series may join two companies (a reused ticker) or one company that left and came back;
    its history is cut at the end of the earlier stays: bars up to that day become a new symbol
    ``TICKER@START`` (``START`` = the first day of the earlier stays), the rest keeps the ticker. Stays
    whose ``data_symbol`` the file names on both sides of a gap are one series by the user's word and
    are never cut. ``mode="refuse"`` raises instead of cutting.

    Returns the membership mapped to the new symbols, the cuts as ``(symbol, new symbol, last row
    of the earlier part)`` and their descriptions.
    """
    far = np.datetime64("9999-12-31", "D")
    ends = membership.end_or(far)
    cols = {s: j for j, s in enumerate(panel_symbols)}
    mapped = list(membership.data_symbol)
    cuts: list[tuple[str, str, int]] = []
    described: list[SeriesSplit] = []
    by_symbol: dict[str, list[int]] = {}
    for i, symbol in enumerate(membership.data_symbol):
        by_symbol.setdefault(symbol, []).append(i)
    for symbol, rows in sorted(by_symbol.items()):
        j = cols.get(symbol)
        if j is None or len(rows) < 2:
            continue
        idx = np.array(rows)
        order = idx[np.argsort(membership.start[idx], kind="stable")]
        groups = _groups(order, membership.start, ends, gap_days)
        avail = available[:, j]
        boundary = 0  # first group of the part still to be named
        for g in range(len(groups) - 1):
            left, right = groups[g], groups[g + 1]
            if all(membership.explicit[i] for i in (*left, *right)):
                continue  # the file says which series holds each stay
            left_end = ends[left[-1]]
            seen_left = _has_bars(panel_sessions, avail, membership.start[left[0]], left_end)
            seen_right = _has_bars(panel_sessions, avail, membership.start[right[0]], ends[right[-1]])
            if not (seen_left and seen_right):
                continue
            gap = int((membership.start[right[0]] - left_end).astype(np.int64))
            stays = (_span(membership, ends, left), _span(membership, ends, right))
            if mode == "refuse":
                raise DataError(
                    f"{membership.source}: the price series {symbol} has bars in member stays {stays[0]} "
                    f"and {stays[1]} ({gap} days apart; file lines {membership.line[left[-1]]} and "
                    f"{membership.line[right[0]]}): it may join two companies' histories; if it is one "
                    f"company write data_symbol = {symbol} on both rows, if not give the earlier stay "
                    'its own data_symbol (and price history), or set [universe] reused_tickers = "split"'
                )
            new = f"{symbol}@{membership.start[groups[boundary][0]]}"
            for k in range(boundary, g + 1):
                for i in groups[k]:
                    mapped[i] = new
            row = int(np.searchsorted(panel_sessions, left_end, side="right")) - 1
            cuts.append((symbol, new, row))
            described.append(SeriesSplit(symbol, new, str(left_end), gap, stays))
            boundary = g + 1
    return membership.with_data_symbols(tuple(mapped)), cuts, tuple(described)


def cut_series(panel: Panel, cuts: list[tuple[str, str, int]]) -> Panel:
    """``panel`` with each cut ``(symbol, new symbol, last row)`` applied: the symbol's bars after the
    previous cut of that symbol up to ``last row`` move to a new column named ``new symbol``.

    Each earlier part is re-scaled so that its last close equals its raw close (its adjustment uses
    only its own splits, as a series of its own would); the symbols stay in code-point order.
    """
    if not cuts:
        return panel
    from trading_playbook.core.panel import SplitEvents

    names = ("open", "high", "low", "close", "volume", "raw_close")
    kept = {n: np.array(getattr(panel, n), copy=True) for n in names}
    kept_avail = np.array(panel.available, copy=True)
    kept_split = None if panel.split is None else np.array(panel.split, copy=True)
    added: dict[str, list[np.ndarray]] = {n: [] for n in (*names, "available", "split")}
    symbols = list(panel.symbols)
    done: dict[str, int] = {}
    for symbol, new, last in cuts:
        j = panel.symbol_index(symbol)
        first = done.get(symbol, -1) + 1
        done[symbol] = last
        rows = np.zeros(panel.n_sessions, dtype=bool)
        rows[first : last + 1] = True
        seg = rows & panel.available[:, j]
        bars = np.flatnonzero(seg)
        scale = 1.0
        if bars.size and panel.adjustment != "raw":
            scale = float(panel.raw_close[bars[-1], j] / panel.close[bars[-1], j])
        for n in names:
            col = np.where(seg, getattr(panel, n)[:, j], np.nan)
            if n in ("open", "high", "low", "close"):
                col = col * scale
            elif n == "volume":
                col = col / scale
            added[n].append(col)
            kept[n][rows, j] = np.nan
        added["available"].append(seg)
        kept_avail[rows, j] = False
        if kept_split is not None and panel.split is not None:
            added["split"].append(np.where(seg, panel.split[:, j], 1.0))
            kept_split[rows, j] = 1.0
        symbols.append(new)
    order = np.argsort(np.array(symbols, dtype=object), kind="stable")

    def joined(base: np.ndarray, extra: list[np.ndarray]) -> np.ndarray:
        return np.ascontiguousarray(np.concatenate([base, np.stack(extra, axis=1)], axis=1)[:, order])

    return replace(
        panel,
        symbols=tuple(symbols[i] for i in order),
        open=joined(kept["open"], added["open"]),
        high=joined(kept["high"], added["high"]),
        low=joined(kept["low"], added["low"]),
        close=joined(kept["close"], added["close"]),
        volume=joined(kept["volume"], added["volume"]),
        raw_close=joined(kept["raw_close"], added["raw_close"]),
        available=joined(kept_avail, added["available"]),
        splits=None if kept_split is None else SplitEvents.from_grid(joined(kept_split, added["split"])),
        universe=None,
    )


# ---------------------------------------------------------------------------------------- masks
def _rows(sessions: np.ndarray, membership: Membership) -> tuple[np.ndarray, np.ndarray]:
    """Row ranges ``[a, b)`` of the sessions inside each stay."""
    far = np.datetime64("9999-12-31", "D")
    a = np.searchsorted(sessions, membership.start, side="left")
    b = np.searchsorted(sessions, membership.end_or(far), side="right")
    return a.astype(np.int64), b.astype(np.int64)


def membership_mask(
    sessions: np.ndarray,
    symbols: tuple[str, ...],
    membership: Membership,
    policy: str = "hold",
    *,
    next_day: np.datetime64 | None = None,
) -> MembershipMask:
    """The :class:`MembershipMask` of ``membership`` on a panel's sessions and symbols.

    ``member_next`` of the last session is membership on ``next_day`` (default: the calendar day
    after the last session; a paper account may pass the exchange's next session).
    """
    if policy not in POLICIES:
        raise DataError(f"unknown universe policy {policy!r}; use hold or exit")
    sessions = sessions.astype("datetime64[D]")
    n_t, n_s = sessions.shape[0], len(symbols)
    member = np.zeros((n_t, n_s), dtype=bool)
    cols = {s: j for j, s in enumerate(symbols)}
    a, b = _rows(sessions, membership)
    day = (sessions[-1] + np.timedelta64(1, "D")) if next_day is None and n_t else next_day
    after = np.zeros(n_s, dtype=bool)
    far = np.datetime64("9999-12-31", "D")
    ends = membership.end_or(far)
    for i, symbol in enumerate(membership.data_symbol):
        j = cols.get(symbol)
        if j is None:
            continue
        member[a[i] : b[i], j] = True
        if day is not None and membership.start[i] <= day <= ends[i]:
            after[j] = True
    member_next = np.empty_like(member)
    member_next[:-1] = member[1:]
    if n_t:
        member_next[-1] = after
    return MembershipMask(member=member, member_next=member_next, policy=policy)


def coverage(
    sessions: np.ndarray,
    symbols: tuple[str, ...],
    available: np.ndarray,
    membership: Membership,
    mask: MembershipMask,
    splits: tuple[SeriesSplit, ...] = (),
) -> Coverage:
    """Members per session, those whose price series is loaded, and those with a bar that session."""
    sessions = sessions.astype("datetime64[D]")
    n_t = sessions.shape[0]
    a, b = _rows(sessions, membership)
    loaded = set(symbols)
    present = np.array([s in loaded for s in membership.data_symbol], dtype=bool)

    def count(which: np.ndarray) -> np.ndarray:
        steps = np.zeros(n_t + 1, dtype=np.int64)
        np.add.at(steps, a[which], 1)
        np.add.at(steps, b[which], -1)
        return np.cumsum(steps[:-1])

    everyone = np.ones(len(membership), dtype=bool)
    return Coverage(
        sessions=sessions,
        members=count(everyone),
        with_data=count(present),
        with_bar=(mask.member & available).sum(axis=1).astype(np.int64),
        splits=splits,
    )


# ---------------------------------------------------------------------------------------- setups
def members_only(table: SetupTable, eligible: np.ndarray) -> SetupTable:
    """The rows of ``table`` whose symbol is eligible on the row's session (order kept)."""
    if len(table) == 0:
        return table
    rows = np.asarray(table.session_idx, dtype=np.int64)
    inside = rows < eligible.shape[0]
    keep = np.zeros(len(table), dtype=bool)
    keep[inside] = eligible[rows[inside], np.asarray(table.symbol_idx, dtype=np.int64)[inside]]
    if keep.all():
        return table
    return SetupTable(**{name: getattr(table, name)[keep] for name in SetupTable.__dataclass_fields__})


def member_setups(setups: list[Setup], t: int, columns: dict[str, int], eligible: np.ndarray) -> list[Setup]:
    """The setups of session row ``t`` (per-date scanner path) whose symbol is eligible at ``t``
    (``columns``: symbol -> panel column)."""
    return [s for s in setups if s.symbol in columns and bool(eligible[t, columns[s.symbol]])]


def apply_membership(
    panel: Panel,
    membership: Membership,
    *,
    policy: str = "hold",
    reused_tickers: Literal["split", "refuse"] = "split",
    gap_days: int = 365,
) -> tuple[Panel, Coverage]:
    """``panel`` traded in the universe ``membership``: reused series cut (:func:`split_reused_tickers`),
    the :class:`MembershipMask` attached as ``panel.universe``, and the :class:`Coverage` of every
    session of the panel."""
    mapped, cuts, splits = split_reused_tickers(
        panel.sessions, panel.symbols, panel.available, membership, gap_days=gap_days, mode=reused_tickers
    )
    cut = cut_series(panel, cuts)
    mask = membership_mask(cut.sessions, cut.symbols, mapped, policy)
    covered = coverage(cut.sessions, cut.symbols, cut.available, mapped, mask, splits)
    return replace(cut, universe=mask), covered
