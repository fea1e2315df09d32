"""Every test gets its own PLAYBOOK_HOME, so nothing a test records (runs, research outputs) lands in
the user's real registry; a test that needs a particular home sets its own."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _isolated_playbook_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    home = tmp_path_factory.mktemp("playbook-home")
    monkeypatch.setenv("PLAYBOOK_HOME", str(home))
    return home
