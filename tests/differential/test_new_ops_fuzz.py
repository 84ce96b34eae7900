"""Random programs of the sequence and window ops (scalar arithmetic, attention with a keep mask,
padding_mask, masked_mean, window_attention, patch_merging, adaptive pooling), wrong ranks, dtypes
and arguments included: `check` refuses a program with a diagnostic, or it compiles to ONNX and
onnxruntime agrees with the torch backend on a random input."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
import torch
from hypothesis import given, settings
from tests.hypothesis_settings import FUZZ
from hypothesis import strategies as st

import netlang
from netlang.backends.onnx_emit import emit_onnx
from netlang.backends.torch_module import to_torch
from netlang.diagnostics.source import SourceFile
from netlang.semantics.program import compile_source

SHIFTS = st.sampled_from(["0", "1", "[1, 0]", "-1", "3"])
DIMS = ["N", "1", "2", "3", "4", "5", "8", "T"]
# The numbers `scalar` is given, with their sizes: one past float32 (1e39), one near its limit.
NUMBERS = {"0": 0, "0.5": 0.5, "-1": 1, "3": 3, "6": 6, "1e-30": 0, "1e38": 1e38, "1e39": 1e39}
NUMBERS |= {"2 ** 62": 2.0**62}
SMALL = st.sampled_from(["0", "1", "2", "3", "4", "7", "-1", "[2, 3]", "[1]", "[0, 2]"])
SMALL |= st.sampled_from(["1", "2", "[2, 3]"])  # half the time a value most shapes take


@st.composite
def layers(draw: st.DrawFn) -> str:
    """One stage of a chain, with arguments good and bad; `k` is the mask input."""
    number, small = draw(st.sampled_from(sorted(NUMBERS))), draw(SMALL)
    return draw(
        st.sampled_from(
            [
                f'scalar(op="{draw(st.sampled_from(["add", "sub", "mul", "div"]))}", '
                f"value={number}, reverse={draw(st.sampled_from(['true', 'false']))})",
                f"attention(heads={small}, causal={draw(st.sampled_from(['true', 'false']))})",
                f"attention(k, heads={small})",
                "padding_mask",
                "masked_mean(k)",
                f"window_attention(heads={small}, window={draw(SMALL)}, shift={draw(SHIFTS)})",
                f"patch_merging(eps={draw(st.sampled_from(['1e-5', '0', '-1', '1e39']))})",
                f"adaptive_avgpool1d({small})",
                f"adaptive_avgpool2d({small})",
                "layernorm",
                "relu",
            ]
        )
    )


# Layouts the ops take, so that many programs get past `check` to the comparison.
LAYOUTS = [["N", "5", "8"], ["N", "T", "8"], ["N", "7", "5", "8"], ["N", "3", "9", "6"]]


@st.composite
def programs(draw: st.DrawFn) -> str:
    dtype = draw(st.sampled_from(["float32", "float32", "float32", "int64", "float16"]))
    dims = draw(st.sampled_from(LAYOUTS) | st.lists(st.sampled_from(DIMS), min_size=1, max_size=5))
    chain = " -> ".join(draw(st.lists(layers(), min_size=1, max_size=3)))
    lines = [f"    input x: {dtype}[N, {', '.join(dims[1:]) or '4'}]"]
    if "(k" in chain:
        mask_dims = draw(st.sampled_from([dims[:2], ["N", "5"], ["N"], dims[:3]]))
        mask_type = draw(st.sampled_from(["float32", "float32", "int64", "bool"]))
        lines.append(f"    input k: {mask_type}[{', '.join(['N', *mask_dims[1:]])}]")
    return "model M {\n" + "\n".join(lines) + f"\n    y = x -> {chain}\n    output y\n}}\n"


def sample(value: netlang.ir.Value, rng: np.random.Generator) -> np.ndarray:
    shape = [d if isinstance(d, int) else 2 for d in value.type.shape]
    if value.type.dtype == "float32":
        return rng.standard_normal(shape).astype(np.float32)
    if value.type.dtype == "bool":
        return rng.integers(0, 2, shape).astype(bool)
    return rng.integers(0, 3, shape).astype(value.type.dtype)


def accepted_programs_agree_between_torch_and_onnxruntime(text: str) -> None:
    program, diagnostics, _ = compile_source(SourceFile("fuzz.net", text))
    if program is not None:
        diagnostics = [*diagnostics, *program.check()]
    if any(d.severity.name == "ERROR" for d in diagnostics):
        return
    graph = netlang.load(text).model()
    module = to_torch(graph).eval()
    weights = {k: v.detach().numpy() for k, v in module.state_dict().items()}
    model = emit_onnx(graph, weights)
    runner = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    feeds = {v.name: sample(v, rng) for v in graph.inputs}
    with torch.no_grad():
        expected = module(*(torch.from_numpy(a) for a in feeds.values()))
    expected = [expected] if isinstance(expected, torch.Tensor) else list(expected)
    # Rounding differs by the size of the largest number added in; where float32 overflowed the
    # two runtimes need not agree on the garbage (inf or nan), so such outputs are not compared.
    scale = max([1.0] + [size for n, size in NUMBERS.items() if f"value={n}," in text])
    for got, reference in zip(runner.run(None, feeds), expected):
        if np.isfinite(reference.numpy()).all():
            np.testing.assert_allclose(got, reference.numpy(), rtol=1e-4, atol=1e-4 * scale)


@pytest.mark.fuzz
@settings(FUZZ, max_examples=150)
@given(programs())
def test_what_check_accepts_compiles_and_agrees_with_torch(text: str) -> None:
    accepted_programs_agree_between_torch_and_onnxruntime(text)
