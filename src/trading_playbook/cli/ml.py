"""``playbook ml dataset`` and ``playbook ml train``: learned setup scoring, judged out of sample.

``ml dataset`` labels every setup of the config's scanner (Parquet, needs no ML library); ``ml train``
builds (or reuses) that dataset, trains on purged walk-forward folds, saves each fold's model with its
training cutoff under ``OUT/models`` and writes the report (``OUT/ml_report.{md,html,json}``). The
models are then usable in any config as ``[scanner] name = "ml_score"``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer

__all__ = ["register"]

ConfigArg = Annotated[Path, typer.Argument(help="Playbook TOML configuration.", exists=True, dir_okay=False)]
StartOpt = Annotated[str | None, typer.Option("--start", help="First signal session (ISO date).")]
EndOpt = Annotated[str | None, typer.Option("--end", help="Label horizon: last session (ISO date).")]

ml_app = typer.Typer(help="Learned setup scoring, judged out of sample.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add the ``ml`` command group to the root app."""
    app.add_typer(ml_app, name="ml")


def _console() -> Any:
    from rich.console import Console

    return Console(stderr=True)


def _load(cfg: Any, console: Any) -> Any:
    from trading_playbook.engine import load_data

    started = time.perf_counter()
    with console.status("loading data"):
        workspace = load_data(cfg)
    console.print(f"data loaded in {time.perf_counter() - started:.1f} s")
    return workspace


@ml_app.command("dataset")
def dataset_command(
    config: ConfigArg,
    out: Annotated[Path, typer.Option("--out", help="Output folder (setups.parquet, dataset.json).")] = Path(
        "ml-dataset"
    ),
    start: StartOpt = None,
    end: EndOpt = None,
) -> None:
    """Label every setup the scanner produced (features at the signal close, the single trade's outcome)."""
    from trading_playbook.config import load_config
    from trading_playbook.ml.dataset import build_dataset, write_dataset

    cfg = load_config(config)
    console = _console()
    workspace = _load(cfg, console)
    with console.status("labelling every setup"):
        dataset = build_dataset(cfg, workspace, start=start, end=end)
    paths = write_dataset(dataset, out)
    frame = dataset.frame
    traded = frame[frame["traded"]]
    console.print(
        f"{len(frame)} setups ({len(traded)} traded, win rate {traded['win'].mean():.1%}, "
        f"mean R {traded['r_multiple'].mean():.3f}) from {dataset.meta['start']} to {dataset.meta['end']}"
    )
    for path in paths:
        typer.echo(str(path))


@ml_app.command("train")
def train_command(
    config: ConfigArg,
    train: Annotated[str, typer.Option("--train", help="Training window: 5y, 18m, 26w, 90d.")] = "5y",
    test: Annotated[str, typer.Option("--test", help="Test window.")] = "1y",
    step: Annotated[str | None, typer.Option("--step", help="Step between folds (default: --test).")] = None,
    anchored: Annotated[bool, typer.Option("--anchored", help="Expanding training windows.")] = False,
    models: Annotated[
        str | None,
        typer.Option(
            "--models",
            help="Comma-separated kinds: logistic, hgb, lightgbm (default: the config's ml.models).",
        ),
    ] = None,
    dataset: Annotated[
        Path | None, typer.Option("--dataset", help="Reuse a folder written by 'ml dataset' (same config).")
    ] = None,
    no_portfolio: Annotated[
        bool, typer.Option("--no-portfolio", help="Skip the portfolio backtests of the report.")
    ] = False,
    engine: Annotated[str, typer.Option("--engine", help="fast | reference (portfolio backtests).")] = "fast",
    start: StartOpt = None,
    end: EndOpt = None,
    out: Annotated[Path, typer.Option("--out", help="Output folder (models/, report, charts).")] = Path(
        "ml-out"
    ),
) -> None:
    """Train on purged walk-forward folds, save each fold's model with its cutoff, write the report."""
    from trading_playbook.config import load_config
    from trading_playbook.ml import require_ml
    from trading_playbook.ml.dataset import read_dataset
    from trading_playbook.ml.pipeline import train_and_report

    require_ml()
    cfg = load_config(config)
    kinds = tuple(k.strip() for k in models.split(",") if k.strip()) if models else None
    if kinds:
        from trading_playbook.core.errors import ConfigError
        from trading_playbook.ml.settings import MODEL_KINDS

        unknown = [k for k in kinds if k not in MODEL_KINDS]
        if unknown:
            raise ConfigError(f"--models {models}: unknown {unknown}; choose from {', '.join(MODEL_KINDS)}")
    from trading_playbook.research.walkforward import parse_duration

    for window in (train, test, step):  # a bad window fails before any data is loaded
        if window is not None:
            parse_duration(window)
    console = _console()
    workspace = _load(cfg, console)
    saved = read_dataset(dataset) if dataset is not None else None
    doc, paths = train_and_report(
        cfg,
        workspace,
        out,
        train=train,
        test=test,
        step=step,
        anchored=anchored,
        start=start,
        end=end,
        models=kinds,
        dataset=saved,
        portfolio=not no_portfolio,
        engine=engine,
        progress=lambda message: console.print(f"[dim]{message}[/]"),
    )
    console.print(f"[bold]{doc['verdict']['headline']}[/]")
    for line in doc["verdict"]["lines"]:
        console.print(f"  {line}")
    for path in paths:
        if path.suffix in (".md", ".html", ".json") or path.name == "manifest.json":
            typer.echo(str(path))
