"""Generated code compiled once per installation (:mod:`trading_playbook._code_cache`): same code."""

from __future__ import annotations

import json
import marshal
import os
import subprocess
import sys
from pathlib import Path

from trading_playbook._code_cache import CodeCache

INIT = (
    "def __create_fn__(_type_x, MISSING):\n"
    " def __init__(self, x:_type_x=MISSING):\n"
    "  self.x=x\n"
    " return __init__"
)


def test_a_cached_code_object_is_the_one_the_builtin_compiles(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    path = tmp_path / "codes.marshal"
    first = CodeCache(path)
    compiled = first.code(INIT, "exec")
    assert compiled == compile(INIT, "<string>", "exec", dont_inherit=True) and first.misses == 1
    assert first.code(INIT, "exec") is compiled and first.misses == 1  # remembered
    assert first.save() and not first.save()  # written once; nothing new since
    again = CodeCache(path)
    loaded = again.code(INIT, "exec")
    assert again.misses == 0 and loaded == compiled and loaded is not compiled  # read back from the file
    assert again.code("int | None", "eval") == compile("int | None", "<string>", "eval", dont_inherit=True)


def test_a_file_that_does_not_read_back_is_ignored(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    path = tmp_path / "codes.marshal"
    for junk in (b"", b"not a cache", marshal.dumps({"x": 1}), b"\x00" * 64):
        path.write_bytes(junk)
        cache = CodeCache(path)
        assert cache.code(INIT, "exec") == compile(INIT, "<string>", "exec", dont_inherit=True)
        assert cache.misses == 1
    stamped = CodeCache(path)
    stamped.code(INIT, "exec")
    stamped.save()
    path.write_bytes(path.read_bytes()[:-10])  # cut short
    assert CodeCache(path).code(INIT, "exec") is not None


def test_the_builtins_are_passed_through_unchanged(tmp_path: Path) -> None:
    cache = CodeCache(tmp_path / "codes.marshal")
    namespace: dict[str, object] = {}
    cache.exec("y = 2 + 3", namespace)
    assert namespace["y"] == 5
    # not cached; compiled without inherited future flags, as when typing (which has none) calls it
    assert cache.compile("1 + 1", "file.py", "eval") == compile("1 + 1", "file.py", "eval", dont_inherit=True)
    assert cache.misses == 1  # the exec only


PROGRAM = """
import dataclasses, json, sys, typing
from trading_playbook._code_cache import install
cache = install({path!r}) if {use_cache!r} else None

@dataclasses.dataclass(frozen=True)
class Point:
    x: int
    y: "float" = 0.0

@dataclasses.dataclass(order=True)
class Row:
    name: str
    values: list = dataclasses.field(default_factory=list)

p = Point(1)
try:
    p.x = 2
    frozen = "no"
except dataclasses.FrozenInstanceError as exc:
    frozen = type(exc).__name__
hints = typing.get_type_hints(Point)
print(json.dumps([repr(p), p == Point(1, 0.0), hash(p) == hash(Point(1)), frozen, repr(hints),
                  Row("a") < Row("b"), repr(Row("a", [1])), cache.misses if cache else None]))
"""


def _run(path: Path, use_cache: bool) -> list[object]:
    code = PROGRAM.format(path=str(path), use_cache=use_cache)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}  # as on a user's machine
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    return list(json.loads(out.stdout.strip().splitlines()[-1]))


def test_dataclasses_and_annotations_behave_the_same_with_the_cache(tmp_path: Path) -> None:
    path = tmp_path / "codes.marshal"
    plain = _run(path, use_cache=False)
    cold = _run(path, use_cache=True)  # compiles, writes the file at exit
    warm = _run(path, use_cache=True)  # everything from the file
    assert plain[:-1] == cold[:-1] == warm[:-1]
    assert plain[3] == "FrozenInstanceError" and plain[1] is True and plain[5] is True
    assert isinstance(cold[-1], int) and cold[-1] > 5 and warm[-1] == 0
    assert path.is_file()


def test_nothing_is_written_when_python_writes_no_bytecode(tmp_path: Path) -> None:
    path = tmp_path / "codes.marshal"
    code = PROGRAM.format(path=str(path), use_cache=True)
    subprocess.run([sys.executable, "-B", "-c", code], capture_output=True, text=True, check=True)
    assert not path.exists()


def test_a_full_cache_keeps_only_what_the_writing_process_used(tmp_path: Path, monkeypatch) -> None:
    import trading_playbook._code_cache as code_cache

    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    path = tmp_path / "codes.marshal"
    old = CodeCache(path)
    for i in range(4):
        old.code(f"x = {i}", "exec")
    old.save()
    monkeypatch.setattr(code_cache, "MAX_ENTRIES", 3)
    current = CodeCache(path)
    current.code("x = 1", "exec")  # from the file
    current.code("y = 9", "exec")  # new: 5 entries in all, over the cap
    assert current.save()
    kept = CodeCache(path)
    assert sorted(source for _, _, source in kept._codes) == ["x = 1", "y = 9"]
