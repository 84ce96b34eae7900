"""A model with a tokenizer is served as taking sentences: BYTES [N, 1] in the metadata, sent by
tritonclient (JSON and binary) or a plain JSON POST (curl), tokenised by the server with the
model's own tokenizer and answered as the token-id graph answers; the numbers agree with a hand
computation and with `netlang predict` on the same sentences."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import tritonclient.http as httpclient
from onnx import helper

from netlang.runtime import model_info
from netlang.runtime.predict import predict
from netlang.runtime.preprocess import load_texts
from netlang.serve.text_input import text_input

from tests.serve.serve_models import (
    TEXT_LENGTH,
    save_classifier,
    save_text_classifier,
    text_reference,
)
from tests.serve.servers import Server, start_server

SENTENCES = ["Free entry to WIN cash", "see you at lunch?", "", "zzz unknown words"]


@pytest.fixture(scope="module")
def text_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_text_classifier(tmp_path_factory.mktemp("text") / "spam.onnx")


def _session(path: Path) -> ort.InferenceSession:
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def test_the_served_signature_takes_one_sentence_a_row(text_model: Path) -> None:
    text = text_input(_session(text_model))
    assert text is not None
    (spec,) = text.signature.inputs
    assert (spec.name, spec.datatype.v2, spec.v2_shape) == ("tokens", "BYTES", [-1, 1])
    feeds = text.encode({"tokens": np.array([[s] for s in SENTENCES], dtype=object)})
    assert feeds["tokens"].dtype == np.int64 and feeds["tokens"].shape == (4, TEXT_LENGTH)
    assert text.signature.outputs == model_info(_session(text_model)).signature.outputs


def test_a_model_without_a_tokenizer_keeps_its_signature(tmp_path: Path) -> None:
    assert text_input(_session(save_classifier(tmp_path / "clf.onnx"))) is None


def test_a_tokenizer_on_a_float_input_is_refused(tmp_path: Path) -> None:
    model = onnx.load(str(save_classifier(tmp_path / "clf.onnx")))
    tokenizer = onnx.load(str(save_text_classifier(tmp_path / "t.onnx"))).metadata_props
    helper.set_model_props(model, {p.key: p.value for p in tokenizer})
    onnx.save(model, str(tmp_path / "bad.onnx"))
    with pytest.raises(ValueError, match="integer \\[N, length\\] input"):
        text_input(_session(tmp_path / "bad.onnx"))


@pytest.fixture(scope="module")
def text_server(text_model: Path) -> Iterator[Server]:
    server = start_server([str(text_model), "--max-batch-size", "8"])
    yield server
    server.stop()


@pytest.mark.slow
def test_metadata_and_config_say_the_input_is_text(text_server: Server) -> None:
    client = httpclient.InferenceServerClient(url=text_server.url)
    meta = client.get_model_metadata("spam")
    assert meta["inputs"] == [{"name": "tokens", "datatype": "BYTES", "shape": [-1, 1]}]
    config = client.get_model_config("spam")
    assert config["input"] == [{"name": "tokens", "data_type": "TYPE_STRING", "dims": [1]}]


@pytest.mark.slow
@pytest.mark.parametrize("binary", [False, True], ids=["json", "binary"])
def test_tritonclient_sends_sentences_and_gets_the_graphs_answer(
    text_server: Server, text_model: Path, binary: bool
) -> None:
    client = httpclient.InferenceServerClient(url=text_server.url)
    sentences = np.array([[s] for s in SENTENCES], dtype=object)
    text = httpclient.InferInput("tokens", list(sentences.shape), "BYTES")
    text.set_data_from_numpy(sentences, binary_data=binary)
    out = [httpclient.InferRequestedOutput("logits", binary_data=binary)]
    logits = client.infer("spam", [text], outputs=out).as_numpy("logits")
    np.testing.assert_allclose(logits, text_reference(SENTENCES), rtol=1e-5, atol=1e-5)
    session = _session(text_model)
    info = model_info(session)
    guesses = predict(session, info, load_texts(SENTENCES, info), k=1)
    assert [g[0].label for g in guesses] == [["ham", "spam"][i] for i in logits.argmax(axis=1)]


@pytest.mark.slow
def test_a_plain_json_post_with_a_sentence_is_answered(text_server: Server) -> None:
    """What `curl -d '{"inputs":[...]}' .../v2/models/spam/infer` sends."""
    body = {
        "inputs": [
            {"name": "tokens", "datatype": "BYTES", "shape": [1, 1], "data": ["win a prize"]}
        ]
    }
    request = urllib.request.Request(
        f"http://{text_server.url}/v2/models/spam/infer", data=json.dumps(body).encode()
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        (output,) = json.loads(response.read())["outputs"]
    assert (output["name"], output["shape"]) == ("logits", [1, 2])
    np.testing.assert_allclose(output["data"], text_reference(["win a prize"])[0], rtol=1e-5)
