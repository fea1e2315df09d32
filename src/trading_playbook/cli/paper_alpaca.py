"""`playbook paper ...` commands of Alpaca accounts: reconcile, halt, and the dry run of a step."""

from __future__ import annotations

import datetime as dt
import shutil
import sqlite3
import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer

__all__ = ["dry_run_step", "register"]

AccountOpt = Annotated[str, typer.Option("--account", "-a", help="The account's name.")]


def _console() -> Any:
    from rich.console import Console

    return Console()


def _alpaca_account(name: str, home: Path | None = None) -> tuple[Any, Any, Any]:
    """The account, its config and an Alpaca runtime (refuses a non-Alpaca account)."""
    from trading_playbook.core.errors import ConfigError
    from trading_playbook.paper.account import open_account
    from trading_playbook.paper.alpaca_runtime import make_runtime

    account, journal = open_account(name, home)
    journal.close()
    if account.broker.get("kind") != "alpaca":
        raise ConfigError(
            f"paper account {name!r} trades with the {account.broker.get('kind')} broker; this command is for Alpaca accounts"
        )
    cfg = account.playbook_config()
    return account, cfg, make_runtime(cfg, live=bool(account.broker.get("live")))


def reconcile_command(
    account: AccountOpt,
    adopt: Annotated[
        bool, typer.Option("--adopt", help="The journal takes Alpaca's positions as they are.")
    ] = False,
    flatten: Annotated[
        bool, typer.Option("--flatten", help="Sell the shares Alpaca holds beyond the journal.")
    ] = False,
    sleeve: Annotated[
        str | None, typer.Option("--sleeve", help="With --adopt: the sleeve new positions join.")
    ] = None,
) -> None:
    """Compare Alpaca's positions with the journal; resolve a difference with --adopt or --flatten."""
    from trading_playbook.core.errors import ConfigError
    from trading_playbook.paper.account import account_lock, open_account
    from trading_playbook.paper.alpaca_adopt import adopt as do_adopt
    from trading_playbook.paper.alpaca_adopt import flatten as do_flatten
    from trading_playbook.paper.alpaca_book import AlpacaBook
    from trading_playbook.paper.alpaca_reconcile import reconcile

    if adopt and flatten:
        raise ConfigError("choose one of --adopt and --flatten")
    acct, _, runtime = _alpaca_account(account)
    console = _console()
    with account_lock(account):
        _, journal = open_account(account)
        try:
            if adopt:
                outcome = do_adopt(account, journal, runtime.trading, sleeve=sleeve)
            elif flatten:
                outcome = do_flatten(account, journal, runtime.trading, now=dt.datetime.now(dt.UTC))
            else:
                console.print(
                    reconcile(account, AlpacaBook(acct.path), runtime.trading).report(), highlight=False
                )
                return
        finally:
            journal.close()
    console.print(outcome.before.report(), highlight=False)
    for line in outcome.actions or ["nothing to do"]:
        console.print(f"  {line}", highlight=False)
    if adopt and outcome.actions:
        console.print(f"Booked at the next step: playbook paper step --account {account}", highlight=False)


def halt_command(
    account: AccountOpt,
    resume: Annotated[bool, typer.Option("--resume", help="Lift the kill switch.")] = False,
) -> None:
    """Kill switch: no new entries; the runner cancels the open entry orders and stops. --resume lifts it."""
    from trading_playbook.paper.account import open_account
    from trading_playbook.paper.alpaca_guards import halt_path

    acct, journal = open_account(account)
    path = halt_path(acct.path)
    console = _console()
    try:
        if resume:
            path.unlink(missing_ok=True)
            journal.log("kill switch lifted (playbook paper halt --resume)", "warning")
            console.print(f"Account {account}: kill switch lifted ({path} removed).", highlight=False)
            return
        path.write_text(f"halted at {dt.datetime.now(dt.UTC).isoformat(timespec='seconds')}\n")
        journal.log(f"HALTED by playbook paper halt ({path})", "alert")
    finally:
        journal.close()
    cancelled: list[str] = []
    if acct.broker.get("kind") == "alpaca":
        from trading_playbook.paper.alpaca_book import AlpacaBook
        from trading_playbook.paper.alpaca_guards import cancel_open_entries

        _, _, runtime = _alpaca_account(account)
        cancelled = cancel_open_entries(AlpacaBook(acct.path), runtime.trading)
    console.print(
        f"Account {account} HALTED ({path}): no new entries; {len(cancelled)} open entry order(s) cancelled; "
        f"a running `playbook paper run` stops at its next wake. Lift it with "
        f"`playbook paper halt --account {account} --resume`.",
        highlight=False,
    )


def dry_run_step(
    name: str, *, until: str | None = None, home: Path | None = None, panel: Any = None, clock: Any = None
) -> tuple[Any, list[str]]:
    """Run the step on a copy of the journal with a broker that reads Alpaca and never writes to it.

    Returns the step result (of the copy) and the orders the step would have sent.
    """
    from trading_playbook.paper.account import account_path, step_account
    from trading_playbook.paper.alpaca_runtime import install_runtime, remove_runtime, with_dry_run

    _, _, runtime = _alpaca_account(name, home)
    source = account_path(name, home)
    with tempfile.TemporaryDirectory(prefix="playbook-dry-run-") as tmp:
        copy_home = Path(tmp)
        target = account_path(name, copy_home)
        target.parent.mkdir(parents=True, exist_ok=True)
        with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
            src.backup(dst)  # a consistent copy, WAL included
        halt = source.with_suffix(".halt")
        if halt.exists():
            shutil.copy(halt, target.with_suffix(".halt"))
        dry = with_dry_run(runtime)
        if clock is not None:
            dry.clock = clock
        install_runtime(name, dry)
        try:
            result = step_account(name, until=until, home=copy_home, panel=panel)
        finally:
            remove_runtime(name)
    return result, list(dry.sent)


def register(app: typer.Typer) -> None:
    """Add ``reconcile`` and ``halt`` to the ``paper`` group."""
    app.command("reconcile")(reconcile_command)
    app.command("halt")(halt_command)
