"""cast: a tensor in another element type (int64 ids as float32 features, a bool mask as float32,
float32 as float16); the shape stays.

Numbers convert as numpy's `astype`, torch's `.to` and ONNX's Cast do alike: a float to an integer
truncates toward zero (-1.7 -> -1), anything to bool is "not zero", bool to a number is 0 or 1.
A float outside the integer type's range, or NaN, has no defined integer in ONNX (nor in C), so
no runtime promises one.
"""

from __future__ import annotations

from netlang.ir import DTYPES, TensorType
from netlang.ops.registry import Attr, Attrs, Ins, OpSpec, register


def _cast_infer(ins: Ins, a: Attrs) -> tuple[TensorType, ...]:
    return (TensorType(a["dtype"], ins[0].shape),)


cast = register(
    OpSpec(
        "cast",
        f"The input in element type `dtype` ({', '.join(DTYPES)}); a float to an integer "
        "truncates toward zero.",
        (Attr("dtype", "str", choices=DTYPES),),
        _cast_infer,
        takes="any",
    )
)
