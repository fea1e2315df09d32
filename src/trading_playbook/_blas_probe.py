"""Keep numba's start-up from importing SciPy's linear algebra when no kernel uses it (issue 14).

When numba first compiles a kernel it imports ``numba.np.arraymath``, which asks at import time
whether BLAS is available (``numba.np.linalg.ensure_blas``) by importing ``scipy.linalg.cython_blas``.
That import pulls in ``scipy.linalg`` and, through SciPy's array-API layer, ``numpy.f2py``: about a
third of a second of every ``playbook`` command on a quiet machine, for linear algebra no kernel of
this package does (none calls ``np.dot`` or ``np.linalg``).

:func:`defer_blas_import` answers that one import-time question by whether SciPy is installed (a
file-system lookup, no import) and puts numba's own check back at once: a kernel that does use BLAS
is still compiled through numba's full check (the real import and its BLAS/LAPACK integer-width
guard), and numba's compiled BLAS wrappers import ``cython_blas`` themselves when first called.
Nothing is skipped that a run uses; if numba's internals change, nothing is patched.

The patch itself needs ``numba.np.linalg`` (and with it ``numba.np.arrayobj``: about 35 ms of
imports), which a warm run never imports: its kernels load from numba's cache
(:class:`trading_playbook.core._jit.KernelCache`) without ``numba.np.arraymath``. So the patch is
installed by an import hook at the moment ``numba.np.arraymath`` is first imported (a compile), just
before numba's probe runs, and a warm run imports neither.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import sys
from collections.abc import Sequence
from types import ModuleType

__all__ = ["PROBED_MODULE", "defer_blas_import"]

PROBED_MODULE = "numba.np.arraymath"  # runs numba's BLAS probe when imported


class _PatchBeforeImport(importlib.abc.MetaPathFinder):
    """Installs :func:`_patch` when :data:`PROBED_MODULE` is first imported, then steps aside (the
    usual finders import it)."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> None:
        if fullname == PROBED_MODULE:
            if self in sys.meta_path:
                sys.meta_path.remove(self)  # once
            _patch()
        return None


def defer_blas_import() -> bool:
    """Make numba's import-time BLAS probe cheap (see the module docstring); ``True`` when the patch
    waits for :data:`PROBED_MODULE`'s import (or is installed already).

    Call it before the first kernel is compiled; once numba's probe has run it does nothing.
    """
    if PROBED_MODULE in sys.modules:  # the probe has run already
        return False
    if not any(isinstance(f, _PatchBeforeImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _PatchBeforeImport())
    return True


def _patch() -> bool:
    """Replace ``numba.np.linalg.ensure_blas`` by a one-shot probe; ``True`` when patched."""
    import numba.np.linalg as linalg

    original = getattr(linalg, "ensure_blas", None)
    if original is None or getattr(original, "_playbook_probe", False):
        return False

    def probe() -> None:
        linalg.ensure_blas = original  # every later call (a kernel using BLAS) does the full check
        if importlib.util.find_spec("scipy") is None:
            raise ImportError("scipy 0.16+ is required for linear algebra")

    probe._playbook_probe = True  # type: ignore[attr-defined]
    linalg.ensure_blas = probe
    return True
