"""numba's runtime library loaded from its file (:mod:`trading_playbook._nrt_cache`).

Each case runs in a new process (numba's runtime is initialised once per process): a cold process
compiles the library and stores it, a warm one loads it, and both then run kernels that allocate (one
loaded from numba's cache, one compiled in the process, which links the loaded library in), with
numba's allocation statistics balanced. A corrupted, mismatched or unwritable file falls back to
numba's compile; numba's own ``rtsys.initialize`` afterwards changes nothing.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from trading_playbook._nrt_cache import _DIGEST, _MAGIC, FILE_PREFIX, _store, runtime_file

ALLOCATING = textwrap.dedent(
    """
    import numpy as np
    from numba import njit

    @njit(cache=True)
    def doubled(n):  # allocates an array (NRT) and a list
        values = [float(i) for i in range(n)]
        return np.array(values) * 2.0
    """
)

RUN = textwrap.dedent(
    """
    import sys
    import numpy as np
    from numba import njit
    from numba.core.registry import cpu_target
    from numba.core.runtime.nrt import rtsys

    from trading_playbook._nrt_cache import initialize_runtime

    folder = sys.argv[1] if sys.argv[1] != "-" else None
    status = initialize_runtime(folder)
    library = rtsys.library
    rtsys.initialize(cpu_target.target_context)  # numba's own: a no-op now
    again = initialize_runtime(folder)

    from allocating import doubled  # from numba's cache after the first process

    @njit
    def total(n):  # compiled here: the runtime's library is linked into it
        return np.ones(n).sum() + doubled(n).sum()

    before = rtsys.get_allocation_stats()
    result = (doubled(4).tolist(), total(4))
    after = rtsys.get_allocation_stats()
    print(status, again, rtsys.library is library, result)
    print("balanced", after.alloc - before.alloc == after.free - before.free > 0)
    print("cached", doubled.stats.cache_hits.get(doubled.signatures[0], 0))
    """
)


@pytest.fixture
def run(tmp_path: Path):
    """Run :data:`RUN` in a new process with ``folder`` (None: no folder); its output lines."""
    (tmp_path / "allocating.py").write_text(ALLOCATING)
    env = {
        **os.environ,
        "NUMBA_CACHE_DIR": str(tmp_path / "numba"),
        "NUMBA_NRT_STATS": "1",
        "PYTHONPATH": os.pathsep.join([str(tmp_path), *sys.path]),
    }

    def go(folder: Path | None) -> list[str]:
        done = subprocess.run(
            [sys.executable, "-c", RUN, str(folder) if folder else "-"],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
            timeout=600,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.splitlines()

    return go


RESULT = "[0.0, 2.0, 4.0, 6.0], 16.0)"


def test_cold_process_builds_and_warm_process_loads(run, tmp_path: Path) -> None:
    folder = tmp_path / "kernels"  # created by the first process
    cold = run(folder)
    assert cold[0] == f"built ready True ({RESULT}"
    assert cold[1:] == ["balanced True", "cached 0"]
    (path,) = folder.iterdir()  # one file, named after the key
    assert path.name.startswith(FILE_PREFIX + "-") and path.suffix == ".nbo"
    stored = path.read_bytes()
    assert stored.startswith(_MAGIC) and len(stored) > 1000

    warm = run(folder)
    assert warm[0] == f"loaded ready True ({RESULT}"
    assert warm[1:] == ["balanced True", "cached 1"]  # a cached kernel that allocates runs on it
    assert path.read_bytes() == stored  # loaded, not written again
    assert list(folder.iterdir()) == [path]  # no temporary file left


def _rewrite(path: Path, change) -> None:
    """Rewrite the stored file's body through ``change`` with a valid digest."""
    data = path.read_bytes()
    body = change(data[len(_MAGIC) + _DIGEST :])
    path.write_bytes(_MAGIC + hashlib.sha256(body).digest() + body)


def test_corrupted_or_mismatched_file_falls_back_to_numbas_compile(run, tmp_path: Path) -> None:
    folder = tmp_path / "kernels"
    assert run(folder)[0].startswith("built ")
    (path,) = folder.iterdir()
    good = path.read_bytes()

    path.write_bytes(good[:-1] + bytes([good[-1] ^ 0xFF]))  # one flipped bit of the object code
    assert run(folder)[0] == f"built ready True ({RESULT}"
    assert path.read_bytes() == good  # compiled again and stored again

    def other_numba(body: bytes) -> bytes:
        key, serialized = pickle.loads(body)
        return pickle.dumps((("0.0.0", *key[1:]), serialized))

    _rewrite(path, other_numba)
    assert run(folder)[0] == f"built ready True ({RESULT}"
    assert path.read_bytes() == good

    path.write_bytes(b"short")
    assert run(folder)[0] == f"built ready True ({RESULT}"


def test_without_a_folder_numba_compiles_as_usual(run) -> None:
    assert run(None)[0] == f"compiled ready True ({RESULT}"


class _Library:
    def serialize_using_object_code(self) -> tuple[str, str, tuple[bytes, bytes]]:
        return ("nrt", "object", (b"object code", b"bitcode"))


def test_a_folder_that_cannot_be_written_stores_nothing(tmp_path: Path) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    assert not _store(runtime_file(blocked, ("key",)), ("key",), _Library())  # the folder cannot be made
    assert _store(runtime_file(tmp_path, ("key",)), ("key",), _Library())
    assert runtime_file(tmp_path, ("key",)) != runtime_file(tmp_path, ("other key",))
    data = runtime_file(tmp_path, ("key",)).read_bytes()
    body = data[len(_MAGIC) + _DIGEST :]
    assert data[len(_MAGIC) : len(_MAGIC) + _DIGEST] == hashlib.sha256(body).digest()
    assert pickle.loads(body) == (("key",), _Library().serialize_using_object_code())


def test_the_backtest_keeps_the_library_beside_numbas_cache_of_its_kernels() -> None:
    from trading_playbook._kernel_preload import cache_folder
    from trading_playbook.core.simulate._kernels import simulate_nb

    assert cache_folder([object(), simulate_nb]) == simulate_nb._cache._cache_path
    assert cache_folder([object()]) is None
