"""``playbook NAME ...`` runs an app holding only NAME: the same help, usage lines and errors."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from trading_playbook.cli import _command_name, app, app_for

TOP_LEVEL = sorted(
    {_command_name(c) for c in app.registered_commands} | {_command_name(g) for g in app.registered_groups}
)


def _same(args: list[str], monkeypatch: pytest.MonkeyPatch) -> tuple[str, int]:
    monkeypatch.setenv("COLUMNS", "120")
    runner = CliRunner()
    whole = runner.invoke(app, args, prog_name="playbook")
    narrowed = runner.invoke(app_for(args), args, prog_name="playbook")
    assert (narrowed.output, narrowed.exit_code) == (whole.output, whole.exit_code)
    return whole.output, whole.exit_code


def test_every_top_level_name_is_narrowed() -> None:
    assert None not in TOP_LEVEL and len(TOP_LEVEL) >= 10
    assert {"backtest", "data", "runs", "scan"} <= set(TOP_LEVEL)
    for name in TOP_LEVEL:
        narrowed = app_for([name, "--help"])
        assert narrowed is not app
        names = [_command_name(i) for i in (*narrowed.registered_commands, *narrowed.registered_groups)]
        assert names == [name]


@pytest.mark.parametrize("name", TOP_LEVEL)
def test_the_help_of_a_narrowed_command_is_the_same(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    output, code = _same([name, "--help"], monkeypatch)
    assert code == 0 and f"playbook {name}" in output


@pytest.mark.parametrize(
    "args",
    [
        ["backtest"],  # a missing argument
        ["backtest", "x.toml", "--bogus"],  # an unknown option
        ["backtest", "x.toml", "--engine"],  # an option without its value
        ["data"],  # a group without its command
        ["data", "nope"],  # a group's unknown command
        ["data", "universe", "--help"],  # a nested group
        ["runs", "ls", "--help"],
    ],
)
def test_usage_errors_are_the_same(args: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    _same(args, monkeypatch)


@pytest.mark.parametrize("args", [[], ["--help"], ["nope"], ["backtets", "x.toml"], ["-x"]])
def test_anything_else_runs_the_whole_app(args: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    assert app_for(args) is app
    output, code = _same(args, monkeypatch)
    if args == ["backtets", "x.toml"]:
        assert code != 0 and "backtest" in output  # the whole app's suggestion of the right name


def test_each_command_is_found_in_the_module_that_registers_it() -> None:
    # app_for imports only COMMAND_MODULES[name]: the table must name every top-level command of the
    # whole app, each with the module whose register() adds it, and nothing else
    from trading_playbook.cli import COMMAND_MODULES, MODULES, _registered

    assert sorted(COMMAND_MODULES) == TOP_LEVEL
    for module in MODULES:
        holder = _registered(module)
        names = {_command_name(i) for i in (*holder.registered_commands, *holder.registered_groups)}
        assert names == {name for name, owner in COMMAND_MODULES.items() if owner == module}, module


def test_the_whole_app_lists_the_commands_in_module_order() -> None:
    from trading_playbook.cli import MODULES, _registered

    expected = [c for m in MODULES for c in _registered(m).registered_commands]
    assert app.registered_commands == expected
    assert app.registered_groups == [g for m in MODULES for g in _registered(m).registered_groups]


def test_a_command_imports_no_other_command_module() -> None:
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from trading_playbook.cli import app_for\n"
        "app_for(['backtest', '--help'])\n"
        "print(sorted(m for m in sys.modules if m.startswith('trading_playbook.cli.')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "['trading_playbook.cli.backtest']"
