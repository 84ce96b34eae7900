"""examples/spam_transformer.net, shrunk, end to end: it trains on the first 1,200 SMS messages,
exports, and `netlang predict` answers sentences with the probabilities of the ONNX graph on the
run's tokenizer ids; a short message batched with a longer one scores as alone, in torch (the
run's checkpoint) and in onnxruntime."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch
from click.testing import CliRunner
from safetensors.torch import load_file

import netlang
from netlang.backends.torch_module import to_torch
from netlang.cli import main
from netlang.data.tokenize import from_json

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
TINY = ["--set", "width=16", "--set", "heads=2", "--set", "mlp=32", "--set", "layers=1"]
SHORT, LONG = "free entry to win cash", "see you at the station at six, then dinner at ours?"


def softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


@pytest.mark.slow
def test_the_spam_transformer_trains_exports_and_scores_a_sentence_alike_in_any_batch(
    tmp_path: Path,
) -> None:
    (tmp_path / "data").mkdir()
    with gzip.open(EXAMPLES / "data" / "sms_spam.csv.gz", "rt", encoding="utf-8") as stream:
        head = "".join(stream.readlines()[:1200])
    with gzip.open(tmp_path / "data" / "sms_spam.csv.gz", "wt", encoding="utf-8") as stream:
        stream.write(head)
    source = tmp_path / "spam_transformer.net"
    shutil.copy(EXAMPLES / "spam_transformer.net", source)
    runner = CliRunner()
    run = tmp_path / "run"
    args = ["train", str(source), "--out", str(run), "--epochs", "1", "-q", *TINY]
    trained = runner.invoke(main, args)
    assert trained.exit_code == 0, trained.output
    assert set(json.loads((run / "test.json").read_text())["per_class"]) == {"ham", "spam"}
    onnx = tmp_path / "spam.onnx"
    assert runner.invoke(main, ["export", str(run), "-o", str(onnx)]).exit_code == 0

    answer = runner.invoke(main, ["predict", str(onnx), SHORT, LONG, "--json", "--top-k", "2"])
    assert answer.exit_code == 0, answer.output
    predictions = json.loads(answer.output)["predictions"]
    tokens = from_json(json.loads((run / "tokenizer.json").read_text())).encode([SHORT, LONG])
    assert (tokens[0] == 0).sum() > (tokens[1] == 0).sum() > 0  # both padded, the short more
    session = ort.InferenceSession(str(onnx), providers=["CPUExecutionProvider"])
    (batched,) = session.run(None, {"tokens": tokens})
    (alone,) = session.run(None, {"tokens": tokens[:1]})
    np.testing.assert_allclose(softmax(alone[0]), softmax(batched[0]), atol=1e-6)
    for prediction, expected in zip(predictions, softmax(batched)):
        got = {g["index"]: g["probability"] for g in prediction["top"]}
        np.testing.assert_allclose([got[0], got[1]], expected, rtol=1e-5)

    graph = netlang.load(source).model(
        "SpamTransformer", **{kv.split("=")[0]: int(kv.split("=")[1]) for kv in TINY[1::2]}
    )
    module = to_torch(graph).eval()
    module.load_state_dict(load_file(run / "checkpoints" / "best.safetensors"))
    with torch.no_grad():
        ours = module(torch.from_numpy(tokens)).softmax(-1).numpy()
        ours_alone = module(torch.from_numpy(tokens[:1])).softmax(-1).numpy()
    np.testing.assert_allclose(ours_alone[0], ours[0], atol=1e-6)
    np.testing.assert_allclose(ours, softmax(batched), atol=1e-5)
