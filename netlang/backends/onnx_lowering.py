"""The lowering context: one IR node being turned into ONNX nodes, and the error for what ONNX
cannot express. The per-op lowerings that use it are in onnx_ops.py."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from onnx import NodeProto, helper, numpy_helper

from netlang.ir import Node


class LoweringError(Exception):
    """An op configuration that ONNX cannot express; becomes a diagnostic at the node's origin."""

    def __init__(
        self, node: Node, message: str, hint: str | None = None, code: str = "NL4001"
    ) -> None:
        super().__init__(f"{code}: {node.name} ({node.op}): {message}")
        self.node, self.message, self.hint, self.code = node, message, hint, code


@dataclass(slots=True)
class Lowering:
    """One node being lowered: its ONNX input/output names and the nodes made for it so far.

    The node that produces the IR outputs is named like the IR node; helper nodes and their
    values get the IR name plus `/suffix`. `used` lists the initializers referenced.
    """

    node: Node
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    float_type: type[np.floating[Any]] = np.float32  # precision of float constants
    nodes: list[NodeProto] = field(default_factory=list)
    used: list[str] = field(default_factory=list)

    @property
    def x(self) -> str:
        return self.inputs[0]

    @property
    def attrs(self) -> dict[str, Any]:
        return self.node.attrs

    @property
    def shape(self) -> tuple[int | str, ...]:
        """The first input's IR shape."""
        return self.node.input_types[0].shape

    def param(self, local: str) -> str:
        name = self.node.key(local)
        self.used.append(name)
        return name

    def optional(self, local: str) -> str:
        """The parameter's name if the node has it, else "" (ONNX's absent optional input)."""
        return self.param(local) if local in self.node.params else ""

    def emit(
        self, op_type: str, inputs: Sequence[str], suffix: str | None = None, **attrs: Any
    ) -> str:
        """Add a node; without `suffix` it is the main node and writes the IR outputs.
        Returns its (first) output name."""
        if suffix is None:
            name, outputs = self.node.name, list(self.outputs)
        else:
            name = f"{self.node.name}/{suffix}"
            outputs = [name]
        while inputs and inputs[-1] == "":
            inputs = inputs[:-1]
        self.nodes.append(helper.make_node(op_type, list(inputs), outputs, name=name, **attrs))
        return outputs[0]

    def const(self, suffix: str, value: np.ndarray) -> str:
        tensor = numpy_helper.from_array(np.asarray(value), f"{self.node.name}/{suffix}")
        return self.emit("Constant", [], suffix, value=tensor)

    def floats(self, suffix: str, value: np.ndarray | float) -> str:
        return self.const(suffix, np.asarray(value, self.float_type))

    def ints(self, suffix: str, value: Sequence[int] | int) -> str:
        return self.const(suffix, np.asarray(value, np.int64))


Lower = Callable[[Lowering], None]
