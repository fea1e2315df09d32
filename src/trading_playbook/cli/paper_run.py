"""`playbook paper run` (the daemon) and `playbook paper drift` (paper against the backtest)."""

from __future__ import annotations

import datetime as dt
import signal
import threading
from pathlib import Path
from typing import Annotated, Any

import typer

__all__ = ["register"]

AccountOpt = Annotated[str, typer.Option("--account", "-a", help="The account's name.")]


def run(
    account: AccountOpt,
    delay: Annotated[float, typer.Option("--delay", help="Minutes after each close before stepping.")] = 30.0,
    retry: Annotated[
        float, typer.Option("--retry", help="Minutes between tries when a session's data is late.")
    ] = 15.0,
    max_retries: Annotated[int, typer.Option("--max-retries", help="Tries per late session.")] = 8,
) -> None:
    """Step the account after every XNYS close (early closes included); stop with Ctrl-C or SIGTERM."""
    from trading_playbook.paper.account import open_account
    from trading_playbook.paper.daemon import DaemonSettings, run_daemon

    acct, journal = open_account(account)  # a clear error now if the account does not exist
    journal.close()
    stop = threading.Event()

    def request_stop(signum: int, _frame: Any) -> None:
        print(f"{dt.datetime.now(dt.UTC).isoformat(timespec='seconds')} received signal {signum}: "
              "stopping after the current step", flush=True)  # fmt: skip
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        if (
            acct.broker.get("kind") == "alpaca"
        ):  # its own schedule: streams, cls before the close, opg at 19:00
            from trading_playbook.paper.alpaca_runner import AlpacaRunner
            from trading_playbook.paper.daemon import SystemClock

            AlpacaRunner(account, clock=SystemClock(), stop=stop, log=lambda m: print(m, flush=True)).run()
            return
        settings = DaemonSettings(
            delay=dt.timedelta(minutes=delay), retry=dt.timedelta(minutes=retry), max_retries=max_retries
        )
        run_daemon(account, stop=stop, settings=settings, log=lambda m: print(m, flush=True))
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def drift(
    account: AccountOpt,
    out: Annotated[
        Path | None, typer.Option("--out", help="Output folder; default runs/drift-<account>-<timestamp>.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Re-run the backtest over the account's sessions and compare trade by trade, fill by fill."""
    import json
    import sys

    from trading_playbook.paper.drift import compute_drift
    from trading_playbook.paper.drift_report import render_drift

    doc = compute_drift(account)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    folder = out if out is not None else Path("runs") / f"drift-{account}-{stamp}"
    written = render_drift(doc, folder)
    if as_json:
        sys.stdout.write(json.dumps({"summary": doc["summary"], "sleeves": doc["sleeves"]}, indent=2) + "\n")
        return
    from rich.console import Console
    from rich.table import Table

    s = doc["summary"]
    table = Table(title=f"Drift of {account}: {doc['first_session']} → {doc['last_session']}")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for key in ("same", "open", "different", "missed", "extra", "fills", "configured_slippage_bps",
                "mean_realised_slippage_bps", "mean_slippage_drift_bps", "pnl_difference_closed_trades",
                "max_equity_difference", "zero_drift"):  # fmt: skip
        value = s[key]
        table.add_row(key.replace("_", " "), f"{value:,.4f}" if isinstance(value, float) else str(value))
    console = Console()
    console.print(table)
    console.print(f"Wrote {len(written)} files to [bold]{folder}[/]", highlight=False)


def register(app: typer.Typer) -> None:
    """Add ``run`` and ``drift`` to the ``paper`` group."""
    app.command("run")(run)
    app.command("drift")(drift)
