"""Generated Python code compiled once per installation, as a module's source is (issue 14).

Python compiles a module's source once and keeps the bytecode (``__pycache__/*.pyc``); code that
libraries generate as text at import time is compiled again by every process. ``playbook backtest``
imports about 120 dataclasses (``dataclasses`` writes each one's ``__init__``, ``__repr__``,
``__eq__``, ``__hash__``, ``__setattr__`` and ``__delattr__`` as text and ``exec``-s it: about 600
compiles of 190 kB of source) and ``typing`` compiles each string annotation it resolves (about
1,000 more): close to a fifth of the command's import time.

:func:`install` gives the ``dataclasses`` module an ``exec`` and the ``typing`` module a ``compile``
of their own (module globals, found before the builtins of the same name) that look the source text
up in a :class:`CodeCache` first: the same text, mode and optimisation level give the code object
the builtin would compile (compiled here with the same flags: neither module has ``__future__``
imports, so their builtin calls inherit none). Everything else is the builtins' own behaviour.

The cache is one file in the package's ``__pycache__`` (``generated-code.<cache tag>.marshal``),
stamped with the interpreter's bytecode magic number, read once per process and written back at
exit when the process compiled something new (atomically; not at all when Python writes no
bytecode, ``PYTHONDONTWRITEBYTECODE``, or the folder is not writable). A file that does not read
back as expected is ignored. It caches compiled code only, as ``.pyc`` files do: every run still
runs all of its work.

No ``from __future__ import annotations`` here, on purpose: ``exec`` and ``compile`` called from this
module's functions inherit this module's future flags, and they must inherit none, as when called
from ``dataclasses`` and ``typing``.
"""

import atexit
import builtins
import importlib.util
import marshal
import sys
import threading
from pathlib import Path
from types import CodeType
from typing import Any

from trading_playbook._atomic import write_atomically

__all__ = ["CACHE_NAME", "CodeCache", "default_path", "install"]

CACHE_NAME = f"generated-code.{sys.implementation.cache_tag}.marshal"
_HEADER = importlib.util.MAGIC_NUMBER + b"playbook-generated-code-1\n"
MAX_ENTRIES = 3_000  # past this, a write keeps only the entries the writing process used (a warm
# backtest uses about 900; the file is read by every process, so it stays small)

Key = tuple[str, int, str]  # (mode, optimisation level, source)

_installed: "CodeCache | None" = None  # the installed cache


def default_path() -> Path:
    """The cache file: in the package's ``__pycache__``, beside its ``.pyc`` files."""
    return Path(__file__).resolve().parent / "__pycache__" / CACHE_NAME


class CodeCache:
    """Compiled code by (mode, optimisation level, source text), loaded from and saved to ``path``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._codes: dict[Key, CodeType] = _read(path)
        self._used: set[Key] = set()
        self.misses = 0
        self._lock = threading.Lock()

    def code(self, source: str, mode: str) -> CodeType:
        """``compile(source, "<string>", mode)`` without inherited flags: cached, or compiled and
        remembered."""
        key = (mode, sys.flags.optimize, source)
        code = self._codes.get(key)
        if code is None:
            code = builtins.compile(source, "<string>", mode, dont_inherit=True)
            with self._lock:
                self._codes[key] = code
                self.misses += 1
        self._used.add(key)
        return code

    def exec(self, source: Any, globals: Any = None, locals: Any = None, /, **kwargs: Any) -> None:
        """The builtin ``exec``; a source text (as ``dataclasses`` passes) is compiled through the cache."""
        if isinstance(source, str):
            source = self.code(source, "exec")
        builtins.exec(source, globals, locals, **kwargs)

    def compile(self, source: Any, filename: Any, mode: str, *args: Any, **kwargs: Any) -> Any:
        """The builtin ``compile``; ``compile(text, "<string>", mode)`` (as ``typing`` calls it for a
        string annotation) is answered from the cache, any other call passed on as it is."""
        if isinstance(source, str) and filename == "<string>" and not args and not kwargs:
            return self.code(source, mode)
        return builtins.compile(source, filename, mode, *args, **kwargs)

    def save(self) -> bool:
        """Write the cache when this process compiled something new; ``True`` when written."""
        if not self.misses or sys.dont_write_bytecode:
            return False
        with self._lock:
            codes = dict(self._codes)
            if len(codes) > MAX_ENTRIES:
                codes = {key: code for key, code in codes.items() if key in self._used}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_atomically(self.path, _HEADER + marshal.dumps(codes))
        except (OSError, ValueError):  # not writable (as for a .pyc: the process runs on), unmarshallable
            return False
        self.misses = 0
        return True


def _read(path: Path) -> dict[Key, CodeType]:
    """The cache file's entries; empty when it is missing or does not read back as written."""
    try:
        data = path.read_bytes()
    except OSError:
        return {}
    if not data.startswith(_HEADER):
        return {}  # another interpreter's bytecode, or not this file
    try:
        codes = marshal.loads(data[len(_HEADER) :])
    except (EOFError, ValueError, TypeError):
        return {}
    if not isinstance(codes, dict):
        return {}
    return {
        key: code
        for key, code in codes.items()
        if isinstance(key, tuple)
        and len(key) == 3
        and isinstance(key[0], str)
        and isinstance(key[1], int)
        and isinstance(key[2], str)
        and isinstance(code, CodeType)
    }


def install(path: "str | Path | None" = None) -> CodeCache | None:
    """Route ``dataclasses``' ``exec`` and ``typing``'s ``compile`` through a :class:`CodeCache` of
    ``path`` (default :func:`default_path`), saved at exit; the installed cache (None when either
    module already has a global of that name: nothing is changed then)."""
    global _installed
    if _installed is not None:
        return _installed
    import dataclasses
    import typing

    if hasattr(dataclasses, "exec") or hasattr(typing, "compile"):
        return None
    cache = CodeCache(Path(path) if path is not None else default_path())
    dataclasses.exec = cache.exec  # type: ignore[attr-defined]
    typing.compile = cache.compile  # type: ignore[attr-defined]
    atexit.register(cache.save)
    _installed = cache
    return cache
