"""Read-only and safe: bind rules, the token on every request, ids not paths (traversal), host check,
and a registry that is byte-for-byte unchanged after every page was read."""

from __future__ import annotations

import hashlib
import re

import pytest
from fastapi.testclient import TestClient

from trading_playbook.core.errors import ConfigError
from trading_playbook.web.app import ServeSettings, create_app
from trading_playbook.web.security import COOKIE, check_bind, is_loopback, session_value

TOKEN = "s3cret-token-for-tests-0123456789"


@pytest.mark.parametrize("host", ["127.0.0.1", "127.8.9.10", "localhost", "::1", "[::1]"])
def test_loopback_needs_no_token(host: str) -> None:
    assert is_loopback(host)
    check_bind(host, None)


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.20", "::", "example.com"])
def test_other_addresses_refuse_without_token(host: str) -> None:
    assert not is_loopback(host)
    with pytest.raises(ConfigError, match="without an access token"):
        check_bind(host, None)
    check_bind(host, TOKEN)


def test_short_tokens_are_refused() -> None:
    with pytest.raises(ConfigError, match="at least 16"):
        check_bind("0.0.0.0", "short")


@pytest.fixture(scope="module")
def guarded(web_home) -> TestClient:
    return TestClient(create_app(ServeSettings(home=web_home.home, host="0.0.0.0", token=TOKEN)))


def test_token_is_checked_on_every_request(guarded: TestClient, web_home) -> None:
    run_id = web_home.runs["smart"]
    urls = ["/runs", f"/runs/{run_id}", f"/runs/{run_id}/trades", "/runs/table", "/research", "/compare",
            "/static/app.css", "/static/vendor/plotly.min.js", "/favicon.ico", "/nowhere"]  # fmt: skip
    for url in urls:
        bare = guarded.get(url, follow_redirects=False)
        assert bare.status_code == 401, url
        assert TOKEN not in bare.text
        wrong = guarded.get(
            url, headers={"Authorization": "Bearer not-the-token-xxxxxxxx"}, follow_redirects=False
        )
        assert wrong.status_code == 401, url
        right = guarded.get(url, headers={"Authorization": f"Bearer {TOKEN}"}, follow_redirects=False)
        assert right.status_code == {"/nowhere": 404, "/compare": 400}.get(url, 200), url
    fragment = guarded.get("/runs/table", headers={"HX-Request": "true"})
    assert fragment.status_code == 401 and fragment.text == "access token required"


def test_login_form_sets_a_session_cookie_that_is_not_the_token(web_home) -> None:
    client = TestClient(create_app(ServeSettings(home=web_home.home, host="0.0.0.0", token=TOKEN)))
    page = client.get("/runs")
    assert page.status_code == 401 and 'action="/login"' in page.text and 'value="/runs"' in page.text
    refused = client.post("/login", data={"token": "wrong-wrong-wrong-wrong", "next": "/runs"})
    assert refused.status_code == 401 and "not the token" in refused.text
    signed_in = client.post("/login", data={"token": TOKEN, "next": "/research"}, follow_redirects=False)
    assert signed_in.status_code == 303 and signed_in.headers["location"] == "/research"
    cookie = signed_in.cookies[COOKIE]
    assert cookie == session_value(TOKEN) and TOKEN not in cookie
    assert "httponly" in signed_in.headers["set-cookie"].lower()
    assert client.get("/research").status_code == 200  # the cookie now carries the session
    forged = TestClient(create_app(ServeSettings(home=web_home.home, host="0.0.0.0", token=TOKEN)))
    forged.cookies.set(COOKIE, TOKEN)  # the raw token is not a session
    assert forged.get("/runs").status_code == 401


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example", "/\\evil.example"])
def test_login_never_redirects_off_site(web_home, target: str) -> None:
    client = TestClient(create_app(ServeSettings(home=web_home.home, host="0.0.0.0", token=TOKEN)))
    response = client.post("/login", data={"token": TOKEN, "next": target}, follow_redirects=False)
    assert response.headers["location"] == "/"


TRAVERSALS = [
    "/runs/..%2F..%2F..%2Fetc%2Fpasswd",
    "/runs/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "/runs/..%5C..%5Cwindows%5Cwin.ini",
    "/runs/20200101-000000-aaaaaa%2F..%2F..%2Fetc%2Fpasswd",
    "/runs/%2Fetc%2Fpasswd/trades/1",
    "/research/..%2F..%2F..%2Fetc%2Fpasswd",
    "/research/%2Fetc/heatmap",
    "/compare?run=../../etc/passwd&run=/etc/shadow",
    "/static/..%2F..%2F..%2F..%2Fetc%2Fpasswd",
    "/static/%2e%2e/app.py",
    "/static/vendor/..%2F..%2Fapp.py",
    "/paper/..%2F..%2Fetc%2Fpasswd",
]


@pytest.mark.parametrize("url", TRAVERSALS)
def test_paths_in_urls_are_ids_never_files(web_home, url: str) -> None:
    client = TestClient(create_app(ServeSettings(home=web_home.home)))
    response = client.get(url)
    assert response.status_code in (400, 404), url
    body = response.text
    assert "root:" not in body and "def create_app" not in body and "[fonts]" not in body


def test_foreign_host_header_is_refused_on_loopback(web_home) -> None:
    client = TestClient(create_app(ServeSettings(home=web_home.home)))
    assert client.get("/runs", headers={"Host": "127.0.0.1:8765"}).status_code == 200
    assert client.get("/runs", headers={"Host": "attacker.example"}).status_code == 400


def test_pages_carry_a_strict_content_security_policy(web_home) -> None:
    client = TestClient(create_app(ServeSettings(home=web_home.home)))
    response = client.get(f"/runs/{web_home.runs['smart']}")
    policy = response.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "script-src 'self' 'unsafe-eval'" in policy  # no inline script, no other origin
    assert not re.search(r"<script(?![^>]*(src=|type=\"application/json\"))", response.text)


def test_reading_every_page_writes_nothing(web_home) -> None:
    """The registry and the journals are byte-for-byte the same after every page was read (SQLite may
    add its -wal/-shm index files beside a WAL journal that a reader opens; their content is not data)."""

    def snapshot() -> dict[str, str]:
        return {
            str(p.relative_to(web_home.home)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in web_home.home.rglob("*")
            if p.is_file() and not p.name.endswith(("-wal", "-shm"))
        }

    before = snapshot()
    client = TestClient(create_app(ServeSettings(home=web_home.home)))
    for run_id in web_home.runs.values():
        assert client.get(f"/runs/{run_id}").status_code == 200
        assert client.get(f"/runs/{run_id}/trades/1").status_code == 200
    for research_id in web_home.research.values():
        assert client.get(f"/research/{research_id}").status_code == 200
    for url in ("/runs", "/paper", f"/paper/{web_home.account}", f"/paper/{web_home.account}/live",
                f"/paper/{web_home.account}/drift"):  # fmt: skip
        assert client.get(url).status_code == 200, url
    client.get("/compare", params=[("run", r) for r in web_home.runs.values()])
    assert snapshot() == before  # no new file (journal, lock), no schema migration: nothing changed
