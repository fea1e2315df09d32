"""Real ``kill -9`` of ``playbook paper run`` processes of an Alpaca account, and the processes after them.

One account is traded through the fake Alpaca (served by this test process on 127.0.0.1; the
processes reach it through the config's ``[broker]``/``[data]`` URLs and the test keys in their
environment) over the six sessions of the fault-free baseline, by a chain of six real processes
(``python -c`` running the package's CLI, ``paper run --account alp``; only their clock is the fake
market's, see ``tests/fakes/alpaca/process_clock.py``). Five of them die by SIGKILL:

1. right after its 1st journal write (``PLAYBOOK_PAPER_FAULT_AFTER=1``): the 01-02 step has journaled
   the XOM entry intent and sent nothing;
2. at 19:05 on 01-02 (the test kills it at that market time): the ``opg`` entry went out at 19:00,
   Alpaca accepted it, nothing filled (killed between submission and fill); the entry then fills at
   the 01-03 open while no process runs, so its ``trade_updates`` event is never received;
3. right after its 1st journal write (``FAULT_AFTER=1``), the reconciliation line of the 01-03 step:
   Alpaca has filled the entry, the journal has not booked the fill (killed between fill and journal
   write);
4. right after its 4th journal write (``FAULT_AFTER=4``): the 01-03 step has journaled the fill, the
   first stop and the FB/V entry intents, but not the session;
5. at 15:55 on 01-09: the ``cls`` exit of XOM went out at 15:45 and fills at the 16:00 close, which
   happens while no process runs (killed between submission and fill of an exit).

At each kill the journal and the fake are checked to be in exactly that state. The sixth process
reconciles, catches up and stops at 17:00 on 01-09. Then: Alpaca received every client order id
once (no duplicate order), the fills in the journal add up to the fills at Alpaca order by order (no
fill lost, none invented), and trades, positions, Alpaca's positions and the last equity row equal
the uninterrupted run's (the ``baseline`` fixture). ``playbook paper status`` lists the resting
orders with how each stands at Alpaca (also checked after kills 2 and 4), and ``playbook paper
reconcile`` finds nothing to resolve.

Kill 4 is the one that found a bug: reconciliation took a fill journaled by the killed step as
booked, so the position looked like a trade outside the platform and blocked the next entries.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fakes.alpaca import FakeAlpaca
from fakes.alpaca.process_clock import ClockService
from trading_playbook.cli import app
from trading_playbook.paper import queries
from trading_playbook.paper.account import account_path, init_account
from trading_playbook.paper.alpaca_book import AlpacaBook

from .alpaca_harness import FIRST, market_bars, start_fake, write_config
from .test_alpaca_account_faults import no_order_twice, summary

TESTS = Path(__file__).resolve().parents[1]
RUNNER = [
    sys.executable,
    "-c",
    "from fakes.alpaca.process_clock import main; main()",  # fakes/ found through PYTHONPATH (env below)
    "paper", "run", "--account", "alp",
]  # fmt: skip
XOM_ENTRY, XOM_EXIT = "tp-alp-2018-01-02-main-XOM-entry", "tp-alp-2018-01-09-main-XOM-exit"


@pytest.fixture(scope="module")
def bars():
    return market_bars()


class Chain:
    """Starts the account's processes one after the other against one fake and its clock service."""

    def __init__(self, tmp: Path, fake: FakeAlpaca, service: ClockService) -> None:
        self.home = tmp / "home"
        self.journal = account_path("alp", self.home)
        self.fake = fake
        self.service = service
        self.process: subprocess.Popen[str] | None = None

    def run(self, *, until: str, fault_after: int | None = None, kill_at: str | None = None) -> int:
        """One process from the market's current time; its exit code (-9 when killed)."""
        env = {
            **os.environ,
            "PLAYBOOK_HOME": str(self.home),
            "FAKE_ALPACA_CLOCK_URL": self.service.url,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH")])),
        }
        env["FAKE_ALPACA_CLOCK_UNTIL"] = until  # if the kill never comes, the process ends here
        env.pop("PLAYBOOK_PAPER_FAULT_AFTER", None)
        if fault_after is not None:
            env["PLAYBOOK_PAPER_FAULT_AFTER"] = str(fault_after)
        if kill_at is not None:
            self.service.at(kill_at, self.kill)
        self.process = subprocess.Popen(
            RUNNER, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
        )
        out, _ = self.process.communicate(timeout=120)
        self.output = out
        return self.process.returncode

    def kill(self) -> None:
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def killed(self, **kwargs: object) -> None:
        code = self.run(**kwargs)  # type: ignore[arg-type]
        assert code == -signal.SIGKILL, f"exit code {code}, not killed; its output:\n{self.output}"

    def rows(self, sql: str) -> list[tuple[object, ...]]:
        with sqlite3.connect(self.journal) as conn:
            return conn.execute(sql).fetchall()

    def intents(self) -> set[str]:
        return {r[0] for r in self.rows("SELECT client_order_id FROM intents")}

    def sessions(self) -> list[str]:
        return [r[0] for r in self.rows("SELECT session FROM sessions ORDER BY session")]

    def resting(self) -> dict[str, tuple[object, ...]]:
        """``playbook paper status --json``: each pending order's (handling, status, order at Alpaca)."""
        out = CliRunner().invoke(
            app, ["paper", "status", "--account", "alp", "--json"], env={"PLAYBOOK_HOME": str(self.home)}
        )
        assert out.exit_code == 0, out.output
        pending = json.loads(out.output)["pending_orders"]
        return {
            o["client_order_id"]: (o["alpaca"]["handling"], o["alpaca"]["status"], o["alpaca"]["order"])
            for o in pending
        }

    def fill_of(self, coid: str) -> list[tuple[object, ...]]:
        return self.rows(f"SELECT shares FROM events WHERE type = 'fill' AND client_order_id = '{coid}'")


def net_fills(fake: FakeAlpaca, home: Path) -> tuple[dict[str, int], dict[str, int]]:
    """Signed filled shares per engine order: at Alpaca (aliases counted with their order), in the journal."""
    parent = {
        a: h.client_order_id for h in AlpacaBook(account_path("alp", home)).all_handling() for a in h.aliases
    }
    alpaca: dict[str, int] = defaultdict(int)
    for order in fake.orders():
        if order.filled_qty:
            alpaca[parent.get(order.client_order_id, order.client_order_id)] += order.filled_qty * (
                1 if order.side == "buy" else -1
            )
    journal: dict[str, int] = defaultdict(int)
    for fill in queries.fills("alp", home):
        journal[fill["client_order_id"]] += int(fill["shares"]) * (1 if fill["side"] == "buy" else -1)
    return dict(alpaca), dict(journal)


def test_killed_processes_reconcile_without_duplicate_or_lost_fill(
    tmp_path: Path, bars, keys, baseline
) -> None:
    fake = start_fake(bars)
    service = ClockService(fake).start()
    chain = Chain(tmp_path, fake, service)
    try:
        write_config(tmp_path / "s.toml", fake, tmp_path / "cache")
        init_account(tmp_path / "s.toml", "alp", broker="alpaca", start=FIRST, home=chain.home)

        # 1. after the intent write of the 01-02 step: journaled, not sent
        chain.killed(fault_after=1, until="2018-01-02 19:30")
        assert chain.intents() == {XOM_ENTRY} and chain.sessions() == [] and fake.orders() == []

        # 2. between submission and fill: the opg entry rests at Alpaca when the process dies
        chain.killed(kill_at="2018-01-02 19:05", until="2018-01-02 19:30")
        assert fake.order(XOM_ENTRY).status == "accepted" and chain.sessions() == ["2018-01-02"]
        assert chain.resting() == {XOM_ENTRY: ("placed", "accepted", XOM_ENTRY)}  # as the stream last said
        fake.advance_to("2018-01-03 10:00")  # the entry fills with no process listening
        assert fake.order(XOM_ENTRY).status == "filled" and chain.fill_of(XOM_ENTRY) == []

        # 3. between fill and journal write: the 01-03 step dies after its reconciliation line
        chain.killed(fault_after=1, until="2018-01-03 19:30")
        assert chain.fill_of(XOM_ENTRY) == [] and chain.sessions() == ["2018-01-02"]
        logs = [m["message"] for m in queries.log_messages("alp", chain.home)]
        assert "XOM: Alpaca holds 392, the journal 0 (+392 not booked yet): explained" in logs[-1]

        # 4. the fill, the first stop and the next entries journaled; the session not committed
        chain.killed(fault_after=4, until="2018-01-03 19:30")
        assert chain.fill_of(XOM_ENTRY) == [(392,)] and chain.sessions() == ["2018-01-02"]
        assert {"tp-alp-2018-01-03-main-FB-entry", "tp-alp-2018-01-03-main-V-entry"} <= chain.intents()
        # 01-02's state still; the fill missed while no process ran was recovered over REST at start
        assert chain.resting() == {XOM_ENTRY: ("placed", "filled", XOM_ENTRY)}

        # 5. between submission and fill of the cls exit of 01-09
        chain.killed(kill_at="2018-01-09 15:55", until="2018-01-09 16:30")
        assert fake.order(XOM_EXIT).status == "new" and chain.fill_of(XOM_EXIT) == []
        fake.advance_to("2018-01-09 16:30")  # the close fills it with no process listening
        assert fake.order(XOM_EXIT).status == "filled"

        # 6. a fresh process reconciles and catches up
        assert chain.run(until="2018-01-09 17:00") == 0, chain.output
        assert "stopped" in chain.output and "Traceback" not in chain.output
        no_order_twice(fake)
        alpaca, journal = net_fills(fake, chain.home)
        assert alpaca == journal
        assert summary(chain.home, fake) == baseline
        # status lists the resting orders: the stops, with the order standing for each at Alpaca (FB's
        # was cut to the shares held: -a1), and the entry decided at 01-09 waiting for the 19:00 window
        fb_stop, v_stop = "tp-alp-2018-01-04-main-FB-stop-open", "tp-alp-2018-01-04-main-V-stop-open"
        ba_entry = "tp-alp-2018-01-09-main-BA-entry"
        assert chain.resting() == {
            fb_stop: ("placed", "new", f"{fb_stop}-a1"),
            v_stop: ("placed", "new", v_stop),
            ba_entry: ("deferred", None, ba_entry),
        }
        assert fake.order(f"{fb_stop}-a1").status == fake.order(v_stop).status == "new"
        assert ba_entry not in {o.client_order_id for o in fake.orders()}
        # and `playbook paper reconcile` (read only, without --adopt/--flatten) finds nothing to resolve
        check = CliRunner().invoke(
            app, ["paper", "reconcile", "--account", "alp"], env={"PLAYBOOK_HOME": str(chain.home)}
        )
        assert check.exit_code == 0 and "Alpaca and the journal of account 'alp' agree." in check.output
        assert service.errors == [] and fake.server_errors == []
    finally:
        service.stop()
        fake.stop()
