"""Starting from a checkpoint: loading by name, replaced layers, the weight-mapping report (counts
checked by hand on the small model), and errors that name the layer and both shapes."""

from __future__ import annotations

import re

from pathlib import Path
from typing import Any

import pytest
import torch
from click.testing import CliRunner
from safetensors.torch import save_file

import netlang
from netlang.backends.torch_module import to_torch
from netlang.cli import main
from netlang.ir import Graph
from netlang.train import transfer
from netlang.train.transfer import TransferError

from tests.transfer.transfer_small_model import SMALL


def _checkpoint(
    classes: int = 5, drop: tuple[str, ...] = (), extra: bool = False
) -> dict[str, torch.Tensor]:
    """A state_dict of Small with `classes` outputs, written independently of netlang: random
    tensors under torch's names."""
    generator = torch.Generator().manual_seed(7)
    shapes = {
        "features.0.weight": (8, 6),
        "features.0.bias": (8,),
        "features.1.weight": (8,),
        "features.1.bias": (8,),
        "features.1.running_mean": (8,),
        "features.1.running_var": (8,),
        "mid.weight": (8, 8),
        "mid.bias": (8,),
        "head.weight": (classes, 8),
        "head.bias": (classes,),
    }
    state = {k: torch.randn(s, generator=generator) for k, s in shapes.items() if k not in drop}
    state["features.1.num_batches_tracked"] = torch.tensor(17)
    if extra:
        state["aux.weight"] = torch.zeros(2, 2)
    return state


def _prepare(graph: Graph, config: Any, tmp_path: Path) -> tuple[torch.nn.Module, str]:
    module = to_torch(graph, seed=0)
    return module, transfer.prepare(module, graph, config, tmp_path, load=True)


def test_weights_load_by_name_and_replaced_layers_keep_their_initialisation(
    graph: Graph, make_config: Any, tmp_path: Path
) -> None:
    state = _checkpoint()
    torch.save(state, tmp_path / "source.pth")
    module, _ = _prepare(graph, make_config(weights="source.pth", replace=["head"]), tmp_path)
    fresh = to_torch(graph, seed=0).state_dict()
    loaded = module.state_dict()
    for name, tensor in state.items():
        if not name.startswith("head."):
            assert torch.equal(loaded[name], tensor), name
    assert torch.equal(loaded["head.weight"], fresh["head.weight"])
    assert torch.equal(loaded["head.bias"], fresh["head.bias"])


def test_the_mapping_report_counts_loaded_new_frozen_and_trainable_parameters_and_replaced_keys(
    graph: Graph, make_config: Any, tmp_path: Path
) -> None:
    torch.save(_checkpoint(extra=True), tmp_path / "source.pth")
    config = make_config(
        weights="source.pth",
        replace=["head"],
        stages={
            "head": {"freeze": ["features..mid"]},
            "all": {"freeze": ["features"], "unfreeze": ["features.1"]},
        },
    )
    _, report = _prepare(graph, config, tmp_path)
    lines = report.splitlines()
    assert lines[0] == f"weights from {tmp_path / 'source.pth'} (PyTorch state_dict)"
    # features: 6*8+8 + 8+8 = 72; mid: 8*8+8 = 72; head: 8*3+3 = 27 (new: the checkpoint's has 5)
    rows = [line.split() for line in lines[2:6]]
    assert rows == [
        ["features", "72", "72", "0", "72/0", "56/16"],
        ["mid", "72", "72", "0", "72/0", "0/72"],
        ["head", "27", "0", "27", "0/27", "0/27"],
        ["total", "171", "144", "27", "144/27", "56/115"],
    ]
    assert lines[1].split()[:4] == ["layer", "params", "loaded", "new"]
    assert "head: frozen/trainable" in lines[1] and "all: frozen/trainable" in lines[1]
    # the replaced head's tensors are said so; only the truly unused are "unused"
    assert lines[6] == "replaced (new head), not loaded (2): head.weight, head.bias"
    assert lines[7] == "unused checkpoint keys (1): aux.weight"


def test_a_shape_mismatch_names_the_layer_and_both_shapes(
    graph: Graph, make_config: Any, tmp_path: Path
) -> None:
    torch.save(_checkpoint(classes=5), tmp_path / "source.pth")
    with pytest.raises(TransferError) as caught:
        _prepare(graph, make_config(weights="source.pth"), tmp_path)
    message = str(caught.value)
    assert "layer head: head.weight is [5, 8] in the checkpoint but [3, 8] in the model" in message
    assert "layer head: head.bias is [5] in the checkpoint but [3] in the model" in message
    assert 'list them in `replace`: replace ["head"]' in message


def test_missing_keys_outside_replace_are_errors(
    graph: Graph, make_config: Any, tmp_path: Path
) -> None:
    torch.save(_checkpoint(classes=3, drop=("mid.bias",)), tmp_path / "source.pth")
    with pytest.raises(TransferError, match="layer mid: the checkpoint has no mid.bias"):
        _prepare(graph, make_config(weights="source.pth"), tmp_path)
    _prepare(graph, make_config(weights="source.pth", replace=["mid"]), tmp_path)  # fine


def test_a_safetensors_file_and_a_run_directory_load_too(
    graph: Graph, make_config: Any, tmp_path: Path
) -> None:
    state = _checkpoint(classes=3)
    save_file(state, str(tmp_path / "w.safetensors"))
    (tmp_path / "run" / "checkpoints").mkdir(parents=True)
    save_file(state, str(tmp_path / "run" / "checkpoints" / "last.safetensors"))
    for weights in ("w.safetensors", "run"):
        module, report = _prepare(graph, make_config(weights=weights), tmp_path)
        assert torch.equal(module.state_dict()["mid.weight"], state["mid.weight"])
    assert "run directory, last checkpoint" in report


def test_unknown_weights_and_patterns_are_errors(
    graph: Graph, make_config: Any, tmp_path: Path
) -> None:
    with pytest.raises(TransferError, match="no such file or run directory"):
        _prepare(graph, make_config(weights="nothing.pth"), tmp_path)
    torch.save(_checkpoint(classes=3), tmp_path / "source.pth")
    with pytest.raises(TransferError, match="train.replace: 'fc' names no layer"):
        _prepare(graph, make_config(weights="source.pth", replace=["fc"]), tmp_path)
    frozen_out = make_config(stages={"a": {}, "b": {"freeze": ["features..head"]}})
    with pytest.raises(TransferError, match="stage b freezes every layer"):
        _prepare(graph, frozen_out, tmp_path)


def test_the_cli_reports_a_mismatch_before_training_without_a_traceback(tmp_path: Path) -> None:
    torch.save(_checkpoint(classes=5), tmp_path / "source.pth")
    (tmp_path / "small.net").write_text(
        (
            SMALL
            + """
train Small {
    data digits(size=8, flatten=true)
    weights "source.pth"
}
"""
        )
        .replace("float32[N, 6]", "float32[N, 64]")
        .replace("classes: int = 3", "classes: int = 10")  # digits has 10 (check says so)
    )
    result = CliRunner().invoke(
        main, ["train", str(tmp_path / "small.net"), "--out", str(tmp_path / "run")]
    )
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert (
        "layer features.0: features.0.weight is [8, 6] in the checkpoint but [8, 64] in the model"
    ) in result.output
    assert 'replace ["features.0", "head"]' in result.output
    assert not (tmp_path / "run" / "metrics.csv").exists()


def test_a_missing_checkpoint_is_said_at_the_weights_line(tmp_path: Path) -> None:
    (tmp_path / "small.net").write_text(
        SMALL.replace("float32[N, 6]", "float32[N, 64]").replace("int = 3", "int = 10")
        + '\ntrain Small {\n    data digits(flatten=true)\n    weights "runs/source"\n}\n'
    )
    result = CliRunner().invoke(
        main, ["train", str(tmp_path / "small.net"), "--out", str(tmp_path / "run")]
    )
    assert result.exit_code == 1
    assert re.search(r"small\.net:\d+:5: error\[NL2053\]: weights: no such file", result.stderr)
    assert 'weights "runs/source"\n     |     ^^^^' in result.stderr
    assert "train the model the weights come from first" in result.stderr
    assert not (tmp_path / "run" / "metrics.csv").exists()


def test_a_compiled_section_with_stages_resolves(tmp_path: Path) -> None:
    from netlang.train.config import resolve_config

    graph = netlang.load(
        SMALL
        + """
train Small {
    data digits(flatten=true)
    weights "w.pth"
    replace ["head"]
    optimizer sgd(lr=0.1, momentum=0.9)
    stage head { epochs 2 freeze ["features..mid"] bn frozen }
    stage finetune { epochs 3 lr 0.01 lr_mult features=0.1 bn trainable }
}
"""
    ).model("Small")
    config = resolve_config(graph.train, graph.name)
    head, finetune = config.stages
    assert (head.epochs, head.optimizer.lr, head.freeze, head.bn) == (
        2,
        0.1,
        ("features..mid",),
        "frozen",
    )
    assert (
        finetune.epochs,
        finetune.optimizer.lr,
        finetune.optimizer.options["momentum"],
        finetune.lr_mult,
        finetune.bn,
    ) == (3, 0.01, 0.9, {"features": 0.1}, "trainable")
    assert config.epochs == 5 and config.replace == ("head",)


def test_a_checkpoint_of_another_lenet_lists_its_unused_keys_and_says_why(tmp_path: Path) -> None:
    """examples/lenet.net names its layers by position (0, 3, 7, ...), stdlib:lenet c1, c3, ...:
    the message shows both sets of names, so the mismatch reads as one of names."""
    examples = Path(__file__).resolve().parents[2] / "examples" / "lenet.net"
    theirs = to_torch(netlang.load(examples).model("LeNet5"), seed=0)
    save_file(theirs.state_dict(), str(tmp_path / "positional.safetensors"))
    stdlib = netlang.load('import "lenet"\n\ntrain LeNet5 {\n    data digits(size=32)\n}\n')
    graph = stdlib.model("LeNet5")
    with pytest.raises(TransferError) as caught:
        transfer.map_weights(graph, dict(theirs.state_dict()), set(), "positional.safetensors")
    message = str(caught.value)
    assert "unused checkpoint keys (10): 0.weight, 0.bias" in message
    assert "this model's are c1, c3, c5, f6, out" in message
