"""The stdlib's text transformers against torch.nn's own: TransformerClassifier and CausalLM are
torch.nn.TransformerEncoder stacks (pre-norm, GELU; CausalLM with the square subsequent mask)
between an embedding with learned positions and a head, with token 0 masked as padding
(src_key_padding_mask, and a mean over the tokens only). The twin's state_dict loads into
`to_torch(graph)` with strict=True, parameter counts agree, and eval-mode outputs agree (torch
<= 1e-5 of the output scale, the emitted ONNX through onnxruntime <= 1e-4)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import onnxruntime as ort
import pytest
import torch
from torch import nn

from netlang.backends.onnx_emit import emit_onnx
from netlang.backends.torch_module import to_torch
from netlang.ir import Graph

BuildModel = Callable[..., Graph]
SMALL = {"vocab": 50, "length": 12, "width": 32, "heads": 4, "layers": 2, "mlp": 64}


class Embed(nn.Module):
    def __init__(self, vocab: int, length: int, width: int) -> None:
        super().__init__()
        self.pos_embedding = nn.Parameter(0.02 * torch.randn(1, length, width))
        self.embedding = nn.Embedding(vocab, width)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.embedding(tokens) + self.pos_embedding


class TextTransformer(nn.Module):
    """torch.nn's encoder stack; `causal` gives the GPT-style decoder with a next-token head."""

    def __init__(
        self, vocab: int, length: int, width: int, heads: int, layers: int, mlp: int, causal: bool
    ) -> None:
        super().__init__()
        self.causal = causal
        self.embed = Embed(vocab, length, width)
        layer = nn.TransformerEncoderLayer(
            width, heads, mlp, 0.1, activation="gelu", batch_first=True, norm_first=True
        )
        stack = nn.TransformerEncoder(
            layer, layers, norm=nn.LayerNorm(width), enable_nested_tensor=False
        )
        if causal:
            self.decoder, self.lm_head = stack, nn.Linear(width, vocab)
        else:
            self.encoder, self.head = stack, nn.Linear(width, 2)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        x = self.embed(tokens)
        keep = tokens != 0
        padded = torch.zeros(tokens.shape).masked_fill(~keep, torch.finfo(torch.float32).min)
        if self.causal:
            mask = nn.Transformer.generate_square_subsequent_mask(tokens.shape[1])
            y = self.decoder(x, mask=mask, is_causal=True, src_key_padding_mask=padded)
            return self.lm_head(y)
        y = self.encoder(x, src_key_padding_mask=padded)
        weights = keep.unsqueeze(-1).float()
        return self.head((y * weights).sum(1) / weights.sum(1).clamp(min=1.0))


@pytest.mark.parametrize(
    ("model", "causal", "params"),
    [("TransformerClassifier", False, 1_685_250), ("CausalLM", True, 2_974_992)],
)
def test_default_sizes_count_what_torch_nn_counts(
    stdlib_model: BuildModel, model: str, causal: bool, params: int
) -> None:
    twin = TextTransformer(10000, 64, 128, 4, 2, 512, causal)
    assert sum(p.numel() for p in twin.parameters()) == params
    assert stdlib_model(model).param_count == params


@pytest.mark.parametrize(
    ("model", "causal"), [("TransformerClassifier", False), ("CausalLM", True)]
)
def test_torch_nn_weights_give_the_same_outputs_in_torch_and_onnxruntime(
    stdlib_model: BuildModel, model: str, causal: bool
) -> None:
    torch.manual_seed(0)
    twin = TextTransformer(**SMALL, causal=causal).eval()
    with torch.no_grad():  # layer norms off their identity start
        for module in twin.modules():
            if isinstance(module, nn.LayerNorm):
                module.weight.add_(0.1 * torch.randn(module.weight.shape))
                module.bias.add_(0.1 * torch.randn(module.bias.shape))
    tokens = torch.randint(1, SMALL["vocab"], (4, SMALL["length"]))
    for row, pads in enumerate((0, 3, 7, SMALL["length"])):  # left padding, as the tokenizers
        tokens[row, :pads] = 0
    # With gradients on, torch.nn skips its fused encoder-layer path, which gives NaN where a
    # row has no token to attend to (the all-padding row); the reference layers give finite values.
    expected = twin(tokens).detach()
    scale = max(1.0, expected.abs().max().item())
    graph = stdlib_model(model, **SMALL)
    module = to_torch(graph)
    module.load_state_dict(twin.state_dict(), strict=True)
    with torch.no_grad():
        got = module.eval()(tokens)
    assert (got - expected).abs().max().item() <= 1e-5 * scale
    weights = {key: t.numpy() for key, t in twin.state_dict().items()}
    session = ort.InferenceSession(
        emit_onnx(graph, weights).SerializeToString(), providers=["CPUExecutionProvider"]
    )
    (onnx_out,) = session.run(None, {graph.inputs[0].name: tokens.numpy()})
    assert np.abs(onnx_out - expected.numpy()).max() <= 1e-4 * scale


def test_nothing_at_a_padded_position_reaches_the_scores(stdlib_model: BuildModel) -> None:
    """A short text batched with a longer one: rewriting what padding contributes (the pad
    token's embedding, the position embeddings where both rows are padded) changes no score, in
    torch and in onnxruntime, and the short text alone scores as in the batch."""
    graph = stdlib_model("TransformerClassifier", **SMALL)
    torch.manual_seed(0)
    module = to_torch(graph).eval()
    state = {k: v.clone() for k, v in module.state_dict().items()}
    tokens = torch.randint(1, SMALL["vocab"], (2, SMALL["length"]))
    tokens[0, :8], tokens[1, :2] = 0, 0  # left padding: 4 and 10 tokens
    perturbed = {k: v.clone() for k, v in state.items()}
    perturbed["embed.embedding.weight"][0] += 5 * torch.randn(SMALL["width"])  # not uniform:
    perturbed["embed.pos_embedding"][:, :2] += 5 * torch.randn(2, SMALL["width"])  # LN ignores it
    session = {}
    for name, weights in (("plain", state), ("perturbed", perturbed)):
        module.load_state_dict(weights)
        arrays = {k: v.numpy() for k, v in weights.items()}
        session[name] = ort.InferenceSession(
            emit_onnx(graph, arrays).SerializeToString(), providers=["CPUExecutionProvider"]
        )
        with torch.no_grad():
            batched, alone = module(tokens), module(tokens[:1])
        if name == "plain":
            reference = batched
        torch.testing.assert_close(batched, reference, rtol=0, atol=1e-5)
        torch.testing.assert_close(alone, batched[:1], rtol=0, atol=1e-5)
        (onnx_batched,) = session[name].run(None, {"tokens": tokens.numpy()})
        (onnx_alone,) = session[name].run(None, {"tokens": tokens[:1].numpy()})
        np.testing.assert_allclose(onnx_batched, reference.numpy(), rtol=0, atol=1e-5)
        np.testing.assert_allclose(onnx_alone, onnx_batched[:1], rtol=0, atol=1e-5)
