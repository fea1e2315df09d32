"""Every page and fragment through FastAPI's test client: status, the key figures, and clear pages for
missing or half-written records (never a 500)."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from trading_playbook.history import load_document
from trading_playbook.reports import _format as f
from trading_playbook.web.app import ServeSettings, create_app


@pytest.fixture(scope="module")
def client(web_home) -> TestClient:
    return TestClient(create_app(ServeSettings(home=web_home.home)))


def _text(page: str) -> str:
    return html.unescape(page)


def _figures(page: str) -> dict[str, dict]:
    """Chart id -> figure JSON embedded in the page."""
    found = re.findall(r'<script type="application/json" id="([^"]+)-data">(.*?)</script>', page, re.S)
    return {chart_id: json.loads(body.replace("<\\/", "</")) for chart_id, body in found}


def test_root_redirects_to_runs(client: TestClient) -> None:
    response = client.get("/", follow_redirects=False)
    assert response.status_code == 307 and response.headers["location"] == "/runs"


def test_runs_page_lists_every_run_with_its_figures(client: TestClient, web_home) -> None:
    response = client.get("/runs")
    assert response.status_code == 200
    page = _text(response.text)
    for variant, run_id in web_home.runs.items():
        doc = load_document(run_id, db_path=web_home.registry)
        m = doc["metrics"]
        row = re.search(rf'<tr data-run="{run_id}">(.*?)</tr>', page, re.S)
        assert row, variant
        cells = row.group(1)
        assert f"web test {variant}" in cells
        assert f.pct(m["cagr"]) in cells and f.num(m["sharpe"]) in cells and f.pct(m["max_drawdown"]) in cells
        assert f.num(m["trades"]) in cells and m["validation"]["sample_size_status"] in cells
        assert f"{m['first_session']} to {m['last_session']}" in cells
    assert 'name="run"' in page and 'action="/compare"' in page  # multi-select to compare


def test_runs_table_filters_and_sorts(client: TestClient, web_home) -> None:
    page = client.get("/runs/table", params={"q": "scaled"}).text
    assert re.findall(r'data-run="([^"]+)"', page) == [web_home.runs["scaled"]]
    page = client.get("/runs/table", params={"q": "no such strategy"}).text
    assert "No run matches the filter." in page
    docs = {v: load_document(r, db_path=web_home.registry) for v, r in web_home.runs.items()}
    by_sharpe = sorted(web_home.runs, key=lambda v: docs[v]["metrics"]["sharpe"], reverse=True)
    page = client.get("/runs/table", params={"sort": "sharpe", "dir": "desc"}).text
    shown = [r for r in re.findall(r'data-run="([^"]+)"', page) if r in web_home.runs.values()]
    assert shown == [web_home.runs[v] for v in by_sharpe]
    status = docs["smart"]["metrics"]["validation"]["sample_size_status"]
    page = client.get("/runs/table", params={"status": status}).text
    assert web_home.runs["smart"] in page


def test_run_page_shows_statistics_charts_and_trades(client: TestClient, web_home) -> None:
    run_id = web_home.runs["scaled"]
    doc = load_document(run_id, db_path=web_home.registry)
    m, v = doc["metrics"], doc["metrics"]["validation"]
    response = client.get(f"/runs/{run_id}")
    assert response.status_code == 200
    page = _text(response.text)
    assert m["verdict"] in page and v["sample_size_status"] in page
    assert f.interval(v["ci"]["sharpe"]) in page and f.interval(v["ci"]["expectancy"], "money") in page
    assert f.pct(m["total_return"]) in page and f.money(m["final_equity"]) in page
    charts = _figures(response.text)
    assert set(charts) >= {"chart-equity", "chart-drawdown", "chart-rolling-sharpe", "chart-exposure",
                           "chart-monthly", "chart-exit-reasons", "chart-returns"}  # fmt: skip
    equity = charts["chart-equity"]
    assert equity["data"][0]["y"][-1] == pytest.approx(m["final_equity"] / doc["starting_capital"])
    assert [b["args"][0]["yaxis.type"] for b in equity["layout"]["updatemenus"][0]["buttons"]] == [
        "linear",
        "log",
    ]
    assert {t["name"] for t in equity["data"][1:]} == {b["label"] for b in doc["benchmarks"].values()}
    assert min(charts["chart-drawdown"]["data"][0]["y"]) == pytest.approx(m["max_drawdown"])
    for reason, stats in m["exit_reasons"].items():
        assert reason in page and f.money(stats["total_pnl"], signed=True) in page
    # the first page of the trade table: 50 rows of the run's trades in entry order
    rows = re.findall(r'<a href="/runs/[^/]+/trades/(\d+)">\d+</a>', response.text)
    assert rows == [str(i) for i in range(1, min(50, len(doc["trades"])) + 1)]
    assert "partial exits" in page  # scaled exits sell in parts


def test_trade_table_fragment_sorts_filters_and_pages(client: TestClient, web_home) -> None:
    run_id = web_home.runs["smart"]
    trades = load_document(run_id, db_path=web_home.registry)["trades"]
    assert len(trades) > 60
    url = f"/runs/{run_id}/trades"

    def numbers(params: dict) -> list[int]:
        response = client.get(url, params=params)
        assert response.status_code == 200
        assert "<html" not in response.text  # a fragment, not a page
        return [int(n) for n in re.findall(r'<a href="/runs/[^/]+/trades/(\d+)">\d+</a>', response.text)]

    by_pnl = sorted(range(1, len(trades) + 1), key=lambda n: trades[n - 1]["pnl"], reverse=True)
    assert numbers({"sort": "pnl", "dir": "desc"}) == by_pnl[:50]
    assert numbers({"sort": "pnl", "dir": "desc", "page": 2}) == by_pnl[50:100]
    symbol = trades[0]["symbol"]
    assert (
        numbers({"symbol": symbol.lower()})
        == [n for n, t in enumerate(trades, 1) if symbol in t["symbol"]][:50]
    )
    reason = trades[0]["exit_reason"]
    wanted = [n for n, t in enumerate(trades, 1) if t["exit_reason"] == reason and t["pnl"] <= 0]
    assert numbers({"reason": reason, "outcome": "loss"}) == wanted[:50]
    assert numbers({"sort": "../../etc", "dir": "sideways", "page": "x"}) == list(range(1, 51))  # whitelisted
    assert numbers({"page": 10_000}) == list(range(1, len(trades) + 1))[(-(len(trades) % 50) or -50) :]


def test_trade_page_draws_candles_fills_and_replayed_stops(client: TestClient, web_home) -> None:
    run_id = web_home.runs["scaled"]
    trades = load_document(run_id, db_path=web_home.registry)["trades"]
    n = next(i for i, t in enumerate(trades, 1) if t["partial_exits"])
    trade = trades[n - 1]
    response = client.get(f"/runs/{run_id}/trades/{n}")
    assert response.status_code == 200
    page = _text(response.text)
    assert "Stops replayed from the run's exit rules" in page
    figure = _figures(response.text)["chart-trade"]
    kinds = {t["name"]: t for t in figure["data"]}
    assert figure["data"][0]["type"] == "candlestick"
    assert kinds["Entry"]["x"] == [trade["entry_date"]] and kinds["Entry"]["y"] == [trade["entry_price"]]
    assert kinds["Partial exit"]["x"] == [p["date"] for p in trade["partial_exits"]]
    assert kinds["Exit"]["x"] == [trade["exit_date"]]
    resting = kinds["Resting stop (intraday)"]
    assert resting["x"][0] == trade["entry_date"] and resting["y"][0] == pytest.approx(trade["initial_stop"])
    assert not any(name.startswith("Initial stop") for name in kinds)  # the resting line starts there
    for p in trade["partial_exits"]:
        assert p["reason"] in page and f.price(p["price"]) in page
    # the final fill: exit_price is the share-weighted mean of every sale
    sold = sum(p["shares"] * p["price"] for p in trade["partial_exits"])
    left = trade["shares"] - sum(p["shares"] for p in trade["partial_exits"])
    assert kinds["Exit"]["y"][0] == pytest.approx((trade["exit_price"] * trade["shares"] - sold) / left)


def test_trade_page_for_an_unknown_trade_is_a_clear_404(client: TestClient, web_home) -> None:
    run_id = web_home.runs["smart"]
    for number in ("0", "99999", "abc", "1.5"):
        response = client.get(f"/runs/{run_id}/trades/{number}")
        assert response.status_code == 404 and "No such trade" in response.text


def test_compare_page_side_by_side_with_config_differences(client: TestClient, web_home) -> None:
    ids = [web_home.runs["smart"], web_home.runs["hybrid"]]
    response = client.get("/compare", params=[("run", i) for i in ids])
    assert response.status_code == 200
    page = _text(response.text)
    charts = _figures(response.text)
    assert (
        len(charts["chart-compare-equity"]["data"]) == 2
        and len(charts["chart-compare-drawdown"]["data"]) == 2
    )
    diff = re.search(r'<table class="data" id="config-diff">(.*?)</table>', page, re.S).group(1)
    assert "exit.name" in diff and "smart_exits" in diff and "hybrid_trailing" in diff
    assert "portfolio.entry_fill" in diff
    assert "scanner.preset" not in diff  # shared settings are not differences
    for run_id in ids:
        m = load_document(run_id, db_path=web_home.registry)["metrics"]
        assert f.num(m["sharpe"]) in page and f.pct(m["cagr"]) in page


def test_compare_needs_two_runs(client: TestClient, web_home) -> None:
    response = client.get("/compare", params={"run": web_home.runs["smart"]})
    assert response.status_code == 400 and "Pick two or more runs" in response.text


def test_research_list_and_pages(client: TestClient, web_home) -> None:
    page = _text(client.get("/research").text)
    for research_id in web_home.research.values():
        assert research_id in page
    opt = client.get(f"/research/{web_home.research['optimize']}")
    assert opt.status_code == 200
    text = _text(opt.text)
    assert "Deflated Sharpe ratio" in text and "PBO" in text and "Ranked trials" in text
    charts = _figures(opt.text)
    assert charts["chart-heatmap"]["data"][0]["type"] == "heatmap"
    assert charts["chart-parallel"]["data"][0]["type"] == "parcoords"
    labels = [d["label"] for d in charts["chart-parallel"]["data"][0]["dimensions"]]
    assert labels[:2] == ["exit.time_stop", "scanner.min_volume_ratio"] and labels.count("sharpe") == 1
    swapped = client.get(f"/research/{web_home.research['optimize']}/heatmap",
                         params={"x": "exit.time_stop", "y": "scanner.min_volume_ratio"})  # fmt: skip
    heat = _figures(swapped.text)["chart-heatmap"]["data"][0]
    assert heat["x"] == ["10", "17", "25"] and heat["y"] == ["1.0", "1.3"]
    wf = client.get(f"/research/{web_home.research['walk-forward']}")
    assert wf.status_code == 200
    text = _text(wf.text)
    assert "Walk-forward efficiency" in text and "Parameter stability" in text
    charts = _figures(wf.text)
    assert {"chart-stitched", "chart-folds-sharpe", "chart-folds-cagr", "chart-stability"} <= set(charts)


@pytest.mark.parametrize(
    ("url", "status", "words"),
    [
        ("/runs/20991231-235959-abcdef", 404, "No such run"),
        ("/runs/not-an-id", 404, "is not a run id"),
        ("/runs/20200101-000000-aaaaaa", 409, "lacks equity"),
        ("/runs/20200101-000000-bbbbbb", 409, "corrupt"),
        ("/runs/20200101-000000-aaaaaa/trades", 409, "lacks equity"),
        ("/research/20991231-235959-abcdef", 404, "No such research output"),
        ("/nowhere", 404, "Page not found"),
    ],
)
def test_missing_and_half_written_records_get_clear_pages(
    client: TestClient, url: str, status: int, words: str
) -> None:
    response = client.get(url)
    assert response.status_code == status
    assert words in html.unescape(response.text)


def test_half_written_and_deleted_research_outputs(client: TestClient, web_home) -> None:
    half = client.get(f"/research/{web_home.broken['research_half']}")
    assert half.status_code == 409 and "summary.json is missing" in half.text
    gone = client.get(f"/research/{web_home.broken['research_gone']}")
    assert gone.status_code == 409 and "no longer exists" in gone.text


def test_empty_home_shows_how_to_start(tmp_path: Path) -> None:
    client = TestClient(create_app(ServeSettings(home=tmp_path)))
    assert "No recorded runs" in client.get("/runs").text
    assert "No recorded optimisation" in client.get("/research").text
    assert not (tmp_path / "runs.sqlite").exists()  # reading never creates the registry


def test_static_assets_are_served_locally(client: TestClient) -> None:
    plotly = client.get("/static/vendor/plotly.min.js")
    assert plotly.status_code == 200 and "plotly.js" in plotly.text[:200]
    htmx = client.get("/static/vendor/htmx.min.js")
    assert htmx.status_code == 200 and "htmx" in htmx.text[:100]
    assert "Zero-Clause BSD" in client.get("/static/vendor/htmx.LICENSE").text
    page = client.get("/runs").text
    assert "http://" not in page.replace("http://127.0.0.1", "") and "https://" not in page  # no CDN


def test_paper_accounts_list(client: TestClient, web_home) -> None:
    from trading_playbook.paper import queries

    page = _text(client.get("/paper").text)
    summary = queries.account_summary(web_home.account, web_home.home)
    row = re.search(rf'<tr data-account="{web_home.account}">(.*?)</tr>', page, re.S).group(1)
    assert f.money(summary["equity"]) in row and summary["last_session"] in row
    assert "damaged" in page and "unreadable journal" in page


def test_paper_account_page_shows_the_journal(client: TestClient, web_home) -> None:
    from trading_playbook.paper import queries

    name, home = web_home.account, web_home.home
    response = client.get(f"/paper/{name}")
    assert response.status_code == 200
    page = _text(response.text)
    summary = queries.account_summary(name, home)
    assert f.money(summary["equity"]) in page and f.pct(summary["total_return"], 2) in page
    assert f'<strong id="last-session">{summary["last_session"]}</strong>' in page
    positions = re.search(r'<table class="data" id="positions">(.*?)</table>', page, re.S).group(1)
    for p in queries.positions(name, home):
        assert p["symbol"] in positions and f.price(p["stop"]) in positions
        assert f.money(p["unrealised_pnl"], signed=True) in positions
    pending = re.search(r'id="pending-orders">(.*?)</table>', page, re.S).group(1)
    for o in queries.pending_orders(name, home):
        assert o["symbol"] in pending and o["reason"] in pending
    decisions = re.search(r'id="decisions">(.*?)</table>', page, re.S).group(1)
    for d in queries.decisions(name, home, session=summary["last_session"]):
        assert d["symbol"] in decisions and d["outcome"] in decisions
    fills = re.search(r'<table class="data" id="fills">(.*?)</table>', page, re.S).group(1)
    for x in queries.fills(name, home)[-5:]:
        assert x["client_order_id"] in fills
    equity = _figures(response.text)["chart-paper-equity"]["data"][0]
    assert equity["y"][-1] == pytest.approx(summary["equity"]) and len(equity["x"]) == summary["sessions"]
    assert 'hx-trigger="every ' in response.text  # the live part polls


def test_paper_live_fragment_is_204_until_the_journal_changes(web_home, tmp_path: Path) -> None:
    import shutil

    from trading_playbook.paper.account import step_account

    home = tmp_path / "home"
    shutil.copytree(web_home.home / "paper", home / "paper")  # step a copy: the session's home stays as is
    client = TestClient(create_app(ServeSettings(home=home)))
    url = f"/paper/{web_home.account}/live"
    version = re.search(r'data-version="([^"]+)"', client.get(url).text).group(1)
    assert client.get(url, params={"v": version}).status_code == 204
    step_account(web_home.account, until="2015-07-31", home=home)
    fresh = client.get(url, params={"v": version})
    assert fresh.status_code == 200 and fresh.headers["HX-Trigger"] == "paper-stepped"
    assert '<strong id="last-session">2015-07-31</strong>' in fresh.text


def test_paper_drift_against_the_backtest(client: TestClient, web_home) -> None:
    response = client.get(f"/paper/{web_home.account}/drift")
    assert response.status_code == 200
    page = _text(response.text)
    assert "No drift" in page  # the simulated broker fills exactly as the backtest
    traces = _figures(response.text)["chart-drift"]["data"]
    assert traces[0]["y"][:-1] == traces[1]["y"][:-1]


@pytest.mark.parametrize("name", ["nobody", "bad-name", "%2E%2E", "webpaper.sqlite"])
def test_unknown_paper_accounts_are_404(client: TestClient, name: str) -> None:
    response = client.get(f"/paper/{name}")
    assert response.status_code == 404 and "No such paper account" in response.text


def test_a_damaged_journal_gets_a_clear_page(client: TestClient) -> None:
    response = client.get("/paper/damaged")
    assert response.status_code == 409 and "This paper account cannot be read" in response.text


def test_heatmap_pair_never_puts_one_parameter_on_both_axes(client: TestClient, web_home) -> None:
    url = f"/research/{web_home.research['optimize']}/heatmap"
    for params, pair in (
        ({}, ("scanner.min_volume_ratio", "exit.time_stop")),
        ({"x": "exit.time_stop", "y": "exit.time_stop"}, ("exit.time_stop", "scanner.min_volume_ratio")),
        ({"x": "../../etc", "y": "nope"}, ("scanner.min_volume_ratio", "exit.time_stop")),
    ):
        heat = _figures(client.get(url, params=params).text)["chart-heatmap"]["data"][0]
        assert heat["hovertemplate"].startswith(f"{pair[0]}=") and f"<br>{pair[1]}=" in heat["hovertemplate"]
