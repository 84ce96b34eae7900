"""No traceback, bounded cost: inputs that used to crash the compiler or run away are located
diagnostics, answered quickly; an unexpected exception is one line saying it is a bug."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from click.testing import CliRunner

import netlang
from netlang.cli import main
from netlang.diagnostics import CompileError
from netlang.semantics.program import read_source

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "errors"
HEADER = "model M() {\n    input x: float32[N, 4]\n"


def codes(text: str) -> list[str]:
    program, diagnostics, _ = netlang.semantics.program.compile_source(
        netlang.diagnostics.source.SourceFile("t.net", text)
    )
    if program is not None:
        diagnostics = program.check()
    return [d.code for d in diagnostics if d.severity.name == "ERROR"]


def test_a_10000_stage_chain_checks() -> None:
    assert codes(HEADER + "    y = x" + " -> relu" * 10_000 + "\n    output y\n}\n") == []


@pytest.mark.parametrize(
    "constant",
    ["(" * 10_000 + "1" + ")" * 10_000, "1" + " + 1" * 10_000, "-" * 10_000 + "1", "[" * 3000],
    ids=["parentheses", "sum", "negation", "unclosed lists"],
)
def test_deep_nesting_is_a_diagnostic_not_a_recursion_error(constant: str) -> None:
    found = codes(f"A = {constant}\n" + HEADER + "    y = x -> relu\n    output y\n}\n")
    assert found in ([], ["NL1004"], ["NL1002"]), found


def test_nesting_past_the_limit_says_so() -> None:
    assert codes("A = " + "-" * 200 + "1\n" + HEADER + "    y = x\n    output y\n}\n") == ["NL1004"]


@pytest.mark.parametrize(
    ("layer", "code"),
    [
        ("maxpool2d(0)", "NL2005"),
        ("linear(0)", "NL2005"),
        ("linear(10**12)", "NL2022"),
        ("linear(2 ** 40000)", "NL2022"),
        ("linear(1e308 ** 12)", "NL2022"),  # a float power overflows, an int one does not
        ("linear(10**6) -> linear(10**6)", "NL2023"),
    ],
)
def test_sizes_the_compiler_would_allocate_are_bounded(layer: str, code: str) -> None:
    start = time.perf_counter()
    assert codes(HEADER + f"    y = x -> {layer}\n    output y\n}}\n") == [code]
    assert time.perf_counter() - start < 5


def test_gru_with_absurd_layers_and_embedding_of_width_zero() -> None:
    seq = "model M() {\n    input x: float32[N, 5, 4]\n    y = x -> gru(8, layers=10**6)\n"
    assert codes(seq + "    output y\n}\n") == ["NL2022"]
    ids = "model M() {\n    input x: int64[N, 5]\n    y = x -> embedding(1000, 0)\n"
    assert codes(ids + "    output y\n}\n") == ["NL2005"]


def test_adaptive_pooling_that_needs_a_huge_averaging_matrix_is_refused() -> None:
    source = "model M() {\n    input x: float32[N, 3, 5, 7]\n    y = x -> adaptive_avgpool2d(%s)\n"
    start = time.perf_counter()
    assert codes(source % "2**31 - 1" + "    output y\n}\n") == ["NL2023"]
    assert codes(source % "[3, 4097]" + "    output y\n}\n") == []
    assert time.perf_counter() - start < 5


def test_float_layers_on_integer_tensors_are_refused() -> None:
    ids = "model M() {\n    input x: int64[N, 5]\n    y = x -> linear(3)\n    output y\n}\n"
    assert codes(ids) == ["NL3009"]


def test_a_non_utf8_file_is_a_located_diagnostic(tmp_path: Path) -> None:
    path = tmp_path / "latin.net"
    path.write_bytes(b"# caf\xe9\n" + HEADER.encode() + b"    y = x\n    output y\n}\n")
    with pytest.raises(CompileError) as refused:
        read_source(path)
    (diagnostic,) = refused.value.diagnostics
    assert (diagnostic.code, diagnostic.span.start.line, diagnostic.span.start.column) == (
        "NL1005",
        1,
        6,
    )
    for command in ("check", "summary"):
        result = CliRunner().invoke(main, [command, str(path)])
        assert "NL1005" in result.output and "Traceback" not in result.output


def test_an_unexpected_exception_is_one_line_naming_a_bug(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import netlang.commands.check as check

    def broken(path: str) -> None:
        raise KeyError("oops")

    monkeypatch.setattr(check, "load_program", broken)
    result = CliRunner().invoke(main, ["check", str(tmp_path / "x.net")])
    assert result.exit_code == 70
    assert result.output.count("\n") == 1
    assert "internal error KeyError" in result.output and "a bug in netlang" in result.output


def test_a_full_disk_is_said_as_such_not_as_a_bug_to_report(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import netlang.commands.check as check

    def full(path: str) -> None:
        raise OSError(28, "No space left on device", str(tmp_path / "out.onnx"))

    monkeypatch.setattr(check, "load_program", full)
    result = CliRunner().invoke(main, ["check", str(tmp_path / "x.net")])
    assert result.exit_code == 74  # EX_IOERR
    assert result.output == f"netlang check: No space left on device: {tmp_path / 'out.onnx'}\n"


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs Linux's /dev/full")
def test_writing_to_a_full_device_exits_74_in_a_real_process(tmp_path: Path) -> None:
    import subprocess
    import sys

    source = GOLDEN.parents[2] / "examples" / "lenet.net"
    with open("/dev/full", "w") as full:
        done = subprocess.run(
            [sys.executable, "-m", "netlang", "check", str(source)],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
        )
    assert done.returncode == 74, done.stderr
    assert "No space left on device" in done.stderr and "bug" not in done.stderr


@pytest.mark.parametrize("case", sorted(GOLDEN.glob("*.net")), ids=lambda p: p.stem)
def test_no_known_input_reaches_the_internal_error_line(
    case: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(GOLDEN)
    result = CliRunner().invoke(main, ["check", case.name])
    assert result.exit_code in (0, 1), result.output
    assert "internal error" not in result.output


def test_a_stage_repeated_65536_times_stops_at_the_layer_limit_quickly() -> None:
    """What numeric fuzzing found: a stdlib stage count mutated to 65536 built layers for
    minutes; the layer limit (20,000) answers within seconds, once."""
    loop = "    y = x\n    for i in range(65536) {\n        y = y -> relu\n    }\n"
    start = time.perf_counter()
    assert codes(HEADER + loop + "    output y\n}\n") == ["NL2023"]
    assert time.perf_counter() - start < 15


def test_a_name_with_accents_is_told_its_ascii_spelling() -> None:
    text = "model Red {\n    input x: float32[N, 4]\n    salida_única = x -> linear(2)\n"
    program, diagnostics, _ = netlang.semantics.program.compile_source(
        netlang.diagnostics.source.SourceFile("t.net", text + "    output salida_única\n}\n")
    )
    (diagnostic,) = diagnostics
    assert diagnostic.code == "NL1001" and diagnostic.span.start.column == 12
    assert "write `salida_unica`" in (diagnostic.hint or "")


def test_a_bare_name_where_a_number_belongs_is_named_not_typed() -> None:
    text = HEADER + "    y = x -> linear(2)\n    output y\n}\ntrain M {\n    epochs ten\n}\n"
    program, diagnostics, _ = netlang.semantics.program.compile_source(
        netlang.diagnostics.source.SourceFile("t.net", text)
    )
    messages = [d.message for d in (program.check() if program else diagnostics)]
    assert "`epochs` takes an integer, got the name `ten`" in messages, messages


def test_data_of_another_shape_than_the_input_is_located_at_the_data_line(
    tmp_path: Path,
) -> None:
    path = tmp_path / "rgb.net"
    model = "model M {\n    input image: float32[N, 3, 8, 8]\n    y = image -> flatten"
    path.write_text(model + " -> linear(10)\n    output y\n}\ntrain M {\n    data digits\n}\n")
    result = CliRunner().invoke(main, ["train", str(path), "--out", str(tmp_path / "run")])
    assert result.exit_code == 1, result.output
    assert "error[NL2054]: the data gives samples [N, 1, 8, 8]" in result.output
    assert "  7 |     data digits" in result.output  # the source line, as `check` shows it
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    ("line", "column"),
    [
        ("    input x: float32[N 4]\n", 24),
        ("    input x: float32[N, 4]\n    y = x -> linear(8 bias=false)\n", 23),
    ],
    ids=["shape", "arguments"],
)
def test_a_missing_comma_on_one_line_is_named(line: str, column: int) -> None:
    text = "model M {\n" + line + "    output x\n}\n"
    _, diagnostics, _ = netlang.semantics.program.compile_source(
        netlang.diagnostics.source.SourceFile("t.net", text)
    )
    (diagnostic,) = diagnostics
    assert diagnostic.code == "NL1002" and diagnostic.hint == "a `,` is missing before it"
    assert diagnostic.span.start.column == column


@pytest.mark.parametrize("statement", ["train = x -> relu", "test = x -> relu"])
def test_a_reserved_word_as_a_tensor_name_is_named(statement: str) -> None:
    text = HEADER + f"    {statement}\n    output x\n}}\n"
    _, diagnostics, _ = netlang.semantics.program.compile_source(
        netlang.diagnostics.source.SourceFile("t.net", text)
    )
    (diagnostic,) = diagnostics
    word = statement.split()[0]
    assert diagnostic.hint == f"`{word}` is a reserved word: choose another name (e.g. `{word}_`)"


def test_training_a_model_without_a_train_section_says_which_section_is_missing(
    tmp_path: Path,
) -> None:
    path = tmp_path / "bare.net"
    path.write_text(HEADER + "    y = x -> linear(2)\n    output y\n}\n")
    result = CliRunner().invoke(main, ["train", str(path), "--out", str(tmp_path / "run")])
    assert result.exit_code == 1
    assert "M has no train section: add one after the model" in result.output


def test_a_decimal_comma_is_a_warning_where_it_stands_not_in_strings_or_comments() -> None:
    text = (
        HEADER.replace("model M() {", 'model M() {\n    "p = 0,2"  # dropout(0,2)')
        + "    y = x -> dropout(0,2)\n    output y\n}\n"
    )
    _, diagnostics, _ = netlang.semantics.program.compile_source(
        netlang.diagnostics.source.SourceFile("t.net", text)
    )
    (warning,) = [d for d in diagnostics if d.code == "NL1007"]
    assert (warning.severity.name, warning.span.start.line, warning.span.start.column) == (
        "WARNING",
        4,
        22,
    )
    assert warning.hint == "a decimal is `0.2`"


def test_a_class_id_past_the_output_is_located_at_the_data_line(tmp_path: Path) -> None:
    (tmp_path / "five.csv").write_text("a,clase\n" + "".join(f"{i}.5,{i % 5}\n" for i in range(40)))
    path = tmp_path / "three.net"
    path.write_text(
        "model M {\n    input x: float32[N, 1]\n    y = x -> linear(3)\n    output y\n}\n"
        'train M {\n    data csv("five.csv", label="clase")\n    epochs 1\n}\n'
    )
    result = CliRunner().invoke(main, ["train", str(path), "--out", str(tmp_path / "run")])
    assert result.exit_code == 1, result.output
    assert "three.net:7:5: error[NL2052]: the output y has 3 classes but csv has 5" in result.output
    assert "set the model's class count to 5" in result.output


def test_an_image_folder_of_fewer_classes_than_the_output_is_refused_with_their_names(
    tmp_path: Path,
) -> None:
    from PIL import Image

    for name in ("gato", "pájaro"):
        (tmp_path / "fotos" / name).mkdir(parents=True)
        for i in range(10):
            Image.new("L", (8, 8), 20 * i).save(tmp_path / "fotos" / name / f"{i}.png")
    path = tmp_path / "ten.net"
    model = "model M {\n    input image: float32[N, 1, 8, 8]\n    y = image -> flatten"
    path.write_text(
        model + ' -> linear(10)\n    output y\n}\ntrain M {\n    data image_folder("fotos", size=8,'
        " channels=1)\n}\n"
    )
    result = CliRunner().invoke(main, ["train", str(path), "--out", str(tmp_path / "run")])
    assert result.exit_code == 1, result.output
    assert "the output y has 10 classes but image_folder has 2 (gato, pájaro)" in result.output
    assert not (tmp_path / "run").exists()
