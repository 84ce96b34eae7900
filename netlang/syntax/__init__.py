"""Syntax: source text -> AST (lark LALR parser, parse tree -> frozen dataclasses with spans)."""
