"""Optimisation and walk-forward reports: ranked tables, best config, heatmap, Markdown with DSR and PBO.

Files of :func:`write_optimize_report` (in ``out_dir``):

- ``trials.csv`` and ``trials.parquet``: every trial ranked (rank 1 = best eligible);
- ``best.toml``: the full configuration with the best parameters applied (when a trial is eligible);
- ``heatmap.svg``: objective over the two swept parameters (when two or more parameters vary; with
  more than two, each cell shows the best over the others);
- ``summary.json``: best parameters, deflated Sharpe ratio and PBO, machine-readable;
- ``report.md``: all of it for a human.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from trading_playbook.core.overfitting import DeflatedSharpe, PBOResult
from trading_playbook.research.optimize import OptimizeResult
from trading_playbook.research.params import ParamSpec
from trading_playbook.research.walkforward import WalkForwardResult

__all__ = [
    "markdown_table",
    "optimize_summary",
    "overfitting_markdown",
    "walkforward_summary",
    "write_heatmap",
    "write_optimize_report",
    "write_toml",
    "write_walkforward_report",
]

PERIODS_PER_YEAR = 252


def write_optimize_report(result: OptimizeResult, out_dir: str | Path) -> dict[str, Path]:
    """Write every file of an optimisation report; returns what was written by kind."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    table = result.table
    written["csv"] = out / "trials.csv"
    table.to_csv(written["csv"], index=False)
    written["parquet"] = out / "trials.parquet"
    _parquet_safe(table).to_parquet(written["parquet"], index=False)
    best_config = result.best_config
    if best_config is not None:
        best = (
            ", ".join(f"{k} = {v!r}" for k, v in (result.best_params or {}).items()) or "the base parameters"
        )
        header = (
            f"The best trial of playbook optimize ({result.settings.method}, objective "
            f"{result.settings.objective}): {best}.\n"
            "Reproduce it with: playbook backtest best.toml (paths are absolute; the searched window is "
            "in [backtest])."
        )
        written["toml"] = write_toml(best_config.portable_dict(), out / "best.toml", header=header)
    heatmap = write_heatmap(table, result.specs, out / "heatmap.svg", objective=result.settings.objective)
    if heatmap is not None:
        written["heatmap"] = heatmap
    written["json"] = out / "summary.json"
    written["json"].write_text(json.dumps(optimize_summary(result), indent=2, default=_json_default) + "\n")
    written["md"] = out / "report.md"
    written["md"].write_text(_optimize_markdown(result, heatmap is not None))
    return written


def optimize_summary(result: OptimizeResult) -> dict[str, Any]:
    """The machine-readable summary of an optimisation (``summary.json``)."""
    return {
        "study": result.study,
        "method": result.settings.method,
        "objective": result.settings.objective,
        "min_trades": result.settings.min_trades,
        "params": [str(s) for s in result.specs],
        "trials": len(result.table),
        "eligible": int(result.table["eligible"].sum()) if not result.table.empty else 0,
        "trials_run": result.trials_run,
        "trials_resumed": result.trials_resumed,
        "seconds": result.seconds,
        "best_params": result.best_params,
        "best_metrics": _nan_to_none(result.best_metrics),
        "deflated_sharpe": _dsr_dict(result.dsr),
        "pbo": _pbo_dict(result.pbo),
        "notes": result.notes,
    }


def write_toml(data: dict[str, Any], path: Path, *, header: str = "") -> Path:
    """Write a config dict as TOML (``None`` values are left out: TOML has no null), after ``header``
    as comment lines."""
    import tomli_w

    comments = "".join(f"# {line}\n" for line in header.splitlines())
    path.write_text(comments + tomli_w.dumps(_strip_none(data)))
    return path


def write_heatmap(
    table: pd.DataFrame, specs: Sequence[ParamSpec], path: Path, *, objective: str
) -> Path | None:
    """Objective heatmap (SVG, :func:`~trading_playbook.research.heatmap.heatmap_svg`) over the first
    two parameters that vary; ``None`` when fewer than two vary or there are no trials."""
    if sum(len(s.values) > 1 for s in specs) < 2 or table.empty:
        return None
    from trading_playbook.research.heatmap import heatmap_svg

    path.write_text(heatmap_svg(table, specs, objective=objective), encoding="utf-8")
    return path


def markdown_table(frame: pd.DataFrame, *, floatfmt: str = "{:.4g}") -> str:
    """A GitHub Markdown table of ``frame`` (no extra dependency)."""
    if frame.empty:
        return "_(none)_\n"
    header = "| " + " | ".join(str(c) for c in frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    lines = [header, rule]
    for row in frame.itertuples(index=False):
        lines.append("| " + " | ".join(_cell(v, floatfmt) for v in row) + " |")
    return "\n".join(lines) + "\n"


def overfitting_markdown(dsr: DeflatedSharpe | None, pbo: PBOResult | None) -> str:
    """The DSR and PBO section shared by the optimisation and walk-forward reports."""
    lines = ["## Overfitting statistics", ""]
    if dsr is None:
        lines.append("Deflated Sharpe ratio: not computed.")
    else:
        ann = math.sqrt(PERIODS_PER_YEAR)
        verdict = "passes" if dsr.dsr >= 0.95 else "does not pass"
        lines += [
            f"**Deflated Sharpe ratio (Bailey & Lopez de Prado 2014): {dsr.dsr:.3f}** ({verdict} the 0.95 bar).",
            "",
            "The probability that the best trial's true Sharpe ratio is above what the best of "
            f"{dsr.n_trials} skill-less trials would show by luck.",
            "",
            "| input | value |",
            "|---|---|",
            f"| best trial Sharpe (daily / annualised) | {dsr.sharpe:.4f} / {dsr.sharpe * ann:.2f} |",
            f"| expected max Sharpe of {dsr.n_trials} null trials, SR0 (daily / annualised) | "
            f"{dsr.expected_max_sharpe:.4f} / {dsr.expected_max_sharpe * ann:.2f} |",
            f"| variance of the trials' daily Sharpe ratios | {dsr.sharpe_variance:.3g} |",
            f"| observations T | {dsr.n_obs} |",
            f"| skewness / kurtosis of the best trial's returns | {dsr.skewness:.3f} / {dsr.kurtosis:.3f} |",
            "",
        ]
    if pbo is None:
        lines.append("Probability of backtest overfitting: not computed.")
    else:
        lines += [
            f"**Probability of backtest overfitting (CSCV, Bailey et al. 2015): {pbo.pbo:.3f}**",
            "",
            f"The sessions were cut into {pbo.n_blocks} blocks; in each of the {pbo.n_splits} ways to use half "
            "of them in sample, the in-sample best trial was ranked out of sample. PBO is the share of splits "
            "where it ranked at or below the median (logit <= 0). Near 0: selection generalises; near 0.5 "
            "or above: the ranking is noise.",
            "",
            "| statistic | value |",
            "|---|---|",
            f"| splits | {pbo.n_splits} |",
            f"| median logit | {float(np.median(pbo.logits)):.3f} |",
            f"| performance degradation (OOS vs IS slope) | {pbo.performance_degradation:.3f} |",
            f"| probability of an out-of-sample loss | {pbo.prob_oos_loss:.3f} |",
        ]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------- internals


def _optimize_markdown(result: OptimizeResult, has_heatmap: bool) -> str:
    s = result.settings
    table = result.table
    eligible = int(table["eligible"].sum()) if not table.empty else 0
    parts = [
        "# Optimisation report",
        "",
        f"- method: **{s.method}**, objective: **{s.objective}** (maximised), minimum trades: {s.min_trades}",
        f"- parameters: {', '.join(f'`{sp}`' for sp in result.specs) or '(none)'}",
        f"- trials: {len(table)} ({eligible} eligible; {result.trials_run} run now, "
        f"{result.trials_resumed} resumed from the store) in {result.seconds:.1f} s",
        f"- window: {s.start or 'config start'} to {s.end or 'config end'}; study `{result.study}`",
        "",
        "## Best trial",
        "",
    ]
    if result.best_params is None:
        parts.append("No eligible trial.")
    else:
        parts.append(markdown_table(pd.DataFrame([result.best_params])))
        metrics = result.best_metrics or {}
        keys = [
            k for k in ("sharpe", "cagr", "calmar", "max_drawdown", "expectancy", "trades") if k in metrics
        ]
        parts.append(markdown_table(pd.DataFrame([{k: metrics[k] for k in keys}])))
        parts.append("The full configuration is in `best.toml`.")
    parts += ["", overfitting_markdown(result.dsr, result.pbo)]
    if has_heatmap:
        parts += ["## Heatmap", "", "![objective heatmap](heatmap.svg)", ""]
    parts += ["## Top trials", "", markdown_table(_top(table, result.specs)), ""]
    if result.notes:
        parts += ["## Notes", "", *[f"- {n}" for n in result.notes], ""]
    parts.append(
        "Every trial ran on the same data and window; results on today's index constituents carry "
        "survivorship bias. Selecting the best of many trials inflates its figures: read the deflated "
        "Sharpe ratio and the PBO before trusting them."
    )
    return "\n".join(parts) + "\n"


def _top(table: pd.DataFrame, specs: Sequence[ParamSpec], n: int = 15) -> pd.DataFrame:
    if table.empty:
        return table
    cols = ["rank", "trial", *[s.key for s in specs], "objective"]
    cols += [c for c in ("m.sharpe", "m.cagr", "m.max_drawdown", "m.trades") if c in table.columns]
    return table[cols].head(n)


def _cell(value: Any, floatfmt: str) -> str:
    if isinstance(value, float | np.floating):
        return "" if math.isnan(value) else floatfmt.format(value)
    return str(value)


def _parquet_safe(table: pd.DataFrame) -> pd.DataFrame:
    # A swept column can mix ints, floats and strings; Parquet needs one type per column.
    out = table.copy()
    for col in out.columns:
        if out[col].dtype == object:
            kinds = {type(v) for v in out[col].dropna()}
            if len(kinds) > 1:
                out[col] = out[col].astype(str)
    return out


def _strip_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_strip_none(v) for v in value if v is not None]
    return value


def _dsr_dict(dsr: DeflatedSharpe | None) -> dict[str, Any] | None:
    if dsr is None:
        return None
    return {
        "dsr": dsr.dsr,
        "sharpe_daily": dsr.sharpe,
        "expected_max_sharpe_daily": dsr.expected_max_sharpe,
        "n_trials": dsr.n_trials,
        "sharpe_variance": dsr.sharpe_variance,
        "n_obs": dsr.n_obs,
        "skewness": dsr.skewness,
        "kurtosis": dsr.kurtosis,
    }


def _pbo_dict(pbo: PBOResult | None) -> dict[str, Any] | None:
    if pbo is None:
        return None
    return {
        "pbo": pbo.pbo,
        "n_splits": pbo.n_splits,
        "n_blocks": pbo.n_blocks,
        "median_logit": float(np.median(pbo.logits)),
        "performance_degradation": pbo.performance_degradation,
        "prob_oos_loss": pbo.prob_oos_loss,
    }


def _nan_to_none(metrics: dict[str, float] | None) -> dict[str, float | None] | None:
    if metrics is None:
        return None
    return {k: (v if math.isfinite(v) else None) for k, v in metrics.items()}


def _json_default(value: Any) -> Any:
    if isinstance(value, np.integer | np.floating):
        return value.item()
    return str(value)


def write_walkforward_report(result: WalkForwardResult, out_dir: str | Path) -> dict[str, Path]:
    """Write a walk-forward report.

    Files: ``folds.csv``/``folds.parquet`` (per fold: windows, chosen parameters, in-sample vs
    out-of-sample metrics, WFE, DSR, PBO), ``stability.csv``, ``summary.json`` (settings, walk-forward
    efficiency, stitched headline metrics), ``walk_forward.md``, each fold's
    optimisation report under ``fold_NN/``, and the stitched out-of-sample run in the backtest report
    format under ``oos/`` (``trading_playbook.reports.write_run``).
    """
    from trading_playbook.reports import write_run

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    folds = result.fold_table()
    stability = result.parameter_stability()
    written["csv"] = out / "folds.csv"
    folds.to_csv(written["csv"], index=False)
    written["parquet"] = out / "folds.parquet"
    _parquet_safe(folds).to_parquet(written["parquet"], index=False)
    written["stability"] = out / "stability.csv"
    stability.to_csv(written["stability"], index=False)
    for fold in result.folds:
        write_optimize_report(fold.optimization, out / f"fold_{fold.fold.index:02d}")
    oos_files = write_run(result.stitched, out / "oos")
    written.update({f"oos_{k}": v for k, v in oos_files.items()})
    written["json"] = out / "summary.json"
    written["json"].write_text(
        json.dumps(walkforward_summary(result), indent=2, default=_json_default) + "\n"
    )
    written["md"] = out / "walk_forward.md"
    written["md"].write_text(_walkforward_markdown(result, folds, stability))
    return written


def walkforward_summary(result: WalkForwardResult) -> dict[str, Any]:
    """The machine-readable summary of a walk-forward (``summary.json``)."""
    s = result.settings
    m = result.stitched.metrics
    keys = ("total_return", "cagr", "sharpe", "max_drawdown", "calmar", "trades")
    return {
        "train": s.train,
        "test": s.test,
        "step": s.step or s.test,
        "anchored": s.anchored,
        "method": s.optimize.method,
        "objective": s.optimize.objective,
        "min_trades": s.optimize.min_trades,
        "params": [str(p) for p in result.specs],
        "folds": len(result.folds),
        "efficiency": result.efficiency,
        "stitched": _nan_to_none({k: float(m[k]) for k in keys if m.get(k) is not None}),
        "seconds": result.seconds,
    }


def _walkforward_markdown(result: WalkForwardResult, folds: pd.DataFrame, stability: pd.DataFrame) -> str:
    s = result.settings
    m = result.stitched.metrics
    wfe = result.efficiency
    fold_cols = [
        c
        for c in folds.columns
        if c not in ("train_start", "selected", "is_max_drawdown", "oos_max_drawdown")
    ]
    parts = [
        "# Walk-forward report",
        "",
        f"- windows: train **{s.train}**, test **{s.test}**, step {s.step or s.test}, "
        f"{'anchored (expanding)' if s.anchored else 'rolling'}; {len(result.folds)} folds",
        f"- per-fold optimisation: {s.optimize.method}, objective {s.optimize.objective}, "
        f"minimum trades {s.optimize.min_trades}; parameters "
        f"{', '.join(f'`{sp}`' for sp in result.specs) or '(none: the base configuration)'}",
        f"- time: {result.seconds:.1f} s",
        "",
        "## Stitched out-of-sample result",
        "",
        "Each test window traded the parameters chosen on the training window before it, starting from "
        "the previous test window's ending equity. The full backtest-format report is in `oos/`.",
        "",
        markdown_table(
            pd.DataFrame(
                [
                    {
                        k: m.get(k)
                        for k in ("total_return", "cagr", "sharpe", "max_drawdown", "calmar", "trades")
                        if k in m
                    }
                ]
            )
        ),
        f"**Walk-forward efficiency: {'n/a' if wfe is None else f'{wfe:.2f}'}** (stitched out-of-sample "
        "CAGR / mean in-sample CAGR of the selected trials; per fold: OOS CAGR / IS CAGR; undefined "
        "when the in-sample CAGR is not positive. Around 0.5 or more is usually read as robust.)",
        "",
        "## Folds: in sample vs out of sample",
        "",
        markdown_table(folds[fold_cols]),
        "",
        "`dsr` and `pbo` are each fold's deflated Sharpe ratio of the selected trial and probability of "
        "backtest overfitting over its trials; each fold's full optimisation report is in `fold_NN/`.",
        "",
        "## Parameter stability",
        "",
        markdown_table(stability),
        "",
        "`mode_share`: share of folds that chose the most common value; `changes`: how often the choice "
        "changed between consecutive folds; `std_over_range`: spread of the choices relative to the "
        "searched range (0 = always the same, about 0.3 or more = the optimum wanders).",
        "",
    ]
    unselected = [f.fold.index for f in result.folds if not f.selected]
    if unselected:
        parts.append(
            f"Folds {unselected} had no eligible trial and traded the base configuration's parameters."
        )
    return "\n".join(parts) + "\n"
