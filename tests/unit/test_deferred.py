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
    # numba's config-file reader and numba's extension entry points, see the module docstring
    assert DEFERRED == ("yaml", "importlib.metadata")


def test_numba_still_reads_its_extension_entry_points_at_a_compile(tmp_path: Path) -> None:
    # numba imports importlib.metadata when it is imported; deferred, the module's code runs when
    # numba's first compile reads the numba_extensions entry points, and an installed extension runs
    import subprocess

    info = tmp_path / "ext_probe-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: ext_probe\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[numba_extensions]\ninit = ext_probe:init\n")
    (tmp_path / "ext_probe.py").write_text("CALLS = []\ndef init():\n    CALLS.append('init')\n")
    code = (
        "import sys\n"
        "from trading_playbook._deferred import defer_until_used\n"
        "assert 'importlib.metadata' in defer_until_used()\n"
        "import numba\n"
        "lazy = type(sys.modules['importlib.metadata']).__name__\n"
        "@numba.njit\n"
        "def plus_one(x):\n"
        "    return x + 1\n"
        "assert plus_one(1) == 2\n"
        "import ext_probe\n"
        "print(lazy, type(sys.modules['importlib.metadata']).__name__, ext_probe.CALLS)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(tmp_path)},
        check=False,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "_LazyModule module ['init']"
