"""`netlang` subcommands, one module each, imported lazily by netlang.cli."""
