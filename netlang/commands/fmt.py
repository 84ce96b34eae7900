"""`netlang fmt FILE...`: rewrite `.net` files in the one canonical layout; `--check` (for CI)
exits 1 if any file would change, `--diff` shows how. Exit 2 on a file that cannot be read or
parsed. Never imports torch."""

from __future__ import annotations

import difflib
import sys
from pathlib import Path

import click

from netlang.commands.common import QUIET_OPTION, fail, report


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--check", is_flag=True, help="Change nothing; exit 1 if a file would change.")
@click.option("--diff", is_flag=True, help="Change nothing; print a unified diff of the changes.")
@QUIET_OPTION
def fmt(files: tuple[str, ...], check: bool, diff: bool, quiet: bool) -> None:
    """Format FILES in the canonical layout (`-` reads stdin and writes stdout)."""
    from netlang.diagnostics import CompileError
    from netlang.diagnostics.source import SourceFile
    from netlang.semantics.program import read_source
    from netlang.syntax.format import format_source

    changed, broken = [], False
    for path in files:
        try:
            text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
        except UnicodeDecodeError:  # NL1005 at the first byte that is not UTF-8, as `check` says
            try:
                read_source(path)
            except CompileError as exc:
                broken |= report(exc.diagnostics, exc.sources)
                continue
            fail(f"cannot read {path}: not UTF-8", 2)
        except OSError as exc:
            fail(f"cannot read {path}: {exc.strerror or exc}", 2)
        source = SourceFile("<stdin>" if path == "-" else path, text)
        formatted, diagnostics = format_source(source)
        if formatted is None:
            broken |= report(diagnostics, {source.name: source})
            continue
        if path == "-" and not (check or diff):
            click.echo(formatted, nl=False)
            continue
        if formatted == text:
            continue
        changed.append(path)
        if diff:
            lines = difflib.unified_diff(
                text.splitlines(keepends=True),
                formatted.splitlines(keepends=True),
                f"{source.name} (original)",
                f"{source.name} (formatted)",
            )
            click.echo("".join(lines), nl=False)
        if not (check or diff):
            Path(path).write_text(formatted, encoding="utf-8")
        if not quiet:
            verb = "would reformat" if check or diff else "reformatted"
            click.echo(f"{verb} {source.name}", err=True)
    if broken:
        sys.exit(2)
    sys.exit(1 if check and changed else 0)
