"""`netlang` subcommands, one module each, imported lazily by netlang.cli.

The top layer: may import any package; heavy ones only inside the command that needs them.
"""
