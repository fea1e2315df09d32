"""A run's output folder: checked before the run, written fresh, swapped in whole.

Reusing ``--out`` must never leave one run's files next to another's (``report.html`` and ``charts/``
of run A beside ``report.md`` of run B). So a run is written into a new temporary folder next to the
target; when everything is written, the previous run folder (if any) is moved aside, the new one is
renamed into place and the old one deleted. A crash while writing leaves the previous folder as it
was. Only a *run folder* is replaced: one holding ``result.json`` (or an empty folder); any other
existing folder or file is an error that names it, so a typo in ``--out`` cannot delete a user's files.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

from trading_playbook.core.errors import ConfigError, PlaybookError

__all__ = ["check_out_dir", "fresh_run_folder"]

_MARKER = "result.json"


def check_out_dir(out: Path) -> Path:
    """Fail fast (before any work) when ``out`` cannot become this run's folder; returns it absolute."""
    target = Path(out).expanduser().absolute()
    if target.exists() and not target.is_dir():
        raise ConfigError(f"--out {target} is an existing file, not a folder; choose a folder name")
    if target.is_dir() and any(target.iterdir()) and not (target / _MARKER).is_file():
        raise ConfigError(
            f"--out {target} is a folder holding other files (no {_MARKER}: not a run folder); a run "
            "replaces its whole output folder, so choose a new or empty folder"
        )
    parent = _existing_parent(target)
    if not parent.is_dir():
        raise ConfigError(f"--out {target}: {parent} is a file, so the folder cannot be created there")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ConfigError(f"--out {target}: no permission to write in {parent}; choose a writable place")
    return target


@contextlib.contextmanager
def fresh_run_folder(out: Path) -> Iterator[Path]:
    """Yield a new, empty folder to write a run into; it replaces ``out`` when the block succeeds."""
    target = check_out_dir(out)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = target.parent / f".{target.name}.writing-{uuid.uuid4().hex[:8]}"
        staging.mkdir()
    except OSError as exc:
        raise ConfigError(f"--out {target}: cannot create the folder ({exc.strerror or exc})") from exc
    try:
        yield staging
        _swap_in(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _swap_in(staging: Path, target: Path) -> None:
    """Replace ``target`` (a previous run folder, or nothing) by ``staging``."""
    old = None
    try:
        if target.exists():
            check_out_dir(target)  # still a run folder (nothing else appeared meanwhile)
            old = target.parent / f".{target.name}.old-{uuid.uuid4().hex[:8]}"
            target.rename(old)
        staging.rename(target)
    except OSError as exc:
        if old is not None and not target.exists():
            old.rename(target)  # put the previous run back
        raise PlaybookError(f"--out {target}: cannot write the run folder ({exc.strerror or exc})") from exc
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _existing_parent(path: Path) -> Path:
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    return parent
