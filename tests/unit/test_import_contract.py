"""The import graph is the architecture: the pure core never imports adapters, the CLI or I/O libraries.

Checked mechanically on the source (every import statement of every core module, including imports
inside functions) and at run time (importing the core does not load the forbidden modules).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "trading_playbook"
CORE = PACKAGE / "core"

FORBIDDEN_PREFIXES = (
    "trading_playbook.data",
    "trading_playbook.cli",
    "trading_playbook.reports",
    "trading_playbook.research",
    "trading_playbook.history",
    "trading_playbook.engine",
    "trading_playbook.config",
    "trading_playbook.registry",
    "trading_playbook.lookahead",
    "pyarrow",
    "sqlite3",
    "typer",
    "rich",
    "matplotlib",
    "alpaca",
    "requests",
    "httpx",
    "urllib",
    "http",
    "socket",
    "dask",
    "distributed",
    "optuna",
    "os",
    "subprocess",
    "shutil",
    "tempfile",
    "platformdirs",
    "filelock",
)


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative import inside the package: resolve against the module path
                base = path.relative_to(PACKAGE.parent).with_suffix("").parts[: -node.level]
                name = ".".join((*base, node.module or ""))
            else:
                name = node.module or ""
            found.append((node.lineno, name))
    return found


def _core_files() -> list[Path]:
    return sorted(CORE.rglob("*.py"))


def test_core_has_modules() -> None:
    assert len(_core_files()) >= 10


@pytest.mark.parametrize("path", _core_files(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_core_module_imports_nothing_forbidden(path: Path) -> None:
    bad = [
        f"{path.relative_to(PACKAGE)}:{line} imports {name}"
        for line, name in _imports(path)
        if any(name == p or name.startswith(p + ".") for p in FORBIDDEN_PREFIXES)
    ]
    assert not bad, "the pure core must not import adapters or I/O: " + "; ".join(bad)


def test_forbidden_prefix_check_catches_a_violation(tmp_path: Path) -> None:
    sample = CORE / "_contract_probe.py"
    try:
        sample.write_text("def f():\n    import sqlite3\n    from trading_playbook.data import api\n")
        names = [name for _, name in _imports(sample)]
    finally:
        sample.unlink()
    assert "sqlite3" in names and "trading_playbook.data" in names


def test_importing_core_loads_no_io_library() -> None:
    # pyarrow is not checked here: pandas 3 imports it itself for its string dtype.
    code = (
        "import sys\n"
        "import trading_playbook.core.panel, trading_playbook.core.indicators, trading_playbook.core.metrics\n"
        "import trading_playbook.core.simulate.reference, trading_playbook.core.simulate.fast\n"
        "import trading_playbook.core.scanners.daily_breakout, trading_playbook.core.exits.rules\n"
        "bad = [m for m in ('sqlite3', 'typer', 'rich', 'matplotlib', 'alpaca', 'dask',\n"
        "       'trading_playbook.data', 'trading_playbook.cli', 'trading_playbook.reports',\n"
        "       'trading_playbook.research') if m in sys.modules]\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"importing the core loaded: {out.stdout.strip()}"
