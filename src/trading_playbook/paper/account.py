"""Paper accounts: create one from a config, step it forward one session at a time.

An account is a journal file (:mod:`trading_playbook.paper.journal`) under
``$PLAYBOOK_HOME/paper/``. :func:`init_account` stores the resolved config, its hash, the config
file's path, the broker and the first session. :func:`step_account` takes a lock on the account,
refuses a config file that changed since (naming the keys), loads the config's data, and runs the
event-driven engine over every session that has data and has not been processed yet: before each
session the portfolio state and the broker's book are read back from the journal, after it the
session is committed. A crash at any point is repaired by stepping again.

A paper account does not know that a symbol's data has ended (a later bar may still come), so it
never sells END_OF_DATA: a position whose symbol stops trading is held, marked at its last close
(``playbook paper status`` shows how many sessions it has had no bar).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from trading_playbook.config import PlaybookConfig, load_config, parse_config
from trading_playbook.core.errors import ConfigError, PlaybookError
from trading_playbook.core.panel import Panel
from trading_playbook.core.simulate.market import Market, build_market
from trading_playbook.core.simulate.reference import EventEngine, SessionLog
from trading_playbook.core.simulate.settings import PortfolioSettings, check_windows
from trading_playbook.core.simulate.state import new_state
from trading_playbook.core.types import SetupTable
from trading_playbook.paper.brokers import broker_kinds, check_broker, make_broker
from trading_playbook.paper.journal import SCHEMA_VERSION, Journal

__all__ = [
    "Account",
    "AccountBusy",
    "AccountError",
    "StepResult",
    "account_from_meta",
    "account_lock",
    "account_path",
    "config_differences",
    "init_account",
    "open_account",
    "paper_home",
    "run_sessions",
    "step_account",
]

_NAME = re.compile(r"^[A-Za-z0-9_]{1,40}$")


class AccountError(PlaybookError):
    """A paper account is missing, exists already, or cannot be used as asked."""


class AccountBusy(AccountError):
    """Another process is stepping the account."""


@dataclass(frozen=True)
class Account:
    """What the journal says about an account."""

    name: str
    path: Path
    config: dict[str, Any]
    config_hash: str
    config_path: str | None
    broker: dict[str, Any]
    start: dt.date
    created_at: str
    base_dir: str | None = None  # the config file's folder: relative [data] paths are read from it

    def playbook_config(self) -> PlaybookConfig:
        """The stored config, its relative paths resolved against the config file's folder."""
        return parse_config(self.config, origin=f"paper account {self.name!r}", base_dir=self.base_dir)


@dataclass
class StepResult:
    """What a step did: one log per processed session, plus the orders left resting."""

    account: str
    logs: list[SessionLog] = field(default_factory=list)
    open_orders: list[dict[str, Any]] = field(default_factory=list)
    note: str = ""
    last_processed: dt.date | None = None  # the account's last session after the step
    latest_data: dt.date | None = None  # the latest session in the data it loaded


# ---------------------------------------------------------------------------------------- paths
def paper_home(home: Path | None = None) -> Path:
    """``<playbook home>/paper`` (the home of :func:`trading_playbook.history.registry_path`)."""
    from trading_playbook.history import registry_path

    return registry_path(home).parent / "paper"


def _check_name(name: str) -> str:
    if not _NAME.match(name):
        raise AccountError(
            f"account name {name!r} is not valid: use 1-40 letters, digits or '_' (it becomes part of "
            "every client order id)"
        )
    return name


def account_path(name: str, home: Path | None = None) -> Path:
    """The journal file of account ``name``."""
    return paper_home(home) / f"{_check_name(name)}.sqlite"


@contextlib.contextmanager
def account_lock(name: str, home: Path | None = None, *, wait: float = 0.0) -> Iterator[None]:
    """Hold the account's lock; another holder makes this wait ``wait`` seconds, then refuse."""
    from filelock import FileLock, Timeout

    path = account_path(name, home).with_suffix(".lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(path), timeout=max(0.0, wait))
    try:
        lock.acquire()
    except Timeout:
        waited = f" after waiting {wait:g} s" if wait > 0 else ""
        raise AccountBusy(
            f"paper account {name!r} is being stepped by another process{waited} (lock {path}); "
            "let it finish, or pass --wait SECONDS to wait for it"
        ) from None
    try:
        yield
    finally:
        lock.release()


# ---------------------------------------------------------------------------------------- config
def config_differences(old: Mapping[str, Any], new: Mapping[str, Any], prefix: str = "") -> list[str]:
    """Dotted keys whose values differ between two resolved configs (lists compared item by item)."""
    out: list[str] = []
    for key in sorted(set(old) | set(new)):
        path = f"{prefix}{key}"
        a, b = old.get(key, "<missing>"), new.get(key, "<missing>")
        if isinstance(a, Mapping) and isinstance(b, Mapping):
            out.extend(config_differences(a, b, path + "."))
        elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
            for i, (x, y) in enumerate(zip(a, b, strict=True)):
                if isinstance(x, Mapping) and isinstance(y, Mapping):
                    out.extend(config_differences(x, y, f"{path}.{i}."))
                elif x != y:
                    out.append(f"{path}.{i}")
        elif a != b:
            out.append(path)
    return out


def _refuse_changed(name: str, stored: Mapping[str, Any], path: str, new: PlaybookConfig) -> None:
    # the stored config read by this version of the package: keys a newer version adds with their
    # defaults are in both, so an upgrade is not a change of strategy
    current = parse_config(stored, origin=f"paper account {name!r}").to_dict()
    diffs = config_differences(current, new.to_dict())
    if diffs:
        raise ConfigError(
            f"config file {path} differs from the config of paper account {name!r} in "
            f"{', '.join(diffs)}; an account keeps its strategy: restore the file, or start a new account "
            "with `playbook paper init CONFIG --account NEW_NAME`"
        )


# ---------------------------------------------------------------------------------------- init
def init_account(
    config_path: Path,
    name: str,
    *,
    broker: str = "sim",
    start: str | None = None,
    home: Path | None = None,
    sim_slippage_bps: float | None = None,
    latest_session: Callable[[PlaybookConfig], dt.date] | None = None,
    broker_options: Mapping[str, Any] | None = None,
) -> Account:
    """Create account ``name`` for the config at ``config_path``.

    The first session is ``start``, else the config's ``[data] start``, else the latest session with
    data (``latest_session(cfg)``; by default the data is loaded to find it).
    """
    cfg = load_config(config_path)
    if cfg.data.adjustment == "all":
        raise ConfigError(
            f'{config_path}: [data] adjustment = "all" re-scales every past price at each new dividend, '
            'which an account holding real shares cannot follow; use adjustment = "split" for a paper account'
        )
    if broker not in broker_kinds():
        raise ConfigError(f"unknown broker {broker!r}; available: {', '.join(broker_kinds())}")
    if sim_slippage_bps is not None and broker != "sim":
        raise ConfigError("--sim-slippage-bps applies to the simulated broker only (--broker sim)")
    path = account_path(name, home)
    with account_lock(name, home):
        if path.exists():
            stored = Journal(path).meta()
            _refuse_changed(name, stored["config"], str(config_path), cfg)
            raise AccountError(
                f"paper account {name!r} exists already ({path}); step it with "
                f"`playbook paper step --account {name}`, or pick another name"
            )
        first = _first_session(cfg, start, latest_session)
        spec: dict[str, Any] = {"kind": broker, **dict(broker_options or {})}
        if sim_slippage_bps is not None:
            spec["slippage_bps"] = float(sim_slippage_bps)
        described = check_broker(
            spec, cfg
        )  # e.g. Alpaca: the keys and the account, before anything is written
        if described:
            spec["account"] = described
        journal = Journal(path, create=True)
        try:
            journal.set_meta(
                {
                    "schema_version": SCHEMA_VERSION,
                    "account": name,
                    "config": cfg.to_dict(),
                    "config_hash": cfg.config_hash,
                    "config_path": str(Path(config_path).resolve()),
                    "broker": spec,
                    "start": first.isoformat(),
                    "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                    "base_dir": str(Path(config_path).parent.absolute()),
                }
            )
        finally:
            journal.close()
    return open_account(name, home)[0]


def _first_session(
    cfg: PlaybookConfig, start: str | None, latest: Callable[[PlaybookConfig], dt.date] | None
) -> dt.date:
    text = start or cfg.data.start
    if text:
        try:
            return dt.date.fromisoformat(str(text)[:10])
        except ValueError:
            raise ConfigError(f"--start {text!r} is not a date; use YYYY-MM-DD") from None
    if latest is not None:
        return latest(cfg)
    from trading_playbook.engine import load_data

    sessions = load_data(cfg).panel.sessions
    return dt.date.fromisoformat(str(np.datetime64(sessions[-1], "D")))


def open_account(name: str, home: Path | None = None) -> tuple[Account, Journal]:
    """The account and its open journal (the caller closes it)."""
    path = account_path(name, home)
    if not path.is_file():
        raise AccountError(
            f"no paper account {name!r} in {path.parent}; create it with "
            f"`playbook paper init CONFIG --account {name}` (or check PLAYBOOK_HOME)"
        )
    journal = Journal(path)
    try:
        account = account_from_meta(journal.meta(), path)
    except AccountError:
        journal.close()
        raise
    return account, journal


def account_from_meta(meta: Mapping[str, Any], path: Path) -> Account:
    """The :class:`Account` a journal's ``meta`` table describes (checked against the schema version)."""
    if meta.get("schema_version") != SCHEMA_VERSION:
        raise AccountError(f"journal {path} has schema {meta.get('schema_version')!r}, not {SCHEMA_VERSION}")
    return Account(
        base_dir=meta.get("base_dir"),
        name=str(meta["account"]),
        path=path,
        config=dict(meta["config"]),
        config_hash=str(meta["config_hash"]),
        config_path=meta.get("config_path"),
        broker=dict(meta["broker"]),
        start=dt.date.fromisoformat(meta["start"]),
        created_at=str(meta["created_at"]),
    )


# ---------------------------------------------------------------------------------------- stepping
def run_sessions(
    journal: Journal,
    account: Account,
    market: Market,
    settings: PortfolioSettings,
    rows: range,
    *,
    end: int | None = None,
    on_session: Callable[[SessionLog], None] | None = None,
) -> list[SessionLog]:
    """Process ``rows`` of ``market``; each session starts from the state read back from the journal.

    ``end`` makes the row ``end`` the last session of a replay (END_OF_TEST).
    """
    names = [rt.spec.name for rt in market.sleeves]
    if len(rows):  # e.g. ml_score: a session may only use a model trained before it
        check_windows([rt.spec for rt in market.sleeves], market.dates[rows[0]], market.dates[rows[-1]])
    logs = []
    for t in rows:
        last = journal.last_session()
        if last is not None and last[0] >= market.dates[t]:
            continue  # committed by an earlier run
        state = last[1] if last is not None else _initial_state(account, market, settings, names)
        broker = make_broker(account.broker, journal, market.panel, settings)
        engine = EventEngine.restore(market, settings, broker, state, end=end, decisions=True)
        for split in engine.splits:
            journal.log(
                f"split of {split.symbol} ({split.ratio:.6g} new shares per share) applied before "
                f"{market.dates[t]}; cash in lieu {split.cash_in_lieu:.2f}"
            )
        log = engine.run_session(t)
        journal.commit_session(
            market.dates[t],
            log.row,
            dict(zip(names, log.sleeve_equity, strict=True)),
            engine.save(),
            [(key[2], trade.to_dict()) for key, trade in log.trades],
            log.decisions,
        )
        logs.append(log)
        if on_session is not None:
            on_session(log)
    return logs


def _initial_state(
    account: Account, market: Market, settings: PortfolioSettings, names: list[str]
) -> dict[str, Any]:
    from trading_playbook.core.simulate.state import state_to_dict

    return state_to_dict(new_state(account.name, settings.starting_capital, names), market.dates)


def step_account(
    name: str,
    *,
    until: str | dt.date | None = None,
    home: Path | None = None,
    wait: float = 0.0,
    panel: Panel | None = None,
    on_session: Callable[[SessionLog], None] | None = None,
) -> StepResult:
    """Advance account ``name`` over every session with data not processed yet (up to ``until``).

    ``panel`` replaces loading the config's data (tests, the daemon's warm data).
    """
    from trading_playbook.engine import build_sleeves, load_data, portfolio_settings

    with account_lock(name, home, wait=wait):
        account, journal = open_account(name, home)
        try:
            from trading_playbook.paper.queries import orders_of_state

            if account.config_path and Path(account.config_path).is_file():
                _refuse_changed(name, account.config, account.config_path, load_config(account.config_path))
            cfg = account.playbook_config()
            data = panel if panel is not None else load_data(cfg).panel
            rows, note = _pending_rows(journal, account, data, until)
            result = StepResult(account=name, note=note)
            if len(rows):
                cut = data.truncate(rows[-1])
                market = build_market(cut, build_sleeves(cfg), known_data_end=False)
                result.logs = run_sessions(
                    journal, account, market, portfolio_settings(cfg), rows, on_session=on_session
                )
                if result.logs:
                    journal.log(
                        f"stepped {len(result.logs)} session(s) to {result.logs[-1].date.isoformat()}"
                    )
            last = journal.last_session()
            result.open_orders = [] if last is None else orders_of_state(last[1])
            result.last_processed = None if last is None else last[0]
            result.latest_data = dt.date.fromisoformat(str(np.datetime64(data.sessions[-1], "D")))
            return result
        finally:
            journal.close()


def _pending_rows(
    journal: Journal, account: Account, panel: Panel, until: str | dt.date | None
) -> tuple[range, str]:
    """Rows of ``panel`` the account has not processed yet (from its start, up to ``until``)."""
    from trading_playbook.core.simulate.market import session_dates

    dates = session_dates(panel)
    last = journal.last_session()
    first_day = account.start if last is None else last[0] + dt.timedelta(days=1)
    lo = int(np.searchsorted(np.array(dates, dtype="datetime64[D]"), np.datetime64(first_day, "D")))
    hi = len(dates) - 1
    if until is not None:
        day = until if isinstance(until, dt.date) else dt.date.fromisoformat(str(until)[:10])
        hi = (
            int(np.searchsorted(np.array(dates, dtype="datetime64[D]"), np.datetime64(day, "D"), "right")) - 1
        )
    if lo > hi:
        latest = dates[-1].isoformat() if dates else "none"
        done = last[0].isoformat() if last else "nothing yet"
        return range(0), f"no new session with data (processed: {done}; latest data: {latest})"
    return range(lo, hi + 1), ""


def replay_market(
    panel: Panel, sleeves: list[Any], end: int, setups: list[SetupTable | None] | None
) -> Market:
    """The market of a replay: the panel cut after its last session, the end of data known."""
    return build_market(panel.truncate(end), sleeves, known_data_end=True, setups=setups)
