"""Open report.html in headless Chromium: every inline SVG chart renders and the key figures are on the page.

The page itself has no script; the test loads a copy with a probe script appended that, on ``load``,
writes each chart's rendered size, the rendered width of its data (the strategy's line, the heatmap's
cells, the bars) and its text into the DOM, which ``--dump-dom`` prints.
"""

from __future__ import annotations

import dataclasses
import html
import json
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from trading_playbook.core.metrics import BenchmarkSeries, compute_metrics
from trading_playbook.reports import _format as fmt
from trading_playbook.reports import write_run
from trading_playbook.reports.samples import random_run

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="needs Debian's chromium at /usr/bin/chromium (apt-get install chromium)",
    ),
]

PROBE = """<script>
window.addEventListener('load', function () {
  var charts = Array.prototype.slice.call(document.querySelectorAll('figure[id^="chart-"] > svg'));
  var out = document.createElement('pre');
  out.id = 'probe';
  out.textContent = 'PROBE:' + JSON.stringify(charts.map(function (svg) {
    var box = svg.getBoundingClientRect();
    var data = svg.querySelectorAll('path.series, rect.cell, rect.bar');
    var drawn = Array.prototype.slice.call(data).map(function (e) { return e.getBBox(); });
    var left = Math.min.apply(null, drawn.map(function (b) { return b.x; }));
    var right = Math.max.apply(null, drawn.map(function (b) { return b.x + b.width; }));
    return {id: svg.parentNode.id, width: box.width, height: box.height, elements: data.length,
            span: drawn.length ? right - left : 0, text: svg.textContent};
  })) + ':END';
  document.body.appendChild(out);
});
</script>"""


def _dump_dom(page: Path, profile: Path) -> str:
    cmd = [
        str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={profile}", "--virtual-time-budget=10000", "--dump-dom", page.as_uri(),
    ]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=90, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, str, str]:
    run = random_run(n_sessions=600, n_trades=45, seed=21)
    bench = BenchmarkSeries(
        run.equity.dates, {"equal_weight": np.linspace(1.0, 1.25, 600)}, {"equal_weight": "Equal weight"}
    )
    run = dataclasses.replace(run, metrics=compute_metrics(run, benchmark=bench, survivorship_warning=True))
    out = tmp_path_factory.mktemp("browser")
    written = write_run(run, out, formats=("json", "html"), benchmark=bench)
    page = written["report_html"]
    probe_page = out / "probe.html"
    probe_page.write_text(page.read_text().replace("</body>", PROBE + "</body>"), encoding="utf-8")
    dom = _dump_dom(probe_page, out / "profile")
    return run.metrics, dom, page.read_text()


def test_every_chart_renders(rendered: tuple[dict, str, str]) -> None:
    _, dom, _ = rendered
    match = re.search(r"PROBE:(.*?):END", dom)
    assert match, "the probe script did not run (page failed to load?)"
    charts = json.loads(match.group(1))
    assert [c["id"] for c in charts] == [
        "chart-equity",
        "chart-monthly_returns",
        "chart-trade_returns",
        "chart-exit_reasons",
    ]
    for chart in charts:
        # drawn at a readable size, its data spread across the plot (not collapsed to a point)
        assert chart["width"] > 600 and chart["height"] > 100 and chart["elements"] > 0, chart["id"]
        assert chart["span"] > 300, chart["id"]
    text = {c["id"]: c["text"] for c in charts}
    assert "Monthly returns (%)" in text["chart-monthly_returns"] and "Jan" in text["chart-monthly_returns"]
    assert "Distribution of trade returns (45 trades)" in text["chart-trade_returns"]


def test_key_figures_appear_in_the_page(rendered: tuple[dict, str, str]) -> None:
    m, dom, _ = rendered
    text = html.unescape(re.sub(r"<[^>]+>", " ", re.sub(r"<svg.*?</svg>", "", dom, flags=re.S)))
    for figure in (
        m["verdict"].split(";")[0],
        "PRELIMINARY",
        fmt.pct(m["total_return"]),
        fmt.pct(m["cagr"]),
        fmt.num(m["sharpe"]),
        fmt.pct(m["max_drawdown"]),
        fmt.pct(m["win_rate"], signed=False),
        fmt.money(m["expectancy"], signed=True),
        fmt.pct(m["benchmarks"]["equal_weight"]["total_return"]),
        "survivorship",
    ):
        assert figure in text, figure
    assert "45 trades" in text


def test_the_page_loads_nothing_from_outside(rendered: tuple[dict, str, str]) -> None:
    _, _, page = rendered
    assert not re.search(r'(src|href)="(?!data:)', page)


def test_the_probe_sees_an_empty_chart(tmp_path: Path) -> None:
    # guards the guard: a chart that draws nothing must show up as zero elements and zero span
    page = tmp_path / "empty.html"
    page.write_text(
        f'<html><body><figure id="chart-x"><svg width="10" height="10"></svg></figure>{PROBE}</body></html>'
    )
    match = re.search(r"PROBE:(.*?):END", _dump_dom(page, tmp_path / "profile"))
    assert match and json.loads(match.group(1))[0]["elements"] == 0
    assert json.loads(match.group(1))[0]["span"] == 0
