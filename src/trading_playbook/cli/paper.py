"""`playbook paper ...`: paper accounts (init, step, status, history, replay, run, drift, ls)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

__all__ = ["register"]

paper_app = typer.Typer(
    help="Paper accounts: a strategy carried forward one session at a time, with a crash-safe journal.",
    no_args_is_help=True,
)

AccountOpt = Annotated[str, typer.Option("--account", "-a", help="The account's name.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]
ConfigArg = Annotated[Path, typer.Argument(help="A TOML config file (see examples/).", show_default=False)]


def _console() -> Any:
    from rich.console import Console

    return Console()


def _print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, allow_nan=False) + "\n")


# ---------------------------------------------------------------------------------------- init
@paper_app.command("init")
def init(
    config: ConfigArg,
    account: AccountOpt,
    broker: Annotated[
        str,
        typer.Option(
            "--broker", help="Who fills the orders: sim (default) or alpaca (keys from the environment)."
        ),
    ] = "sim",
    live: Annotated[
        bool,
        typer.Option(
            "--live", help="Alpaca live trading: needs ALPACA_PAPER=false and a [live] table of limits."
        ),
    ] = False,
    start: Annotated[
        str | None,
        typer.Option(
            "--start", help="First session (YYYY-MM-DD); default [data] start, else the latest session."
        ),
    ] = None,
    sim_slippage_bps: Annotated[
        float | None,
        typer.Option(
            "--sim-slippage-bps",
            help="Let the simulated broker fill at this slippage instead of the config's (drift shows the gap).",
        ),
    ] = None,
) -> None:
    """Create a paper account for CONFIG (the config is stored; a changed file is refused later)."""
    from trading_playbook.core.errors import ConfigError
    from trading_playbook.paper.account import init_account

    if live and broker != "alpaca":
        raise ConfigError("--live applies to --broker alpaca only")
    acct = init_account(
        config, account, broker=broker, start=start, sim_slippage_bps=sim_slippage_bps,
        broker_options={"live": True} if live else None,
    )  # fmt: skip
    console = _console()
    if acct.broker.get("account"):
        console.print(str(acct.broker["account"]), highlight=False)
    console.print(
        f"Created paper account [bold]{acct.name}[/] ({acct.broker['kind']} broker), first session "
        f"{acct.start}, config hash {acct.config_hash}.",
        highlight=False,
    )
    cfg = acct.playbook_config()
    if cfg.data.end:
        console.print(
            f"[dim]note: \\[data] end = {cfg.data.end} bounds backtests; the account steps through every "
            "session that has data.[/]",
            highlight=False,
        )
    console.print(f"Journal: {acct.path}\nNext: playbook paper step --account {acct.name}", highlight=False)


# ---------------------------------------------------------------------------------------- step
@paper_app.command("step")
def step(
    account: AccountOpt,
    until: Annotated[
        str | None, typer.Option("--until", help="Process sessions up to this date only (YYYY-MM-DD).")
    ] = None,
    wait: Annotated[
        float, typer.Option("--wait", help="Seconds to wait for another step of this account to finish.")
    ] = 0.0,
    as_json: JsonOpt = False,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run", help="Alpaca accounts: print the orders the step would send; send and keep nothing."
        ),
    ] = False,
) -> None:
    """Advance the account over every session with data it has not processed yet."""
    from trading_playbook.paper.account import step_account

    if dry_run:
        from trading_playbook.cli.paper_alpaca import dry_run_step

        result, sent = dry_run_step(account, until=until)
        console = _console()
        console.print(
            "[bold]Dry run[/]: nothing was sent to Alpaca and the journal is unchanged.", highlight=False
        )
        for line in sent or ["no order would be sent"]:
            console.print(f"  would send: {line}" if sent else f"  {line}", highlight=False)
        _print_step(result)
        return
    result = step_account(account, until=until, wait=wait)
    if as_json:
        _print_json(_step_json(result))
        return
    _print_step(result)


def _step_json(result: Any) -> dict[str, Any]:
    from trading_playbook.reports.json_result import to_jsonable

    return {
        "account": result.account,
        "note": result.note,
        "sessions": [
            {
                "date": log.date.isoformat(),
                "equity": log.row[0],
                "cash": log.row[1],
                "positions": log.row[2],
                "events": [e.to_dict() for e in log.events],
                "trades": [to_jsonable(t.to_dict()) for _, t in log.trades],
            }
            for log in result.logs
        ],
        "open_orders": result.open_orders,
    }


def _print_step(result: Any) -> None:
    from rich.table import Table

    from trading_playbook.core.broker import Fill
    from trading_playbook.reports import _format as f

    console = _console()
    if result.note:
        console.print(result.note, highlight=False)
    for log in result.logs:
        fills = [e for e in log.events if isinstance(e, Fill)]
        line = (
            f"[bold]{log.date}[/]  equity {f.money(log.row[0])}  cash {f.money(log.row[1])}  "
            f"positions {log.row[2]}  fills {len(fills)}  trades closed {len(log.trades)}"
        )
        console.print(line, highlight=False)
        for fill in fills:
            console.print(
                f"    {fill.side:4s} {fill.shares:>6d} {fill.symbol:<6s} @ {fill.price:,.4f}  {fill.reason:<14s} "
                f"[dim]{fill.client_order_id}[/]",
                highlight=False,
            )
    if result.open_orders:
        table = Table(title="Resting for the next session")
        for col in ("order", "kind", "side", "shares", "symbol", "stop"):
            table.add_column(col)
        for o in result.open_orders:
            level = f"{o['stop_price']:,.4f}" if o["stop_price"] is not None else "at the open"
            table.add_row(o["client_order_id"], o["kind"], o["side"], str(o["shares"]), o["symbol"], level)
        console.print(table)


# ---------------------------------------------------------------------------------------- status, history
@paper_app.command("status")
def status(
    account: Annotated[
        str | None, typer.Option("--account", "-a", help="The account's name; without it, every account.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Positions (entry, stop, trail, unrealised P&L, sessions held), pending orders and equity."""
    from trading_playbook.paper import queries

    if account is None:
        _list_accounts(queries.list_accounts(), as_json)
        return
    summary = queries.account_summary(account)
    held = queries.positions(account)
    pending = queries.pending_orders(account)
    if as_json:
        _print_json({"account": summary, "positions": held, "pending_orders": pending})
        return
    _print_status(summary, held, pending)


def _list_accounts(accounts: list[dict[str, Any]], as_json: bool) -> None:
    from trading_playbook.paper.account import paper_home
    from trading_playbook.reports import _format as f

    if as_json:
        _print_json({"accounts": accounts})
        return
    console = _console()
    if not accounts:
        console.print(
            f"No paper accounts in {paper_home()}; create one with `playbook paper init CONFIG --account NAME`."
        )
        return
    for a in accounts:
        if "error" in a:
            console.print(f"{a['name']}: {a['error']}", highlight=False)
            continue
        console.print(
            f"[bold]{a['name']}[/]  {a['broker']['kind']}  {a['start']} → {a['last_session'] or '—'}  "
            f"equity {f.money(a['equity'])}  positions {a['positions']}  trades {a['trades']}",
            highlight=False,
        )


def _print_status(summary: dict[str, Any], held: list[dict[str, Any]], pending: list[dict[str, Any]]) -> None:
    from rich.table import Table

    from trading_playbook.reports import _format as f

    console = _console()
    console.print(
        f"[bold]{summary['name']}[/] ({summary['broker']['kind']})  last session {summary['last_session'] or '—'}  "
        f"equity {f.money(summary['equity'])}  cash {f.money(summary['cash'])}  "
        f"return {f.pct(summary['total_return'])}  trades {summary['trades']}",
        highlight=False,
    )
    if len(summary["sleeve_equity"]) > 1:
        console.print(
            "sleeves: " + ", ".join(f"{k} {f.money(v)}" for k, v in summary["sleeve_equity"].items()),
            highlight=False,
        )
    table = Table(title="Open positions")
    for col in (
        "sleeve",
        "symbol",
        "entry",
        "entry price",
        "shares",
        "stop",
        "trail",
        "last",
        "unrealised",
        "held",
    ):
        table.add_column(col, justify="right" if col not in ("sleeve", "symbol") else "left")
    for p in held:
        table.add_row(
            p["sleeve"], p["symbol"], p["entry_date"], f.num(p["entry_price"]), str(p["shares"]),
            f.num(p["stop"]), f.num(p["trail"]), f.num(p["last_close"]),
            f"{f.money(p['unrealised_pnl'], signed=True)} ({f.pct(p['unrealised_pct'])})", str(p["sessions_held"]),
        )  # fmt: skip
    console.print(table)
    orders = Table(title="Pending orders")
    at_alpaca = any("alpaca" in o for o in pending)
    for col in ("order", "kind", "side", "shares", "symbol", "stop", "reason", *(["at Alpaca"] * at_alpaca)):
        orders.add_column(col)
    for o in pending:
        cells = [
            o["client_order_id"],
            o["kind"],
            o["side"],
            str(o["shares"]),
            o["symbol"],
            f.num(o["stop_price"]),
        ]
        orders.add_row(*cells, o["reason"], *([_alpaca_cell(o)] if at_alpaca else []))
    console.print(orders)


def _alpaca_cell(order: dict[str, Any]) -> str:
    """How an Alpaca account's order stands at Alpaca, as the journal last heard (status)."""
    view = order.get("alpaca") or {}
    text = str(view.get("handling", ""))
    if view.get("status"):
        text += f", {view['status']}"
    if view.get("order") and view["order"] != order["client_order_id"]:
        text += f" as {view['order']}"
    return text


@paper_app.command("history")
def history(account: AccountOpt, as_json: JsonOpt = False) -> None:
    """Fills and closed trades (``--json``: ``{"trades": [...], "fills": [...]}``)."""
    from trading_playbook.paper import queries

    trades = queries.trades(account)
    fills = queries.fills(account)
    if as_json:
        _print_json({"trades": trades, "fills": fills})
        return
    from rich.table import Table

    from trading_playbook.reports import _format as f

    table = Table(title=f"Trades of {account}")
    for col in (
        "sleeve",
        "symbol",
        "entry",
        "exit",
        "shares",
        "entry price",
        "exit price",
        "reason",
        "pnl",
        "R",
    ):
        table.add_column(col)
    for t in trades:
        table.add_row(
            t["sleeve"], t["symbol"], t["entry_date"], t["exit_date"], str(t["shares"]), f.num(t["entry_price"]),
            f.num(t["exit_price"]), t["exit_reason"], f.money(t["pnl"], signed=True), f.num(t["r_multiple"]),
        )  # fmt: skip
    console = _console()
    console.print(table)
    fill_table = Table(title=f"Fills of {account}")
    for col in ("session", "phase", "side", "shares", "symbol", "price", "reason", "client order id"):
        fill_table.add_column(col)
    for x in fills:
        fill_table.add_row(
            x["session"], x["phase"], x["side"], str(x["shares"]), x["symbol"], f.num(x["price"], 4), x["reason"],
            x["client_order_id"],
        )  # fmt: skip
    console.print(fill_table)


# ---------------------------------------------------------------------------------------- replay
@paper_app.command("replay")
def replay(
    config: ConfigArg,
    out: Annotated[Path, typer.Option("--out", help="Output folder (journal, result.json, reports).")],
    start: Annotated[str | None, typer.Option("--start", help="First session; default [data] start.")] = None,
    end: Annotated[str | None, typer.Option("--end", help="Last session; default [data] end.")] = None,
    record: Annotated[
        bool, typer.Option("--record/--no-record", help="Record the run in the run registry.")
    ] = True,
    charts: Annotated[
        bool,
        typer.Option("--charts/--no-charts", help="Render the SVG charts (charts/*.svg) and report.html."),
    ] = True,
) -> None:
    """Run a fresh simulated account session by session (state saved and reloaded between sessions)."""
    from trading_playbook.config import load_config
    from trading_playbook.engine import load_data, window
    from trading_playbook.paper.replay import replay as run_replay
    from trading_playbook.reports import write_run

    console = _console()
    cfg = load_config(config)
    workspace = load_data(cfg)
    with console.status("Replaying session by session…"):
        done = run_replay(cfg, out, start=start, end=end, workspace=workspace, config_path=str(config))
    result = done.result
    formats = ("json", "csv", "md", "html", "svg") if charts else ("json", "csv", "md")
    lo, hi = window(workspace.panel, result.data["first_session"], result.data["last_session"])
    written = write_run(
        result, out, panel=workspace.panel, formats=formats, benchmark=workspace.benchmark(cfg, lo, hi)
    )
    run_id = None
    if record:
        from trading_playbook.history import record_run

        run_id = record_run(result, out)
    from trading_playbook.cli.backtest import _print_summary

    _print_summary(result, out, written, run_id, done.seconds)
    console.print(f"Journal: {done.journal_path}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add the ``paper`` command group to the root app."""
    from trading_playbook.cli import paper_alpaca, paper_run

    paper_run.register(paper_app)
    paper_alpaca.register(paper_app)
    app.add_typer(paper_app, name="paper")
