"""Element-wise activations; each keeps its input's type, float32 (what both backends compute
activations in: onnxruntime has no integer Relu, torch no integer softmax)."""

from __future__ import annotations

from netlang.ir import TensorType
from netlang.ops.registry import Attr, Attrs, Ins, OpSpec, ShapeError, register


def _same(ins: Ins, a: Attrs) -> tuple[TensorType, ...]:
    return (ins[0],)


def _axis_checked(ins: Ins, a: Attrs) -> tuple[TensorType, ...]:
    if not -ins[0].rank <= a["axis"] < ins[0].rank:
        raise ShapeError(
            f"axis {a['axis']} is out of range for a {ins[0].rank}-D input", code="NL3003"
        )
    return (ins[0],)


def _clamp_checked(ins: Ins, a: Attrs) -> tuple[TensorType, ...]:
    low, high = a["min"], a["max"]
    if low is None and high is None:
        raise ShapeError("clamp needs `min`, `max` or both", code="NL2004")
    if low is not None and high is not None and low > high:
        raise ShapeError(f"clamp min {low} is above max {high}", code="NL2005")
    return (ins[0],)


def _activation(name: str, doc: str, *attrs: Attr) -> OpSpec:
    names = {a.name for a in attrs}
    rule = _axis_checked if "axis" in names else _clamp_checked if "min" in names else _same
    return register(OpSpec(name, doc, attrs, rule))


relu = _activation("relu", "max(x, 0)")
leaky_relu = _activation("leaky_relu", "x if x > 0 else slope * x", Attr("slope", "float", 0.01))
elu = _activation("elu", "x if x > 0 else alpha * (exp(x) - 1)", Attr("alpha", "float", 1.0))
gelu = _activation(
    "gelu", "Gaussian error linear unit", Attr("approximate", "str", "none", ("none", "tanh"))
)
sigmoid = _activation("sigmoid", "1 / (1 + exp(-x))")
tanh = _activation("tanh", "hyperbolic tangent")
silu = _activation("silu", "x * sigmoid(x) (swish)")
softmax = _activation("softmax", "exp(x) / sum(exp(x)) along `axis`", Attr("axis", "int", -1))
log_softmax = _activation("log_softmax", "log(softmax(x)) along `axis`", Attr("axis", "int", -1))
relu6 = _activation("relu6", "min(max(x, 0), 6) (MobileNet V2)")
hardsigmoid = _activation("hardsigmoid", "relu6(x + 3) / 6 (MobileNet V3)")
hardswish = _activation("hardswish", "x * relu6(x + 3) / 6 (MobileNet V3)")
clamp = _activation(
    "clamp",
    "min(max(x, min), max); either bound may be left out",
    Attr("min", "float", None),
    Attr("max", "float", None),
)
