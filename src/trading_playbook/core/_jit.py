"""numba's on-disk cache keyed on every source the core's kernels depend on, not only their own file.

numba keys a cached function (``@njit(cache=True)``) on the content of the file that defines it. A
kernel that calls a kernel of another file (the session loop calls the exit rules, the fills and the
per-bar indicators), or reads a constant derived in another file (the exit primitives' codes and
parameter slots declared in ``core/exits/spec.py``), would then be loaded stale from the cache after
that other file changed, silently. Every kernel module of the core imports this module before its
first ``@njit(cache=True)``: it puts :class:`CoreKernelLocator` first among numba's cache locators, so
the key of a core kernel (or of another kernel of the package: the synthetic generator calls the
core's intrinsics) also covers the content of every core file that holds kernels, intrinsics or
kernel constants. Where the cache lives is still numba's choice (``NUMBA_CACHE_DIR``, else the package's
``__pycache__`` when writable, else the user-wide cache), so caching works from an installed package.

This is the core's only file access: reading its own source for a cache key, at the first compile.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, TypeVar, cast

from numba import njit as _numba_njit
from numba.core import base, caching, codegen, compiler, types
from numba.core.compiler_lock import require_global_compiler_lock
from numba.core.datamodel import models
from numba.core.datamodel.registry import default_manager
from numba.core.registry import CPUDispatcher
from numba.core.runtime.nrt import rtsys

from trading_playbook.core import _array_typeof  # noqa: F401 - a kernel's array arguments typed without numpy.ma

F = TypeVar("F", bound=Callable[..., Any])
C = TypeVar("C", bound=type)

__all__ = [
    "ENTRY_COMPILE_GATES",
    "CoreKernelLocator",
    "KernelCache",
    "callee_kernel",
    "entry_is_cached",
    "kernel_sources_hash",
    "loop_kernel",
    "njit",
    "whole_argument",
]

CORE = Path(__file__).resolve().parent
# numba >= 0.61 names it CacheImpl, earlier versions _CacheImpl
_IMPL: Any = getattr(caching, "CacheImpl", None) or getattr(caching, "_CacheImpl")  # noqa: B009
# files whose module-level values the kernels compile in as constants (besides the kernel files)
_CONSTANT_SOURCES = ("types.py", "exits/spec.py", "simulate/_records.py")
_KERNEL_MARKS = (b"@njit", b"@loop_kernel", b"@callee_kernel", b"@intrinsic")  # a file holding kernels


@functools.cache
def kernel_sources_hash() -> bytes:
    """sha256 over the core files holding numba kernels (``njit``) or the constants they read."""
    digest = hashlib.sha256()
    for path in sorted(CORE.rglob("*.py")):
        name = path.relative_to(CORE).as_posix()
        text = path.read_bytes()
        if name in _CONSTANT_SOURCES or any(mark in text for mark in _KERNEL_MARKS):
            digest.update(name.encode())
            digest.update(text)
    return digest.digest()


class CoreKernelLocator(caching._CacheLocator):
    """numba's own locator for a core kernel, with :func:`kernel_sources_hash` added to its source stamp."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    @property
    def _py_file(self) -> str:  # numba's cachability warning names the kernel's file
        return str(self._inner._py_file)

    def ensure_cache_path(self) -> None:
        self._inner.ensure_cache_path()

    def get_cache_path(self) -> str:
        return str(self._inner.get_cache_path())

    def get_source_stamp(self) -> Any:
        return (self._inner.get_source_stamp(), kernel_sources_hash())

    def get_disambiguator(self) -> str:
        return str(self._inner.get_disambiguator())

    @classmethod
    def from_function(cls, py_func: Any, py_file: str) -> CoreKernelLocator | None:
        """The locator of a function defined in the package (the core, or the synthetic generator that
        calls the core's intrinsics); None elsewhere: numba's usual locators."""
        if not _in_package(py_file):
            return None
        for inner_class in _IMPL._locator_classes:
            if inner_class is not cls:
                inner = inner_class.from_function(py_func, py_file)
                if inner is not None:
                    return cls(inner)
        return None


@functools.cache
def _in_package(py_file: str) -> bool:
    """Whether the file ``py_file`` is in this package (resolved once per file: a path resolution is a
    system call per folder of the path, and a module holds several kernels)."""
    return Path(py_file).resolve().is_relative_to(CORE.parent)


if CoreKernelLocator not in _IMPL._locator_classes:
    _IMPL._locator_classes.insert(0, CoreKernelLocator)


_numba_abi_sizeof = base.BaseContext.get_abi_sizeof
_ABI_SIZES: dict[tuple[str, str], int] = {}


def _memo_abi_sizeof(self: Any, ty: Any) -> int:
    """numba's ``get_abi_sizeof``, remembered per LLVM type for the process.

    numba asks the size of every user variable's LLVM type when lowering it (for debug information,
    even when none is emitted), and llvmlite answers by printing and parsing a module holding a global
    of that type: some 300 parses of the state NamedTuples' types in the session loop's compile alone.
    A literal type's text is the whole type, so its size is remembered under it; a type naming an
    identified struct (``%name``, whose body could change) is asked each time.
    """
    text = str(ty)
    if "%" in text:
        return int(_numba_abi_sizeof(self, ty))
    key = (str(self.target_data), text)  # numba makes a context per compile: keyed on its data layout
    size = _ABI_SIZES.get(key)
    if size is None:
        size = _ABI_SIZES[key] = int(_numba_abi_sizeof(self, ty))
    return size


base.BaseContext.get_abi_sizeof = _memo_abi_sizeof  # type: ignore[method-assign]


class KernelCache(caching.FunctionCache):
    """numba's on-disk cache of a kernel, loading a cached kernel without numba's full context refresh.

    numba refreshes its target context before every cache load: the first refresh of a process imports
    and installs every lowering registry numba has (about 1 s, 0.85 s of it ``scipy.linalg``, which
    numba imports to check for BLAS), although loading compiled machine code needs none of them. Here
    a load only initialises numba's runtime (the NRT symbols and functions a kernel's machine code may
    call; the C helpers and math symbols are registered when the context is created). A kernel that
    is not in the cache compiles as usual, and numba's compiler refreshes the context then.
    """

    def load_overload(self, sig: Any, target_context: Any) -> Any:
        rtsys.initialize(target_context)
        with self._guard_against_spurious_io_errors():
            return self._load_overload(sig, target_context)


def njit(**options: Any) -> Callable[[F], F]:
    """numba's ``@njit(**options)``; with ``cache=True`` the kernel is cached by :class:`KernelCache`.

    Without the C-callable wrapper numba builds for every compiled signature (``no_cfunc_wrapper``,
    unless the options say otherwise): nothing calls a kernel through a C function pointer, and the
    wrapper (its lowering, optimisation and machine code) is part of every first run's compile. The
    Python wrapper is compiled unoptimised (:class:`_EntryLibrary`).
    """
    cache = bool(options.pop("cache", False))
    options.setdefault("no_cfunc_wrapper", True)
    options.setdefault("pipeline_class", _EntryCompiler)

    def decorate(func: F) -> F:
        dispatcher = _numba_njit(**options)(func)
        if cache:
            dispatcher._cache = KernelCache(dispatcher.py_func)
        return cast(F, dispatcher)

    return decorate


_WHOLE_ARGUMENTS: set[type] = set()


def whole_argument(cls: C) -> C:
    """Class decorator: a kernel receives a NamedTuple of this class as one LLVM value, not flattened.

    numba flattens every tuple argument into its scalars: a NamedTuple of a dozen arrays is a hundred
    arguments, taken apart at every call (one ``extractvalue`` each) and put together again at the
    start of every callee (one ``insertvalue`` each, each printed with the whole tuple's type in the
    textual IR numba hands to LLVM). The session loop passes its state NamedTuples to some thirty
    kernels: that packing was over half of their IR, typed out, parsed and optimised away on every
    first run. Passed whole, the tuple is one argument; LLVM's calling convention splits it into
    registers and stack slots as before, and the kernels LLVM inlines see the same values.
    """
    _WHOLE_ARGUMENTS.add(cls)
    return cls


class _WholeArgumentModel:
    """numba's tuple data model, passing the NamedTuples of :func:`whole_argument` classes whole."""

    _whole = False

    def get_argument_type(self) -> Any:
        if self._whole:
            return cast(Any, self).get_value_type()
        return cast(Any, super()).get_argument_type()

    def as_argument(self, builder: Any, value: Any) -> Any:
        return value if self._whole else cast(Any, super()).as_argument(builder, value)

    def from_argument(self, builder: Any, value: Any) -> Any:
        return value if self._whole else cast(Any, super()).from_argument(builder, value)


class _NamedTupleModel(_WholeArgumentModel, models.TupleModel):
    def __init__(self, dmm: Any, fe_type: Any) -> None:
        super().__init__(dmm, fe_type)
        self._whole = fe_type.instance_class in _WHOLE_ARGUMENTS


class _NamedUniTupleModel(_WholeArgumentModel, models.UniTupleModel):
    def __init__(self, dmm: Any, fe_type: Any) -> None:
        super().__init__(dmm, fe_type)
        self._whole = fe_type.instance_class in _WHOLE_ARGUMENTS


default_manager.register(types.NamedTuple, _NamedTupleModel)
default_manager.register(types.NamedUniTuple, _NamedUniTupleModel)


class _KernelDispatcher(CPUDispatcher):
    """numba's dispatcher, typing a call from another kernel on its arguments' plain types.

    numba specialises a jitted callee on a literal argument (``f(x, 0)`` compiles ``f`` for
    ``Literal[int](0)``, ``f(x, True)`` for ``Literal[bool](True)``): one more compile of the callee,
    and of everything it calls, per distinct constant. A loop kernel has one compiled form per
    plain type, whatever constants its callers pass.
    """

    entry = False  # set on the kernels Python calls (see loop_kernel)

    def get_call_template(self, args: Any, kws: Any) -> Any:
        plain_args = tuple(types.unliteral(a) for a in args)
        plain_kws = {name: types.unliteral(t) for name, t in kws.items()}
        return super().get_call_template(plain_args, plain_kws)

    def compile(self, sig: Any) -> Any:
        if self.entry:
            for gate in tuple(ENTRY_COMPILE_GATES):
                gate()
        return super().compile(sig)

    def add_overload(self, cres: Any) -> None:
        if self.entry:
            super().add_overload(cres)
        else:  # no machine code: kept for callers' typing, never in the table Python calls dispatch on
            self.overloads[tuple(cres.signature.args)] = cres

    def _compile_for_args(self, *args: Any, **kws: Any) -> Any:
        if not self.entry:  # its code exists only inside its callers': a call from Python would crash
            raise TypeError(
                f"{self.py_func.__qualname__} is a kernel only other kernels call (it has no machine code "
                "of its own); call it from a kernel, e.g. a small @njit function in a test"
            )
        return cast(Any, super())._compile_for_args(*args, **kws)


ENTRY_COMPILE_GATES: list[Callable[[], None]] = []
"""Called before an entry kernel compiles (or loads from numba's cache) a new signature.

An adapter registers one while another process is compiling the entry kernels into numba's cache
(the CLI's first run, :mod:`trading_playbook.cli._compile`): the gate waits for it, then numba finds
the kernel in its cache instead of compiling it a second time. The core itself registers none.
"""


def entry_is_cached(dispatcher: Any) -> bool:
    """True when numba's on-disk cache holds a current compiled form of ``dispatcher`` (an index
    stamped with the present kernel sources; numba reads it as empty when they changed)."""
    cache_file = getattr(getattr(dispatcher, "_cache", None), "_cache_file", None)
    return cache_file is not None and bool(cache_file._load_index())


_PYTHON_WRAPPER_PREFIX = "_ZN7cpython"  # numba's name of a kernel's Python wrapper: cpython::<kernel>


class _EntryLibrary(codegen.JITCodeLibrary):
    """The code library of a kernel Python calls: numba's, with the kernel's Python wrapper unoptimised.

    The wrapper unboxes each argument (for the session loop, 47 arrays in 7 NamedTuples: some 1,900
    instructions with their error paths, a quarter of the loop's optimised module) and calls the
    kernel, once per call from Python: its speed is a few microseconds either way, but optimising it
    (numba's function passes, then the module passes and instruction selection with the kernel) was
    about a second of the session loop's compile. LLVM's ``optnone`` leaves it as lowered (compiled
    at -O0; ``noinline`` goes with it); the kernel itself is optimised as before.
    """

    def add_ir_module(self, ir_module: Any) -> None:
        for function in ir_module.functions:
            if not function.is_declaration and function.name.startswith(_PYTHON_WRAPPER_PREFIX):
                function.attributes.add("noinline")
                function.attributes.add("optnone")
        super().add_ir_module(ir_module)


class _EntryCompiler(compiler.Compiler):
    """numba's nopython pipeline, compiling into an :class:`_EntryLibrary`."""

    def compile_extra(self, func: Any) -> Any:
        if self.state.library is None:
            library = _EntryLibrary(self.state.targetctx.codegen(), func.__qualname__)
            library.enable_object_caching()  # as numba does: the library is written to the cache
            self.state.library = library
        return super().compile_extra(func)


class _LinkedOnlyLibrary(codegen.JITCodeLibrary):
    """The code library of a kernel only other kernels call: numba's, without its own machine code.

    numba finalises every function's library on its own: its module with every callee linked in is
    optimised at module level and turned into machine code, then linked into each caller and
    optimised and compiled again there, once per level of the call tree up to the entry kernel
    (``simulate_nb`` is six levels deep). A called-only kernel never runs on its own, so here
    finalising only links its callees in: the entry kernel's module holds every function, and is
    optimised and compiled to machine code once. Each function is still optimised on its own first
    (numba's function passes, when its IR is added), as before.
    """

    always_inline = False  # the kernel's own functions get LLVM's ``alwaysinline`` (loop_kernel(inline=...))

    def add_ir_module(self, ir_module: Any) -> None:
        if self.always_inline:
            for function in ir_module.functions:
                if not function.is_declaration and "noinline" not in function.attributes:
                    function.attributes.add("alwaysinline")
        super().add_ir_module(ir_module)

    def finalize(self) -> None:
        require_global_compiler_lock()
        self._raise_if_finalized()
        seen: set[Any] = set()
        for library in self._linking_libraries:
            if library not in seen:
                seen.add(library)
                self._reload_init.update(library._reload_init)
                self._final_module.link_in(library._get_module_for_linking(), preserve=True)
        self._finalize_dynamic_globals()
        self._finalized = True

    def get_pointer_to_function(self, name: str) -> int:
        return 0  # no machine code of its own: only its callers (the entry kernel) run

    @property
    def codegen(self) -> Any:
        return _NoEnvCodegen(self._codegen)


class _NoEnvCodegen:
    """numba's codegen for a :class:`_LinkedOnlyLibrary`, minus ``set_env``: the kernel's environment
    global has no machine code to live in. The loop kernels use no Python object (no boxing, no
    dynamic exception, no print), so their environment is never read: exactly as when numba loads a
    cached entry kernel, whose callees' environments are never set either."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def set_env(self, env_name: str, env: Any) -> None:
        pass

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class _CalleeCompiler(compiler.Compiler):
    """numba's nopython pipeline, compiling into a :class:`_LinkedOnlyLibrary`."""

    always_inline = False

    def compile_extra(self, func: Any) -> Any:
        if self.state.library is None:
            library = _LinkedOnlyLibrary(self.state.targetctx.codegen(), func.__qualname__)
            library.always_inline = self.always_inline
            self.state.library = library
        return super().compile_extra(func)


class _InlinedCalleeCompiler(_CalleeCompiler):
    """:class:`_CalleeCompiler` for a kernel LLVM inlines into every caller (``alwaysinline``)."""

    always_inline = True


def loop_kernel(
    *,
    inline: Literal["never", "always"] = "never",
    entry: bool = False,
    error_model: Literal["numpy", "python"] = "numpy",
) -> Callable[[F], F]:
    """``@njit`` for the fast engine's session-loop kernels: numpy's error model, and no reference
    counting (``_nrt=False``: they allocate nothing, the caller owns every array; an allocation in
    one is a compile error).

    ``entry=True``: a kernel Python calls (the session loop): cached on disk, with the wrappers that
    unbox its arguments. Otherwise a kernel only other kernels call: compiled without those wrappers
    (unboxing the state NamedTuples is most of a small kernel's compile time) and without a cache of
    its own (its code is linked into, and cached with, the entry kernel; every kernel source is in
    the entry's cache key). ``inline="always"``: LLVM inlines it into every caller (its functions
    get LLVM's ``alwaysinline``), so a call does not pass the state NamedTuples' arrays one by one.
    It is typed and lowered once, not once per caller: numba's own ``inline="always"`` (at numba IR
    level) copied and typed its IR again inside every caller, about a quarter of the session loop's
    compile time (docs/decisions.md). ``"never"`` leaves it to LLVM's cost model, which inlines less
    since the state NamedTuples travel whole (:func:`whole_argument`: one argument instead of a
    hundred, and LLVM's inliner counts a bonus per argument a call no longer passes). ``error_model``: numpy's by default (a division by zero gives
    inf/NaN); ``"python"`` raises ``ZeroDivisionError`` as a plain ``@njit`` kernel does.
    """

    def decorate(func: F) -> F:
        options: dict[str, Any] = {
            "nopython": True,
            "error_model": error_model,
            "_nrt": False,
            "no_cfunc_wrapper": True,  # as for njit: nothing calls a kernel through a C pointer
        }
        pipeline: type[compiler.CompilerBase] = _EntryCompiler
        if not entry:
            options.update(no_cpython_wrapper=True)
            pipeline = _InlinedCalleeCompiler if inline == "always" else _CalleeCompiler
        dispatcher = _KernelDispatcher(
            py_func=func, locals={}, targetoptions=options, pipeline_class=pipeline
        )
        if entry:
            cast(Any, dispatcher)._cache = KernelCache(dispatcher.py_func)
        dispatcher.entry = entry
        return cast(F, dispatcher)

    return decorate


def callee_kernel(
    *, inline: Literal["never", "always"] = "never", error_model: Literal["numpy", "python"] = "numpy"
) -> Callable[[F], F]:
    """``@njit`` for a helper only other kernels call (the scanner's per-symbol pass, the synthetic
    generator's phases, a score table...): compiled as :func:`loop_kernel` compiles a called-only kernel.

    A plain ``@njit(cache=True)`` helper is compiled twice over on a first run: once on its own (module
    optimisation, machine code and the Python and C wrappers that unbox its arguments, then written to
    numba's cache), although nothing but its callers ever runs it, and again inside each caller. Here
    it is typed and lowered once, its code is linked into its callers and cached with them (their
    cache key covers its file), and it allocates nothing (no reference counting). Calling it from
    Python raises ``TypeError``: tests call it through a small ``@njit`` function.
    """
    return loop_kernel(inline=inline, error_model=error_model)
