"""Research pages: the list of recorded optimisations and walk-forwards, and one page for each."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from trading_playbook.web import figures
from trading_playbook.web import research_view as rv
from trading_playbook.web.render import render
from trading_playbook.web.store import (
    PageNotFound,
    PageUnavailable,
    ResearchFiles,
    Store,
    missing_parts,
    read_json_file,
)

router = APIRouter()
TOP_TRIALS = 100


@router.get("/research")
def research_list(request: Request) -> Response:
    store: Store = request.app.state.store
    return render(request, "research_list.html", {"nav": "research", "records": store.research_list()})


@router.get("/research/{research_id}")
def research_page(research_id: str, request: Request) -> Response:
    store: Store = request.app.state.store
    files = store.research(research_id)
    if files.record.kind == "optimize":
        return render(request, "optimize.html", {"nav": "research", **_optimize(files, request)})
    if files.record.kind == "walk-forward":
        return render(request, "walkforward.html", {"nav": "research", **_walk_forward(files)})
    raise PageUnavailable(
        "Unknown research kind", f"{research_id} is a {files.record.kind!r}, which this version cannot show"
    )


def _heatmap_pair(keys: list[str], request: Request) -> tuple[str, str] | None:
    """(x, y) from the query when valid; y falls back to another key than x (so changing one select
    at a time always gives a chart); the Markdown report's pair by default."""
    if len(keys) < 2:
        return None
    x = request.query_params.get("x")
    x = x if x in keys else keys[1]
    y = request.query_params.get("y")
    y = y if y in keys and y != x else next(k for k in keys if k != x)
    return x, y


def _optimize(files: ResearchFiles, request: Request) -> dict[str, Any]:
    summary = read_json_file(files.folder / "summary.json", "This optimisation")
    table = rv.read_table(files.folder / "trials.parquet", "This optimisation")
    keys = [k for k in rv.param_keys(summary) if k in table.columns]
    objective = str(summary.get("objective", "objective"))
    varied = [k for k in keys if table[k].nunique() > 1]
    pair = _heatmap_pair(varied, request)
    verdict, tone = rv.overfitting_verdict(summary.get("deflated_sharpe"), summary.get("pbo"))
    columns = ["rank", "trial", *keys, "objective", "eligible", *[c for c in rv.METRIC_COLUMNS if c in table]]
    return {
        "record": files.record,
        "summary": summary,
        "keys": keys,
        "varied": varied,
        "pair": pair,
        "objective": objective,
        "verdict": verdict,
        "tone": tone,
        "columns": columns,
        "trials": table[columns].head(TOP_TRIALS).to_dict("records"),
        "trial_count": len(table),
        "heatmap": rv.heatmap_figure(table, pair[0], pair[1], objective, [k for k in varied if k not in pair])
        if pair
        else None,
        "parallel": rv.parallel_figure(table, keys, objective) if len(table) else None,
    }


@router.get("/research/{research_id}/heatmap")
def heatmap_fragment(research_id: str, request: Request) -> Response:
    """The heatmap alone for another pair of parameters (HTMX)."""
    store: Store = request.app.state.store
    files = store.research(research_id)
    if files.record.kind != "optimize":
        raise PageNotFound("No heatmap", f"{research_id} is a {files.record.kind}, not an optimisation")
    context = _optimize(files, request)
    return render(request, "_heatmap.html", context)


def _walk_forward(files: ResearchFiles) -> dict[str, Any]:
    summary = read_json_file(files.folder / "summary.json", "This walk-forward")
    folds = rv.read_table(files.folder / "folds.parquet", "This walk-forward")
    stability = rv.read_table(files.folder / "stability.csv", "This walk-forward")
    oos = read_json_file(files.folder / "oos" / "result.json", "This walk-forward")
    if missing_parts(oos):
        raise PageUnavailable(
            "This walk-forward is incomplete",
            f"{files.folder / 'oos' / 'result.json'} lacks {', '.join(missing_parts(oos))}",
        )
    keys = [k for k in rv.param_keys(summary) if k in folds.columns]
    equity = figures.equity_figure(oos)
    equity["layout"]["title"]["text"] = "Stitched out-of-sample equity (growth of $1)"
    equity["layout"]["shapes"] = _fold_bands(folds)
    return {
        "record": files.record,
        "summary": summary,
        "keys": keys,
        "folds": folds.to_dict("records"),
        "stability": stability.to_dict("records"),
        "stability_columns": list(stability.columns),
        "oos": oos,
        "m": oos["metrics"],
        "equity": equity,
        "drawdown": figures.drawdown_figure(oos),
        "sharpe_folds": rv.fold_figure(folds, "sharpe", "Sharpe ratio: in sample vs out of sample", ".2f"),
        "cagr_folds": rv.fold_figure(folds, "cagr", "CAGR: in sample vs out of sample", ".0%"),
        "stability_chart": rv.stability_figure(folds, keys) if keys else None,
    }


def _fold_bands(folds: Any) -> list[dict[str, Any]]:
    """Alternate shading of the test windows on the stitched curve."""
    return [
        {"type": "rect", "xref": "x", "yref": "paper", "x0": str(row["test_start"]), "x1": str(row["test_end"]),
         "y0": 0, "y1": 1, "fillcolor": "rgba(9,105,218,0.05)" if i % 2 == 0 else "rgba(0,0,0,0)",
         "line": {"width": 0}, "layer": "below"}
        for i, row in enumerate(folds.to_dict("records"))
    ]  # fmt: skip
