"""The fake market's clock for a ``playbook`` process the test did not start in-process (test-only).

An Alpaca account's runner is clock-driven: it sleeps until the next thing is due, and its broker
waits for fills by sleeping. In-process tests hand it a clock that moves the fake market forward
(``tests/integration/alpaca_harness.MarketClock``). A real process (one a test kills with SIGKILL)
gets the same behaviour over HTTP:

- the test process runs a :class:`ClockService` beside the :class:`~.server.FakeAlpaca`: ``GET /now``
  answers the market time, ``POST /advance?to=ISO`` moves the market towards ``to``, stopping at each
  session's open and each delayed fill (as ``MarketClock`` does), and runs the test's actions due by
  then (``at(when, action)``: a SIGKILL of the process at an exact market time, for instance);
- the process runs the real CLI through :func:`main` (``python -c "...; main()" paper run --account A``)
  with ``FAKE_ALPACA_CLOCK_URL`` and ``FAKE_ALPACA_CLOCK_UNTIL`` in its environment: :func:`main`
  swaps the daemon's system clock for a :class:`RemoteClock` and then calls the CLI unchanged. The
  runner stops by itself (its stop event set) when the market reaches ``FAKE_ALPACA_CLOCK_UNTIL``.

Nothing here is part of the package: the package's CLI and runner run exactly as a user runs them,
only the time they read is the fake market's.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import threading
import time
import urllib.request
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from .clock import sessions_between, to_utc
from .server import FakeAlpaca

__all__ = ["ClockService", "RemoteClock", "main"]


class ClockService:
    """Serves the fake market's clock to one process at a time (see the module docstring)."""

    def __init__(self, fake: FakeAlpaca) -> None:
        self.fake = fake
        self.lock = threading.Lock()
        self.actions: list[tuple[dt.datetime, Callable[[], Any]]] = []
        self.errors: list[str] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> ClockService:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def at(self, when: str, action: Callable[[], Any]) -> None:
        """Run ``action`` (in the test process) when the market reaches ``when`` (New York time)."""
        with self.lock:
            self.actions.append((to_utc(when), action))
            self.actions.sort(key=lambda a: a[0])

    def advance_toward(self, target: dt.datetime) -> dt.datetime:
        """One move of the market towards ``target`` (to the next open, delayed fill or action)."""
        with self.lock:
            now = self.fake.clock.now()
            if now < target:
                opens = [
                    s.open + dt.timedelta(seconds=1) for s in sessions_between(now.date(), target.date())
                ]
                releases = [t + dt.timedelta(seconds=1) for t in self.fake.broker.release_times()]
                marks = [t for t in [*opens, *releases, *(a[0] for a in self.actions)] if now < t <= target]
                self.fake.advance_to(min([*marks, target]))
                self.fake.wait_delivered()
            while self.actions and self.actions[0][0] <= self.fake.clock.now():
                self.actions.pop(0)[1]()
                self.fake.wait_delivered()
            return self.fake.clock.now()


def _handler(service: ClockService) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            if urlparse(self.path).path == "/delivered":
                service.fake.wait_delivered()
                self._answer(service.fake.clock.now(), frames=service.fake.trade_frames_sent())
            else:
                self._answer(service.fake.clock.now())

        def do_POST(self) -> None:
            query = parse_qs(urlparse(self.path).query)
            try:
                now = service.advance_toward(dt.datetime.fromisoformat(query["to"][0]))
            except Exception as exc:  # the test reads service.errors
                service.errors.append(f"{type(exc).__name__}: {exc}")
                raise
            self._answer(now)

        def _answer(self, now: dt.datetime, **extra: object) -> None:
            data = json.dumps({"now": now.isoformat(), **extra}).encode()
            try:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except OSError:
                pass  # the process was killed while it waited for this answer

    return Handler


class RemoteClock:
    """The runner's clock inside the process: the market time of a :class:`ClockService`.

    The market moves only when this process sleeps (or by the test while no process runs), so the
    time is read once and then taken from each answer of ``/advance``.
    """

    def __init__(self, url: str, until: dt.datetime) -> None:
        self.url = url
        self.until = until
        self.parts: Any = None  # the runner's parts (set by main): sleeping waits for the trade stream
        self._now = self._call("GET", "/now")

    def now(self) -> dt.datetime:
        return self._now

    def sleep(self, seconds: float, stop: threading.Event) -> None:
        target = min(self._now + dt.timedelta(seconds=seconds), self.until)
        self.settle()  # what the step just did (an order's "new" event) is handled before time moves
        while self._now < target and not stop.is_set():
            self._now = self._call("POST", f"/advance?to={target.isoformat().replace('+', '%2B')}")
            self.settle()
        if self._now >= self.until:
            stop.set()  # the test's end of this process: the runner stops as after SIGTERM

    def settle(self, timeout: float = 30.0) -> None:
        """Let the trade stream receive and handle every frame the fake has written to it.

        ``/delivered`` waits until the fake's frames are on the socket and says how many went to the
        newest trade connection; this process then waits until its stream has received that many
        (one connection per process here: no test of this chain cuts the stream) and worked them off.
        No fixed sleep decides it, so a loaded machine cannot reorder a frame and a kill.
        """
        if self.parts is None:
            return
        updates = self.parts.updates
        frames = int(self._request("GET", "/delivered")["frames"])
        deadline = time.monotonic() + timeout
        while updates.received < frames:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the trade stream received {updates.received} of {frames} frames")
            time.sleep(0.002)
        updates.wait_idle()

    def _call(self, method: str, path: str) -> dt.datetime:
        return dt.datetime.fromisoformat(self._request(method, path)["now"])

    def _request(self, method: str, path: str) -> dict[str, Any]:
        request = urllib.request.Request(
            self.url + path, method=method, data=b"" if method == "POST" else None
        )
        with urllib.request.urlopen(request, timeout=120) as answer:
            return dict(json.loads(answer.read()))


def main() -> None:
    """Run the ``playbook`` CLI (``sys.argv``) with the market's clock instead of the system clock."""
    from trading_playbook.cli import main as cli
    from trading_playbook.paper import alpaca_runner, daemon

    clock = RemoteClock(os.environ["FAKE_ALPACA_CLOCK_URL"], to_utc(os.environ["FAKE_ALPACA_CLOCK_UNTIL"]))
    daemon.SystemClock = lambda: clock  # type: ignore[assignment,misc]
    original = alpaca_runner.AlpacaRunner.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        clock.parts = self.parts

    alpaca_runner.AlpacaRunner.__init__ = init  # type: ignore[method-assign]
    cli()
