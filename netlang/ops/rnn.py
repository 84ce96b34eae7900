"""Recurrent layers: lstm and gru, returning the output sequence."""

from __future__ import annotations

from netlang.ir import TensorType, numel
from netlang.ops.registry import (
    INIT,
    Attr,
    Attrs,
    Ins,
    OpSpec,
    need_rank,
    register,
    static,
)


def _recurrent(name: str, gates: int) -> OpSpec:
    def infer(ins: Ins, a: Attrs) -> tuple[TensorType, ...]:
        layout = "[N, T, features]" if a["batch_first"] else "[T, N, features]"
        need_rank(name, ins[0], (3,), layout)
        static(name, ins[0], 2, "input features")
        width = a["hidden"] * (2 if a["bidirectional"] else 1)
        return (ins[0].with_shape((*ins[0].shape[:2], width)),)

    def params(ins: Ins, a: Attrs) -> dict[str, tuple[int, ...]]:
        h, directions = a["hidden"], 2 if a["bidirectional"] else 1
        features = ins[0].shape[2]
        assert isinstance(features, int)
        shapes: dict[str, tuple[int, ...]] = {}
        for layer in range(a["layers"]):
            width = features if layer == 0 else h * directions
            for suffix in ("", "_reverse")[:directions]:
                shapes[f"weight_ih_l{layer}{suffix}"] = (gates * h, width)
                shapes[f"weight_hh_l{layer}{suffix}"] = (gates * h, h)
                if a["bias"]:
                    shapes[f"bias_ih_l{layer}{suffix}"] = (gates * h,)
                    shapes[f"bias_hh_l{layer}{suffix}"] = (gates * h,)
        return shapes

    def macs(ins: Ins, outs: tuple[TensorType, ...], a: Attrs) -> int:
        steps = numel(ins[0].shape[:2])
        weights = sum(s[0] * s[1] for k, s in params(ins, a).items() if k.startswith("weight"))
        return steps * weights

    doc = (
        f"{name.upper()} over a sequence ({gates} gates); returns every step's output, "
        "[N, T, hidden * directions] with batch_first (the default)."
    )
    attrs = (
        Attr("hidden", "int"),
        Attr("layers", "int", 1),
        Attr("bidirectional", "bool", False),
        Attr("batch_first", "bool", True),
        Attr("dropout", "float", 0.0),
        Attr("bias", "bool", True),
        INIT,
    )
    return OpSpec(name, doc, attrs, infer, params, macs=macs, tags=frozenset({"init"}))


lstm = register(_recurrent("lstm", 4))
gru = register(_recurrent("gru", 3))
