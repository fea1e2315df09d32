"""The first import of a deferred module succeeds at once and runs the module's code at first use."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

from trading_playbook._deferred import DEFERRED, _FirstImportLazy, defer_until_used


def _finders(name: str) -> list[object]:
    return [f for f in sys.meta_path if isinstance(f, _FirstImportLazy) and f.name == name]


@pytest.fixture
def module_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    yield tmp_path
    for name in [n for n in sys.modules if n.startswith("deferred_probe")]:
        del sys.modules[name]
    for finder in _finders("deferred_probe") + _finders("deferred_missing"):
        sys.meta_path.remove(finder)


def test_the_module_runs_at_its_first_use_not_at_its_import(module_dir: Path) -> None:
    ran = module_dir / "ran.txt"
    (module_dir / "deferred_probe.py").write_text(
        f"from pathlib import Path\nPath({str(ran)!r}).write_text('yes')\nVALUE = 41 + 1\n"
    )
    assert defer_until_used(["deferred_probe"]) == ["deferred_probe"]
    assert defer_until_used(["deferred_probe"]) == []  # one finder per name
    import deferred_probe  # type: ignore[import-not-found]

    assert not ran.exists()  # imported: the name is bound, the code has not run
    assert not _finders("deferred_probe")  # the finder answered once and left
    assert deferred_probe.VALUE == 42
    assert ran.read_text() == "yes"
    import deferred_probe as again  # type: ignore[import-not-found]

    assert again.VALUE == 42


def test_a_missing_module_is_still_missing(module_dir: Path) -> None:
    defer_until_used(["deferred_missing"])
    with pytest.raises(ModuleNotFoundError):
        import deferred_missing  # type: ignore[import-not-found]  # noqa: F401


def test_an_imported_module_is_left_alone() -> None:
    import json

    assert defer_until_used(["json"]) == []
    assert sys.modules["json"] is json
    assert DEFERRED == ("yaml",)  # numba's config-file reader, see the module docstring
