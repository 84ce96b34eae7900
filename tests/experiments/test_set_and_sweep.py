"""`--set` on train (model arguments and train settings), aliases inheriting their base's train
section, and `--sweep` (one run directory per value under one parent)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import netlang
from netlang.cli import main
from netlang.semantics.settings import split_settings
from netlang.semantics.train_spec import Call
from netlang.train.sweep import parse_sweep, variant_name, variants

SOURCE = """
model Mlp(width: int = 16, p: float = 0.0) {
    input x: float32[N, 64]
    x = x -> linear(width) -> relu
    if p > 0 { x = x -> dropout(p) }
    y = x -> linear(10)
    output y
}

model MlpWide(p: float = 0.0) = Mlp(64)

model MlpOwn = Mlp(8)

train Mlp {
    data      digits(flatten=true, split=[0.2, 0.4, 0.4])
    normalize none
    batch     64
    epochs    1
    optimizer sgd(lr=0.05 * width / 16, momentum=0.9)
}

train MlpOwn {
    data   digits(flatten=true, split=[0.5, 0.5])
    epochs 3
}
"""


@pytest.fixture
def program() -> netlang.Program:
    return netlang.load(SOURCE)


def _build(program: netlang.Program, name: str, settings: dict[str, str]):
    arguments, entries = split_settings(settings, program.parameters(name), name)
    graph, diagnostics = program.build(name, arguments, train_settings=entries)
    assert graph is not None, diagnostics
    return graph


def test_set_changes_model_arguments_and_train_settings(program: netlang.Program) -> None:
    settings = {"p": "0.5", "epochs": "7", "optimizer": "adam(lr=1e-2)", "schedule": "cosine"}
    graph = _build(program, "Mlp", settings)
    assert graph.arguments == {"width": 16, "p": 0.5}
    assert any(node.op == "dropout" for node in graph.nodes)
    entries = graph.train.entries
    assert entries["epochs"] == 7 and entries["batch"] == 64  # the rest of the section stays
    assert entries["optimizer"] == Call("adam", (), {"lr": 0.01})
    assert entries["schedule"] == Call("cosine")


def test_set_keyword_entries_read_as_in_a_train_section(program: netlang.Program) -> None:
    graph = _build(program, "Mlp", {"early_stop": "patience=2 monitor=val_loss"})
    assert graph.train.entries["early_stop"] == Call(
        "early_stop", (), {"patience": 2, "monitor": Call("val_loss")}
    )


def test_set_values_are_netlang_not_python(program: netlang.Program) -> None:
    with pytest.raises(ValueError):
        split_settings({"epochs": "__import__('os').system('x')"}, ["width"], "Mlp")
    with pytest.raises(ValueError, match="not a parameter of Mlp"):
        split_settings({"dropout_rate": "1"}, program.parameters("Mlp"), "Mlp")


def test_set_lr_replaces_the_optimizer_lr_as_the_lr_flag_does(program: netlang.Program) -> None:
    from netlang.train.config import resolve_config

    graph = _build(program, "Mlp", {"lr": "0.2"})
    assert graph.train.entries["optimizer"] == Call("sgd", (), {"momentum": 0.9})
    optimizer = resolve_config(graph.train, "Mlp", {}).optimizer
    assert (optimizer.lr, optimizer.options["momentum"]) == (0.2, 0.9)


def test_set_train_value_is_checked_like_the_section(program: netlang.Program) -> None:
    arguments, entries = split_settings({"optimizer": "sgdd(lr=1)"}, ["width"], "Mlp")
    graph, diagnostics = program.build("Mlp", arguments, train_settings=entries)
    assert graph is None and [d.code for d in diagnostics] == ["NL2015"]
    assert diagnostics[0].hint == "did you mean `sgd`?"


def test_alias_inherits_its_base_train_section_with_the_base_arguments(
    program: netlang.Program,
) -> None:
    graph = program.model("MlpWide")
    assert graph.train is not None and graph.train.entries["epochs"] == 1
    # the section reads the base's `width`, which the alias fixed to 64
    assert graph.train.entries["optimizer"].kwargs["lr"] == pytest.approx(0.2)
    own = program.model("MlpOwn")
    assert own.train.entries["epochs"] == 3 and "optimizer" not in own.train.entries


def test_sweep_values_split_at_top_level_commas() -> None:
    assert parse_sweep("p=0,0.2,0.5") == ("p", ["0", "0.2", "0.5"])
    assert parse_sweep("widths=[1, 2],[3],'a,b'") == ("widths", ["[1, 2]", "[3]", "'a,b'"])
    assert variants(["a=1,2", "b=x,y"]) == [
        {"a": "1", "b": "x"},
        {"a": "1", "b": "y"},
        {"a": "2", "b": "x"},
        {"a": "2", "b": "y"},
    ]
    assert variant_name({"optimizer": "sgd(lr=0.1)"}) == "optimizer=sgd_lr=0.1_"
    with pytest.raises(ValueError):
        parse_sweep("p=0,,1")


@pytest.mark.slow
def test_sweep_trains_each_variant_into_its_own_run_directory(tmp_path: Path) -> None:
    path = tmp_path / "mlp.net"
    path.write_text(SOURCE)
    parent = tmp_path / "sweep"
    args = ["train", str(path), "-q", "--sweep", "p=0,0.5", "--set", "batch=128"]
    result = CliRunner().invoke(main, [*args, "--out", str(parent)])
    assert result.exit_code == 0, result.output
    sweep = json.loads((parent / "sweep.json").read_text())
    assert [r["run"] for r in sweep["runs"]] == ["p=0", "p=0.5"]
    for run, p in (("p=0", 0.0), ("p=0.5", 0.5)):
        config = json.loads((parent / run / "config.json").read_text())
        assert config["arguments"]["p"] == p and config["config"]["batch"] == 128
        assert config["set"] == {"batch": "128", "p": str(p if p else 0)}
        assert (parent / run / "metrics.json").is_file()
