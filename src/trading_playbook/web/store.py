"""Read-only access to what the dashboard shows: the run registry, research outputs and their files.

Every URL carries an **id** (a run id, a research id, an account name), never a path: the id is checked
against its pattern, then looked up in the registry, and only the registry says which folder to read.
The registry is opened read-only (``mode=ro``); stored documents are immutable once recorded, so the
parsed ones are kept in a small in-memory cache.
"""

from __future__ import annotations

import json
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from trading_playbook import history
from trading_playbook.core.errors import PlaybookError

__all__ = [
    "RUN_ID",
    "PageNotFound",
    "PageUnavailable",
    "Store",
    "check_run_id",
    "missing_parts",
]

#: Run and research ids as the registry makes them (``YYYYMMDD-HHMMSS-xxxxxx``).
RUN_ID = re.compile(r"\d{8}-\d{6}-[0-9a-f]{6}")

T = TypeVar("T")


class PageNotFound(PlaybookError):
    """Nothing is recorded under the id in the URL (HTTP 404)."""

    def __init__(self, title: str, detail: str) -> None:
        super().__init__(detail)
        self.title = title
        self.detail = detail


class PageUnavailable(PlaybookError):
    """The id is recorded but what it points at cannot be shown (half-written, corrupt; HTTP 409)."""

    def __init__(self, title: str, detail: str) -> None:
        super().__init__(detail)
        self.title = title
        self.detail = detail


def check_run_id(text: str, what: str = "run") -> str:
    """``text`` when it has the shape of a registry id, else :class:`PageNotFound`."""
    if not RUN_ID.fullmatch(text):
        raise PageNotFound(
            f"No such {what}",
            f"{text!r} is not a {what} id (ids look like 20240131-154501-a1b2c3); pick one from the list.",
        )
    return text


#: What a result document needs before the run page can be drawn (half-written otherwise).
_REQUIRED = ("metrics", "equity", "trades", "config")
_REQUIRED_METRICS = ("validation", "exit_reasons", "monthly_returns", "verdict")


def missing_parts(doc: Mapping[str, Any]) -> list[str]:
    """The parts a run page needs that ``doc`` lacks (empty: complete)."""
    missing = [key for key in _REQUIRED if not isinstance(doc.get(key), dict | list)]
    metrics = doc.get("metrics")
    if isinstance(metrics, dict):
        missing += [f"metrics.{key}" for key in _REQUIRED_METRICS if key not in metrics]
    return missing


@dataclass(frozen=True)
class ResearchFiles:
    """A research output as the pages read it: its record and the folder the registry names."""

    record: history.ResearchRecord
    folder: Path


class _LRU:
    """A small thread-safe memo of immutable values (parsed documents, loaded bars)."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[Any, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Any, make: Callable[[], T]) -> T:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]  # type: ignore[no-any-return]
        value = make()  # outside the lock: a slow load must not block other pages
        with self._lock:
            self._items[key] = value
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return value


class Store:
    """The registry of one playbook home, read-only.

    Parameters
    ----------
    home : Path
        The playbook home (``runs.sqlite`` and, when present, the paper accounts live there).
    """

    def __init__(self, home: Path) -> None:
        self.home = Path(home)
        self.registry = history.registry_path(self.home)
        self._documents = _LRU(8)
        self._run_lists = _LRU(1)
        self.memo = _LRU(16)  # for other immutable loads (bars of a symbol)

    # ---------------------------------------------------------------- runs
    def runs(self) -> list[history.RunRecord]:
        """Every recorded run, newest first (empty when there is no registry yet).

        Parsing a thousand rows' metrics costs a few hundred milliseconds, so the list is kept until
        the registry file changes (a new run recorded changes its size and modification time).
        """
        try:
            stat = self.registry.stat()
        except FileNotFoundError:
            return []
        version = (stat.st_mtime_ns, stat.st_size)
        return self._run_lists.get(version, lambda: history.list_runs(db_path=self.registry, readonly=True))

    def run(self, run_id: str) -> history.RunRecord:
        """The registry row of ``run_id`` (an exact id)."""
        check_run_id(run_id)
        if not self.registry.is_file():
            raise PageNotFound("No such run", f"there is no run registry in {self.home} yet")
        try:
            record = history.get_run(run_id, db_path=self.registry, readonly=True)
        except history.RegistryError as exc:
            raise PageNotFound("No such run", f"no recorded run {run_id}") from exc
        if record.run_id != run_id:  # a prefix match is not an id
            raise PageNotFound("No such run", f"no recorded run {run_id}")
        return record

    def document(self, run_id: str) -> dict[str, Any]:
        """The stored result document of ``run_id``, complete enough for the run page."""
        self.run(run_id)
        doc = self._documents.get(run_id, lambda: self._load_document(run_id))
        missing = missing_parts(doc)
        if missing:
            raise PageUnavailable(
                "This run is incomplete",
                f"run {run_id} is recorded but its stored result lacks {', '.join(missing)} (was the "
                "backtest interrupted while writing, or written by an older version?). Re-run the "
                "backtest to record it again.",
            )
        return doc

    def _load_document(self, run_id: str) -> dict[str, Any]:
        try:
            doc = history.load_document(run_id, db_path=self.registry, readonly=True)
        except history.RegistryError as exc:
            raise PageUnavailable("This run cannot be read", str(exc)) from exc
        if not isinstance(doc, dict):
            raise PageUnavailable(
                "This run cannot be read", f"the stored result of run {run_id} is not a document"
            )
        return doc

    # ---------------------------------------------------------------- research
    def research_list(self) -> list[history.ResearchRecord]:
        """Recorded optimisations and walk-forwards, newest first."""
        if not self.registry.is_file():
            return []
        return history.list_research(db_path=self.registry, readonly=True)

    def research(self, research_id: str) -> ResearchFiles:
        """A research output and its folder (which must still exist)."""
        check_run_id(research_id, "research output")
        if not self.registry.is_file():
            raise PageNotFound("No such research output", f"there is no registry in {self.home} yet")
        try:
            record = history.get_research(research_id, db_path=self.registry, readonly=True)
        except history.RegistryError as exc:
            raise PageNotFound(
                "No such research output", f"no recorded research output {research_id}"
            ) from exc
        folder = Path(record.out_dir)
        if not folder.is_dir():
            raise PageUnavailable(
                "Research output moved or deleted",
                f"{record.kind} {research_id} was written to {folder}, which no longer exists; re-run it.",
            )
        return ResearchFiles(record, folder)


def read_json_file(path: Path, what: str) -> dict[str, Any]:
    """A JSON object from a research folder; :class:`PageUnavailable` names the file when it is not."""
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise PageUnavailable(
            f"{what} is incomplete",
            f"{path.name} is missing in {path.parent} (still running, or interrupted?)",
        ) from exc
    except (OSError, ValueError) as exc:
        raise PageUnavailable(f"{what} cannot be read", f"{path} is not readable JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise PageUnavailable(f"{what} cannot be read", f"{path} does not hold a JSON object")
    return value
