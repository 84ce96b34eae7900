"""The language server: the compiler's diagnostics, shapes, parameter counts and costs in the
editor. `analysis` and the feature modules know nothing of the protocol; `server` wires them to
pygls (an optional dependency: `pip install netlang[lsp]`)."""
