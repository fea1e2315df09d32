"""One way to replace a file whole: a reader (or a process killed halfway) sees the old file or the new
one, never part of either."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["write_atomically"]


def write_atomically(path: Path, data: bytes, *, durable: bool = False) -> None:
    """Write ``data`` to ``path`` through a new file in the same folder renamed over it.

    The temporary file is ``.<name>.<pid>.<8 hex>.tmp`` (the data cache's orphan cleaning knows the
    pattern) and is removed when the write fails. ``durable``: flushed to disk before the rename, so
    the new content also survives a power cut.
    """
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    try:
        with open(temporary, "xb") as out:
            out.write(data)
            if durable:
                out.flush()
                os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
