"""The first import of a deferred module succeeds at once and runs the module's code at first use."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

from trading_playbook import _deferred
from trading_playbook._deferred import DEFERRED, FirstImportFinder, declared_version, defer_until_used


def _finders(name: str) -> list[object]:
    return [f for f in sys.meta_path if isinstance(f, FirstImportFinder) and f.name == name]


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


def _package(root: Path, name: str, init: str, version: str | None) -> Path:
    folder = root / name
    folder.mkdir()
    (folder / "__init__.py").write_text(init)
    if version is not None:
        (folder / "version.py").write_text(version)
    return folder


_VERSIONED_INIT = (
    "from pathlib import Path\n"
    "Path(__file__).with_name('ran.txt').write_text('yes')\n"
    "from {name}.version import version as __version__\n"
    "VALUE = 42\n"
)


def test_a_version_first_package_answers_its_version_before_its_code_runs(module_dir: Path) -> None:
    folder = _package(
        module_dir, "deferred_probe", _VERSIONED_INIT.format(name="deferred_probe"), 'version = "3.2.1"\n'
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(_deferred._KINDS, "deferred_probe", _deferred._FirstImportVersionFirst)
        assert defer_until_used(["deferred_probe"]) == ["deferred_probe"]
    import deferred_probe  # type: ignore[import-not-found]

    assert deferred_probe.__version__ == "3.2.1"
    assert not (folder / "ran.txt").exists()  # the version came from version.py alone
    assert "deferred_probe.version" not in sys.modules
    assert deferred_probe.VALUE == 42  # any other attribute: the package's code runs, as it would have
    assert (folder / "ran.txt").read_text() == "yes"
    assert type(deferred_probe) is type(sys)  # a plain module from here on
    assert deferred_probe.__version__ == "3.2.1" and sys.modules["deferred_probe.version"].version == "3.2.1"


@pytest.mark.parametrize(
    ("init", "version", "error"),
    [
        (
            "from pathlib import Path\nPath(__file__).with_name('ran.txt').write_text('yes')\n__version__ = '1.0'\n",
            'version = "1.0"\n',
            None,
        ),
        (_VERSIONED_INIT.format(name="deferred_probe"), None, ModuleNotFoundError),  # no version.py
        (_VERSIONED_INIT.format(name="deferred_probe"), "raise RuntimeError('broken')\n", RuntimeError),
        (_VERSIONED_INIT.format(name="deferred_probe"), "version = 3\n", None),  # not a string
    ],
    ids=["version-not-from-version-py", "no-version-file", "failing-version-file", "not-a-string"],
)
def test_an_unexpected_package_is_imported_eagerly(
    module_dir: Path, init: str, version: str | None, error: type[Exception] | None
) -> None:
    # the usual import: the package's code runs at once, and fails as it would have
    folder = _package(module_dir, "deferred_probe", init, version)
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(_deferred._KINDS, "deferred_probe", _deferred._FirstImportVersionFirst)
        defer_until_used(["deferred_probe"])
    if error is None:
        import deferred_probe  # type: ignore[import-not-found]

        assert type(deferred_probe) is type(sys)
    else:
        with pytest.raises(error):
            import deferred_probe  # type: ignore[import-not-found]
    assert (folder / "ran.txt").read_text() == "yes"
    assert not _finders("deferred_probe")


def test_declared_version_reads_the_file_the_init_binds_from(tmp_path: Path) -> None:
    folder = _package(
        tmp_path, "pkg", "from pkg.version import version as __version__\n", 'version = "0.9"\n'
    )
    assert declared_version("pkg", folder) == "0.9"
    assert declared_version("other", folder) is None  # the __init__ names another package
    assert declared_version("pkg", tmp_path / "missing") is None


def test_numba_reads_scipys_version_without_running_scipy() -> None:
    # numba's start-up check reads scipy.__version__; SciPy's own code runs at its first real use
    import subprocess

    code = (
        "import sys\n"
        "from trading_playbook._deferred import defer_until_used\n"
        "assert 'scipy' in defer_until_used()\n"
        "import numba\n"
        "lazy = sys.modules['scipy']\n"
        "before = [type(lazy).__name__, lazy.__version__, 'scipy._lib' in sys.modules]\n"
        "from scipy import special\n"
        "print(before, type(sys.modules['scipy']).__name__, 'scipy._lib' in sys.modules, special.gamma(5.0))\n"
    )
    eager = subprocess.run(
        [sys.executable, "-c", "import scipy; print(scipy.__version__)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == f"['VersionFirst', '{eager}', False] module True 24.0"
