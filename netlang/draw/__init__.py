"""Pictures of a compiled model: Graphviz DOT text from the IR, and rendering it with `dot`."""
