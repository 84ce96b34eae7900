"""Syntax: source text -> AST (lark LALR parser, parse tree -> frozen dataclasses with spans).

Owns: `assets` (where the grammar and the stdlib files are, in a checkout or a wheel),
`lalr` (the cached LALR parser, syntax errors as diagnostics), `to_ast` (parse tree -> AST),
`parser` (a file -> `ast.Module`, resuming after an error), `fragment` (a `--set` value) and
`ast`. May import only `netlang.diagnostics`.
"""
