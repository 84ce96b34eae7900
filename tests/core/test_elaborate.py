"""Elaboration: names, control flow, blocks, imports and shapes, against hand-derived values."""

from __future__ import annotations

from pathlib import Path

import pytest

import netlang
from netlang.diagnostics import CompileError


def graph_of(source: str, model: str | None = None, **arguments: object) -> netlang.ir.Graph:  # type: ignore[name-defined]
    return netlang.load(source).model(model, **arguments)


def test_unlabelled_layers_take_their_index_in_the_scope_like_nn_sequential() -> None:
    g = graph_of("""model A { input x: float32[N, 4]
        y = x -> linear(8) -> relu -> head: { linear(4) -> relu -> linear(2) }
        output y }""")
    assert [n.name for n in g.nodes] == ["0", "1", "head.0", "head.1", "head.2"]
    assert list(g.parameters()) == [
        "0.weight",
        "0.bias",
        "head.0.weight",
        "head.0.bias",
        "head.2.weight",
        "head.2.bias",
    ]


def test_blocks_open_a_scope_named_by_label_or_index() -> None:
    g = graph_of("""
        block Unit(n: int)(x) { return x -> fc: linear(n) -> relu }
        block Stack(n: int, depth: int)(x) {
            for i in range(depth) { x = x -> Unit(n) }
            return x
        }
        model A { input x: float32[N, 4]
            y = x -> body: Stack(6, 3)
            output y }""")
    assert list(g.parameters()) == [
        f"body.{i}.fc.{p}" for i in range(3) for p in ("weight", "bias")
    ]


def test_if_chooses_a_branch_at_compile_time_from_input_shape() -> None:
    source = """
        block Shortcut(planes: int)(x) {
            s = x
            if channels(x) != planes { s = x -> proj: conv2d(planes, kernel=1) }
            return s
        }
        model A(c: int = 8) { input x: float32[N, 8, 4, 4]
            y = x -> Shortcut(c)
            output y }"""
    assert graph_of(source).nodes == []
    g = graph_of(source, c=16)
    assert [(n.name, n.output_types[0].shape) for n in g.nodes] == [("0.proj", ("N", 16, 4, 4))]


def test_symbolic_sequence_length_flows_through_recurrent_layers() -> None:
    g = graph_of("""model A { input tokens: int64[N, T]
        y = tokens -> embedding(100, 16) -> lstm(32, bidirectional=true) -> select(axis=1, index=-1)
        output y }""")
    assert [n.output_types[0].shape for n in g.nodes] == [("N", "T", 16), ("N", "T", 64), ("N", 64)]


def test_split_returns_several_tensors_and_concat_joins_them() -> None:
    g = graph_of("""model A { input x: float32[N, 10, 4, 4]
        a, b = split(x, [4, 6])
        y = concat(b, a, axis=1)
        output y }""")
    assert g.outputs[0].type.shape == ("N", 10, 4, 4)
    assert g.nodes[1].inputs == ("0:1", "0:0")


def test_constants_lists_and_arithmetic_drive_architecture() -> None:
    g = graph_of("""
        widths = [8, 16, 32]
        model A(scale: int = 2) { input x: float32[N, 3, 32, 32]
            for w in widths { x = x -> conv2d(w * scale, kernel=3, padding=1) -> maxpool2d(2) }
            y = x -> flatten
            output y }""")
    assert g.outputs[0].type.shape == ("N", 64 * 4 * 4)


def test_shape_annotations_and_tests_hold_for_a_correct_model() -> None:
    program = netlang.load("""model A { input x: float32[N, 3, 8, 8]
        h: [N, 4, 8, 8] = x -> conv2d(4, kernel=3, padding="same")
        y = h -> global_avgpool
        output y
        test { input [5, 3, 8, 8] -> output [5, 4]; params == 112; layers == 2 } }""")
    assert program.check() == []


def test_relative_import_is_resolved_next_to_the_importing_file(tmp_path: Path) -> None:
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "blocks.net").write_text("block Head(n: int)(x) { return x -> linear(n) }")
    (tmp_path / "main.net").write_text(
        'import "./lib/blocks.net"\n'
        "model A { input x: float32[N, 3]\n y = x -> Head(2)\n output y }"
    )
    g = netlang.load(tmp_path / "main.net").model()
    assert g.param_count == 3 * 2 + 2


def test_model_arguments_are_type_checked() -> None:
    program = netlang.load(
        "model A(classes: int = 3) { input x: float32[N, 2]\n y = x -> linear(classes)\n output y }"
    )
    assert program.model(classes=5).outputs[0].type.shape == ("N", 5)
    with pytest.raises(CompileError, match="declared `int`"):
        program.model(classes="five")
    with pytest.raises(CompileError, match="no parameter `clases`"):
        program.model(clases=5)


def test_train_section_becomes_data_with_symbols_and_model_arguments() -> None:
    from netlang.semantics.train_spec import Call

    g = graph_of("""model A(classes: int = 3) { input x: float32[N, 64]
            y = x -> linear(classes)
            output y }
        train A {
            data digits(flatten=true)
            optimizer sgd(lr=0.1, momentum=0.9, nesterov=true)
            schedule cosine
            regularize [l1(1e-5), l2(1e-4)]
            early_stop monitor=val_accuracy patience=3
            classes ["a", "b", "c"]
            stage head { epochs 2 freeze ["0"] }
        }""")
    spec = g.train
    assert spec.entries["optimizer"] == Call(
        "sgd", (), {"lr": 0.1, "momentum": 0.9, "nesterov": True}
    )
    assert spec.entries["schedule"] == Call("cosine")
    assert [c.name for c in spec.entries["regularize"]] == ["l1", "l2"]
    assert spec.entries["early_stop"].kwargs["monitor"] == Call("val_accuracy")
    assert spec.stages[0].name == "head" and spec.stages[0].entries == {
        "epochs": 2,
        "freeze": ["0"],
    }


def test_load_accepts_source_text_and_reports_all_errors_at_once() -> None:
    with pytest.raises(CompileError) as info:
        netlang.load(
            "model A { input x: float32[N, 2]\n a = x -> lineer(2)\n b = x -> relu(3)\n"
            " output a, b }"
        ).model()
    assert [d.code for d in info.value.diagnostics] == ["NL2001", "NL2017"]


def test_model_alias_fixes_arguments_and_passes_its_own_parameters_through() -> None:
    program = netlang.load("""
        model Net(width: int = 4, classes: int = 2) { input x: float32[N, 3]
            y = x -> hidden: linear(width) -> relu -> head: linear(classes)
            output y }
        model Wide(classes: int = 2) = Net(16) { "wide" }""")
    g = program.model("Wide", classes=5)
    assert g.name == "Wide" and g.doc == "wide" and g.arguments == {"classes": 5}
    assert g.parameters()["hidden.weight"] == (16, 3)
    assert g.outputs[0].type.shape == ("N", 5)


def _compiled(text: str):  # type: ignore[no-untyped-def]
    from netlang.diagnostics.source import SourceFile
    from netlang.semantics.program import compile_source

    program, diagnostics, _ = compile_source(SourceFile("t.net", text))
    return program, diagnostics


def test_keywords_and_interpolated_labels_name_layers() -> None:
    program, diagnostics = _compiled(
        """
        model M {
            input x: float32[N, 3, 8, 8]
            for i in range(2) {
                x = x -> denselayer{i + 1}: conv2d(3, 1) -> block{i}-{i * 2}: { relu }
            }
            y = x -> block: conv2d(2, 1)
            output y
        }
        """
    )
    assert diagnostics == []
    graph = program.model("M")
    assert [n.name for n in graph.nodes] == [
        "denselayer1",
        "block0-0.0",
        "denselayer2",
        "block1-2.0",
        "block",
    ]


def test_an_interpolated_label_part_must_be_an_integer_or_a_string() -> None:
    program, _ = _compiled(
        "model M { input x: float32[N, 3]\n y = x -> layer{[1]}: linear(2)\n output y }"
    )
    diagnostics = program.check()
    assert [(d.code, "label part" in d.message) for d in diagnostics] == [("NL2005", True)]


def test_a_labelled_call_is_applied_at_once_under_its_label() -> None:
    program, diagnostics = _compiled(
        """
        model M(d: int = 4) {
            input x: float32[N, 3, d]
            cls = class_token: param([1, 1, d])
            pos = param([1, 4, d])
            y = concat([expand_batch(cls, x), x], axis=1) + pos
            z = head{d}: linear(y, 2)
            w: [N, 4, 2] = z
            output w
        }
        """
    )
    assert diagnostics == []
    graph = program.model("M")
    assert [(n.name, n.op) for n in graph.nodes] == [
        ("class_token", "param"),
        ("1", "param"),
        ("2", "expand_batch"),
        ("3", "concat"),
        ("4", "add"),
        ("head4", "linear"),
    ]
    assert graph.nodes[0].params == {"": (1, 1, 4)}


def test_a_label_on_a_function_call_is_refused() -> None:
    program, _ = _compiled("model M { input x: float32[N, 3]\n n = k: len([1])\n output x }")
    diagnostics = program.check()
    assert [(d.code, "is a function" in d.message) for d in diagnostics] == [("NL2018", True)]


def test_a_parameter_typed_ints_takes_an_integer_or_a_list() -> None:
    program, diagnostics = _compiled(
        """
        block C(k: ints)(x) { return x -> conv2d(2, k, padding="same") }
        model M { input x: float32[N, 3, 8, 8]; y = x -> C(3) -> C([1, 3]); output y }
        """
    )
    assert diagnostics == [] and program.check() == []


def test_reshape_keeps_a_symbolic_size_and_names_a_product_that_does_not_fit() -> None:
    program, _ = _compiled(
        "block R(x) { return x -> reshape([2, 2, dim(x, 2)]) -> reshape([2, dim(x, 2)]) }\n"
        "model M { input x: float32[N, 4, T]; y = x -> R; output y }"
    )
    (diagnostic,) = program.check()
    assert (
        "cannot reshape [N, 2, 2, T] (2*2*T values per sample) to [N, 2, T]" in diagnostic.message
    )
