"""Eight float64 values as one machine vector, for numba-compiled loops.

The missing-value EM does the same arithmetic for every component, on short
vectors of K ~ 8 values. numba leaves LLVM's SLP vectoriser off (turning it
on globally made these loops slower), and its loop vectoriser does not take
loops of 8, so such code ran one scalar at a time. ``Lanes`` is an LLVM
``<8 x double>``: loop-carried values stay in registers (two AVX2 registers,
or one AVX-512), and each operation below is one instruction per register.

For compiled code only; arrays are C-contiguous float64, addressed by the
flat element offset of the first of eight consecutive values.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic, models, register_model

WIDTH = 8
_VECTOR = ir.VectorType(ir.DoubleType(), WIDTH)


class LanesType(types.Type):
    def __init__(self):
        super().__init__(name=f"Lanes{WIDTH}")


Lanes = LanesType()


@register_model(LanesType)
class _LanesModel(models.PrimitiveModel):
    def __init__(self, dmm, fe_type):
        super().__init__(dmm, fe_type, _VECTOR)


def _is_float64_c_array(array) -> bool:
    return (
        isinstance(array, types.Array) and array.dtype == types.float64 and array.layout == "C"
    )


def _address(context, builder, array_type, array, offset):
    data = context.make_array(array_type)(context, builder, array).data
    return builder.bitcast(builder.gep(data, [offset]), _VECTOR.as_pointer())


@intrinsic
def load(typingctx, array, offset):
    """array.flat[offset : offset + 8]."""
    if _is_float64_c_array(array) and isinstance(offset, types.Integer):

        def codegen(context, builder, signature, args):
            return builder.load(_address(context, builder, signature.args[0], *args), align=8)

        return Lanes(array, offset), codegen
    return None


@intrinsic
def store(typingctx, array, offset, value):
    """array.flat[offset : offset + 8] = value."""
    if _is_float64_c_array(array) and isinstance(offset, types.Integer) and value == Lanes:

        def codegen(context, builder, signature, args):
            address = _address(context, builder, signature.args[0], args[0], args[1])
            builder.store(args[2], address, align=8)
            return context.get_dummy_value()

        return types.none(array, offset, value), codegen
    return None


@intrinsic
def prefetch(typingctx, array, offset):
    """Ask for the cache line of array.flat[offset] ahead of its use: the hardware
    prefetchers follow a few streams, not one per feature row. A hint only: it
    never faults, so an offset past the end is harmless."""
    contiguous = isinstance(array, types.Array) and array.layout == "C"
    if contiguous and isinstance(offset, types.Integer):

        def codegen(context, builder, signature, args):
            data = context.make_array(signature.args[0])(context, builder, args[0]).data
            byte = ir.IntType(8).as_pointer()
            address = builder.bitcast(builder.gep(data, [args[1]]), byte)
            i32 = ir.IntType(32)
            hint = cgutils.get_or_insert_function(
                builder.module, ir.FunctionType(ir.VoidType(), [byte, i32, i32, i32]),
                "llvm.prefetch.p0i8",
            )  # fmt: skip
            # A read (0), kept in every cache level (3), of data (1).
            read, keep, data_cache = (ir.Constant(i32, flag) for flag in (0, 3, 1))
            builder.call(hint, [address, read, keep, data_cache])
            return context.get_dummy_value()

        return types.none(array, offset), codegen
    return None


@intrinsic
def splat(typingctx, x):
    """x in every lane."""
    if isinstance(x, (types.Float, types.Integer)):

        def codegen(context, builder, signature, args):
            value = context.cast(builder, args[0], signature.args[0], types.float64)
            one = builder.insert_element(
                ir.Constant(_VECTOR, ir.Undefined), value, ir.Constant(ir.IntType(32), 0)
            )
            everywhere = ir.Constant(ir.VectorType(ir.IntType(32), WIDTH), [0] * WIDTH)
            return builder.shuffle_vector(one, ir.Constant(_VECTOR, ir.Undefined), everywhere)

        return Lanes(x), codegen
    return None


@intrinsic
def lane(typingctx, v, i):
    """v's value in lane i."""
    if v == Lanes and isinstance(i, types.Integer):

        def codegen(context, builder, signature, args):
            return builder.extract_element(args[0], args[1])

        return types.float64(v, i), codegen
    return None


def _call_llvm(builder, name, args):
    function = cgutils.get_or_insert_function(
        builder.module, ir.FunctionType(_VECTOR, [_VECTOR] * len(args)), f"llvm.{name}.v{WIDTH}f64"
    )
    return builder.call(function, args)


@intrinsic
def fma(typingctx, a, b, c):
    """a * b + c, rounded once."""
    if a == Lanes and b == Lanes and c == Lanes:

        def codegen(context, builder, signature, args):
            return _call_llvm(builder, "fma", args)

        return Lanes(a, b, c), codegen
    return None


@intrinsic
def fnma(typingctx, a, b, c):
    """c - a * b, rounded once."""
    if a == Lanes and b == Lanes and c == Lanes:

        def codegen(context, builder, signature, args):
            return _call_llvm(builder, "fma", [builder.fneg(args[0]), *args[1:]])

        return Lanes(a, b, c), codegen
    return None


@intrinsic
def sqrt(typingctx, a):
    if a == Lanes:

        def codegen(context, builder, signature, args):
            return _call_llvm(builder, "sqrt", args)

        return Lanes(a), codegen
    return None


def _binary(operation):
    @intrinsic
    def apply(typingctx, a, b):
        if a == Lanes and b == Lanes:

            def codegen(context, builder, signature, args):
                return getattr(builder, operation)(*args)

            return Lanes(a, b), codegen
        return None

    return apply


add, sub, mul, div = (_binary(name) for name in ("fadd", "fsub", "fmul", "fdiv"))


@intrinsic
def all_positive(typingctx, v):
    """Whether every lane is > 0 (False where one is NaN)."""
    if v == Lanes:

        def codegen(context, builder, signature, args):
            positive = builder.fcmp_ordered(">", args[0], ir.Constant(_VECTOR, [0.0] * WIDTH))
            mask = builder.bitcast(positive, ir.IntType(WIDTH))
            return builder.icmp_unsigned("==", mask, ir.Constant(ir.IntType(WIDTH), -1))

        return types.boolean(v), codegen
    return None


def padded_count(K: int) -> int:
    """K rounded up to whole groups of WIDTH."""
    return -(-K // WIDTH) * WIDTH


def components_last(values: np.ndarray, fill) -> np.ndarray:
    """``values`` (K, ...) with the components moved last and padded to whole groups
    of WIDTH with ``fill`` (..., K'), C-contiguous float64."""
    moved = np.moveaxis(values, 0, -1)
    out = np.empty(moved.shape[:-1] + (padded_count(values.shape[0]),))
    out[...] = fill
    out[..., : values.shape[0]] = moved
    return out
