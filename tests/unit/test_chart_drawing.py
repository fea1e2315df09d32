"""The charts' speed-ups change no pixel (issue 14): the PNG encoder writes exactly the canvas' pixels,
and a chart drawn on figures built ahead (:func:`prepare_figures`, the chart worker's warm-up) is the
same bytes as one drawn from scratch, for a run, a one-session run and a run without sessions."""

from __future__ import annotations

import dataclasses
import io
from typing import Any

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image

from trading_playbook._chart_worker import chart_inputs
from trading_playbook.core.metrics import compute_metrics
from trading_playbook.reports import charts
from trading_playbook.reports.json_result import result_document
from trading_playbook.reports.samples import random_run


def _inputs(**size: Any) -> dict[str, Any]:
    run = random_run(**size)
    run = dataclasses.replace(run, metrics=compute_metrics(run))
    return chart_inputs(result_document(run, created_at="2021-01-01T00:00:00Z"))


EMPTY = {
    "equity": [],
    "benchmarks": {},
    "starting_capital": 1000.0,
    "metrics": {
        "first_session": None,
        "last_session": None,
        "trades": 0,
        "monthly_returns": {},
        "exit_reasons": {},
    },
    "trades": [],
    "data": {},
}


@pytest.fixture(scope="module")
def documents() -> dict[str, dict[str, Any]]:
    return {
        "run": _inputs(n_sessions=700, n_trades=120, seed=5),
        "one session": _inputs(n_sessions=1, n_trades=1, seed=3),
        "no sessions": EMPTY,
    }


def _decoded(png: bytes) -> np.ndarray:
    image = Image.open(io.BytesIO(png))
    assert image.mode == "RGB"
    return np.asarray(image)


@pytest.mark.parametrize("shape", [(1, 1), (2, 3), (37, 50)])
def test_the_encoder_writes_exactly_the_pixels(shape: tuple[int, int]) -> None:
    rgb = np.random.default_rng(sum(shape)).integers(0, 256, (*shape, 3), dtype=np.uint8)
    rgb[0, 0] = (255, 0, 255)  # row differences that wrap around modulo 256
    assert np.array_equal(_decoded(charts._encode_png(rgb)), rgb)


def test_a_chart_png_is_the_canvas(documents: dict[str, dict[str, Any]]) -> None:
    fig = Figure(figsize=(3, 2))
    fig.subplots().plot([0, 1, 3], [1, 0, 2], color="#0969da")
    png = charts._png(fig)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    assert np.array_equal(_decoded(png), np.asarray(canvas.buffer_rgba())[..., :3])


def test_figures_built_ahead_give_the_same_bytes(documents: dict[str, dict[str, Any]]) -> None:
    for name, doc in documents.items():
        charts._prepared.clear()
        fresh = charts.render_charts(doc)
        charts.prepare_figures()
        assert set(charts._prepared) == set(charts.CHART_NAMES)
        ahead = charts.render_charts(doc)
        assert not charts._prepared  # each figure used once, by its own chart
        assert list(ahead) == list(charts.CHART_NAMES)
        for chart in charts.CHART_NAMES:
            assert ahead[chart] == fresh[chart], (name, chart)
            assert _decoded(ahead[chart]).shape[2] == 3


def test_a_figure_built_ahead_is_used_once() -> None:
    charts.prepare_figures()
    fig, axes = charts._figure("trade_returns", (9, 5))
    assert axes == fig.axes and "trade_returns" not in charts._prepared
    again, _ = charts._figure("trade_returns", (9, 5))
    assert again is not fig
    charts._prepared.clear()


def test_preparing_stops_when_the_values_arrive() -> None:
    charts._prepared.clear()
    asked: list[int] = []

    def stop() -> bool:
        asked.append(1)
        return len(asked) > 2  # the values arrive after two figures

    charts.prepare_figures(stop=stop)
    assert len(charts._prepared) == 2
    charts._prepared.clear()
