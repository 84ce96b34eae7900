"""The stdlib models without a torchvision twin (LeNet-5, AlexNet 2012, MLP, LSTM/GRU classifiers,
autoencoders) against hand-written PyTorch modules: the twin's state_dict loads into
`to_torch(graph)` with strict=True, and eval-mode outputs agree (torch <= 1e-5; the emitted ONNX
through onnxruntime <= 1e-4 for a subset, including sequences of two different lengths)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest
import torch
from torch import nn

from netlang.backends.onnx_emit import emit_onnx
from netlang.backends.torch_module import to_torch
from netlang.ir import Graph

BuildModel = Callable[..., Graph]  # the `stdlib_model` fixture (conftest.py)


class LeNet5(nn.Module):
    def __init__(self, modern: bool, classes: int = 10) -> None:
        super().__init__()
        self.act = nn.ReLU() if modern else nn.Tanh()
        pool = nn.MaxPool2d if modern else nn.AvgPool2d
        self.c1, self.s2 = nn.Conv2d(1, 6, 5), pool(2)
        self.c3, self.s4 = nn.Conv2d(6, 16, 5), pool(2)
        self.c5, self.f6 = nn.Conv2d(16, 120, 5), nn.Linear(120, 84)
        self.out = nn.Linear(84, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.s4(self.act(self.c3(self.s2(self.act(self.c1(x))))))
        x = torch.flatten(self.act(self.c5(x)), 1)
        return self.out(self.act(self.f6(x)))


class AlexNet2012(nn.Module):
    """The paper's formula b = a / (k + alpha * sum a^2)^beta, with alpha 1e-4 on the plain sum."""

    def __init__(self, classes: int, groups: int, features: int) -> None:
        super().__init__()

        def normed(
            c_in: int, c_out: int, kernel: int, stride: int, padding: int, g: int
        ) -> nn.Sequential:
            return nn.Sequential(
                nn.Conv2d(c_in, c_out, kernel, stride, padding, groups=g),
                nn.ReLU(),
                nn.LocalResponseNorm(5, 5 * 1e-4, 0.75, 2.0),
                nn.MaxPool2d(3, 2),
            )

        self.conv1 = normed(3, 96, 11, 4, 0, 1)
        self.conv2 = normed(96, 256, 5, 1, 2, groups)
        self.conv3 = nn.Conv2d(256, 384, 3, padding=1)
        self.conv4 = nn.Conv2d(384, 384, 3, padding=1, groups=groups)
        self.conv5 = nn.Conv2d(384, 256, 3, padding=1, groups=groups)
        self.classifier = nn.Sequential(
            nn.Dropout(),
            nn.Linear(features, 4096),
            nn.ReLU(),
            nn.Dropout(),
            nn.Linear(4096, 4096),
            nn.ReLU(),
            nn.Linear(4096, classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv2(self.conv1(x))
        x = torch.relu(self.conv4(torch.relu(self.conv3(x))))
        x = nn.functional.max_pool2d(torch.relu(self.conv5(x)), 3, 2)
        return self.classifier(torch.flatten(x, 1))


class Dense(nn.Module):
    def __init__(self, features: int, width: int, p: float) -> None:
        super().__init__()
        self.fc, self.bn = nn.Linear(features, width), nn.BatchNorm1d(width)
        self.drop = nn.Dropout(p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(torch.relu(self.bn(self.fc(x))))


class MLP(nn.Module):
    def __init__(self, features: int, widths: list[int], classes: int, p: float) -> None:
        super().__init__()
        ins = [features, *widths[:-1]]
        self.hidden = nn.Sequential(*[Dense(i, w, p) for i, w in zip(ins, widths)])
        self.head = nn.Linear(widths[-1], classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.hidden(x))


class RecurrentClassifier(nn.Module):
    """Classifies from h_n of the last layer (both directions when bidirectional)."""

    def __init__(
        self,
        cell: type[nn.LSTM] | type[nn.GRU],
        vocab: int,
        embed: int,
        hidden: int,
        layers: int,
        bidirectional: bool,
        classes: int,
    ) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab, embed)
        self.rnn = cell(embed, hidden, layers, batch_first=True, bidirectional=bidirectional)
        self.fc = nn.Linear(hidden * (2 if bidirectional else 1), classes)
        self.bidirectional = bidirectional

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        _, h = self.rnn(self.embedding(tokens))
        h = h[0] if isinstance(h, tuple) else h  # the LSTM's (h_n, c_n)
        return self.fc(torch.cat([h[-2], h[-1]], 1) if self.bidirectional else h[-1])


def dense_autoencoder() -> nn.Module:
    module = nn.Module()
    module.encoder = nn.Sequential(
        nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 64), nn.ReLU(), nn.Linear(64, 32)
    )
    module.decoder = nn.Sequential(
        nn.Linear(32, 64),
        nn.ReLU(),
        nn.Linear(64, 256),
        nn.ReLU(),
        nn.Linear(256, 784),
        nn.Sigmoid(),
    )
    return _chain(module)


def conv_autoencoder(upsample: bool) -> nn.Module:
    module = nn.Module()
    module.encoder = nn.Sequential(
        nn.Conv2d(1, 16, 3, 2, 1), nn.ReLU(), nn.Conv2d(16, 32, 3, 2, 1), nn.ReLU()
    )
    if upsample:
        module.decoder = nn.Sequential(
            nn.Upsample(scale_factor=2),
            nn.Conv2d(32, 16, 3, padding=1),
            nn.ReLU(),
            nn.Upsample(scale_factor=2),
            nn.Conv2d(16, 1, 3, padding=1),
            nn.Sigmoid(),
        )
    else:
        module.decoder = nn.Sequential(
            nn.ConvTranspose2d(32, 16, 3, 2, 1, output_padding=1),
            nn.ReLU(),
            nn.ConvTranspose2d(16, 1, 3, 2, 1, output_padding=1),
            nn.Sigmoid(),
        )
    return _chain(module)


def _chain(module: nn.Module) -> nn.Module:
    module.forward = lambda x: module.decoder(module.encoder(x))  # type: ignore[method-assign]
    return module


def images(*shape: int) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(1))


def tokens(length: int) -> torch.Tensor:
    return torch.randint(0, 50, (3, length), generator=torch.Generator().manual_seed(length))


RNN = {"vocab": 50, "embed": 8, "hidden": 16, "num_layers": 2, "classes": 3}
# id -> (stdlib model, its arguments, the hand-written twin, inputs, check ONNX too)
CASES: dict[str, tuple[str, dict[str, Any], Callable[[], nn.Module], list[torch.Tensor], bool]] = {
    "lenet5": ("LeNet5", {}, lambda: LeNet5(False), [images(4, 1, 32, 32)], True),
    "lenet5_modern": (
        "LeNet5Modern",
        {"classes": 7},
        lambda: LeNet5(True, 7),
        [images(4, 1, 32, 32)],
        False,
    ),
    "alexnet2012_small": (
        "AlexNet2012",
        {"size": 67, "classes": 10},
        lambda: AlexNet2012(10, 2, 256),
        [images(2, 3, 67, 67)],
        True,
    ),
    "mlp": (
        "MLP",
        {"features": 20, "widths": [32, 16, 8], "classes": 5, "drop": 0.3},
        lambda: MLP(20, [32, 16, 8], 5, 0.3),
        [images(6, 20)],
        True,
    ),
    "lstm": (
        "LSTMClassifier",
        RNN,
        lambda: RecurrentClassifier(nn.LSTM, 50, 8, 16, 2, False, 3),
        [tokens(7), tokens(11)],
        False,
    ),
    "lstm_bidirectional": (
        "LSTMClassifier",
        {**RNN, "bidirectional": True},
        lambda: RecurrentClassifier(nn.LSTM, 50, 8, 16, 2, True, 3),
        [tokens(7), tokens(11)],
        True,
    ),
    "gru": (
        "GRUClassifier",
        RNN,
        lambda: RecurrentClassifier(nn.GRU, 50, 8, 16, 2, False, 3),
        [tokens(7), tokens(11)],
        True,
    ),
    "gru_bidirectional": (
        "GRUClassifier",
        {**RNN, "bidirectional": True},
        lambda: RecurrentClassifier(nn.GRU, 50, 8, 16, 2, True, 3),
        [tokens(7), tokens(11)],
        False,
    ),
    "dense_autoencoder": ("DenseAutoencoder", {}, dense_autoencoder, [images(4, 784)], True),
    "conv_autoencoder_transpose": (
        "ConvAutoencoder",
        {},
        lambda: conv_autoencoder(False),
        [images(2, 1, 28, 28)],
        True,
    ),
    "conv_autoencoder_upsample": (
        "ConvAutoencoder",
        {"decoder": "upsample"},
        lambda: conv_autoencoder(True),
        [images(2, 1, 28, 28)],
        True,
    ),
}


def _twin(name: str) -> nn.Module:
    """The hand-written module in eval mode, batch-norm statistics and affine weights random."""
    torch.manual_seed(0)
    twin = CASES[name][2]()
    generator = torch.Generator().manual_seed(2)
    with torch.no_grad():
        for module in twin.modules():
            if isinstance(module, nn.BatchNorm1d):
                for tensor, low in ((module.weight, 0.5), (module.running_var, 0.5)):
                    tensor.copy_(low + torch.rand(tensor.shape, generator=generator))
                for tensor in (module.bias, module.running_mean):
                    tensor.copy_(0.1 * torch.randn(tensor.shape, generator=generator))
    return twin.eval()


def _graph(stdlib_model: BuildModel, name: str) -> Graph:
    model, arguments = CASES[name][:2]
    return stdlib_model(model, **arguments)


@pytest.mark.parametrize("name", CASES)
def test_twin_state_dict_loads_strictly_and_outputs_agree(
    stdlib_model: BuildModel, name: str
) -> None:
    twin = _twin(name)
    module = to_torch(_graph(stdlib_model, name))
    assert list(module.state_dict()) == list(twin.state_dict())
    module.load_state_dict(twin.state_dict(), strict=True)
    module.eval()
    for batch in CASES[name][3]:
        with torch.no_grad():
            got, want = module(batch), twin(batch)
        assert got.shape == want.shape
        assert (got - want).abs().max().item() <= 1e-5


@pytest.mark.parametrize("name", [name for name, case in CASES.items() if case[4]])
def test_onnx_with_the_twins_weights_agrees(stdlib_model: BuildModel, name: str) -> None:
    twin = _twin(name)
    graph = _graph(stdlib_model, name)
    weights = {key: tensor.numpy() for key, tensor in twin.state_dict().items()}
    session = ort.InferenceSession(
        emit_onnx(graph, weights).SerializeToString(), providers=["CPUExecutionProvider"]
    )
    for batch in CASES[name][3]:
        (got,) = session.run(None, {graph.inputs[0].name: batch.numpy()})
        with torch.no_grad():
            want = twin(batch).numpy()
        assert np.abs(got - want).max() <= 1e-4


def test_recurrent_classifier_keeps_the_sequence_length_symbolic(stdlib_model: BuildModel) -> None:
    graph = stdlib_model("GRUClassifier")
    assert graph.inputs[0].type.dtype == "int64"
    assert graph.inputs[0].type.shape == ("N", "T")


def test_conv_autoencoder_rejects_an_unknown_decoder(stdlib_model: BuildModel) -> None:
    from netlang.diagnostics import CompileError

    with pytest.raises(CompileError, match="decoder must be"):
        stdlib_model("ConvAutoencoder", decoder="pixelshuffle")
