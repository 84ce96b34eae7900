"""Text: sources, the word tokenizer (fitted on the training split only, left padding), and a
text classifier end to end: train -> export -> `netlang predict model.onnx "a sentence"`."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from click.testing import CliRunner

from netlang.cli import main
from netlang.data.text import load_text_table
from netlang.data.tokenize import PAD, UNK, WordTokenizer, from_json
from netlang.semantics.train_spec import Call, TrainSpec
from netlang.train.config import resolve_config
from netlang.train.run import prepare_data

SPAM = Path(__file__).resolve().parents[2] / "examples" / "data" / "sms_spam.csv.gz"


def test_words_are_counted_on_the_given_texts_and_padded_on_the_left() -> None:
    tokenizer = WordTokenizer.fit(
        ["Win cash now", "win a prize", "see you"], length=4, vocab=100, min_count=1, lower=True
    )
    assert tokenizer.words[:3] == ["<pad>", "<unk>", "win"]  # the most frequent word first
    (row,) = tokenizer.encode(["WIN big cash"])
    assert list(row) == [PAD, tokenizer.words.index("win"), UNK, tokenizer.words.index("cash")]
    (long,) = tokenizer.encode(["see you see you see"])
    assert len(long) == 4 and list(long) == list(tokenizer.encode(["see you see you"])[0])
    assert from_json(json.loads(json.dumps(tokenizer.to_json()))).encode(["win"]).tolist() == [
        [PAD, PAD, PAD, tokenizer.words.index("win")]
    ]


def test_a_tsv_without_header_reads_text_and_label_by_index(tmp_path: Path) -> None:
    path = tmp_path / "messages.tsv"
    path.write_text("ham\tsee you later\nspam\tWIN cash\nham\tok\n")
    data, classes = load_text_table(path, text=1, label=0, delimiter=None, header=None)
    assert classes == ["ham", "spam"] and list(data.y) == [0, 1, 0]
    assert list(data.x) == ["see you later", "WIN cash", "ok"]


def test_the_vocabulary_never_sees_the_test_split(tmp_path: Path) -> None:
    """Each message has a word of its own: the vocabulary holds the training messages' only."""
    lines = ["label,text"] + [f"{'ham' if i % 2 else 'spam'},common w{i}" for i in range(40)]
    path = tmp_path / "t.csv"
    path.write_text("\n".join(lines) + "\n")
    spec = TrainSpec("M", {"data": Call("text", (str(path),), {"split": [0.5, 0.0, 0.5]})})
    splits, _ = prepare_data(resolve_config(spec, "M"), tmp_path)
    own = [w for w in splits.tokenizer.words if w.startswith("w")]
    assert len(own) == len(splits.train) == 20 and "common" in splits.tokenizer.words
    assert splits.train.x.dtype == np.int64 and splits.train.x.shape[1] == 64
    test_ids = set(splits.test.x[:, -1].tolist())  # each test message's own word: unknown
    assert test_ids == {UNK}


def test_a_bpe_vocabulary_is_learned_on_the_training_split_only(tmp_path: Path) -> None:
    """Each message ends in a character of its own: the subword alphabet holds the training
    messages' only, a test message's own character is unknown, and the saved form encodes alike."""
    pytest.importorskip("tokenizers")
    own = [chr(0x4E00 + i) for i in range(40)]  # CJK ideographs, one per message
    lines = ["label,text"] + [
        f"{'ham' if i % 2 else 'spam'},common words {c}" for i, c in enumerate(own)
    ]
    path = tmp_path / "t.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    entries = {
        "data": Call("text", (str(path),), {"split": [0.5, 0.0, 0.5]}),
        "tokenize": Call("bpe", (), {"length": 8, "vocab": 120}),
    }
    splits, _ = prepare_data(resolve_config(TrainSpec("M", entries), "M"), tmp_path)
    tokenizer = splits.tokenizer
    vocabulary = tokenizer.model.get_vocab()
    learned = {c for c in own if c in vocabulary}
    trained_on = {tokenizer.model.id_to_token(i) for i in splits.train.x[:, -1].tolist()}
    assert learned == trained_on and len(learned) == len(splits.train) == 20
    assert set(splits.test.x[:, -1].tolist()) == {UNK} and splits.train.x.shape[1] == 8
    assert vocabulary["<pad>"] == PAD and vocabulary["<unk>"] == UNK
    saved = from_json(json.loads(json.dumps(tokenizer.to_json())))
    texts = ["common words", "brand new text"]
    np.testing.assert_array_equal(saved.encode(texts), tokenizer.encode(texts))


MODEL = """
model Tiny(vocab: int = 3000) {
    input tokens: int64[N, 32]
    logits = tokens -> embedding(vocab, 16, padding_idx=0) -> gru(16)
                    -> select(axis=1, index=-1) -> linear(2)
    output logits
}
train Tiny {
    data     text("spam.csv", split=[0.8, 0.1, 0.1])
    tokenize words(length=32, vocab=3000)
    epochs   2
    batch    64
    optimizer adam(lr=1e-2)
}
"""


@pytest.mark.slow
@pytest.mark.parametrize(
    "tokenize", ["words(length=32, vocab=3000)", "bpe(length=32, vocab=1000)"], ids=["words", "bpe"]
)
def test_a_text_classifier_trains_exports_and_answers_a_sentence(
    tmp_path: Path, tokenize: str
) -> None:
    """The run's tokenizer.json is the one predict applies (probabilities of the graph run on
    the ids that file gives)."""
    if tokenize.startswith("bpe"):
        pytest.importorskip("tokenizers")
    with gzip.open(SPAM, "rt", encoding="utf-8") as stream:
        (tmp_path / "spam.csv").write_text("".join(stream.readlines()[:1200]), encoding="utf-8")
    (tmp_path / "tiny.net").write_text(MODEL.replace("words(length=32, vocab=3000)", tokenize))
    runner = CliRunner()
    run = tmp_path / "run"
    trained = runner.invoke(main, ["train", str(tmp_path / "tiny.net"), "--out", str(run), "-q"])
    assert trained.exit_code == 0, trained.output
    test = json.loads((run / "test.json").read_text())
    assert set(test["per_class"]) == {"ham", "spam"} and "f1" in test["per_class"]["spam"]
    saved = json.loads((run / "tokenizer.json").read_text())
    assert saved["kind"] == tokenize.split("(")[0]
    onnx = tmp_path / "tiny.onnx"
    assert runner.invoke(main, ["export", str(run), "-o", str(onnx)]).exit_code == 0
    sentence = "free entry to win cash"
    answer = runner.invoke(main, ["predict", str(onnx), sentence, "--json", "--top-k", "2"])
    assert answer.exit_code == 0, answer.output
    (prediction,) = json.loads(answer.output)["predictions"]
    assert prediction["input"] == sentence
    assert {g["label"] for g in prediction["top"]} == {"ham", "spam"}
    session = ort.InferenceSession(str(onnx), providers=["CPUExecutionProvider"])
    (logits,) = session.run(None, {"tokens": from_json(saved).encode([sentence])})
    expected = np.exp(logits[0] - logits[0].max()) / np.exp(logits[0] - logits[0].max()).sum()
    got = {g["index"]: g["probability"] for g in prediction["top"]}
    np.testing.assert_allclose([got[0], got[1]], expected, rtol=1e-5)
