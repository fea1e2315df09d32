"""pydantic's plugin discovery through :mod:`trading_playbook._entry_points`: the same entry points."""

from __future__ import annotations

import importlib.metadata as metadata
import subprocess
import sys
from pathlib import Path

import pytest

from trading_playbook._entry_points import group_entry_points


def _distribution(site: Path, name: str, entry_points: str) -> None:
    """A distribution installed in ``site`` (a folder on sys.path) with this entry_points.txt."""
    info = site / f"{name}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(entry_points)


@pytest.mark.parametrize("group", ["console_scripts", "pytest11", "pydantic", "numba_extensions", "no.such"])
def test_the_entry_points_of_a_group_are_the_standard_librarys(group: str) -> None:
    assert list(group_entry_points(group)) == list(metadata.entry_points(group=group))


def test_a_group_named_only_in_another_groups_value_is_not_taken(tmp_path: Path, monkeypatch) -> None:
    # the file names "pydantic" (so it is parsed) but declares nothing of that group; a second
    # distribution declares one, after a group sorted before it
    _distribution(tmp_path, "decoy", "[console_scripts]\ntool = pydantic_tools.cli:main\n")
    _distribution(tmp_path, "real", "[aaa]\nx = y:z\n\n[pydantic]\nmine = real_plugin:plugin\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    ours = list(group_entry_points("pydantic"))
    assert ours == list(metadata.entry_points(group="pydantic"))
    assert [(ep.name, ep.value, ep.dist.name) for ep in ours] == [("mine", "real_plugin:plugin", "real")]


PLUGIN = """
class Plugin:
    def new_schema_validator(self, schema, schema_type, schema_type_path, schema_kind, config, plugin_settings):
        SEEN.append(schema_type.__name__)
        return None, None, None


SEEN = []
plugin = Plugin()
"""


def test_pydantic_still_loads_an_installed_plugin(tmp_path: Path) -> None:
    # a real plugin, installed as a distribution: pydantic finds and calls it with the faster discovery
    _distribution(tmp_path, "seeing", "[pydantic]\nseeing = seeing_plugin:plugin\n")
    (tmp_path / "seeing_plugin.py").write_text(PLUGIN)
    code = (
        "from trading_playbook._entry_points import faster_plugin_discovery\n"
        "assert faster_plugin_discovery()\n"
        "import pydantic\n"
        "class Model(pydantic.BaseModel):\n"
        "    x: int = 0\n"
        "import seeing_plugin, pydantic.plugin._loader as loader\n"
        "from trading_playbook import _entry_points\n"
        "assert loader.entry_points is _entry_points._entry_points\n"
        "print(seeing_plugin.SEEN)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "['Model']"


def test_the_console_script_installs_it(tmp_path: Path) -> None:
    code = (
        "import atexit, sys\n"
        "sys.argv = ['playbook', 'strategies']\n"
        "def check():\n"
        "    import pydantic.plugin._loader as loader\n"
        "    from trading_playbook import _entry_points\n"
        "    print(loader.entry_points is _entry_points._entry_points)\n"
        "atexit.register(check)  # main() ends the process itself, after the exit callbacks\n"
        "from trading_playbook._entry import main\n"
        "main()\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, check=False
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "True"


def _fresh(code: str, tmp_path: Path, pythonpath: Path | None = None) -> str:
    """Run ``code`` in a fresh interpreter (cwd ``tmp_path``); returns its last line of output."""
    env = {"PATH": "/usr/bin:/bin", **({"PYTHONPATH": str(pythonpath)} if pythonpath else {})}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env, check=False
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout.strip().splitlines()[-1]


def test_no_file_naming_the_group_is_answered_without_importlib_metadata(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from trading_playbook._entry_points import group_entry_points\n"
        "print(group_entry_points('no.such.group'), 'importlib.metadata' in sys.modules)\n"
    )
    assert _fresh(code, tmp_path) == "() False"


def test_a_file_naming_the_group_is_read_through_importlib_metadata(tmp_path: Path) -> None:
    _distribution(tmp_path, "decoy", "[console_scripts]\ntool = no_such_group_tools.cli:main\n")
    code = (
        "import sys\n"
        "from trading_playbook._entry_points import group_entry_points\n"
        "print(list(group_entry_points('no_such_group')), 'importlib.metadata' in sys.modules)\n"
    )
    assert _fresh(code, tmp_path, pythonpath=tmp_path) == "[] True"


@pytest.mark.parametrize("place", ["zip", "egg", "case", "finder"])
def test_what_the_plain_look_up_does_not_mirror_is_asked_of_the_standard_library(
    place: str, tmp_path: Path, monkeypatch
) -> None:
    # a zip on sys.path, an .egg folder, a metadata folder named in another case and a finder of
    # distributions of its own: the plain look-up steps aside and the standard library answers
    import zipfile

    if place == "zip":
        with zipfile.ZipFile(tmp_path / "plugins.zip", "w") as archive:
            archive.writestr("zipped-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: zipped\n")
            archive.writestr("zipped-1.0.dist-info/entry_points.txt", "[probe.group]\nz = zipped:z\n")
        monkeypatch.syspath_prepend(str(tmp_path / "plugins.zip"))
    elif place == "egg":
        egg = tmp_path / "egged-1.0.egg"
        _distribution(egg, "inner", "[probe.group]\ne = egged:e\n")
        (egg / "inner-1.0.dist-info").rename(egg / "EGG-INFO")
        monkeypatch.syspath_prepend(str(egg))
    elif place == "case":
        _distribution(tmp_path, "cased", "[probe.group]\nc = cased:c\n")
        (tmp_path / "cased-1.0.dist-info").rename(tmp_path / "cased-1.0.DIST-INFO")
        monkeypatch.syspath_prepend(str(tmp_path))
    else:
        _distribution(tmp_path / "elsewhere", "found", "[probe.group]\nf = found:f\n")

        class Finder:
            @staticmethod
            def find_spec(*args: object) -> None:
                return None

            @staticmethod
            def find_distributions(context: object = None) -> list[metadata.Distribution]:
                return [metadata.Distribution.at(tmp_path / "elsewhere" / "found-1.0.dist-info")]

        monkeypatch.setattr(sys, "meta_path", [Finder(), *sys.meta_path])
    expected = list(metadata.entry_points(group="probe.group"))
    assert len(expected) == 1
    assert list(group_entry_points("probe.group")) == expected


def test_pydantic_imports_no_importlib_metadata_for_its_plugins(tmp_path: Path) -> None:
    # the loader's own import of entry_points is answered with ours: nothing else needs the module
    code = (
        "import sys\n"
        "from trading_playbook._entry_points import faster_plugin_discovery, _entry_points\n"
        "assert faster_plugin_discovery()\n"
        "import pydantic\n"
        "class Model(pydantic.BaseModel):\n"
        "    x: int = 0\n"
        "import pydantic.plugin._loader as loader\n"
        "assert loader.entry_points is _entry_points and Model(x=3).x == 3\n"
        "assert loader.get_plugins.__builtins__['len'] is len\n"
        "print(list(loader.get_plugins()), 'importlib.metadata' in sys.modules)\n"
    )
    assert _fresh(code, tmp_path) == "[] False"


NUMBA_PROBE = (
    "import sys\n"
    "from trading_playbook._deferred import defer_until_used\n"
    "from trading_playbook._entry_points import faster_numba_extensions, _MetadataForNumba\n"
    "from trading_playbook._blas_probe import defer_blas_import\n"
    "defer_until_used()\n"
    "assert faster_numba_extensions() and defer_blas_import()  # as the console script does\n"
    "import numba\n"
    "import numba.core.entrypoints as eps\n"
    "assert isinstance(eps.importlib_metadata, _MetadataForNumba)\n"
    "@numba.njit\n"
    "def plus_one(x):\n"
    "    return x + 1\n"
    "assert plus_one(1) == 2 and eps._already_initialized\n"
    "calls = sys.modules['ext_probe'].CALLS if 'ext_probe' in sys.modules else None\n"
    "print(calls, 'importlib.metadata._meta' in sys.modules)\n"
)


def test_numba_loads_an_installed_extension_at_its_first_compile(tmp_path: Path) -> None:
    _distribution(tmp_path, "ext_probe", "[numba_extensions]\ninit = ext_probe:init\n")
    (tmp_path / "ext_probe.py").write_text("CALLS = []\ndef init():\n    CALLS.append('init')\n")
    assert _fresh(NUMBA_PROBE, tmp_path, pythonpath=tmp_path) == "['init'] True"


def test_numba_without_extensions_compiles_without_importlib_metadata(tmp_path: Path) -> None:
    # a distribution whose file names another group only: nothing to load, nothing parsed
    _distribution(tmp_path, "other", "[console_scripts]\nother = other:main\n")
    assert _fresh(NUMBA_PROBE, tmp_path, pythonpath=tmp_path) == "None False"
