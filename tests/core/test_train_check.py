"""If `check` passes, `train` starts: every train-section value the trainer refuses is a located
diagnostic from `check`, by the same rule (semantics.train_rules) the trainer's builders apply."""

from __future__ import annotations

import pytest

import netlang
from netlang.diagnostics import DiagnosticSink
from netlang.semantics.train import elaborate_train
from netlang.semantics.program import compile_source
from netlang.diagnostics.source import SourceFile
from netlang.train.config import resolve_config

MODEL = """model Net(classes: int = 10) {
    input image: float32[N, 1, 8, 8]
    logits = image -> features: conv2d(4, kernel=3) -> relu -> flatten -> head: linear(classes)
    output logits
}
"""

BAD = [
    ("lr -1", "NL2050", "train.lr must be > 0"),
    ("optimizer sgd(lr=0.1, momentum=1.5)", "NL2050", "momentum must be in [0, 1)"),
    ("epochs -5", "NL2050", "train.epochs must be a positive integer"),
    ("batch 0", "NL2050", "train.batch must be a positive integer"),
    ("data digits(split=[0.7, 0.7, 0.15])", "NL2050", "must sum to 1"),
    ("augment [rotate(-400)]", "NL2050", "degrees=-400"),
    ("augment [noise(-1)]", "NL2050", "std=-1"),
    ("augment [hflip(2)]", "NL2050", "probability"),
    ("early_stop monitor=val_los", "NL2050", "unknown metric `val_los`"),
    ("schedule step(step_size=0)", "NL2050", "step_size must be a positive integer"),
    ("loss cross_entropy(label_smoothing=1)", "NL2050", "label_smoothing must be in [0, 1)"),
    ("regularize [l2(1e-4), l2(1e-3)]", "NL2050", "each of l1 and l2 may be given once"),
    ("regularize l1", "NL2050", "l1 needs a strength"),
    ("lr 0.1\n    optimizer adam(lr=0.1)", "NL2050", "learning rate is given twice"),
    ('replace ["head"]', "NL2050", "no `weights` to load from"),
    ('freeze ["featurez"]', "NL2051", "'featurez' names no layer of the model"),
    ('freeze ["head..features"]', "NL2051", "runs backwards"),
    ('unfreeze ["features..head2"]', "NL2051", "'head2' is not a top-level layer"),
    ("lr_mult featurez=0.1", "NL2051", "'featurez' names no layer"),
]


def _check(entry: str) -> list[str]:
    text = MODEL + f"\ntrain Net {{\n    data digits(size=8)\n    {entry}\n}}\n"
    if entry.startswith("data "):
        text = MODEL + f"\ntrain Net {{\n    {entry}\n}}\n"
    program, diagnostics, _ = compile_source(SourceFile("net.net", text))
    assert program is not None, diagnostics
    return [f"{d.code} {d.span.start.line} {d.message}" for d in program.check()]


@pytest.mark.parametrize(("entry", "code", "message"), BAD, ids=[b[0] for b in BAD])
def test_check_reports_what_train_would_refuse_at_its_line(
    entry: str, code: str, message: str
) -> None:
    (found,) = _check(entry)
    assert found.startswith(f"{code} 9 ") or found.startswith(f"{code} 8 "), found
    assert message in found


@pytest.mark.parametrize(
    ("entry", "message"),
    [b[::2] for b in BAD if b[1] == "NL2050" and not b[0].startswith("data")],
    ids=lambda v: str(v)[:30],
)
def test_train_refuses_the_same_values_with_the_same_words(entry: str, message: str) -> None:
    """The section as the compiler hands it over, errors aside, through the trainer's resolver."""
    text = MODEL + f"\ntrain Net {{\n    {entry}\n}}\n"
    program = netlang.load(text)
    section = elaborate_train(program.root.trains[0], program.root, {}, DiagnosticSink())
    with pytest.raises(ValueError) as refused:
        resolve_config(section, "Net")
    assert message.split("`")[0].rstrip("; ") in str(refused.value)


# A misspelt name from a fixed set: its suggestion is the hint, the caret under the name alone.
CHOICES = [
    ("early_stop monitor=val_los", "val_los", "did you mean `val_loss`?"),
    ("early_stop mode=mx", "mx", "did you mean `max`?"),
    ("schedule plateau(monitor=val_acuracy)", "val_acuracy", "did you mean `val_accuracy`?"),
    ('device "cdua"', '"cdua"', "did you mean `cuda`?"),
    ('data mnist(size=8, part="tset")', '"tset"', "did you mean `test`?"),
    ("early_stop mode=lowest", "lowest", "expected one of min, max"),
    ('freeze ["features", "haed"]', '"haed"', "did you mean `head`?"),
]


@pytest.mark.parametrize(("entry", "written", "hint"), CHOICES, ids=[c[0] for c in CHOICES])
def test_a_misspelt_choice_is_underlined_alone_with_the_suggestion_as_hint(
    entry: str, written: str, hint: str
) -> None:
    text = MODEL + f"\ntrain Net {{\n    data digits(size=8)\n    {entry}\n}}\n"
    if entry.startswith("data "):
        text = MODEL + f"\ntrain Net {{\n    {entry}\n}}\n"
    (found,) = netlang.load(text).check()
    line = text.splitlines()[found.span.start.line - 1]
    start, end = found.span.start.column - 1, found.span.end.column - 1
    assert (line[start:end], found.hint) == (written, hint)
    assert "did you mean" not in found.message


def test_min_and_max_in_a_train_section_are_names_not_the_builtins() -> None:
    """`mode=min` is the mode; `max(3, 2)`, called, is still the builtin."""
    text = MODEL + (
        "\ntrain Net {\n    data digits(size=8)\n    epochs max(3, 2)\n"
        "    early_stop monitor=val_loss mode=min\n}\n"
    )
    program = netlang.load(text)
    assert program.check() == []
    config = resolve_config(program.model("Net").train, "Net")
    assert (config.epochs, config.early_stop.mode) == (3, "min")


def test_a_section_check_accepts_resolves() -> None:
    text = MODEL + (
        "\ntrain Net {\n    data digits(size=8, split=[0.7, 0.15, 0.15])\n"
        "    optimizer sgd(lr=0.1, momentum=0.9, nesterov=true)\n    epochs 3\n"
        '    augment [rotate(10), noise(0.05), hflip]\n    freeze ["features"]\n'
        "    early_stop monitor=val_accuracy patience=2\n}\n"
    )
    program = netlang.load(text)
    assert program.check() == []
    config = resolve_config(program.model("Net").train, "Net")
    assert (config.epochs, config.early_stop.mode, config.freeze) == (3, "max", ("features",))


def test_a_train_section_for_an_imported_model_is_checked_and_trained() -> None:
    program = netlang.load('import "lenet"\n\ntrain LeNet5 {\n    data digits(size=32)\n}\n')
    assert program.check() == []
    assert program.default_model() == "LeNet5"
    assert program.model().train is not None


def test_the_data_loader_refuses_the_split_check_refuses() -> None:
    from netlang.data.split import parse_split

    with pytest.raises(ValueError, match="must sum to 1"):
        parse_split([0.7, 0.7, 0.15])


@pytest.mark.parametrize(
    ("loss", "warned"), [("", True), ("loss cross_entropy", True), ("loss nll", False)]
)
def test_a_softmax_output_fed_to_cross_entropy_is_a_warning_at_the_softmax(
    loss: str, warned: bool
) -> None:
    model = MODEL.replace("head: linear(classes)", "head: linear(classes) -> softmax")
    text = model + f"\ntrain Net {{\n    data digits(size=8)\n    {loss}\n}}\n"
    program, diagnostics, _ = compile_source(SourceFile("net.net", text))
    assert program is not None, diagnostics
    found = [(d.code, d.severity.name, d.span.start.line) for d in program.check()]
    assert [f for f in found if f[0] == "NL2055"] == ([("NL2055", "WARNING", 3)] if warned else [])


@pytest.mark.parametrize(
    ("last", "made"),
    [("", "raw scores (logits)"), (" -> softmax", "probabilities"), (" -> log_softmax", None)],
)
def test_nll_of_an_output_that_is_no_log_softmax_is_a_warning_at_the_loss(
    last: str, made: str | None
) -> None:
    model = MODEL.replace("head: linear(classes)", f"head: linear(classes){last}")
    text = model + "\ntrain Net {\n    data digits(size=8)\n    loss nll\n}\n"
    program, diagnostics, _ = compile_source(SourceFile("net.net", text))
    assert program is not None, diagnostics
    found = program.check()
    if made is None:
        assert found == []
        return
    (warned,) = found
    assert (warned.code, warned.severity.name) == ("NL2057", "WARNING")
    assert (warned.span.start.line, warned.span.start.column) == (9, 5)
    assert warned.message == f"the output is {made}, and nll takes log-probabilities"
    assert warned.hint == "use cross_entropy on logits, or end the model with `log_softmax`"
