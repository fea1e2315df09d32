"""The public loading API: a frozen :class:`DataRequest` in, validated bars or a Panel out."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import pandas as pd

from trading_playbook.core.errors import DataError, SourceError
from trading_playbook.core.panel import ADJUSTMENTS, Panel, panel_from_arrays
from trading_playbook.data.cache import BarCache, CacheLoadError
from trading_playbook.data.model import BarArrays, to_frame
from trading_playbook.data.synthetic import DEFAULT_END, DEFAULT_START, synthetic_arrays
from trading_playbook.data.validate import validate_bars

__all__ = ["DataRequest", "load_arrays", "load_bars", "load_panel"]

SOURCES = ("file", "alpaca", "synthetic", "cache")


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
    """

    source: Literal["file", "alpaca", "synthetic", "cache"] = "synthetic"
    path: str | None = None
    adjustment: Literal["split", "all", "raw"] = "split"
    symbols: tuple[str, ...] = ()
    start: str | None = None
    end: str | None = None
    columns: dict[str, str] = field(default_factory=dict)
    validation: Literal["reject", "repair"] = "reject"
    feed: str = "iex"
    synthetic_symbols: int = 40
    synthetic_seed: int = 7
    cache_dir: str | None = None
    url: str | None = None

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise DataError(f"unknown data source {self.source!r}; use one of {', '.join(SOURCES)}")
        if self.adjustment not in ADJUSTMENTS:
            raise DataError(f"unknown adjustment {self.adjustment!r}; use one of {', '.join(ADJUSTMENTS)}")
        if self.validation not in ("reject", "repair"):
            raise DataError(f"unknown validation policy {self.validation!r}; use reject or repair")
        if self.source == "file" and not self.path:
            raise DataError('source "file" needs a path (a Parquet/CSV file or a folder of per-symbol files)')


def load_arrays(request: DataRequest, *, progress: bool = False) -> tuple[BarArrays, dict[str, Any]]:
    """Validated bars as :class:`BarArrays` plus the info dict (no fingerprint yet)."""
    info: dict[str, Any] = {"source": request.source, "path": request.path, "repairs": []}
    if request.source == "synthetic":
        bars = synthetic_arrays(
            request.synthetic_symbols,
            request.start or DEFAULT_START,
            request.end or DEFAULT_END,
            request.synthetic_seed,
        )
        info["seed"] = request.synthetic_seed
    elif request.source == "file":
        from trading_playbook.data.files import FileSource

        bars = FileSource(str(request.path), request.columns).fetch_arrays(request.symbols)
    elif request.source == "cache":
        cache = BarCache(request.cache_dir)
        name = request.path or _only_source(cache)
        bars = cache.read(name, request.symbols, adjustment=request.adjustment)
        info["path"] = str(cache.root)
        info["cache_source"] = name
        info["checksums"] = _catalog_fingerprint(cache, name, bars.symbols, request.adjustment)
        return bars, info  # validated when it entered the cache
    else:
        bars, name, cache = _load_alpaca(request, progress)
        info["path"] = str(cache.root)
        info["cache_source"] = name
        info["checksums"] = _catalog_fingerprint(cache, name, bars.symbols, request.adjustment)
        return bars, info
    if request.symbols and request.source == "synthetic":
        bars = bars.select(request.symbols)
    bars, report = validate_bars(bars, request.validation)
    info["repairs"] = report.records()
    return bars, info


def load_bars(request: DataRequest, *, progress: bool = False) -> pd.DataFrame:
    """The validated long bar table (raw prices; categorical symbol; sorted by symbol, date)."""
    bars, _ = load_arrays(request, progress=progress)
    return to_frame(bars)


def load_panel(request: DataRequest, *, progress: bool = False) -> tuple[Panel, dict[str, Any]]:
    """The adjusted :class:`Panel` and an info dict.

    The info dict holds ``source, path, symbols`` (count), ``first_session, last_session``,
    ``fingerprint`` (content hash: of the catalog checksums for cache/alpaca, of the panel
    otherwise), ``rows``, ``adjustment`` and ``repairs`` (list of changes under ``repair``).
    """
    bars, info = load_arrays(request, progress=progress)
    if len(bars) == 0:
        raise DataError("no bars to load: the data selection is empty (check symbols, start and end)")
    panel = panel_from_arrays(bars.codes, bars.symbols, bars.day, bars.values, request.adjustment)
    checksums = info.pop("checksums", None)
    info.update(
        symbols=panel.n_symbols,
        first_session=str(panel.sessions[0]),
        last_session=str(panel.sessions[-1]),
        rows=len(bars),
        adjustment=request.adjustment,
        fingerprint=checksums or panel.fingerprint,
    )
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


def _catalog_fingerprint(cache: BarCache, source: str, symbols: tuple[str, ...], adjustment: str) -> str:
    """Hash of the stored files' content checksums: changes whenever any loaded byte changes."""
    wanted = set(symbols)
    h = hashlib.blake2b(digest_size=16)
    h.update(f"{source}\x1f{adjustment}".encode())
    for entry in cache.catalog.entries(source):
        if entry.symbol in wanted:
            h.update(f"\x1e{entry.symbol}\x1f{entry.checksum}".encode())
    return h.hexdigest()


def _load_alpaca(request: DataRequest, progress: bool) -> tuple[BarArrays, str, BarCache]:
    from trading_playbook.data.alpaca import AlpacaSource
    from trading_playbook.data.fill import fill_cache

    if not request.symbols or not request.start:
        raise DataError('source "alpaca" needs symbols and start (and usually end) in the [data] section')
    end = request.end or str(pd.Timestamp.now(tz="UTC").date())
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
