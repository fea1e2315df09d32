"""The dashboard in a real browser: Debian's headless Chromium driven by Playwright (never downloaded).

`playbook serve` runs as a process on a free loopback port over a home holding the synthetic runs,
research outputs and paper account of ``conftest.py`` plus a real backtest of the shared S&P 500 data
(the first half of 2019, recorded by `playbook backtest` from the repository root, as a user would).
Each page is opened; the checks: Plotly drew its SVG in every chart slot, sorting and filtering the
trade table work through HTMX, the log-scale toggle works, a paper page shows a new session after
`playbook paper step` without a reload, and no page logged a console error. Screenshots go to
``test-artifacts/web/``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import PLAYBOOK, REPO, serve

CHROMIUM = Path("/usr/bin/chromium")
SHARED = REPO / ".." / "shared" / "data" / "sp500_daily.parquet"
ARTIFACTS = REPO / "test-artifacts" / "web"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (apt-get install chromium)"),
    pytest.mark.skipif(not SHARED.exists(), reason="needs the shared S&P 500 data"),
]


def _playbook(*args: str, home: Path) -> str:
    env = {**os.environ, "PLAYBOOK_HOME": str(home)}
    done = subprocess.run([str(PLAYBOOK), *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=600,
                          check=False)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def site(web_home, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    root = tmp_path_factory.mktemp("browser")
    home = root / "home"
    shutil.copytree(web_home.home, home)
    out = _playbook("backtest", "examples/sp500_breakout.toml", "--start", "2019-01-01", "--end", "2019-06-30",
                    "--no-charts", "--out", str(root / "sp500"), home=home)  # fmt: skip
    sp500 = re.search(r"Recorded as run\s+(\S+)", out).group(1)
    with serve(home, "--poll", "1") as server:
        yield {"url": server.url, "home": home, "sp500": sp500, "web": web_home}


@pytest.fixture(scope="module")
def browser(site: dict) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: object, site: dict) -> Iterator[object]:
    """A fresh page that records console errors and uncaught exceptions; the test ends with none."""
    context = browser.new_context(viewport={"width": 1360, "height": 900})  # type: ignore[attr-defined]
    tab = context.new_page()
    errors: list[str] = []
    tab.on("console", lambda m: errors.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    tab.on("pageerror", lambda e: errors.append(f"page error: {e}"))
    tab.errors = errors
    yield tab
    context.close()
    assert errors == []


def _open(page: object, site: dict, path: str, shot: str) -> None:
    response = page.goto(site["url"] + path)  # type: ignore[attr-defined]
    assert response.status == 200, path
    page.wait_for_load_state("networkidle")  # type: ignore[attr-defined]
    _charts_drawn(page)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{shot}.png"), full_page=True)  # type: ignore[attr-defined]


def _charts_drawn(page: object) -> int:
    """Every chart slot on the page holds Plotly's SVG; returns how many."""
    slots = page.locator("div.chart[data-figure]")  # type: ignore[attr-defined]
    for i in range(slots.count()):
        slots.nth(i).locator("svg.main-svg").first.wait_for(state="attached", timeout=20_000)
    return int(slots.count())


def _column(page: object, key: str) -> list[str]:
    index = page.locator("#trade-table thead th").evaluate_all(  # type: ignore[attr-defined]
        f"(ths) => ths.findIndex(th => th.dataset.key === {key!r})"
    )
    return page.locator(f"#trade-table tbody tr td:nth-child({index + 1})").all_inner_texts()  # type: ignore[attr-defined]


def _money(text: str) -> float:
    return float(text.replace("$", "").replace(",", "").replace("+", ""))


def test_runs_page_sorts_filters_and_compares(page: object, site: dict) -> None:
    _open(page, site, "/runs", "runs")
    rows = page.locator("#runs tbody tr[data-run]")
    assert rows.count() == 6  # three synthetic runs, two damaged records, the S&P 500 run
    page.locator("#runs thead th[data-key=sharpe] a").click()
    page.wait_for_selector("#runs thead th.sorted[data-key=sharpe]")
    page.fill("input[name=q]", "S&P 500")
    page.wait_for_function("document.querySelectorAll('#runs tbody tr[data-run]').length === 1")
    assert page.locator("#runs tbody tr[data-run]").first.get_attribute("data-run") == site["sp500"]
    page.fill("input[name=q]", "web test")
    page.wait_for_function("document.querySelectorAll('#runs tbody tr[data-run]').length >= 3")
    for variant in ("smart", "hybrid"):
        page.check(f"input[name=run][value='{site['web'].runs[variant]}']")
    page.click("#compare-button")
    page.wait_for_url(re.compile(r".*/compare\?run=.*"))
    page.wait_for_load_state("networkidle")
    assert _charts_drawn(page) == 2
    assert "hybrid_trailing" in page.locator("#config-diff").inner_text()
    page.screenshot(path=str(ARTIFACTS / "compare.png"), full_page=True)


def test_run_page_charts_toggle_and_trade_table(page: object, site: dict) -> None:
    run_id = site["sp500"]
    _open(page, site, f"/runs/{run_id}", "run-sp500")
    assert _charts_drawn(page) == 7
    page.get_by_text("Log", exact=True).click()
    page.wait_for_function("document.getElementById('chart-equity').layout.yaxis.type === 'log'")
    # sort by P&L, largest first: the swapped table is in order
    page.locator("#trade-table thead th[data-key=pnl] a").click()
    page.wait_for_selector("#trade-table thead th.sorted[data-key=pnl]")
    pnl = [_money(t) for t in _column(page, "pnl")]
    assert len(pnl) == 50 and pnl == sorted(pnl, reverse=True)
    # click again: smallest first
    page.locator("#trade-table thead th[data-key=pnl] a").click()
    page.wait_for_selector("#trade-table thead th.sorted[data-key=pnl] >> text=▲")
    pnl = [_money(t) for t in _column(page, "pnl")]
    assert pnl == sorted(pnl)
    # filter by symbol, then by exit reason: every row matches, the count says so
    symbol = _column(page, "symbol")[0]
    page.fill("#trade-symbol", symbol)
    page.wait_for_function(
        f"[...document.querySelectorAll('#trade-table tbody td.sym')].every(td => td.innerText.includes({symbol!r}))"
    )
    assert page.locator("#trade-symbol").evaluate("el => el === document.activeElement")  # focus kept
    page.fill("#trade-symbol", "")
    page.wait_for_function("document.querySelectorAll('#trade-table tbody tr').length === 50")
    page.select_option("#trade-reason", "MA_BREAK")
    page.wait_for_function(
        "[...document.querySelectorAll('#trade-table tbody tr')].every(tr => tr.innerText.includes('MA_BREAK'))"
    )
    assert "MA_BREAK" in page.locator("#trade-reason").input_value()
    page.screenshot(path=str(ARTIFACTS / "run-sp500-filtered.png"), full_page=True)
    # a trade's page from the table: candles, fills and replayed stops
    page.locator("#trade-table tbody tr td.sym a").first.click()
    page.wait_for_url(re.compile(r".*/trades/\d+$"))
    page.wait_for_load_state("networkidle")
    assert _charts_drawn(page) == 1
    names = page.evaluate("document.getElementById('chart-trade').data.map(t => t.name)")
    assert {"Entry", "Exit", "Resting stop (intraday)"} <= set(names)
    assert page.evaluate("document.getElementById('chart-trade').data[0].type") == "candlestick"
    assert "Stops replayed" in page.locator("#chart-note").inner_text()
    page.screenshot(path=str(ARTIFACTS / "trade-sp500.png"), full_page=True)


def test_trade_page_with_partial_exits(page: object, site: dict) -> None:
    from trading_playbook.history import load_document

    web = site["web"]
    trades = load_document(web.runs["scaled"], db_path=web.registry)["trades"]
    n = next(i for i, t in enumerate(trades, 1) if len(t["partial_exits"]) >= 1)
    _open(page, site, f"/runs/{web.runs['scaled']}/trades/{n}", "trade-partials")
    names = page.evaluate("document.getElementById('chart-trade').data.map(t => t.name)")
    assert "Partial exit" in names and "Resting stop (intraday)" in names


def test_research_pages(page: object, site: dict) -> None:
    web = site["web"]
    _open(page, site, "/research", "research")
    _open(page, site, f"/research/{web.research['optimize']}", "optimize")
    assert _charts_drawn(page) == 2  # heatmap and parallel coordinates
    heatmap = "(() => { const el = document.getElementById('chart-heatmap'); return el && el.data && el.data[0]; })()"
    assert page.evaluate(f"{heatmap}.x.length") == 2  # x: scanner.min_volume_ratio (1.0, 1.3)
    page.select_option("#heatmap-x", "exit.time_stop")  # y was exit.time_stop: it becomes the other one
    page.wait_for_function(f"{heatmap} && {heatmap}.x.length === 3 && {heatmap}.y.length === 2")
    assert page.locator("#heatmap-y").input_value() == "scanner.min_volume_ratio"
    _open(page, site, f"/research/{web.research['walk-forward']}", "walk-forward")
    assert _charts_drawn(page) == 5


def test_paper_page_updates_after_a_step_without_reload(page: object, site: dict) -> None:
    web = site["web"]
    _open(page, site, "/paper", "paper-accounts")
    _open(page, site, f"/paper/{web.account}", "paper-account")
    page.wait_for_selector("#drift-verdict")
    before = page.locator("#last-session").inner_text()
    page.evaluate("window.__notReloaded = true")
    _playbook("paper", "step", "--account", web.account, "--until", "2015-09-30", home=site["home"])
    page.wait_for_function(
        "document.getElementById('last-session').innerText === '2015-09-30'", timeout=30_000
    )
    assert before != "2015-09-30"
    assert page.evaluate("window.__notReloaded === true")  # the same document: HTMX swapped the live part
    page.wait_for_function(
        "document.getElementById('drift-verdict').innerText.includes('2015-09-30')", timeout=60_000
    )
    _charts_drawn(page)
    page.screenshot(path=str(ARTIFACTS / "paper-account-after-step.png"), full_page=True)


def test_missing_run_page(page: object, site: dict) -> None:
    response = page.goto(site["url"] + "/runs/20991231-235959-abcdef")
    assert response.status == 404
    assert "No such run" in page.locator("#problem").inner_text()
    page.errors.clear()  # the browser logs the 404 of the document itself; that is the point
