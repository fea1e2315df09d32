"""The public loading API: a frozen :class:`DataRequest` in, validated bars or a Panel out.

:class:`DataRequest` is also the ``[data]`` table of a config file: ``config.DataConfig`` *is* this
class, validated by pydantic from TOML (the field annotations carry the strict types and bounds), so
the two can never drift apart.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

from pydantic import BeforeValidator, ConfigDict, Field, Strict

from trading_playbook.core.errors import DataError, SourceError
from trading_playbook.core.panel import ADJUSTMENTS, Panel, panel_from_arrays
from trading_playbook.core.panel_blocks import BarBlock, panel_from_blocks
from trading_playbook.data.cache import BarCache, CacheLoadError, validate_source_name
from trading_playbook.data.model import BarArrays, to_frame
from trading_playbook.data.validate import validate_bars

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

__all__ = ["DataRequest", "iso_date", "load_arrays", "load_bars", "load_panel"]

SOURCES = ("file", "alpaca", "synthetic", "cache")


def _load_threads() -> int:
    """Threads that write a cached source's blocks into the panel: one per core this process may run
    on, at most four (numpy and Arrow release the GIL; each thread holds one block, about 110 MB for
    256 symbols x 25 years)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, min(4, cores))


LOAD_THREADS = _load_threads()


def iso_date(value: Any) -> Any:
    """TOML dates and ``YYYY-MM-DD`` text as ISO text; anything else is an error naming the value."""
    if value is None:
        return None
    if isinstance(value, dt.date):
        return value.isoformat()[:10]
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a date; write YYYY-MM-DD")
    try:
        return dt.date.fromisoformat(value[:10]).isoformat()
    except ValueError:
        raise ValueError(f"{value!r} is not an ISO date (YYYY-MM-DD)") from None


_Str = Annotated[str, Strict()]
_Int = Annotated[int, Strict()]
_IsoDate = Annotated[str | None, BeforeValidator(iso_date)]


@dataclass(frozen=True)
class DataRequest:
    """What data to load.

    Attributes
    ----------
    source
        ``synthetic`` (offline generator), ``file`` (Parquet/CSV at ``path``), ``cache`` (what the
        cache holds for source name ``path``; the only source when ``path`` is None) or ``alpaca``
        (fetched through the cache; needs ``symbols``, ``start``, ``end`` and the env keys).
    adjustment
        ``split`` (default), ``all`` or ``raw`` (RULES section 1).
    symbols
        Empty: every symbol of the source.
    start, end
        ISO dates. For loading, history before ``start`` and data after ``end`` are kept
        (indicator warm-up; split factors use every loaded split); engines cut. They bound what
        Alpaca fetches and the synthetic universe's range (default 2012-01-01..2019-12-31).
    columns
        Column-name mapping for files (old name -> standard name).
    validation
        ``reject`` (default: bad bars raise) or ``repair`` (fixed or dropped, reported).
    url
        Source ``alpaca``: the market-data REST base URL (a proxy or a test server); default
        ``APCA_API_DATA_URL``, else Alpaca's (``data.alpaca_settings``).
    allow_missing
        Load a cached source that is not complete (missing symbols, an interrupted ingest) instead of
        refusing; what was missing is listed in the info dict (``missing_symbols``, ``incomplete``).
    mode
        ``memory`` (default): the whole panel in memory, refused before loading when the estimate
        from the catalog (``data.estimate``) exceeds the memory available. ``chunked``: the data is
        built and scanned in blocks of symbols and only the prices the simulation reads are kept
        (a universe bigger than memory; fast engine; ``trading_playbook.chunked``).
    """

    # pydantic reads this when the dataclass is the ``[data]`` table of a config
    __pydantic_config__: ClassVar[ConfigDict] = ConfigDict(extra="forbid")

    source: Literal["file", "alpaca", "synthetic", "cache"] = "synthetic"
    path: _Str | None = None
    adjustment: Literal["split", "all", "raw"] = "split"
    symbols: tuple[_Str, ...] = ()
    start: _IsoDate = None
    end: _IsoDate = None
    columns: dict[_Str, _Str] = field(default_factory=dict)
    validation: Literal["reject", "repair"] = "reject"
    feed: _Str = "iex"
    synthetic_symbols: Annotated[int, Strict(), Field(ge=1, le=100_000)] = 40
    synthetic_seed: _Int = 7
    cache_dir: _Str | None = None
    allow_missing: Annotated[bool, Strict()] = False
    url: _Str | None = None
    mode: Literal["memory", "chunked"] = "memory"

    def __post_init__(self) -> None:
        object.__setattr__(self, "symbols", tuple(str(s).upper() for s in self.symbols))
        if self.source not in SOURCES:
            raise DataError(f"unknown data source {self.source!r}; use one of {', '.join(SOURCES)}")
        if self.adjustment not in ADJUSTMENTS:
            raise DataError(f"unknown adjustment {self.adjustment!r}; use one of {', '.join(ADJUSTMENTS)}")
        if self.validation not in ("reject", "repair"):
            raise DataError(f"unknown validation policy {self.validation!r}; use reject or repair")
        if self.source == "file" and not self.path:
            raise DataError(
                'source "file" needs path = "..." (a Parquet/CSV file or a folder of per-symbol files)'
            )
        if self.start and self.end and self.start > self.end:
            raise DataError(f"start {self.start} is after end {self.end}")


def load_arrays(
    request: DataRequest, *, progress: bool = False, for_panel: bool = False
) -> tuple[BarArrays, dict[str, Any]]:
    """Validated bars as :class:`BarArrays` plus the info dict (no fingerprint yet).

    ``for_panel``: only the columns a panel of ``request.adjustment`` is built from (the synthetic
    source then skips ``dividend``, and ``adjusted_close`` unless the adjustment is ``all``).
    """
    info: dict[str, Any] = {"source": request.source, "path": request.path, "repairs": []}
    if request.source == "synthetic":
        from trading_playbook.data.synthetic import DEFAULT_END, DEFAULT_START, synthetic_arrays

        bars = synthetic_arrays(
            request.synthetic_symbols,
            request.start or DEFAULT_START,
            request.end or DEFAULT_END,
            request.synthetic_seed,
            columns=panel_columns(request.adjustment) if for_panel else None,
        )
        info["seed"] = request.synthetic_seed
        # the generator's output is a function of its arguments: hashing them is the content hash
        # (hashing a 5,000-symbol panel took over a second)
        info["checksums"] = _synthetic_fingerprint(request)
    elif request.source == "file":
        from trading_playbook.data.files import FileSource

        # a panel reads no adjusted close unless adjustment = "all" (the dividend feeds the data warnings)
        skip = ("adjusted_close",) if for_panel and request.adjustment != "all" else ()
        bars = FileSource(str(request.path), request.columns, skip_columns=skip).fetch_arrays(request.symbols)
    elif request.source == "cache":
        cache = BarCache(request.cache_dir)
        name = request.path or _only_source(cache)
        symbols, incomplete = _complete_selection(cache, name, request)
        try:
            bars = cache.read(name, symbols, adjustment=request.adjustment)
        except CacheLoadError as exc:
            from trading_playbook.data.completeness import source_status

            repair = source_status(cache, validate_source_name(name)).repair
            raise CacheLoadError(f"{exc}; repair: {repair}", exc.symbols) from None
        info.update(incomplete)
        return bars, _cache_info(
            info, cache, name, bars.symbols, request.adjustment
        )  # validated on the way in
    else:
        bars, name, cache = _load_alpaca(request, progress)
        return bars, _cache_info(info, cache, name, bars.symbols, request.adjustment)
    if request.symbols and request.source == "synthetic":
        bars = bars.select(request.symbols)
    bars, report = validate_bars(bars, request.validation)
    info["repairs"] = report.records()
    info["warnings"] = report.warning_records()
    return bars, info


def _cache_info(
    info: dict[str, Any],
    cache: BarCache,
    name: str,
    symbols: tuple[str, ...],
    adjustment: str,
    entries: list[Any] | None = None,
) -> dict[str, Any]:
    """Where cached bars came from, their checksums, and the repairs and warnings stored with them."""
    info["path"] = str(cache.root)
    info["cache_source"] = name
    info["checksums"] = _catalog_fingerprint(cache, name, symbols, adjustment, entries)
    info["repairs"] = cache.catalog.notes(name, "repair", symbols)
    info["warnings"] = cache.catalog.notes(name, "warning", symbols)
    return info


def _complete_selection(
    cache: BarCache, name: str, request: DataRequest, entries: list[Any] | None = None
) -> tuple[tuple[str, ...], dict[str, Any]]:
    """The symbols to read from a cached source, refusing an incomplete one unless allowed.

    Returns the symbols (empty: every stored one) and, when the source is incomplete and
    ``allow_missing`` is set, ``missing_symbols`` and ``incomplete`` (the problems) for the info dict.
    ``entries``: the source's catalog entries when the caller has them.
    """
    from trading_playbook.data.completeness import source_status
    from trading_playbook.data.model import normalize_symbol

    status = source_status(cache, validate_source_name(name), entries)
    wanted = tuple(normalize_symbol(s) for s in request.symbols) or status.expected
    problems = status.problems(wanted)
    if not problems:
        return request.symbols, {}
    if not request.allow_missing:
        raise DataError(
            f"the cached data at {cache.root} is not complete: {' | '.join(problems)}. Or set "
            "[data] allow_missing = true (CLI: --allow-missing) to run on the symbols that are there; "
            "the run then lists the missing ones"
        )
    missing = [s for s in wanted if s in status.missing]
    symbols = tuple(s for s in request.symbols if s not in status.missing)
    if request.symbols and not symbols:
        raise DataError(f"every requested symbol is missing from the cached source {name!r}: {problems[0]}")
    return symbols, {"missing_symbols": missing, "incomplete": problems}


def panel_columns(adjustment: str) -> tuple[str, ...]:
    """The optional bar columns a panel of ``adjustment`` is built from (beside open..volume)."""
    return ("split", "adjusted_close") if adjustment == "all" else ("split",)


def load_bars(request: DataRequest, *, progress: bool = False) -> pd.DataFrame:
    """The validated long bar table (raw prices; categorical symbol; sorted by symbol, date)."""
    bars, _ = load_arrays(request, progress=progress)
    return to_frame(bars)


def load_panel(
    request: DataRequest, *, progress: bool = False, checkpoint: Callable[[], None] | None = None
) -> tuple[Panel, dict[str, Any]]:
    """The adjusted :class:`Panel` and an info dict.

    The info dict holds ``source, path, symbols`` (count), ``first_session, last_session``,
    ``fingerprint`` (content hash: of the catalog checksums for cache/alpaca, of the panel
    otherwise), ``rows``, ``adjustment`` and ``repairs`` (list of changes under ``repair``).

    ``checkpoint``: called between steps of the load (each block of symbols of a pack); it may raise
    to stop the load (a load in a thread whose command gave up, ``trading_playbook._early_load``).
    """
    from trading_playbook.data.estimate import check_fits

    check = checkpoint or _no_checkpoint
    if request.source == "cache" and not request.symbols:
        found = _cache_panel(request, check)  # checks the fit first, from the catalog entries it reads
        if found is not None:
            return found
    else:
        check_fits(request)
    if request.source == "synthetic" and not request.symbols:
        return _synthetic_panel(request)
    bars, info = load_arrays(request, progress=progress, for_panel=True)
    check()
    if len(bars) == 0:
        raise DataError("no bars to load: the data selection is empty (check symbols, start and end)")
    rows = len(bars)
    # the bars are handed over: each column leaves memory once it is in the panel's grid
    panel = panel_from_arrays(
        bars.codes, bars.symbols, bars.day, bars.values, request.adjustment, consume=True
    )
    del bars
    checksums = info.pop("checksums", None)
    info.update(
        symbols=panel.n_symbols,
        first_session=str(panel.sessions[0]),
        last_session=str(panel.sessions[-1]),
        rows=rows,
        adjustment=request.adjustment,
        fingerprint=checksums or panel.fingerprint,
    )
    return panel, info


def _no_checkpoint() -> None:
    return None


def _checked(blocks: Iterator[BarBlock], check: Callable[[], None]) -> Iterator[BarBlock]:
    for block in blocks:
        check()
        yield block


def _cache_panel(
    request: DataRequest, check: Callable[[], None] = _no_checkpoint
) -> tuple[Panel, dict[str, Any]] | None:
    """A whole cached source as a panel, block of symbols by block from its pack (the bars of the
    universe are never held at once), on :data:`LOAD_THREADS` threads; None when the pack cannot
    serve it (the caller reads as usual). The memory check (``check_fits``) runs first in any case.

    The catalog's entries are read once, for the memory check, the completeness check, the pack's
    state and the fingerprint (5,000 of them take about 0.1 s to read)."""
    import pyarrow as pa

    from trading_playbook.data.estimate import check_fits
    from trading_playbook.data.pack import checked_sessions, discard_pack, pack_blocks

    cache = BarCache(request.cache_dir)
    name = validate_source_name(request.path or _only_source(cache))
    entries = cache.catalog.entries(name)
    check_fits(request, entries=entries)
    symbols, incomplete = _complete_selection(cache, name, request, entries)
    if symbols or not entries:
        return None
    columns = ["date", "open", "high", "low", "close", "volume", "split"]
    if request.adjustment == "all":
        if any("adjusted_close" not in e.columns for e in entries):
            return None  # the usual read names the symbols that lack it
        columns.append("adjusted_close")
    found = pack_blocks(cache, name, entries, columns)
    if found is None:
        return None
    sessions, blocks = found
    names = tuple(e.symbol for e in entries)
    try:
        panel = panel_from_blocks(
            names, sessions, _checked(blocks, check), request.adjustment, threads=LOAD_THREADS
        )
        checked_sessions(panel.available)
    except (OSError, pa.ArrowException, DataError):
        # a pack failing its page checksums, or whose bars do not fit its own session axis: the
        # per-symbol files (the source of truth) are read instead, and report any real data error
        discard_pack(cache, name)
        return None
    info: dict[str, Any] = {"source": request.source, "path": request.path, "repairs": []}
    info.update(incomplete)
    info = _cache_info(info, cache, name, names, request.adjustment, entries)
    checksums = info.pop("checksums")
    info.update(
        symbols=panel.n_symbols,
        first_session=str(panel.sessions[0]),
        last_session=str(panel.sessions[-1]),
        rows=int(sum(e.rows for e in entries)),
        adjustment=request.adjustment,
        fingerprint=checksums,
    )
    return panel, info


def synthetic_blocks(
    request: DataRequest, width: int, notes: dict[str, Any]
) -> tuple[tuple[str, ...], np.ndarray, Iterator[BarBlock]]:
    """The synthetic universe of ``request``: its symbols, its sessions and its bars as blocks of
    ``width`` symbols, generated and validated one block ahead of the caller on a background thread
    (:func:`~trading_playbook.data.prefetch.prefetched`). ``notes`` gets the blocks' ``repairs``,
    ``warnings`` and ``rows`` as they are generated (complete once the iterator is exhausted)."""
    from trading_playbook.data.prefetch import prefetched
    from trading_playbook.data.synthetic import (
        DEFAULT_END,
        DEFAULT_START,
        synthetic_arrays,
        synthetic_sessions,
        synthetic_symbols,
    )

    n = request.synthetic_symbols
    span = (request.start or DEFAULT_START, request.end or DEFAULT_END, request.synthetic_seed)
    notes.update(repairs=[], warnings=[], rows=0)

    def blocks() -> Iterator[BarBlock]:
        for first in range(0, n, width):
            count = min(width, n - first)
            bars = synthetic_arrays(
                n, *span, first=first, count=count, columns=panel_columns(request.adjustment)
            )
            bars, report = validate_bars(bars, request.validation)
            notes["repairs"].extend(report.records())
            notes["warnings"].extend(report.warning_records())
            notes["rows"] += len(bars)
            yield BarBlock(first, count, bars.codes, bars.day, bars.values)

    # the blocks are made on a background thread, from now on, while the caller builds the session axis
    # and then writes and scans each block (data.prefetch)
    made = prefetched(blocks())
    return synthetic_symbols(n), synthetic_sessions(n, *span), made


def _synthetic_panel(request: DataRequest, width: int = 256) -> tuple[Panel, dict[str, Any]]:
    """The whole synthetic universe as a panel, generated and validated ``width`` symbols at a time
    straight into the grids (the long bars of the universe are never held at once)."""
    notes: dict[str, Any] = {}
    symbols, sessions, blocks = synthetic_blocks(request, width, notes)
    panel = panel_from_blocks(symbols, sessions, blocks, request.adjustment)
    if not panel.available.any(axis=1).all():  # a repair dropped every bar of a session
        panel = panel.select(panel.symbols)
    info: dict[str, Any] = {
        "source": "synthetic",
        "path": request.path,
        "repairs": notes["repairs"],
        "seed": request.synthetic_seed,
        "warnings": notes["warnings"],
        "symbols": panel.n_symbols,
        "first_session": str(panel.sessions[0]),
        "last_session": str(panel.sessions[-1]),
        "rows": notes["rows"],
        "adjustment": request.adjustment,
        "fingerprint": _synthetic_fingerprint(request),
    }
    return panel, info


@contextlib.contextmanager
def _progress_bar(show: bool, description: str) -> Iterator[Callable[[int, int], None] | None]:
    """A rich progress bar on stderr while fetching (when ``show``), fed (done, total) requests."""
    if not show:
        yield None
        return
    from rich.console import Console
    from rich.progress import Progress

    with Progress(console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(description, total=None)
        yield lambda done, total: bar.update(task, completed=done, total=total)


def _only_source(cache: BarCache) -> str:
    sources = cache.sources()
    if len(sources) == 1:
        return sources[0]
    if not sources:
        raise DataError(
            f"the cache at {cache.root} is empty; ingest a file first (playbook data ingest PATH)"
        )
    raise DataError(
        f"the cache at {cache.root} holds several sources ({', '.join(sources)}); set [data] path to one of them"
    )


def _synthetic_fingerprint(request: DataRequest) -> str:
    """Hash of everything the synthetic universe is a function of (the generator version included)."""
    from trading_playbook.data.synthetic import DEFAULT_END, DEFAULT_START, GENERATOR_VERSION

    key = (
        "synthetic",
        GENERATOR_VERSION,
        request.synthetic_symbols,
        request.synthetic_seed,
        request.start or DEFAULT_START,
        request.end or DEFAULT_END,
        sorted(request.symbols),
        request.adjustment,
        request.validation,
    )
    return hashlib.sha256(repr(key).encode()).hexdigest()[:32]


def _catalog_fingerprint(
    cache: BarCache, source: str, symbols: tuple[str, ...], adjustment: str, entries: list[Any] | None = None
) -> str:
    """Hash of the stored files' content checksums: changes whenever any loaded byte changes.

    ``entries``: the source's catalog entries when the caller has them (5,000 of them take 0.1 s to read).
    """
    wanted = set(symbols)
    h = hashlib.blake2b(digest_size=16)
    h.update(f"{source}\x1f{adjustment}".encode())
    for entry in cache.catalog.entries(source) if entries is None else entries:
        if entry.symbol in wanted:
            h.update(f"\x1e{entry.symbol}\x1f{entry.checksum}".encode())
    return h.hexdigest()


def _load_alpaca(request: DataRequest, progress: bool) -> tuple[BarArrays, str, BarCache]:
    from trading_playbook.data.alpaca import AlpacaSource
    from trading_playbook.data.fill import fill_cache

    if not request.symbols or not request.start:
        raise DataError('source "alpaca" needs symbols and start (and usually end) in the [data] section')
    end = request.end or dt.datetime.now(dt.UTC).date().isoformat()
    cache = BarCache(request.cache_dir)
    source = AlpacaSource(request.feed, base_url=request.url, with_adjusted_close=request.adjustment == "all")

    def fill() -> None:
        with _progress_bar(progress, f"fetching from {source.name}") as advance:
            report = fill_cache(
                cache,
                source,
                request.symbols,
                str(request.start),
                end,
                adjustment=request.adjustment,
                validation=request.validation,
                progress=advance,
            )
        if report.missing:
            raise SourceError(
                f"Alpaca has no bars for {', '.join(report.missing)} between {request.start} and {end}; "
                "check the tickers (and the feed: iex covers fewer symbols than sip)"
            )

    fill()
    try:
        bars = cache.read(source.name, request.symbols, adjustment=request.adjustment)
    except CacheLoadError:
        fill()  # the failed files were quarantined and forgotten: this refetches them
        bars = cache.read(source.name, request.symbols, adjustment=request.adjustment)
    return bars, source.name, cache
