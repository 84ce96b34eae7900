"""Whole graphs through `to_torch`: names, generated code, training, torch.compile, references."""

from __future__ import annotations

import inspect

import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

from netlang.backends.torch_module import to_torch  # noqa: E402
from netlang.semantics.builder import GraphBuilder  # noqa: E402
from netlang.ir import Graph, TensorType  # noqa: E402


def lenet() -> Graph:
    """LeNet-5 with two outputs: the logits and the flattened features."""
    b = GraphBuilder("LeNet5")
    (x,) = (b.input("image", TensorType("float32", ("N", 1, 32, 32))),)
    for i, channels in enumerate((6, 16), start=1):
        (x,) = b.apply("conv2d", [x], {"channels": channels, "kernel": 5}, f"conv{i}")
        (x,) = b.apply("tanh", [x], {}, f"act{i}")
        (x,) = b.apply("avgpool2d", [x], {"kernel": 2}, f"pool{i}")
    (features,) = b.apply("flatten", [x], {}, "flatten")
    x = features
    for i, width in enumerate((120, 84), start=1):
        (x,) = b.apply("linear", [x], {"features": width}, f"fc{i}")
        (x,) = b.apply("tanh", [x], {}, f"act_fc{i}")
    (x,) = b.apply("linear", [x], {"features": 10}, "fc3")
    return b.finish({"logits": x, "features": features})


def reference_lenet() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(1, 6, 5),
        nn.Tanh(),
        nn.AvgPool2d(2),
        nn.Conv2d(6, 16, 5),
        nn.Tanh(),
        nn.AvgPool2d(2),
        nn.Flatten(),
        nn.Linear(400, 120),
        nn.Tanh(),
        nn.Linear(120, 84),
        nn.Tanh(),
        nn.Linear(84, 10),
    )


def basic_block(channels: int) -> Graph:
    """torchvision's ResNet BasicBlock without downsampling, at the names torchvision uses."""
    b = GraphBuilder("BasicBlock")
    x = b.input("x", TensorType("float32", ("N", channels, 6, 6)))
    (y,) = b.apply(
        "conv2d", [x], {"channels": channels, "kernel": 3, "padding": 1, "bias": False}, "conv1"
    )
    (y,) = b.apply("batchnorm2d", [y], {}, "bn1")
    (y,) = b.apply("relu", [y], {}, "relu1")
    (y,) = b.apply(
        "conv2d", [y], {"channels": channels, "kernel": 3, "padding": 1, "bias": False}, "conv2"
    )
    (y,) = b.apply("batchnorm2d", [y], {}, "bn2")
    (y,) = b.apply("add", [y, x], {}, "residual")
    (y,) = b.apply("relu", [y], {}, "relu2")
    return b.finish({"y": y})


def nested() -> Graph:
    """A ResNet-style scope: `layer1.0.conv1` and friends, then a head."""
    b = GraphBuilder("Nested")
    x = b.input("x", TensorType("float32", ("N", 3, 8, 8)))
    (x,) = b.apply("conv2d", [x], {"channels": 4, "kernel": 3}, "layer1.0.conv1")
    (x,) = b.apply("batchnorm2d", [x], {}, "layer1.0.bn1")
    (x,) = b.apply("conv2d", [x], {"channels": 4, "kernel": 1}, "layer1.1.conv1")
    (x,) = b.apply("dropout", [x], {"p": 0.1}, "layer1.1.drop")
    (x,) = b.apply("global_avgpool", [x], {}, "pool")
    (x,) = b.apply("linear", [x], {"features": 2}, "fc")
    return b.finish({"y": x})


def test_state_dict_keys_and_shapes_are_the_ir_parameters_and_buffers() -> None:
    graph = nested()
    state = to_torch(graph).state_dict()
    shapes = {k: tuple(v.shape) for k, v in state.items()}
    assert shapes == {**graph.parameters(), **graph.buffers()}
    assert list(state)[:2] == ["layer1.0.conv1.weight", "layer1.0.conv1.bias"]  # node order
    assert list(state)[-2:] == ["fc.weight", "fc.bias"]


def test_torchvision_basic_block_state_dict_loads_strictly_and_agrees() -> None:
    resnet = pytest.importorskip("torchvision.models.resnet")
    theirs = resnet.BasicBlock(8, 8)
    with torch.no_grad():
        for bn in (theirs.bn1, theirs.bn2):
            bn.weight.normal_(), bn.bias.normal_(), bn.running_mean.normal_()
            bn.running_var.uniform_(0.5, 2.0)
    ours = to_torch(basic_block(8))
    ours.load_state_dict(theirs.state_dict(), strict=True)
    theirs.eval(), ours.eval()
    x = torch.randn(2, 8, 6, 6)
    torch.testing.assert_close(ours(x), theirs(x))


def test_lenet_matches_a_hand_written_sequential_with_the_same_weights() -> None:
    ours, theirs = to_torch(lenet(), seed=0), reference_lenet()
    theirs.load_state_dict(dict(zip(theirs.state_dict(), ours.state_dict().values())))
    x = torch.randn(3, 1, 32, 32)
    logits, features = ours(x)
    torch.testing.assert_close(logits, theirs(x))
    torch.testing.assert_close(features, theirs[:7](x))


def test_forward_takes_inputs_by_name_and_returns_outputs_in_graph_order() -> None:
    module = to_torch(lenet())
    assert list(inspect.signature(module.forward).parameters) == ["image"]
    logits, features = module(image=torch.randn(2, 1, 32, 32))
    assert logits.shape == (2, 10) and features.shape == (2, 400)


def test_generated_code_is_valid_python_calling_layers_by_name() -> None:
    code = to_torch(nested()).code
    compile(code, "<generated>", "exec")
    assert 'getattr(self.layer1, "0").conv1(x)' in code
    assert "self.fc(" in code and "torch.mean(" in code


def test_a_few_sgd_steps_reduce_the_loss_and_reach_every_parameter() -> None:
    module = to_torch(nested(), seed=0)
    optimizer = torch.optim.SGD(module.parameters(), lr=0.1)
    x, target = torch.randn(8, 3, 8, 8), torch.randint(0, 2, (8,))
    losses = []
    for _ in range(5):
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(module(x), target)
        loss.backward()
        losses.append(loss.item())
        optimizer.step()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in module.parameters())
    assert losses[-1] < losses[0]


def test_eval_mode_is_deterministic_and_train_mode_is_not() -> None:
    module = to_torch(nested(), seed=0)
    x = torch.randn(4, 3, 8, 8)
    module.eval()
    assert torch.equal(module(x), module(x))
    module.train()
    assert not torch.equal(module(x), module(x))  # dropout draws a fresh mask


def test_seed_fixes_the_weights_and_leaves_the_global_rng_alone() -> None:
    torch.manual_seed(7)
    expected_draw = torch.rand(3)
    torch.manual_seed(7)
    first = to_torch(lenet(), seed=1).state_dict()
    assert torch.equal(torch.rand(3), expected_draw)
    second, other = to_torch(lenet(), seed=1).state_dict(), to_torch(lenet(), seed=2).state_dict()
    assert all(torch.equal(first[k], second[k]) for k in first)
    assert not torch.equal(first["conv1.weight"], other["conv1.weight"])


def test_symbolic_spatial_dims_run_at_any_size() -> None:
    b = GraphBuilder("AnySize")
    x = b.input("x", TensorType("float32", ("N", 3, "H", "W")))
    (y,) = b.apply("conv2d", [x], {"channels": 4, "kernel": 3, "padding": "same"}, "conv")
    (y,) = b.apply("global_maxpool", [y], {}, "pool")
    module = to_torch(b.finish({"y": y}))
    for size in ((5, 7), (16, 9)):
        assert module(torch.randn(2, 3, *size)).shape == (2, 4)


def test_layer_named_like_a_module_method_is_rejected() -> None:
    b = GraphBuilder("Clash")
    x = b.input("x", TensorType("float32", ("N", 3)))
    (y,) = b.apply("linear", [x], {"features": 2}, "train")
    with pytest.raises(ValueError, match="`train`"):
        to_torch(b.finish({"y": y}))


def test_runs_under_torch_compile() -> None:
    module = to_torch(lenet(), seed=0).eval()
    x = torch.randn(2, 1, 32, 32)
    compiled = torch.compile(module, backend="eager", fullgraph=True)
    for got, expected in zip(compiled(x), module(x)):
        torch.testing.assert_close(got, expected)


@pytest.mark.slow
def test_runs_under_torch_compile_with_inductor() -> None:
    module = to_torch(lenet(), seed=0).eval()
    x = torch.randn(2, 1, 32, 32)
    compiled = torch.compile(module)
    for got, expected in zip(compiled(x), module(x)):
        torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-4)
