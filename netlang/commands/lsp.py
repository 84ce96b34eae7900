"""`netlang lsp`: the language server, over stdin and stdout, for any LSP editor."""

from __future__ import annotations

import click

from netlang.commands.common import fail


@click.command()
@click.option("--stdio", is_flag=True, help="Talk over stdin/stdout (the default and only way).")
def lsp(stdio: bool) -> None:
    """Run the language server: diagnostics, shapes on hover, definitions, completion."""
    try:
        from netlang.lsp.server import serve_stdio
    except ImportError as exc:
        fail(
            f"the language server needs pygls and lsprotocol ({exc.name} is missing): "
            "pip install 'netlang[lsp]'"
        )
    serve_stdio()
