"""`playbook data universe ...`: register membership files once, by name, in the data cache.

``[universe] membership = "sp500"`` then finds the validated copy, so a config never needs a path
to shared data and the file is never copied into a repository.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from trading_playbook.cli._output import CacheDir, plain_console

__all__ = ["universe_app"]

universe_app = typer.Typer(
    name="universe",
    help="Point-in-time universes: register a membership file (ticker,start_date,end_date) by name.",
    no_args_is_help=True,
)


def _console() -> Console:
    return plain_console()


def _store(cache_dir: Path | None):  # type: ignore[no-untyped-def]
    from trading_playbook.data.universe import UniverseStore

    return UniverseStore(cache_dir)


@universe_app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="Name to register, e.g. sp500 (lower-case, digits, - and _).")],
    path: Annotated[Path, typer.Argument(help="Membership CSV: ticker,start_date,end_date[,data_symbol].")],
    replace: Annotated[
        bool, typer.Option("--replace", help="Replace a universe already registered under this name.")
    ] = False,
    cache_dir: CacheDir = None,
) -> None:
    """Validate a membership file and store a copy under NAME (configs use membership = "NAME")."""
    store = _store(cache_dir)
    meta = store.add(name, path, replace=replace)
    _console().print(
        f"[green]registered[/] universe [bold]{escape(name)}[/]: {meta['stays']:,} stays of "
        f"{meta['tickers']:,} tickers, {meta['first_date']} to {meta['last_date']}, "
        f"{meta['current_members']} current members, from {escape(meta['origin'])} into {store.root}; "
        + escape(f'use it with [universe] membership = "{name}"')
    )


@universe_app.command("list")
def list_(cache_dir: CacheDir = None) -> None:
    """The registered universes."""
    store = _store(cache_dir)
    console = _console()
    names = store.names()
    if not names:
        console.print(
            f"no universe registered in {store.root}; add one: playbook data universe add NAME FILE"
        )
        return
    table = Table(title=f"universes in {store.root}")
    for column in ("name", "stays", "tickers", "first", "last", "current", "origin"):
        table.add_column(column)
    for name in names:
        m = store.info(name)
        table.add_row(
            name,
            f"{m['stays']:,}",
            f"{m['tickers']:,}",
            m["first_date"],
            m["last_date"],
            str(m["current_members"]),
            escape(m["origin"]),
        )
    console.print(table)


@universe_app.command("show")
def show(
    name: Annotated[str, typer.Argument(help="A registered universe.")],
    date: Annotated[
        str | None, typer.Option("--date", help="List the members on this day (YYYY-MM-DD).")
    ] = None,
    cache_dir: CacheDir = None,
) -> None:
    """A registered universe's record, and its members on --date."""
    import numpy as np

    store = _store(cache_dir)
    console = _console()
    meta = store.info(name)
    for key in sorted(meta):
        console.print(f"{key}: {escape(str(meta[key]))}")
    if date is None:
        return
    from trading_playbook.data.api import iso_date

    try:
        day = np.datetime64(iso_date(date), "D")
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--date") from None
    members = store.load(name)
    far = np.datetime64("9999-12-31", "D")
    inside = (members.start <= day) & (members.end_or(far) >= day)
    tickers = sorted(members.ticker[i] for i in np.flatnonzero(inside))
    console.print(f"{len(tickers)} members on {day}: {' '.join(tickers)}")


@universe_app.command("remove")
def remove(
    name: Annotated[str, typer.Argument(help="A registered universe.")],
    cache_dir: CacheDir = None,
) -> None:
    """Forget a registered universe (the original file is not touched)."""
    store = _store(cache_dir)
    store.remove(name)
    _console().print(f"removed universe [bold]{escape(name)}[/] from {store.root}")
