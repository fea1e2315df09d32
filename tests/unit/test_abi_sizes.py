"""numba's ABI sizes of LLVM types, remembered per type by ``core._jit`` (a first run asks hundreds)."""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import typeof
from numba.core.registry import cpu_target

from trading_playbook.core import _jit
from trading_playbook.core.simulate._records import position_dt


def _context() -> object:
    return cpu_target.target_context


def test_remembered_sizes_are_llvms_own() -> None:
    context = _context()
    array = context.get_value_type(typeof(np.zeros((2, 2))))
    records = context.get_value_type(typeof(np.zeros(3, dtype=position_dt)))
    for ty in (ir.IntType(64), ir.DoubleType(), array, records, ir.LiteralStructType([array, records])):
        expected = ty.get_abi_size(context.target_data)
        assert context.get_abi_sizeof(ty) == expected
        assert context.get_abi_sizeof(ty) == expected  # the second answer is the remembered one
        assert (str(context.target_data), str(ty)) in _jit._ABI_SIZES


def test_a_type_naming_an_identified_struct_is_asked_each_time() -> None:
    context = _context()
    module = ir.Module()
    named = module.context.get_identified_type("playbook_test_state")
    named.set_body(ir.IntType(64))
    holder = ir.LiteralStructType([named])
    assert context.get_abi_sizeof(holder) == 8
    assert not any(str(holder) == text for _, text in _jit._ABI_SIZES)
