"""Keep numba's start-up from importing SciPy's linear algebra when no kernel uses it (issue 14).

When numba first loads or compiles a kernel it imports ``numba.np.arraymath``, which asks at import
time whether BLAS is available (``numba.np.linalg.ensure_blas``) by importing
``scipy.linalg.cython_blas``. That import pulls in ``scipy.linalg`` and, through SciPy's array-API
layer, ``numpy.f2py``: about a third of a second of every ``playbook`` command on a quiet machine,
for linear algebra no kernel of this package does (none calls ``np.dot`` or ``np.linalg``).

:func:`defer_blas_import` answers that one import-time question by whether SciPy is installed (a
file-system lookup, no import) and puts numba's own check back at once: a kernel that does use BLAS
is still compiled through numba's full check (the real import and its BLAS/LAPACK integer-width
guard), and numba's compiled BLAS wrappers import ``cython_blas`` themselves when first called.
Nothing is skipped that a run uses; if numba's internals change, nothing is patched.
"""

from __future__ import annotations

import importlib.util
import sys

__all__ = ["defer_blas_import"]


def defer_blas_import() -> bool:
    """Make numba's import-time BLAS probe cheap (see the module docstring); ``True`` when patched.

    Call it after ``import numba`` and before the first kernel is loaded; later it does nothing.
    """
    if "numba.np.arraymath" in sys.modules:  # the probe has run already
        return False
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
