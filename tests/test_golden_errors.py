"""Golden diagnostics: each tests/golden/errors/CASE.net, and each source GENERATED below (too
large to keep in the repository), must render exactly CASE.err; `netlang check` exits 1 exactly
when there are errors, and `netlang train` refuses a train-section case with the same text,
before it reads any data (one truth from `check` to `train`).

Regenerate with `NETLANG_UPDATE_GOLDEN=1 pytest tests/test_golden_errors.py` (or
`--update-golden`) and review the diff: a golden pins what a user reads.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from netlang.cli import main
from netlang.diagnostics import CompileError
from netlang.diagnostics.render import render_all
from netlang.diagnostics.source import SourceFile
from netlang.semantics.program import compile_source, read_source

CASES = Path(__file__).parent / "golden" / "errors"
HEADER = "model M() {\n    input x: float32[N, 4]\n"


def _chain() -> str:
    """10,000 `->` stages, one a line; the last one's mistake is found and located."""
    stages = "        -> relu\n" * 10_000
    return HEADER + f"    y = x\n{stages}        -> linear(0)\n    output y\n}}\n"


def _parentheses() -> str:
    """A constant inside 10,000 parentheses (grouping, not nesting: it is accepted)."""
    deep = "(" * 10_000 + "1" + ")" * 10_000
    return f"A = {deep}\n" + HEADER + "    y = x -> linear(A - 1)\n    output y\n}\n"


def _constants() -> str:
    """10 MB of constants: refused at the size limit, in milliseconds, not parsed for minutes."""
    lines = "".join(f"C{i} = {i}\n" for i in range(700_000))
    return lines + HEADER + "    y = x -> linear(C0)\n    output y\n}\n"


def _operators() -> str:
    """5,000 `+` in a row on one 20,000-column line: refused at its start, the line cut to a
    window around the caret."""
    return HEADER + "    y = x" + " + x" * 5_000 + " -> relu\n    output y\n}\n"


# name -> (source text, seconds `check` may take on a loaded CI machine)
GENERATED: dict[str, tuple[Callable[[], str], float]] = {
    "chain_of_10000_stages": (_chain, 30),
    "parentheses_10000_deep": (_parentheses, 30),
    "constants_10_megabytes": (_constants, 5),
    "operators_5000_in_a_row": (_operators, 30),
}
FILES = sorted(CASES.glob("*.net"))
ALL = [*(p.stem for p in FILES), *GENERATED]


def source_of(case: str) -> SourceFile:
    if case in GENERATED:
        return SourceFile(f"{case}.net", GENERATED[case][0]())
    return read_source(f"{case}.net")


def rendered(case: str) -> str:
    try:
        program, diagnostics, sources = compile_source(source_of(case))
    except CompileError as exc:  # not UTF-8
        return str(exc) + "\n"
    if program is not None:
        diagnostics = program.check()
    return render_all(diagnostics, sources) + "\n"


def updating(request: pytest.FixtureRequest) -> bool:
    return bool(
        request.config.getoption("--update-golden") or os.environ.get("NETLANG_UPDATE_GOLDEN")
    )


@pytest.fixture
def in_cases(monkeypatch: pytest.MonkeyPatch) -> None:
    """Goldens name files relative to their folder (imports resolve there too)."""
    monkeypatch.chdir(CASES)


@pytest.mark.usefixtures("in_cases")
@pytest.mark.parametrize("case", ALL)
def test_diagnostics_render_as_golden(case: str, request: pytest.FixtureRequest) -> None:
    start = time.perf_counter()
    text = rendered(case)
    if case in GENERATED:
        assert time.perf_counter() - start < GENERATED[case][1]
    golden = CASES / f"{case}.err"
    if updating(request):
        golden.write_text(text)
    assert golden.exists(), f"missing {golden.name}: run NETLANG_UPDATE_GOLDEN=1 pytest {__file__}"
    assert text == golden.read_text()


def _file(case: str, tmp_path: Path) -> str:
    """The case as a file `netlang` can be given (generated ones are written out)."""
    if case not in GENERATED:
        return f"{case}.net"
    path = tmp_path / f"{case}.net"
    path.write_text(GENERATED[case][0]())
    return str(path)


def _golden(case: str, tmp_path: Path) -> str:
    """The golden text, generated sources named by where the CLI read them."""
    text = (CASES / f"{case}.err").read_text()
    return text.replace(f"{case}.net", str(tmp_path / f"{case}.net")) if case in GENERATED else text


@pytest.mark.usefixtures("in_cases")
@pytest.mark.parametrize("case", ALL)
def test_check_prints_the_golden_and_exits_1_exactly_on_errors(case: str, tmp_path: Path) -> None:
    golden = _golden(case, tmp_path)
    result = CliRunner().invoke(main, ["check", "--quiet", _file(case, tmp_path)])
    has_errors = re.search(r"^\S+: error\[NL\d+\]", golden, re.M) is not None
    assert result.exit_code == (1 if has_errors else 0), result.output
    assert result.stderr == (golden if golden.strip() else "")


TRAINED = [p.stem for p in FILES if re.search(r"^train ", p.read_text(errors="replace"), re.M)]


@pytest.mark.usefixtures("in_cases")
@pytest.mark.parametrize("case", TRAINED)
def test_train_refuses_as_check_does_before_reading_data(
    case: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import netlang.train.run as run

    def no_data(*args: object) -> None:
        raise AssertionError("train read data for a section that check refuses")

    monkeypatch.setattr(run, "prepare_data", no_data)
    result = CliRunner().invoke(main, ["train", f"{case}.net", "--out", str(tmp_path / "run")])
    assert result.exit_code == 1, result.output
    golden = (CASES / f"{case}.err").read_text()
    if len(re.findall(r"^train ", (CASES / f"{case}.net").read_text(), re.M)) == 1:
        assert result.stderr == golden
    else:  # train builds the first trained model only: what it says, check said
        said = _blocks(result.stderr)
        assert said and said <= _blocks(golden), result.stderr
    assert not (tmp_path / "run").exists()


# `compile` of a one-model file refuses as `check` does (it used to crash on the first two).
COMPILED = [
    "adaptive_pool_symbolic_size",
    "flatten_two_symbolic_sizes",
    "lrn_symbolic_channels",
    "non_utf8_source",
    "gru_layers_past_the_number_limit",
    "maxpool_zero_kernel",
    "float_layer_on_int_input",
    "embedding_zero_width",
]


@pytest.mark.usefixtures("in_cases")
@pytest.mark.parametrize("case", COMPILED)
def test_compile_refuses_as_check_does(case: str, tmp_path: Path) -> None:
    onnx = tmp_path / "m.onnx"
    result = CliRunner().invoke(main, ["compile", f"{case}.net", "-o", str(onnx)])
    assert result.exit_code == 1, result.output
    assert result.stderr == (CASES / f"{case}.err").read_text()
    assert not onnx.exists()


def _blocks(rendered: str) -> set[str]:
    """The rendered diagnostics, without the closing count."""
    return {b for b in rendered.strip().split("\n\n") if not re.match(r"\d+ errors?,", b)}


def test_there_are_at_least_25_distinct_mistakes() -> None:
    codes = set()
    for golden in CASES.glob("*.err"):
        codes.update(re.findall(r"^\S+: (?:error|warning)\[(NL\d+)\]", golden.read_text(), re.M))
    assert len(list(CASES.glob("*.net"))) >= 25
    assert len(codes) >= 20


# `--set`/`--sweep` mistakes on tests/golden/settings/net.net: each value is its own source,
# shown with a caret under the bad part (train refuses before it reads data).
SETTINGS = Path(__file__).parent / "golden" / "settings"
SET_CASES = {
    "set_misspelt_parameter": ["--set", "clases=3"],
    "set_unclosed_list": ["--set", "classes=[1,"],
    "set_misspelt_metric": ["--set", "early_stop=monitor=val_los patience=2"],
    "set_misspelt_optimizer": ["--set", "optimizer=adamm(lr=0.1)"],
    "set_negative_lr": ["--set", "lr=-1"],
    "set_parameter_of_the_wrong_type": ["--set", 'classes="ten"'],
    "sweep_misspelt_mode": ["--sweep", "early_stop=mode=min,mode=mx"],
}


@pytest.mark.parametrize("case", sorted(SET_CASES))
def test_set_and_sweep_mistakes_render_as_golden(
    case: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import netlang.train.run as run

    def no_data(*args: object) -> None:
        raise AssertionError("train read data for a --set value it refuses")

    monkeypatch.setattr(run, "prepare_data", no_data)
    monkeypatch.chdir(SETTINGS)
    args = ["train", "net.net", *SET_CASES[case], "--out", str(tmp_path / "run")]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1, result.output
    golden = SETTINGS / f"{case}.err"
    if updating(request):
        golden.write_text(result.stderr)
    assert result.stderr == golden.read_text()
