"""Is a cached source complete? What is missing, why, and the command that repairs it.

A source is **complete** when every expected symbol (``Catalog.expected``: every symbol a write set out
to store) has a stored file and no ingest or fetch of it was left unfinished. Otherwise it is

- ``writing``: an ingest or fetch is running right now (its lock file is held);
- ``interrupted``: an ingest or fetch was killed or failed, and no later one that finished stored all
  of its symbols again (symbols it did store may hold the new data, others the old: a mix);
- ``incomplete``: expected symbols are missing (quarantined after failing a checksum, or never
  written).

``playbook data verify`` fails on anything but ``complete``; a backtest on the source refuses unless
``[data] allow_missing = true`` (``--allow-missing``), and then the run lists what was missing.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from trading_playbook.data.catalog import SymbolEntry, WriteEntry

if TYPE_CHECKING:
    from trading_playbook.data.cache import BarCache

__all__ = ["SourceStatus", "source_status"]


@dataclass(frozen=True)
class SourceStatus:
    """What a cached source should hold, what it holds, and why they differ."""

    source: str
    expected: tuple[str, ...]
    present: tuple[str, ...]
    missing: dict[str, str]  # symbol -> why (quarantined ..., or never stored)
    interrupted: tuple[WriteEntry, ...]  # unfinished writes no later write repaired
    running: tuple[WriteEntry, ...]
    last_write: WriteEntry | None
    repair: str  # the command that restores the source

    @property
    def state(self) -> str:
        """``complete``, ``writing``, ``interrupted`` or ``incomplete`` (see the module docstring)."""
        if self.running:
            return "writing"
        if self.interrupted:
            return "interrupted"
        return "incomplete" if self.missing else "complete"

    @property
    def complete(self) -> bool:
        return self.state == "complete"

    def problems(self, symbols: tuple[str, ...] | None = None) -> list[str]:
        """One line per problem touching ``symbols`` (all when None), each naming the fix."""
        wanted = set(self.expected if symbols is None else symbols)
        lines = []
        for write in self.running:
            if wanted & set(write.symbols):
                lines.append(
                    f"source {self.source!r}: {_describe(write)} is running (since {write.started}); "
                    "wait for it to finish"
                )
        for write in self.interrupted:
            if wanted & set(write.symbols):
                how = "was killed" if write.status == "running" else f"failed ({write.detail})"
                lines.append(
                    f"source {self.source!r}: {_describe(write)} started {write.started} {how} before it "
                    f"finished; its symbols may be missing or hold a mix of old and new data; repair: {self.repair}"
                )
        missing = [s for s in self.missing if s in wanted]
        if missing:
            shown = ", ".join(f"{s} ({self.missing[s]})" for s in missing[:10])
            more = f" and {len(missing) - 10} more" if len(missing) > 10 else ""
            lines.append(
                f"source {self.source!r}: {len(missing)} of {len(self.expected)} expected symbol(s) "
                f"missing: {shown}{more}; repair: {self.repair}"
            )
        return lines


def source_status(cache: BarCache, source: str, entries: Sequence[SymbolEntry] | None = None) -> SourceStatus:
    """The :class:`SourceStatus` of ``source`` in ``cache`` (``entries``: its catalog entries, when
    the caller has just read them)."""
    catalog = cache.catalog
    expected = tuple(catalog.expected(source))
    present = tuple(e.symbol for e in (catalog.entries(source) if entries is None else entries))
    stored = set(present)
    writes = catalog.writes(source)
    running = tuple(w for w in writes if w.status == "running" and cache.write_alive(w.lock))
    unfinished = [w for w in writes if w.status == "failed" or (w.status == "running" and w not in running)]
    interrupted = tuple(w for w in unfinished if not _repaired(w, writes))
    reasons = catalog.quarantine_reasons(source)
    missing = {s: reasons.get(s, _never_stored(s, writes)) for s in expected if s not in stored}
    last = writes[-1] if writes else None
    return SourceStatus(
        source=source,
        expected=expected,
        present=present,
        missing=missing,
        interrupted=interrupted,
        running=running,
        last_write=last,
        repair=repair_command(cache, source, writes, sorted(missing)),
    )


def repair_command(cache: BarCache, source: str, writes: list[WriteEntry], missing: list[str]) -> str:
    """The command that stores ``source`` again: the last ingest rerun, or a fetch of what is missing."""
    ingest = next((w for w in reversed(writes) if w.kind == "ingest"), None)
    fetch = next((w for w in reversed(writes) if w.kind == "fetch"), None)
    cache_dir = _cache_dir_option(cache)
    if ingest is not None and (fetch is None or ingest.id > fetch.id):
        parts = ["playbook", "data", "ingest", ingest.origin, "--source-name", source]
        if ingest.options.get("columns"):
            parts += ["--columns", str(ingest.options["columns"])]
        if ingest.options.get("repair"):
            parts.append("--repair")
        return shlex.join(parts + cache_dir)
    if fetch is not None:
        symbols = missing or list(fetch.symbols)
        parts = ["playbook", "data", "fetch", "--source", "alpaca", "--symbols", ",".join(symbols)]
        for key in ("start", "end", "feed", "adjustment"):
            if fetch.options.get(key):
                parts += [f"--{key}", str(fetch.options[key])]
        return shlex.join(parts + cache_dir)
    return shlex.join(["playbook", "data", "ingest", "PATH", "--source-name", source, *cache_dir]) + (
        " (PATH: the file this source was made from)"
    )


def _repaired(write: WriteEntry, writes: list[WriteEntry]) -> bool:
    """True when a later write finished and stored every symbol of ``write`` again."""
    later = [w for w in writes if w.id > write.id and w.status == "complete"]
    return any(set(write.symbols) <= set(w.symbols) for w in later)


def _never_stored(symbol: str, writes: list[WriteEntry]) -> str:
    last = next((w for w in reversed(writes) if symbol in w.symbols), None)
    if last is None:
        return "never stored"
    return f"never stored: {_describe(last)} started {last.started} did not write it"


def _describe(write: WriteEntry) -> str:
    if write.kind == "ingest":
        return f"the ingest of {write.origin}"
    if write.kind == "fetch":
        return f"the fetch from {write.origin}"
    return f"the {write.kind} write"


def _cache_dir_option(cache: BarCache) -> list[str]:
    """``--cache-dir ROOT`` unless the cache is the default one (env or per-user folder)."""
    from trading_playbook.data.cache import resolve_cache_dir

    return [] if cache.root == resolve_cache_dir() else ["--cache-dir", str(cache.root)]
