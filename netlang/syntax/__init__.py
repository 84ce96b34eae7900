"""Syntax: source text -> AST (lark LALR parser, parse tree -> frozen dataclasses with spans).

Owns: `assets` (where the grammar and the stdlib files are, in a checkout or a wheel),
`parser` (the cached LALR parser, syntax errors as diagnostics) and `ast`. May import only
`netlang.diagnostics`.
"""
