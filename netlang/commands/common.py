"""Helpers shared by the CLI commands: loading with diagnostics, `--set` values, exit codes.

Imports nothing of the compiler at module level: `predict` and `serve` share these options and
never parse a source file (the parser and elaborator are ~0.1 s of a process's start-up)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

if TYPE_CHECKING:  # the compiler is imported by the commands that compile, when they run
    from netlang.diagnostics import Diagnostic
    from netlang.diagnostics.source import SourceFile
    from netlang.ir import Graph
    from netlang.semantics.program import Program


# One spelling per option, on every command that takes it (tests/core/test_cli_grammar.py walks
# every command's options against this table).
SHARED_OPTIONS: dict[str, tuple[str, ...]] = {
    "--model": ("-m", "--model"),
    "--set": ("--set",),
    "--json": ("--json",),
    "--quiet": ("-q", "--quiet"),
    "--verbose": ("-v", "--verbose"),
    "--output": ("-o", "--output"),
    "--device": ("--device",),
    "--seed": ("--seed",),
    "--name": ("--name",),
    "--fold-bn": ("--fold-bn",),
    "--fp16": ("--fp16",),
    "--max-batch-size": ("--max-batch-size",),
}


def model_option(what: str) -> Any:
    """`-m/--model NAME`; `what` is the verb, as in "Model to train"."""
    return click.option(
        "-m",
        "--model",
        "model",
        default=None,
        metavar="NAME",
        help=f"Model to {what} (default: the one with a train section, else the first).",
    )


JSON_OPTION = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
QUIET_OPTION = click.option("-q", "--quiet", is_flag=True, help="Print less: errors only.")
VERBOSE_OPTION = click.option("-v", "--verbose", is_flag=True, help="Print more detail.")

# Options shared by the commands that run ONNX models (predict, serve).
ONNX_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)
DEVICE_OPTION = click.option(
    "--device",
    default="auto",
    show_default=True,
    type=click.Choice(["auto", "cpu", "cuda", "tensorrt"]),
    help="auto takes CUDA only when it really loads; cuda/tensorrt never fall back.",
)


# Options shared by the commands that build a model from source (summary, compile, import-weights)
SET_OPTION = click.option(
    "--set",
    "settings",
    multiple=True,
    metavar="NAME=VALUE",
    help="Set a model parameter, e.g. --set classes=10 (repeatable).",
)
# ... and by those that emit ONNX (compile, export).
FOLD_BN_OPTION = click.option(
    "--fold-bn", is_flag=True, help="Fold batch norm into the preceding conv/linear."
)
FP16_OPTION = click.option("--fp16", is_flag=True, help="Store weights and compute in float16.")


def fail(message: str, code: int = 1) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def load_program(path: str) -> tuple[Program | None, list[Diagnostic], dict[str, SourceFile]]:
    """Read and load a file; an unreadable file is a usage error (exit 2)."""
    from netlang.diagnostics import CompileError
    from netlang.semantics.program import compile_source, read_source

    try:
        source = read_source(path)
    except CompileError as exc:  # not UTF-8: a located diagnostic
        return None, exc.diagnostics, exc.sources
    except OSError as exc:
        fail(f"cannot read {path}: {exc.strerror or exc}", 2)
    return compile_source(source)


def report(
    diagnostics: list[Diagnostic], sources: dict[str, SourceFile], *, as_json: bool = False
) -> bool:
    """Print diagnostics to stderr; True when there were errors."""
    from netlang.diagnostics import Severity
    from netlang.diagnostics.render import print_diagnostics

    print_diagnostics(diagnostics, sources, as_json=as_json)
    return any(d.severity is Severity.ERROR for d in diagnostics)


def build_model(file: str, model: str | None, settings: tuple[str, ...]) -> Graph:
    """FILE's model with its `--set` arguments; diagnostics reported, exit 1 on errors."""
    program, diagnostics, sources = load_program(file)
    graph = None
    if program is not None:
        graph, diagnostics = program.build(model, parse_settings(settings))
    if report(diagnostics, sources) or graph is None:
        sys.exit(1)
    return graph


def parse_settings(settings: tuple[str, ...]) -> dict[str, Any]:
    """`--set classes=10 --set widths=[1,2]`: values are `.net` constants, never Python code."""
    from netlang.semantics.settings import constant

    values: dict[str, Any] = {}
    for key, text in setting_texts(settings).items():
        try:
            values[key] = constant(key, text)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--set") from None
    return values


def setting_texts(settings: tuple[str, ...]) -> dict[str, str]:
    """`--set NAME=VALUE` options -> {NAME: VALUE text}, the last one of a name winning."""
    from netlang.semantics.settings import split_setting

    try:
        return dict(split_setting(setting) for setting in settings)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--set") from None
