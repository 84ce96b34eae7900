"""Imports read netlang source only: relative `.net` paths and standard-library names. Other files
are never opened, so no diagnostic can show their content."""

from __future__ import annotations

from pathlib import Path

import pytest

from netlang.diagnostics.render import render_all
from netlang.semantics.program import compile_source, read_source

SECRET = "root:x:0:0:secret-line-that-must-not-leak"
MODEL = "model A { input x: float32[N, 3]\n y = x -> linear(2)\n output y }"


def _check(tmp_path: Path, import_path: str) -> str:
    (tmp_path / "main.net").write_text(f'import "{import_path}"\n{MODEL}')
    _, diagnostics, sources = compile_source(read_source(tmp_path / "main.net"))
    return render_all(diagnostics, sources)


@pytest.mark.parametrize(
    "import_path",
    ["./passwd", "./passwd.txt", "../outside/passwd", "/ABSOLUTE/passwd", "sub/../../passwd"],
)
def test_an_import_of_a_file_that_is_not_netlang_source_is_refused_unread(
    tmp_path: Path, import_path: str
) -> None:
    (tmp_path / "passwd").write_text(SECRET + "\n")
    (tmp_path / "passwd.txt").write_text(SECRET + "\n")
    (tmp_path.parent / "outside").mkdir(exist_ok=True)
    (tmp_path.parent / "outside" / "passwd").write_text(SECRET + "\n")
    import_path = import_path.replace("/ABSOLUTE", str(tmp_path))
    text = _check(tmp_path, import_path)
    assert "error[NL2024]" in text and SECRET not in text and "secret" not in text


def test_a_net_file_that_is_not_utf8_is_refused_without_its_content(tmp_path: Path) -> None:
    (tmp_path / "bin.net").write_bytes(b"\xff\xfe" + SECRET.encode("utf-16-le"))
    text = _check(tmp_path, "./bin.net")
    assert "error[NL2024]" in text and "not UTF-8" in text and "secret" not in text


def test_net_files_and_stdlib_names_still_import(tmp_path: Path) -> None:
    (tmp_path / "blocks.net").write_text("block Head(n: int)(x) { return x -> linear(n) }")
    assert _check(tmp_path, "./blocks.net") == ""
    assert _check(tmp_path, "resnet") == ""


def test_any_two_stdlib_files_import_together(tmp_path: Path) -> None:
    """Their helper blocks may share a name (EfficientNet's and RegNet's SqueezeExcitation
    differ): a clash is an error only where the importing file uses the name."""
    from netlang.syntax.assets import stdlib_names

    imports = "".join(f'import "{name}"\n' for name in stdlib_names())
    (tmp_path / "main.net").write_text(imports + MODEL)
    _, diagnostics, sources = compile_source(read_source(tmp_path / "main.net"))
    assert render_all(diagnostics, sources) == ""


def test_a_name_two_imports_define_differently_is_an_error_where_it_is_used(
    tmp_path: Path,
) -> None:
    import netlang
    from netlang.diagnostics import CompileError

    (tmp_path / "a.net").write_text("block Head(n: int)(x) { return x -> linear(n) }")
    (tmp_path / "b.net").write_text("block Head(n: int)(x) { return x -> linear(n) -> relu }")
    both = 'import "./a.net"\nimport "./b.net"\n'
    (tmp_path / "c.net").write_text(both + "block Head(x) { return x }")
    use = "model A { input x: float32[N, 3]\n y = x -> Head(2)\n output y }"
    (tmp_path / "main.net").write_text(both + use)
    with pytest.raises(CompileError) as raised:
        netlang.load(tmp_path / "main.net").model("A")
    (found,) = raised.value.diagnostics
    assert found.code == "NL2006" and (found.span.start.line, found.span.start.column) == (4, 11)
    assert "`Head` is imported twice" in found.message and "a.net and" in found.message
    (tmp_path / "own.net").write_text(f'import "./c.net"\n{use.replace("Head(2)", "Head")}')
    assert netlang.load(tmp_path / "own.net").model("A").outputs  # c.net's own Head shadows
