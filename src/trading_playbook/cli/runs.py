"""`playbook runs ls | show | compare` and `playbook report ID`: the run registry on the command line."""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

__all__ = ["register"]

runs_app = typer.Typer(help="Recorded backtest runs (the SQLite run registry).", no_args_is_help=True)

_PERCENT = {"total_return", "cagr", "annual_volatility", "max_drawdown", "exposure", "win_rate"}


def _fmt(key: str, value: Any) -> str:
    from trading_playbook.reports import _format as f

    if key in _PERCENT:
        return f.pct(value, signed=key not in {"annual_volatility", "exposure", "win_rate"})
    if key == "expectancy":
        return f.money(value, signed=True)
    if key == "trades":
        return f.num(value)
    return f.text(value) if not isinstance(value, float) else f.num(value)


def _console() -> Any:
    from rich.console import Console

    return Console()


def _label(config: dict[str, Any]) -> str:
    from trading_playbook.reports._content import strategy_label

    return str(config.get("name") or strategy_label(config) or "—")


@runs_app.command("ls")
def runs_ls(
    limit: Annotated[
        int, typer.Option("--limit", "-n", min=1, help="Show at most this many runs (newest first).")
    ] = 20,
) -> None:
    """List recorded runs, newest first."""
    from rich.table import Table

    from trading_playbook.history import list_runs, registry_path

    records = list_runs(limit=limit)
    if not records:
        _console().print(
            f"No recorded runs yet in {registry_path()}. Run `playbook backtest CONFIG.toml` first."
        )
        return
    from rich import box

    table = Table(title=f"Runs in {registry_path()}", box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("id (UTC date-time-key)\nstrategy", no_wrap=True, min_width=22)
    for name, width in (("trades", 6), ("return", 8), ("sharpe", 6), ("max dd", 7)):
        table.add_column(name, justify="right", no_wrap=True, min_width=width)
    table.add_column("sample", no_wrap=True, min_width=12)
    for rec in records:
        m = rec.metrics
        table.add_row(
            f"{rec.run_id}\n[dim]{_label(rec.config)}[/]",
            _fmt("trades", m.get("trades")),
            _fmt("total_return", m.get("total_return")),
            _fmt("sharpe", m.get("sharpe")),
            _fmt("max_drawdown", m.get("max_drawdown")),
            str(m.get("validation", {}).get("sample_size_status", "—")),
        )
    _console().print(table)


@runs_app.command("show")
def runs_show(
    run_id: Annotated[str, typer.Argument(help="Run id (or a unique prefix, or its last six characters).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the stored metrics as JSON.")] = False,
) -> None:
    """Show one run: identity, verdict, headline metrics and validation."""
    from rich.table import Table

    from trading_playbook.history import HEADLINE_METRICS, get_run

    rec = get_run(run_id)
    if as_json:
        sys.stdout.write(json.dumps(rec.metrics, indent=2, sort_keys=True) + "\n")
        return
    console = _console()
    m = rec.metrics
    v = m.get("validation", {})
    console.print(f"[bold]Run {rec.run_id}[/] · {rec.created_at} · engine {rec.engine}")
    console.print(f"[bold]Verdict:[/] {m.get('verdict', '—')}", highlight=False)
    for warning in v.get("warnings", []):
        console.print(f"[yellow]warning:[/] {warning}", highlight=False)
    ident = Table(show_header=False, box=None)
    for key, value in (("config hash", rec.config_hash), ("data fingerprint", rec.data_fingerprint),
                       ("package version", rec.package_version), ("git commit", rec.git_commit),
                       ("output folder", rec.out_dir), ("strategy", _label(rec.config))):  # fmt: skip
        ident.add_row(key, str(value) if value else "—")
    console.print(ident)
    table = Table(title="Metrics")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key in HEADLINE_METRICS:
        table.add_row(key, _fmt(key, m.get(key)))
    ci = v.get("ci", {})
    table.add_row("sample_size_status", str(v.get("sample_size_status", "—")))
    table.add_row("t_stat (mean trade return)", _fmt("t_stat", v.get("t_stat")))
    for key in ("expectancy", "win_rate", "sharpe"):
        table.add_row(f"95% CI {key}", " to ".join(_fmt(key, x) for x in ci.get(key) or []) or "—")
    console.print(table)


@runs_app.command("compare")
def runs_compare(
    run_ids: Annotated[list[str], typer.Argument(help="Two or more run ids.")],
    as_csv: Annotated[
        bool, typer.Option("--csv", help="Write the table as CSV to stdout (raw numbers).")
    ] = False,
) -> None:
    """Side-by-side metrics of several runs."""
    from trading_playbook.core.errors import ConfigError
    from trading_playbook.history import compare_runs

    if len(run_ids) < 2:
        raise ConfigError(
            f"runs compare needs two or more run ids, got {len(run_ids)}; see them with playbook runs ls "
            "(one run: playbook runs show ID)"
        )

    records, rows = compare_runs(run_ids)
    if as_csv:
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(["metric", *(r.run_id for r in records)])
        for key, values in rows:
            writer.writerow([key, *("" if v is None else v for v in values)])
        sys.stdout.write(buf.getvalue())
        return
    from rich.table import Table

    table = Table(title="Run comparison")
    table.add_column("metric")
    for rec in records:
        table.add_column(f"{rec.run_id}\n{_label(rec.config)}", justify="right")
    for key, values in rows:
        table.add_row(key, *(_fmt(key, v) for v in values))
    _console().print(table)


def report_command(
    run_id: Annotated[str, typer.Argument(help="Run id (see `playbook runs ls`).")],
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Folder for the reports (default: the run's own output folder)."),
    ] = None,
) -> None:
    """Re-render a recorded run's reports (JSON, CSV, Markdown, HTML, charts) from its stored results."""
    from trading_playbook.core.errors import PlaybookError
    from trading_playbook.history import get_run, load_document
    from trading_playbook.reports import render_document
    from trading_playbook.reports.folder import fresh_run_folder

    rec = get_run(run_id)
    target = out or (Path(rec.out_dir) if rec.out_dir else None)
    if target is None:
        raise PlaybookError(f"run {rec.run_id} has no output folder on record; pass --out DIR")
    with fresh_run_folder(target) as staging:  # replaces the folder whole: never two runs' files mixed
        written = render_document(load_document(rec.run_id), staging)
    _console().print(
        f"Reports of run {rec.run_id} written to {target}: " + ", ".join(p.name for p in written.values()),
        soft_wrap=True,
    )


def register(app: typer.Typer) -> None:
    """Add `runs` (ls, show, compare) and `report` to the root app."""
    app.add_typer(runs_app, name="runs")
    app.command("report")(report_command)
