"""`playbook serve` as a process: the bind rules with their messages, the token from the environment
checked on every request over real HTTP, and the token never printed."""

from __future__ import annotations

import os
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from .conftest import PLAYBOOK, REPO, free_port, serve

TOKEN = "env-token-abcdefghijklmnop"


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k != "PLAYBOOK_SERVE_TOKEN"} | (env or {})
    return subprocess.run([str(PLAYBOOK), "serve", *args], cwd=REPO, env=environment, capture_output=True,
                          text=True, timeout=60, check=False)  # fmt: skip


def test_refuses_a_public_address_without_a_token(tmp_path: Path) -> None:
    done = _run("--host", "0.0.0.0", "--port", str(free_port()), "--home", str(tmp_path))
    assert done.returncode == 1
    assert "refusing to serve on 0.0.0.0 without an access token" in done.stderr
    assert "Traceback" not in done.stderr


def test_refuses_a_short_token(tmp_path: Path) -> None:
    done = _run("--host", "0.0.0.0", "--token", "short", "--home", str(tmp_path))
    assert done.returncode == 1 and "use at least 16" in done.stderr


def _status(url: str, token: str | None = None) -> int:
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def test_token_from_the_environment_guards_every_request(web_home, tmp_path: Path) -> None:
    with serve(
        web_home.home, "--host", "0.0.0.0", env={"PLAYBOOK_SERVE_TOKEN": TOKEN}, token=TOKEN
    ) as server:
        run_id = web_home.runs["smart"]
        for path in ("/runs", f"/runs/{run_id}", "/static/app.js", f"/paper/{web_home.account}"):
            assert _status(server.url + path) == 401, path
            assert _status(server.url + path, "wrong-token-wrong-token") == 401, path
            assert _status(server.url + path, TOKEN) == 200, path
    assert TOKEN not in server.log.read_text()


@pytest.mark.parametrize("bind", ["127.0.0.1"])
def test_loopback_serves_without_a_token(web_home, bind: str) -> None:
    with serve(web_home.home, "--host", bind) as server:
        assert _status(server.url + "/runs") == 200
        assert "dashboard on http://127.0.0.1:" in server.log.read_text()


def test_a_port_in_use_is_a_one_line_error(tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        done = _run("--port", str(taken.getsockname()[1]), "--home", str(tmp_path))
    assert (
        done.returncode == 1
        and "cannot listen on 127.0.0.1:" in done.stderr
        and "Traceback" not in done.stderr
    )
