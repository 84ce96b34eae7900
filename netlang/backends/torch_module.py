"""Torch backend: ir.Graph -> torch.fx.GraphModule (generated code, trainable, torch.compile-able).

The fx graph is built straight from the IR, node by node: graph inputs become placeholders,
stateful ops become submodules at the node's hierarchical name (so `state_dict` keys equal
`graph.parameters()` and `graph.buffers()`), the rest become function calls.
"""

from __future__ import annotations

import contextlib
import operator
import re

import torch
from torch import fx

from netlang import ir
from netlang.backends.torch_init import SCHEMES, initialize, scheme_for
from netlang.backends.torch_ops import Lowered, lower


def to_torch(
    graph: ir.Graph, *, init: str | None = None, seed: int | None = None
) -> fx.GraphModule:
    """Build a trainable torch module computing `graph`.

    Args:
        graph: a shape-inferred IR graph.
        init: weight-init scheme for layers whose own `init` attribute is "default"
            (one of "default", "kaiming", "xavier", "normal", "zeros"); None keeps torch's.
        seed: seed for the initial weights; the global torch RNG is left as it was.

    Returns:
        A GraphModule whose `forward` takes the graph inputs in order and returns the single
        output, or a tuple of the outputs in `graph.outputs` order.

    Raises:
        ValueError: an unknown `init`, or a layer name that clashes with a torch.nn.Module
            attribute.
        InternalCompilerError: the IR and torch disagree on a layer's parameters.
    """
    if init is not None and init not in SCHEMES:
        raise ValueError(f"unknown init scheme {init!r}; expected one of {', '.join(SCHEMES)}")
    rng = torch.random.fork_rng(devices=[]) if seed is not None else contextlib.nullcontext()
    with rng:
        if seed is not None:
            torch.manual_seed(seed)
        root, code = _build(graph, init)
    return fx.GraphModule(root, code, class_name=_identifier(graph.name))


def _build(graph: ir.Graph, init: str | None) -> tuple[torch.nn.Module, fx.Graph]:
    """A module holding the submodules in node order, and the fx graph that calls them."""
    code = fx.Graph()
    env: dict[str, fx.Node] = {
        value.name: code.placeholder(_identifier(value.name)) for value in graph.inputs
    }
    root = torch.nn.Module()
    for node in graph.nodes:
        lowered = lower(node)
        if isinstance(lowered.target, torch.nn.Parameter):
            _check_name(node.name)
            *path, leaf = node.name.split(".")
            _container(root, path).register_parameter(leaf, lowered.target)
            name = _identifier(node.outputs[0])
            env[node.outputs[0]] = code.create_node("get_attr", node.name, name=name)
            continue
        if isinstance(lowered.target, torch.nn.Module):
            _check_name(node.name)
            initialize(lowered.target, node.op, scheme_for(node.attrs.get("init"), init))
            _attach(root, node.name, lowered.target)
        env.update(zip(node.outputs, _emit(code, node, lowered, [env[i] for i in node.inputs])))
    results = [env[value.name] for value in graph.outputs]
    code.output(results[0] if len(results) == 1 else tuple(results))
    return root, code


def _attach(root: torch.nn.Module, name: str, module: torch.nn.Module) -> None:
    """Register `module` at dotted `name`, creating plain containers on the way (`layer1.0`)."""
    *path, leaf = name.split(".")
    _container(root, path).add_module(leaf, module)


def _container(root: torch.nn.Module, path: list[str]) -> torch.nn.Module:
    """The module at `path` under `root`, creating plain containers on the way."""
    for part in path:
        child = dict(root.named_children()).get(part)
        if child is None:
            child = torch.nn.Module()
            root.add_module(part, child)
        root = child
    return root


def _emit(code: fx.Graph, node: ir.Node, lowered: Lowered, inputs: list[fx.Node]) -> list[fx.Node]:
    """Add the fx nodes for one IR node; returns one fx node per IR output."""
    name = _identifier(node.outputs[0] if len(node.outputs) == 1 else node.name)
    if isinstance(lowered.target, torch.nn.Module):
        result = code.create_node("call_module", node.name, tuple(inputs), name=name)
    elif lowered.inputs == "fold":
        result = inputs[0]
        for other in inputs[1:]:
            result = code.create_node("call_function", lowered.target, (result, other), name=name)
    else:
        tensors = (inputs,) if lowered.inputs == "list" else tuple(inputs)
        result = code.create_node(
            "call_function",
            lowered.target,
            (*tensors, *lowered.args),
            dict(lowered.kwargs),
            name=name,
        )
    if lowered.take is not None:
        result = code.create_node(
            "call_function", operator.getitem, (result, lowered.take), name=name
        )
    if len(node.outputs) == 1:
        return [result]
    return [
        code.create_node("call_function", operator.getitem, (result, i), name=_identifier(out))
        for i, out in enumerate(node.outputs)
    ]


def _identifier(name: str) -> str:
    """A Python name for a value or class (`layer1.0.conv1` -> `layer1_0_conv1`)."""
    name = re.sub(r"\W", "_", name)
    return f"_{name}" if not name or name[0].isdigit() else name


def _check_name(name: str) -> None:
    """A submodule must not shadow a GraphModule attribute (`self.train(x)` calls the method)."""
    head = name.split(".")[0]
    if hasattr(fx.GraphModule, head):
        raise ValueError(
            f"layer name `{name}` clashes with the torch.nn.Module attribute "
            f"`{head}`; rename the layer"
        )
