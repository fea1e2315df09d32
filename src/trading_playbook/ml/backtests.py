"""The portfolio test of the report: the learned ranking/filter against the rule score and against
taking setups in random order, over the same out-of-sample span with the same capital, slots, exits,
sizer and costs (the config's).

Variants (each a scanner handed to the same engine run):

- ``rule score``: the base scanner (the design's ranking);
- ``random #k``: the base setups in a seeded random order (``[ml] random_draws`` draws);
- ``<kind> rank``: ``ml_score`` ordering by the prediction;
- ``<kind> filter q=<q>``: ``ml_score`` dropping setups below the fold's training quantile ``q``.

Every rule-score and learned variant is a trial in the deflated Sharpe ratio of the best learned one
(``core.overfitting``): the more models and thresholds were tried, the higher the bar.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from trading_playbook.config import PlaybookConfig
from trading_playbook.core.metrics import compute_metrics
from trading_playbook.core.overfitting import deflated_sharpe_ratio, sharpe_per_period
from trading_playbook.core.panel import Panel
from trading_playbook.core.types import RunResult, SetupTable
from trading_playbook.ml.dataset import slice_table
from trading_playbook.ml.scanner import MLScoreScanner
from trading_playbook.ml.settings import MLConfig

__all__ = ["RandomOrderScanner", "compare_portfolios"]

_KEEP = (
    "total_return",
    "cagr",
    "sharpe",
    "max_drawdown",
    "trades",
    "win_rate",
    "expectancy",
    "profit_factor",
)


class RandomOrderScanner:
    """The base scanner's setups ranked in a seeded random order (a no-skill ranking).

    Row k of the base table gets the k-th draw of ``numpy.random.default_rng(seed)``; rows are in
    session order, so cutting the panel later never changes an earlier session's order.
    """

    name: ClassVar[str] = "random_order"

    def __init__(self, base: Any, seed: int) -> None:
        self.base = base
        self.seed = int(seed)

    def params(self) -> dict[str, Any]:
        base = self.base.params() if hasattr(self.base, "params") else repr(self.base)
        return {"base": repr(base), "seed": self.seed}

    def scan(self, panel: Panel) -> SetupTable:
        table = self.base.scan(panel)
        score = np.random.default_rng(self.seed).random(len(table))
        fields = {n: getattr(table, n) for n in SetupTable.__dataclass_fields__}
        out = SetupTable(**{**fields, "score": score})
        from trading_playbook.core.scanners.base import rank_order

        return slice_table(out, rank_order(out.session_idx, out.score, out.volume_ratio, out.symbol_idx))


def _variants(
    cfg: PlaybookConfig, ml: MLConfig, models_dir: Path, kinds: list[str]
) -> list[tuple[str, str, Any]]:
    from trading_playbook.engine import build_sleeves

    base = build_sleeves(cfg)[0].scanner
    out: list[tuple[str, str, Any]] = [("rule score", "rule", base)]
    out += [
        (f"random #{k + 1}", "random", RandomOrderScanner(base, ml.seed + k)) for k in range(ml.random_draws)
    ]
    for kind in kinds:
        out.append((f"{kind} rank", "learned", MLScoreScanner(str(models_dir), model=kind, mode="rank")))
        for q in ml.filter_quantiles:
            scanner = MLScoreScanner(str(models_dir), model=kind, mode="filter", quantile=q)
            out.append((f"{kind} filter q={q:g}", "learned", scanner))
    return out


def compare_portfolios(
    cfg: PlaybookConfig,
    workspace: Any,
    ml: MLConfig,
    models_dir: Path,
    kinds: list[str],
    start: str,
    end: str,
    *,
    engine: str = "fast",
) -> dict[str, Any]:
    """Run every variant over ``start..end``; metrics, daily equity and the deflated Sharpe."""
    from trading_playbook.engine import build_sleeves, portfolio_settings, simulate, window

    panel = workspace.panel
    lo, hi = window(panel, start, end)
    sleeve = build_sleeves(cfg)[0]
    settings = portfolio_settings(cfg)
    runs: list[dict[str, Any]] = []
    for label, group, scanner in _variants(cfg, ml, models_dir, kinds):
        spec = dataclasses.replace(sleeve, scanner=scanner)
        tables = [workspace.setups_for(scanner)] if engine == "fast" else None
        trades, equity = simulate(panel, [spec], settings, start=lo, end=hi, engine=engine, setups=tables)
        result = RunResult(
            trades=trades, equity=equity, config={}, data={}, starting_capital=settings.starting_capital
        )
        metrics = compute_metrics(result, seed=cfg.report.bootstrap_seed, n_bootstrap=200)
        returns = np.diff(equity.equity) / equity.equity[:-1]
        runs.append(
            {
                "label": label,
                "group": group,
                "metrics": {k: metrics.get(k) for k in _KEEP},
                "dates": [str(d) for d in equity.dates],
                "equity": equity.equity.tolist(),
                "_returns": returns,
            }
        )
    return {
        "start": str(panel.sessions[lo]),
        "end": str(panel.sessions[hi]),
        "engine": engine,
        "runs": runs,
        **_judge(runs),
    }


def _judge(runs: list[dict[str, Any]]) -> dict[str, Any]:
    trials = [r for r in runs if r["group"] in ("rule", "learned")]
    sharpes = np.array([float(sharpe_per_period(r["_returns"])) for r in trials])
    learned = [i for i, r in enumerate(trials) if r["group"] == "learned"]
    best = max(learned, key=lambda i: sharpes[i]) if learned else None
    random = [
        r["metrics"]["sharpe"] for r in runs if r["group"] == "random" and r["metrics"]["sharpe"] is not None
    ]
    rule = next(r for r in runs if r["group"] == "rule")
    out: dict[str, Any] = {
        "n_trials": len(trials),
        "random_sharpe": {
            "mean": _mean(random),
            "min": min(random, default=None),
            "max": max(random, default=None),
        },
        "rule_sharpe": rule["metrics"]["sharpe"],
    }
    if best is not None and trials[best]["_returns"].size > 1:
        dsr = deflated_sharpe_ratio(trials[best]["_returns"], sharpes)
        best_sharpe = trials[best]["metrics"]["sharpe"]
        out["best_learned"] = {
            "label": trials[best]["label"],
            "sharpe": best_sharpe,
            "deflated_sharpe": dsr.dsr,
            "expected_max_sharpe_daily": dsr.expected_max_sharpe,
            "beats_rule": _gt(best_sharpe, rule["metrics"]["sharpe"]),
            "beats_every_random": bool(random) and _gt(best_sharpe, max(random)),
            "random_draws_beaten": sum(1 for s in random if _gt(best_sharpe, s)),
        }
    for r in runs:
        r.pop("_returns")
    return out


def _gt(a: float | None, b: float | None) -> bool:
    return a is not None and b is not None and a > b


def _mean(values: list[float]) -> float | None:
    return float(np.mean(values)) if values else None
