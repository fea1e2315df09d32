"""The runs page: the registry as a sortable, filterable table with multi-select to compare."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from trading_playbook.web.render import render
from trading_playbook.web.tables import RUN_COLUMNS, STATUSES, RunQuery, run_rows

router = APIRouter()


def _context(request: Request) -> dict[str, object]:
    store = request.app.state.store
    query = RunQuery.parse(request.query_params)
    rows = run_rows(store.runs())
    return {
        "query": query,
        "params": query.params(),
        "page": query.select(rows),
        "all_runs": len(rows),
        "columns": RUN_COLUMNS,
        "statuses": STATUSES,
        "registry": store.registry,
    }


@router.get("/runs")
def runs_page(request: Request) -> Response:
    """The whole page."""
    return render(request, "runs.html", {**_context(request), "nav": "runs"})


@router.get("/runs/table")
def runs_table(request: Request) -> Response:
    """The table alone (HTMX swaps it when the filter, order or page changes)."""
    return render(request, "_runs_table.html", _context(request))
