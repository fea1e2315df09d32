"""Membership files: read and validate them, and register them by name in the data cache.

A membership file is a CSV with one row per continuous stay of a ticker in the universe::

    ticker,start_date,end_date[,data_symbol]
    AAPL,1982-11-30,
    DOW,1996-01-02,2017-09-01,DOW.OLD

``start_date`` and ``end_date`` are ISO dates, both member days (``end_date`` empty: still a
member). ``data_symbol`` (optional) names the price series that holds the stay when it is not the
ticker (a reused ticker's earlier company, a renamed one). Everything is checked here, once: a bad
row is a one-line :class:`~trading_playbook.core.errors.DataValidationError` naming the file, the line
and the fix.

``[universe] membership`` in a config is a path (relative to the config file's folder) or the name
of a universe registered once with ``playbook data universe add NAME FILE``, which stores a validated
copy under the cache folder (``universes/NAME.csv`` plus ``NAME.json`` with its origin and checksum);
the shared data is never copied into a repository.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import itertools
import json
import os
import re
from pathlib import Path
from typing import Any, Literal

import numpy as np

from trading_playbook._atomic import write_atomically
from trading_playbook.core.errors import CacheError, ConfigError, DataError, DataValidationError
from trading_playbook.core.panel import Panel
from trading_playbook.core.universe import Coverage, Membership, apply_membership

__all__ = [
    "COLUMNS",
    "UniverseStore",
    "apply_universe",
    "coverage_block",
    "is_path",
    "parse_membership",
    "read_membership",
    "resolve_membership",
]

COLUMNS = ("ticker", "start_date", "end_date")
OPTIONAL = ("data_symbol",)
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_FIX_HEADER = "the header must be ticker,start_date,end_date (and optionally data_symbol)"


def _date(text: str, where: str, column: str) -> dt.date:
    try:
        if len(text) != 10:
            raise ValueError
        return dt.date.fromisoformat(text)
    except ValueError:
        raise DataValidationError(
            f"{where}: {column} {text!r} is not a date; write YYYY-MM-DD (e.g. 2001-03-15)"
        ) from None


def _header(row: list[str], source: str) -> dict[str, int]:
    names = [c.strip().lower() for c in row]
    seen: dict[str, int] = {}
    for i, name in enumerate(names):
        if name in seen:
            raise DataValidationError(f"{source} line 1: column {name!r} appears twice; {_FIX_HEADER}")
        if name not in (*COLUMNS, *OPTIONAL):
            raise DataValidationError(f"{source} line 1: unknown column {row[i]!r}; {_FIX_HEADER}")
        seen[name] = i
    missing = [c for c in COLUMNS if c not in seen]
    if missing:
        raise DataValidationError(f"{source} line 1: missing column(s) {', '.join(missing)}; {_FIX_HEADER}")
    return seen


def parse_membership(text: str, source: str) -> Membership:
    """Validate membership CSV ``text`` (``source`` names it in messages) into a :class:`Membership`."""
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    if not rows:
        raise DataValidationError(f"{source}: the file is empty; {_FIX_HEADER}, then one row per stay")
    cols = _header(rows[0], source)
    tickers, starts, ends, symbols, explicit, lines = [], [], [], [], [], []
    for n, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue  # a blank line
        where = f"{source} line {n}"
        if len(row) != len(rows[0]):
            raise DataValidationError(
                f"{where}: {len(row)} fields, the header has {len(rows[0])}; one value per column "
                "(an empty end_date still needs its comma)"
            )
        ticker = row[cols["ticker"]].strip().upper()
        if not ticker:
            raise DataValidationError(f"{where}: the ticker is empty; write the symbol in the ticker column")
        start = _date(row[cols["start_date"]].strip(), f"{where} ({ticker})", "start_date")
        end_text = row[cols["end_date"]].strip()
        end = _date(end_text, f"{where} ({ticker})", "end_date") if end_text else None
        if end is not None and end < start:
            raise DataValidationError(
                f"{where} ({ticker}): end_date {end} is before start_date {start}; "
                "fix the dates (both are member days)"
            )
        mapped = row[cols["data_symbol"]].strip().upper() if "data_symbol" in cols else ""
        tickers.append(ticker)
        starts.append(start)
        ends.append(end)
        symbols.append(mapped or ticker)
        explicit.append(bool(mapped))
        lines.append(n)
    if not tickers:
        raise DataValidationError(f"{source}: no membership rows; add one row per stay under the header")
    membership = Membership(
        ticker=tuple(tickers),
        start=np.array(starts, dtype="datetime64[D]"),
        end=np.array([e if e is not None else "NaT" for e in ends], dtype="datetime64[D]"),
        data_symbol=tuple(symbols),
        explicit=np.array(explicit, dtype=bool),
        line=np.array(lines, dtype=np.int64),
        source=source,
    )
    _check_overlaps(membership, membership.ticker, "ticker")
    _check_overlaps(membership, membership.data_symbol, "data_symbol")
    return membership


def _check_overlaps(m: Membership, keys: tuple[str, ...], what: str) -> None:
    """Two stays of one ticker (or of one price series) may not share a day."""
    far = np.datetime64("9999-12-31", "D")
    ends = m.end_or(far)
    groups: dict[str, list[int]] = {}
    for i, key in enumerate(keys):
        groups.setdefault(key, []).append(i)
    for key, idx in groups.items():
        if len(idx) < 2:
            continue
        order = sorted(idx, key=lambda i: (m.start[i], m.line[i]))
        for a, b in itertools.pairwise(order):
            if m.start[b] <= ends[a]:
                end = "" if np.isnat(m.end[a]) else str(m.end[a])
                owners = "" if what == "ticker" else f" (tickers {m.ticker[a]} and {m.ticker[b]})"
                raise DataValidationError(
                    f"{m.source} lines {m.line[a]} and {m.line[b]}: {what} {key}{owners} has overlapping "
                    f"stays {m.start[a]}..{end} and {m.start[b]}..; merge them into one row or fix "
                    "the dates (a stay ends on its last member day)"
                )


def read_membership(path: str | os.PathLike[str]) -> Membership:
    """Read and validate a membership CSV file."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(f"membership file {p} does not exist; check [universe] membership") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"membership file {p} cannot be read ({exc}); it must be a UTF-8 CSV") from exc
    return parse_membership(text, str(p))


def is_path(spec: str) -> bool:
    """True when ``[universe] membership`` names a file rather than a registered universe."""
    return "/" in spec or "\\" in spec or spec.lower().endswith(".csv") or spec.startswith(".")


def resolve_membership(spec: str, *, base_dir: Path | None, cache_dir: str | None) -> Membership:
    """The membership a config names: a file (relative to ``base_dir``) or a registered universe."""
    if is_path(spec):
        given = Path(spec).expanduser()
        path = given if given.is_absolute() else (base_dir or Path.cwd()) / given
        if not path.is_file():
            raise ConfigError(
                f"[universe] membership = {spec!r}: {os.path.normpath(path)} does not exist "
                "(paths are relative to the config file's folder); check the path, or register the "
                "file once with: playbook data universe add NAME FILE"
            )
        return read_membership(path)
    return UniverseStore(cache_dir).load(spec)


class UniverseStore:
    """Registered universes: validated copies under ``<cache folder>/universes/``."""

    def __init__(self, cache_dir: str | os.PathLike[str] | None = None) -> None:
        from trading_playbook.data.cache import resolve_cache_dir

        cache = resolve_cache_dir(cache_dir)
        if cache.exists() and not cache.is_dir():
            raise CacheError(
                f"cannot use {cache.absolute()} as the cache folder (it is a file); pass a folder with "
                "--cache-dir or set PLAYBOOK_CACHE_DIR"
            )
        self.root = cache / "universes"

    @staticmethod
    def check_name(name: str) -> str:
        if not _NAME.match(name):
            raise ConfigError(
                f"universe name {name!r} is not valid; use lower-case letters, digits, - and _ "
                "(e.g. sp500), starting with a letter or digit"
            )
        return name

    def names(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.stem for p in self.root.glob("*.json") if (self.root / f"{p.stem}.csv").is_file())

    def info(self, name: str) -> dict[str, Any]:
        """The registration record of ``name`` (origin, checksum, counts, dates)."""
        self._require(name)
        return json.loads((self.root / f"{name}.json").read_text(encoding="utf-8"))  # type: ignore[no-any-return]

    def load(self, name: str) -> Membership:
        """The registered universe ``name`` (validated again: the copy must not have changed)."""
        self._require(name)
        path = self.root / f"{name}.csv"
        text = path.read_text(encoding="utf-8")
        meta = self.info(name)
        if hashlib.sha256(text.encode()).hexdigest() != meta.get("sha256"):
            raise DataError(
                f"the registered universe {name!r} ({path}) was changed after it was registered; "
                f"register it again: playbook data universe add {name} FILE --replace"
            )
        return parse_membership(text, f"universe {name} ({path})")

    def add(self, name: str, path: str | os.PathLike[str], *, replace: bool = False) -> dict[str, Any]:
        """Validate ``path`` and store a copy as universe ``name``; returns its registration record."""
        self.check_name(name)
        if name in self.names() and not replace:
            raise ConfigError(
                f"universe {name!r} is already registered (from {self.info(name).get('origin')}); "
                "pass --replace to register the new file under this name, or choose another name"
            )
        membership = read_membership(path)
        text = _normalised(membership)
        far = np.datetime64("9999-12-31", "D")
        ended = membership.end[~np.isnat(membership.end)]
        last = max(membership.start.max(), ended.max()) if ended.size else membership.start.max()
        meta = {
            "name": name,
            "origin": str(Path(path).resolve()),
            "sha256": hashlib.sha256(text.encode()).hexdigest(),
            "registered_at": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
            "stays": len(membership),
            "tickers": len(set(membership.ticker)),
            "first_date": str(membership.start.min()),
            "last_date": str(last),
            "current_members": int(np.sum(membership.end_or(far) == far)),
            "fingerprint": membership.fingerprint,
        }
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            write_atomically(self.root / f"{name}.csv", text.encode("utf-8"))
            write_atomically(
                self.root / f"{name}.json",
                (json.dumps(meta, indent=2, sort_keys=True) + "\n").encode("utf-8"),
            )
        except OSError as exc:
            raise CacheError(
                f"cannot write universe {name!r} into {self.root} ({exc.strerror or exc}); pass a writable "
                "folder with --cache-dir or set PLAYBOOK_CACHE_DIR"
            ) from exc
        return meta

    def remove(self, name: str) -> None:
        self._require(name)
        (self.root / f"{name}.json").unlink()
        (self.root / f"{name}.csv").unlink()

    def _require(self, name: str) -> None:
        self.check_name(name)
        if name not in self.names():
            known = ", ".join(self.names()) or "none"
            raise ConfigError(
                f"no universe named {name!r} is registered in {self.root} (registered: {known}); "
                f"register it once with: playbook data universe add {name} FILE"
            )


def _normalised(m: Membership) -> str:
    """The canonical CSV of a membership (data_symbol written only where the file gave one)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    mapped = bool(m.explicit.any())
    writer.writerow([*COLUMNS, *(["data_symbol"] if mapped else [])])
    for i in range(len(m)):
        end = "" if np.isnat(m.end[i]) else str(m.end[i])
        row = [m.ticker[i], str(m.start[i]), end]
        if mapped:
            row.append(m.data_symbol[i] if m.explicit[i] else "")
        writer.writerow(row)
    return out.getvalue()


def apply_universe(
    panel: Panel,
    *,
    membership: str,
    policy: str = "hold",
    reused_tickers: Literal["split", "refuse"] = "split",
    reuse_gap_days: int = 365,
    base_dir: Path | None = None,
    cache_dir: str | None = None,
) -> tuple[Panel, Coverage, dict[str, Any]]:
    """A loaded panel traded in the universe ``membership`` (a file or a registered name).

    Returns the panel with its :class:`~trading_playbook.core.universe.MembershipMask` (and any
    reused series cut), the coverage of every session, and the run-info entries that name the
    universe.
    """
    members = resolve_membership(membership, base_dir=base_dir, cache_dir=cache_dir)
    traded, covered = apply_membership(
        panel, members, policy=policy, reused_tickers=reused_tickers, gap_days=reuse_gap_days
    )
    info = {
        "universe": membership,
        "universe_policy": policy,
        "universe_fingerprint": members.fingerprint,
        "universe_stays": len(members),
    }
    return traded, covered, info


def coverage_block(covered: Coverage, info: dict[str, Any]) -> dict[str, Any]:
    """The ``data.coverage`` block of ``result.json`` for the run's sessions."""
    members = covered.members
    return {
        "universe": info.get("universe"),
        "policy": info.get("universe_policy"),
        "fingerprint": info.get("universe_fingerprint"),
        "member_days": covered.member_days,
        "member_days_with_data": int(covered.with_data.sum()),
        "member_days_with_bar": int(covered.with_bar.sum()),
        "unseen_share": covered.unseen_share,
        "no_data_share": covered.no_data_share,
        "split_series": [s.line() for s in covered.splits],
        "sessions": {
            "date": covered.sessions.astype("datetime64[D]").astype(str).tolist(),
            "members": members.tolist(),
            "with_data": covered.with_data.tolist(),
            "without_data": (members - covered.with_data).tolist(),
            "with_bar": covered.with_bar.tolist(),
        },
    }
