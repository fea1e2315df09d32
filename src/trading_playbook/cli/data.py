"""`playbook data ...`: ingest files, fetch from Alpaca, list and verify the cache, register universes."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import numpy as np
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from trading_playbook.cli._output import CacheDir, plain_console, print_data_notes
from trading_playbook.core.errors import CacheError, DataError, PlaybookError

if TYPE_CHECKING:
    from rich.progress import Progress

    from trading_playbook.data.cache import BarCache

__all__ = ["register"]

data_app = typer.Typer(
    name="data",
    help="Market data: ingest files, fetch from Alpaca, list and verify the local cache.",
    no_args_is_help=True,
)


def _console() -> Console:
    return plain_console()


@contextmanager
def _progress(console: Console, description: str, total: int | None) -> Iterator[tuple[Progress, object]]:
    # imported here: rich.progress is a twentieth of a second of every command's start-up
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        yield progress, progress.add_task(description, total=total)


def _source_name_for(path: Path) -> str:
    stem = path.name.split(".")[0] if path.is_file() else path.name
    cleaned = "".join(c if c.isalnum() or c in "-_" else "-" for c in stem.lower()).strip("-_")
    return cleaned or "file"


@data_app.command("ingest")
def ingest(
    path: Annotated[
        Path, typer.Argument(help="A Parquet/CSV long table, or a folder of one file per symbol.")
    ],
    source_name: Annotated[
        str | None,
        typer.Option("--source-name", help="Name of this data in the cache (default: from the file name)."),
    ] = None,
    columns: Annotated[
        str | None,
        typer.Option("--columns", help="Column mapping old=new,... (e.g. 'Date=date,Ticker=symbol')."),
    ] = None,
    repair: Annotated[
        bool, typer.Option("--repair", help="Repair bad rows (and report them) instead of rejecting.")
    ] = False,
    cache_dir: CacheDir = None,
) -> None:
    """Validate a file (or folder) of daily bars and store it in the cache."""
    from trading_playbook.data.cache import BarCache, validate_source_name
    from trading_playbook.data.files import FileSource, parse_column_mapping
    from trading_playbook.data.validate import validate_bars

    console = _console()
    name = validate_source_name(source_name or _source_name_for(path))
    source = FileSource(path, parse_column_mapping(columns), name=name)
    with console.status(f"reading {path}"):
        bars = source.fetch_arrays()
        bars, report = validate_bars(bars, "repair" if repair else "reject")
    cache = BarCache(cache_dir)
    options = {"columns": columns or "", "repair": repair}
    origin = str(path.absolute())
    with cache.writing(name, bars.symbols, kind="ingest", origin=origin, options=options):
        with _progress(console, f"storing {name}", len(bars.symbols)) as (progress, task):
            summary = cache.store(
                name,
                bars,
                progress=lambda n: progress.advance(task, n),  # type: ignore[arg-type]
                threads=8,
                repairs=report.records(),
            )
        with console.status("packing for fast loads"):
            cache.repack(name)
    cache.catalog.record(
        name,
        [f"{summary.symbols} symbols"],
        str(bars.day.min()),
        str(bars.day.max()),
        summary.rows,
        "ok",
        f"ingest {path}",
    )
    console.print(
        f"[green]ingested[/] {summary.rows:,} bars of {summary.symbols} symbols from {path} "
        f"as source [bold]{escape(name)}[/] into {cache.root}",
        markup=True,
    )
    print_data_notes(
        console,
        report.records(),
        report.warning_records(),
        where="the cache keeps every one; each run on this source lists them in result.json",
    )


@data_app.command("fetch")
def fetch(
    symbols: Annotated[str, typer.Option("--symbols", help="Comma-separated tickers, e.g. AAPL,MSFT.")],
    start: Annotated[str, typer.Option("--start", help="First session, YYYY-MM-DD.")],
    end: Annotated[str, typer.Option("--end", help="Last session, YYYY-MM-DD.")],
    source: Annotated[str, typer.Option("--source", help="Only 'alpaca' is a remote source.")] = "alpaca",
    feed: Annotated[str, typer.Option("--feed", help="Alpaca feed: iex (free) or sip.")] = "iex",
    adjustment: Annotated[
        str, typer.Option("--adjustment", help="split (default) or all (adds adjusted_close).")
    ] = "split",
    repair: Annotated[bool, typer.Option("--repair", help="Repair bad rows instead of rejecting.")] = False,
    cache_dir: CacheDir = None,
) -> None:
    """Fetch daily bars into the cache; only sessions the cache lacks are requested."""
    from trading_playbook.data.alpaca import AlpacaSource
    from trading_playbook.data.cache import BarCache
    from trading_playbook.data.fill import fill_cache

    if source != "alpaca":
        raise DataError(f"unknown fetch source {source!r}; only 'alpaca' can be fetched (files use ingest)")
    if adjustment not in ("split", "all", "raw"):
        raise DataError(f"unknown adjustment {adjustment!r}; use split, all or raw")
    console = _console()
    names = [s.strip() for s in symbols.split(",") if s.strip()]
    cache = BarCache(cache_dir)
    alpaca = AlpacaSource(feed, with_adjusted_close=adjustment == "all")
    with _progress(console, "fetching", None) as (progress, task):

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)  # type: ignore[arg-type]

        report = fill_cache(
            cache,
            alpaca,
            names,
            start,
            end,
            adjustment=adjustment,
            validation="repair" if repair else "reject",
            progress=advance,
        )
    console.print(
        f"[green]fetched[/] {report.rows:,} bars in {len(report.fetches)} request(s) "
        f"for {len(names)} symbol(s) into {cache.root} (source {alpaca.name})"
    )
    if not report.fetches:
        console.print("the cache already covered the range: nothing requested")
    print_data_notes(
        console, report.repairs, [], where="the cache keeps every one; each run on this source lists them"
    )
    if report.missing:
        console.print(f"[yellow]no bars[/] for {', '.join(report.missing)}: check the tickers or the feed")
        raise typer.Exit(1)


@data_app.command("ls")
def ls(
    source: Annotated[str | None, typer.Option("--source", help="Only this source.")] = None,
    cache_dir: CacheDir = None,
) -> None:
    """List cached symbols: symbol, first and last session, rows, source."""
    from trading_playbook.data.cache import BarCache
    from trading_playbook.data.completeness import source_status

    console = _console()
    cache = BarCache(cache_dir)
    entries = cache.catalog.entries(source)
    names = [source] if source else _source_names(cache)
    if not entries and not any(cache.catalog.expected(n) for n in names):
        console.print(f"the cache at {cache.root} is empty" + (f" for source {source}" if source else ""))
        return
    sources = Table(title=f"sources in {cache.root}")
    for col in ("source", "symbols", "status", "last write"):
        sources.add_column(col)
    for name in names:
        status = source_status(cache, name)
        last = status.last_write
        sources.add_row(
            name,
            f"{len(status.present)} of {len(status.expected)}",
            _state_text(status),
            "-" if last is None else escape(f"{last.kind} {last.origin} {last.started} ({last.status})"),
        )
    console.print(sources)
    table = Table(title=f"cache {cache.root}")
    for col, justify in (
        ("symbol", "left"),
        ("first", "left"),
        ("last", "left"),
        ("rows", "right"),
        ("source", "left"),
    ):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    for e in entries:
        table.add_row(e.symbol, e.first, e.last, f"{e.rows:,}", e.source)
    console.print(table)
    console.print(f"{len(entries)} symbol file(s), {sum(e.rows for e in entries):,} bars")


def _source_names(cache: BarCache) -> list[str]:
    """Sources with stored files or expected symbols (a source can have lost every file)."""
    return cache.catalog.source_names()


def _state_text(status: object) -> str:
    state = getattr(status, "state", "")
    colour = {"complete": "green", "writing": "cyan"}.get(state, "red")
    missing = len(getattr(status, "missing", {}))
    extra = f", {missing} missing" if missing and state != "incomplete" else ""
    text = f"incomplete: {missing} missing" if state == "incomplete" else f"{state}{extra}"
    return f"[{colour}]{text}[/]"


@data_app.command("verify")
def verify(
    source: Annotated[str | None, typer.Option("--source", help="Only this source.")] = None,
    cache_dir: CacheDir = None,
) -> None:
    """Check every cached file: checksum, readability, validation, dates against the XNYS calendar.

    Exits non-zero when something is wrong (failed files are quarantined so a fetch/ingest restores
    them). Gaps (sessions without a bar inside a symbol's range) are reported, not failures: real data
    has halts and gaps.
    """
    from trading_playbook.data.cache import BarCache
    from trading_playbook.data.calendar import xnys_sessions
    from trading_playbook.data.validate import validate_bars

    console = _console()
    cache = BarCache(cache_dir)
    entries = cache.catalog.entries(source)
    problems: list[str] = []
    gaps: dict[str, int] = {}
    calendar = xnys_sessions("1990-01-02", "2100-01-01") if entries else np.zeros(0, "datetime64[D]")
    with _progress(console, "verifying", len(entries)) as (progress, task):
        for entry in entries:
            label = f"{entry.source}/{entry.symbol}"
            progress.advance(task)  # type: ignore[arg-type]
            try:
                bars = cache.verify_entry(entry)
            except CacheError as exc:
                problems.append(f"{label}: {exc} (quarantined; see the repair below)")
                cache.quarantine(entry, str(exc))
                continue
            try:
                validate_bars(bars, "reject")
            except PlaybookError as exc:
                problems.append(f"{label}: {exc}")
            off = np.setdiff1d(bars.day, calendar)
            if off.size:
                problems.append(f"{label}: {off.size} date(s) are not XNYS sessions, first {off[0]}")
            lo, hi = np.searchsorted(calendar, [bars.day[0], bars.day[-1]])
            missing = int(hi - lo + 1 - len(bars) + off.size)
            if missing:
                gaps[label] = missing
    problems.extend(_verify_packs(cache, source))
    problems.extend(_verify_complete(cache, source))
    orphans = cache.orphans()
    console.print(f"checked {len(entries)} file(s) in {cache.root}")
    if gaps:
        worst = sorted(gaps.items(), key=lambda kv: -kv[1])[:5]
        console.print(
            f"gaps: {len(gaps)} symbol(s) miss {sum(gaps.values())} session(s) inside their range "
            f"(most: {', '.join(f'{k} {v}' for k, v in worst)})"
        )
    if orphans:
        console.print(
            f"{len(orphans)} orphaned file(s) from interrupted writes (harmless): {orphans[0].name} ..."
        )
    if problems:
        for line in problems:
            console.print(f"[red]FAIL[/] {escape(line)}")
        console.print(f"[red]{len(problems)} problem(s)[/]; each line names its repair")
        raise typer.Exit(1)
    console.print("[green]ok[/]: every expected symbol is there; checksums, validation and calendar all pass")


def _verify_complete(cache: BarCache, source: str | None) -> list[str]:
    """Missing symbols (quarantined or never written) and unfinished ingests, with the repair command."""
    from trading_playbook.data.completeness import source_status

    problems: list[str] = []
    for name in [source] if source else _source_names(cache):
        problems.extend(source_status(cache, name).problems())
    return problems


def _verify_packs(cache: BarCache, source: str | None) -> list[str]:
    """Full checksum of each source's pack; a bad pack is dropped (loads fall back to the files)."""
    import hashlib

    problems = []
    for name in [source] if source else cache.sources():
        pack = cache.catalog.pack(name)
        if pack is None:
            continue
        path = cache.root / "packs" / pack.file
        data = path.read_bytes() if path.exists() else b""
        if hashlib.blake2b(data, digest_size=16).hexdigest() != pack.checksum:
            problems.append(
                f"{name}: pack {pack.file} fails its checksum (dropped; loads read the per-symbol files)"
            )
            cache.catalog.drop_pack(name)
            path.unlink(missing_ok=True)
    return problems


def register(app: typer.Typer) -> None:
    """Add the ``data`` group (with ``data universe``) to the root app."""
    from trading_playbook.cli.universe import universe_app

    data_app.add_typer(universe_app, name="universe")
    app.add_typer(data_app, name="data")
