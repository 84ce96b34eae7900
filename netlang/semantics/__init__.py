"""Semantics: AST modules -> elaborated, shape-inferred IR graphs (imports, blocks, expressions).

Owns: `loader` (imports), `elaborate` and its rule modules (`statements`, `evaluation`, `calls`,
`binding`), `builder` (graph construction through the op registry), `model_tests`, the `train`
section's data model (`train_spec`, `train_schema`, `train`) and `program` (the driver behind
`netlang.load`). May import diagnostics, syntax, ir and ops; never torch or onnxruntime.
"""
