"""The small model the transfer tests train: a source string, compiled by the fixtures."""

# features.0: 6*8+8 = 56 params; features.1 (batch norm): 8+8 = 16; head: 8*3+3 = 27.
SMALL = """
model Small(classes: int = 3) {
    input x: float32[N, 6]
    y = x -> features: { linear(8) -> batchnorm1d -> relu } -> mid: linear(8) -> relu
          -> head: linear(classes)
    output y
}
"""
