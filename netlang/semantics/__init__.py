"""Semantics: AST modules -> elaborated, shape-inferred IR graphs (imports, blocks, expressions)."""
