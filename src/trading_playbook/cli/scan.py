"""`playbook scan CONFIG --date D`: the ranked setups of one session, as a table or JSON.

The scanner comes from the config's ``[scanner]`` table (or each ``[[sleeves]]`` entry's); the data from
its ``[data]`` table; with a ``[universe]`` only the setups of the session's members are listed. Only bars up to the session are used (the scanner's per-date protocol).
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Annotated, Any

import typer

from trading_playbook.core.errors import ConfigError
from trading_playbook.core.panel import Panel
from trading_playbook.core.scanners.base import session_position
from trading_playbook.core.types import Setup


def _scanners(cfg: Any) -> list[tuple[str, Any]]:
    """(sleeve name, scanner) pairs of the config: one for a plain config, one per sleeve otherwise."""
    from trading_playbook.engine import build_scanner

    return [(sleeve.name, build_scanner(cfg, sleeve)) for sleeve in cfg.sleeve_configs()]


def setups_for_session(scanner: Any, panel: Panel, date: Any) -> list[Setup]:
    """Ranked setups of session ``date`` from any scanner (per-date protocol, else the vectorised one)."""
    t = session_position(panel, date)
    if hasattr(scanner, "scan_for_setups"):
        return list(scanner.scan_for_setups(panel.sessions[t], panel))
    if hasattr(scanner, "scan"):
        cut = panel.truncate(t)
        table = scanner.scan(cut)
        return list(table.to_setups(table.session_slice(t), cut.sessions, cut.symbols))
    raise ConfigError(f"scanner {scanner!r} has neither scan_for_setups(date, data) nor scan(panel)")


def _setup_dict(setup: Setup, sleeve: str, rank: int) -> dict[str, Any]:
    row = dataclasses.asdict(setup)
    row["session"] = setup.session.isoformat()
    for key, value in row.items():
        if isinstance(value, float) and not math.isfinite(value):
            row[key] = None  # JSON has no NaN
    return {"rank": rank, "sleeve": sleeve, **row}


def _pct(value: float) -> str:
    return "-" if not math.isfinite(value) else f"{100 * value:.1f}"


def _print_table(title: str, setups: list[Setup]) -> None:
    from rich import box
    from rich.console import Console
    from rich.table import Table

    table = Table(
        title=title,
        caption="stop: initial stop; width, off hi (from the high), RS: %",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        padding=(0, 0),
    )
    for name, justify in (
        ("#", "right"),
        ("symbol", "left"),
        ("score", "right"),
        ("close", "right"),
        ("stop", "right"),
        ("base hi", "right"),
        ("days", "right"),
        ("width", "right"),
        ("vol x", "right"),
        ("off hi", "right"),
        ("RS", "right"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for rank, s in enumerate(setups, start=1):
        table.add_row(
            str(rank),
            s.symbol,
            f"{s.score:.2f}",
            f"{s.reference_price:.2f}",
            f"{s.initial_stop:.2f}",
            f"{s.base_high:.2f}",
            str(s.base_days),
            _pct(s.base_width),
            f"{s.volume_ratio:.2f}",
            _pct(s.distance_from_high),
            _pct(s.rs),
        )
    Console().print(table)


def scan(
    config: Annotated[Path, typer.Argument(help="TOML config file ([data] and [scanner] tables).")],
    date: Annotated[
        str, typer.Option("--date", "-d", help="Session to scan, YYYY-MM-DD (must be in the data).")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print the setups as a JSON list.")] = False,
    top: Annotated[int | None, typer.Option("--top", min=1, help="Only the N best-ranked setups.")] = None,
) -> None:
    """Print the ranked breakout setups of one session (data up to that session only)."""
    from trading_playbook.cli._compile import compile_notice
    from trading_playbook.config import load_config
    from trading_playbook.engine import load_data

    cfg = load_config(config)
    scanners = _scanners(cfg)
    panel = load_data(cfg).panel  # with [universe]: membership rides on the panel
    t = session_position(panel, date)
    for _sleeve, scanner in scanners:
        _check_history(scanner, panel, t)
    rows: list[dict[str, Any]] = []
    with compile_notice():
        scanned = [
            (sleeve, scanner, _members(setups_for_session(scanner, panel, panel.sessions[t]), panel, t)[:top])
            for sleeve, scanner in scanners
        ]
    for sleeve, scanner, setups in scanned:
        if as_json:
            rows.extend(_setup_dict(s, sleeve, i) for i, s in enumerate(setups, start=1))
            continue
        label = getattr(scanner, "name", type(scanner).__name__)
        title = f"{label} setups on {panel.sessions[t]}" + (
            f" (sleeve {sleeve})" if len(scanners) > 1 else ""
        )
        if setups:
            _print_table(title, setups)
        else:
            typer.echo(f"{title}: none")
    if as_json:
        typer.echo(json.dumps(rows, indent=2))


def _members(setups: list[Setup], panel: Panel, t: int) -> list[Setup]:
    """With a ``[universe]``, only the setups of symbols a backtest could take at ``t``."""
    if panel.universe is None:
        return setups
    from trading_playbook.core.universe import member_setups

    columns = {symbol: j for j, symbol in enumerate(panel.symbols)}
    return member_setups(setups, t, columns, panel.universe.eligible())


def _check_history(scanner: Any, panel: Panel, t: int) -> None:
    """A session no symbol has enough history for is an error saying so (not an empty "none")."""
    need = getattr(scanner, "min_history", None)
    if not isinstance(need, int) or need <= 1:
        return
    bars = panel.available[: t + 1].sum(axis=0)
    if bars.size and int(bars.max()) < need:
        first_ok = panel.available.cumsum(axis=0).max(axis=1) >= need
        later = panel.sessions[int(first_ok.argmax())] if first_ok.any() else None
        raise ConfigError(
            f"too little history to scan {panel.sessions[t]}: the most any symbol has is {int(bars.max())} "
            f"session(s) up to that day, and the scanner needs {need} (min_history)"
            + (f"; the first session it can scan is {later}" if later is not None else "; load more data")
        )


def register(app: typer.Typer) -> None:
    """Add this group's commands to the root app."""
    app.command("scan")(scan)
