"""Jinja2 templates and the number filters the pages share (the report renderers' formats)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.templating import Jinja2Templates
from markupsafe import Markup
from starlette.responses import Response

from trading_playbook.reports import _format as f

__all__ = ["chart", "render", "templates"]

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"
templates = Jinja2Templates(directory=str(TEMPLATE_DIR))


def _sign_class(value: Any) -> str:
    """'pos' / 'neg' for a number's sign (the table colours), '' otherwise."""
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return "pos" if value > 0 else ("neg" if value < 0 else "")
    return ""


def _query(params: dict[str, Any], **changes: Any) -> str:
    """``params`` with ``changes`` applied, as a query string (empty values dropped)."""
    merged = {**params, **changes}
    return urlencode({k: v for k, v in merged.items() if v not in (None, "")}, doseq=True)


def chart(figure: dict[str, Any], chart_id: str, *, height: int | None = None) -> Markup:
    """A chart slot: a div Plotly draws into and the figure as inert JSON beside it (no inline script).

    The slot takes the figure's own height (so nothing below it is overlapped) unless ``height`` is
    given. ``static/app.js`` draws every slot on load and after each HTMX swap.
    """
    height = height or int(figure.get("layout", {}).get("height") or 360)
    payload = json.dumps(figure, separators=(",", ":"), allow_nan=False).replace("</", "<\\/")
    return Markup(
        f'<div class="chart" id="{chart_id}" style="height:{height}px" data-figure="{chart_id}-data"></div>'
        f'<script type="application/json" id="{chart_id}-data">{payload}</script>'
    )


templates.env.filters.update(
    pct=lambda v, digits=1, signed=True: f.pct(v, digits, signed=signed),
    money=lambda v, signed=False: f.money(v, signed=signed),
    num=lambda v, digits=2: f.num(v, digits),
    price=f.price,
    interval=f.interval,
    p_value=f.p_value,
    text=f.text,
    sign=_sign_class,
)
templates.env.globals.update(qs=_query, DASH=f.DASH, chart=chart)


def render(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> Response:
    """A page (or an HTMX fragment) from ``templates/name``."""
    return templates.TemplateResponse(request, name, context, status_code=status_code)
