"""Tokenizers: text -> fixed-length int64 token ids, fitted on the training split only.

`words` is a word-level vocabulary (lower-cased by default, most frequent first, `min_count`
occurrences, at most `vocab` ids including <pad> = 0 and <unk> = 1); `bpe` is a byte-pair
subword vocabulary trained with Hugging Face `tokenizers` (the optional extra `text`). Sequences
are truncated to `length` tokens (keeping the first) and padded on the left with 0, so a
recurrent model's last time step is the text's last token. A tokenizer's `to_json` is what the
run directory's tokenizer.json and the ONNX metadata "netlang.tokenizer" hold; `from_json`
rebuilds it for `predict` and `serve`. No torch here.
"""

from __future__ import annotations

import functools
import json
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

PAD, UNK = 0, 1
_WORD = re.compile(r"\w+|[^\w\s]")
METADATA_KEY = "netlang.tokenizer"


def _fixed(ids: Sequence[int], length: int) -> list[int]:
    ids = list(ids[:length])
    return [PAD] * (length - len(ids)) + ids


@dataclass
class WordTokenizer:
    length: int
    lower: bool = True
    words: list[str] = field(default_factory=list)  # id order, from <pad>, <unk>

    @classmethod
    def fit(
        cls, texts: Sequence[str], *, length: int, vocab: int, min_count: int, lower: bool
    ) -> WordTokenizer:
        counts = Counter(token for text in texts for token in cls.split(text, lower))
        common = [w for w, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
        kept = [w for w in common if counts[w] >= min_count][: max(vocab - 2, 0)]
        return cls(length, lower, ["<pad>", "<unk>", *kept])

    @staticmethod
    def split(text: str, lower: bool) -> list[str]:
        return _WORD.findall(text.lower() if lower else text)

    @property
    def size(self) -> int:
        return len(self.words)

    @functools.cached_property
    def index(self) -> dict[str, int]:
        """Word -> id, built once (a server encodes every request with it)."""
        return {w: i for i, w in enumerate(self.words)}

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        index = self.index
        rows = [
            _fixed([index.get(t, UNK) for t in self.split(text, self.lower)], self.length)
            for text in texts
        ]
        return np.asarray(rows, dtype=np.int64).reshape(len(rows), self.length)

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": "words",
            "length": self.length,
            "lower": self.lower,
            "pad": "left",
            "split": _WORD.pattern,
            "vocab": self.words,
        }


@dataclass
class BpeTokenizer:
    length: int
    model: Any  # tokenizers.Tokenizer

    @classmethod
    def fit(cls, texts: Sequence[str], *, length: int, vocab: int, lower: bool) -> BpeTokenizer:
        tokenizers = _tokenizers()
        model = tokenizers.Tokenizer(tokenizers.models.BPE(unk_token="<unk>"))
        steps = [tokenizers.normalizers.NFKC()]
        if lower:
            steps.append(tokenizers.normalizers.Lowercase())
        model.normalizer = tokenizers.normalizers.Sequence(steps)
        model.pre_tokenizer = tokenizers.pre_tokenizers.Whitespace()
        trainer = tokenizers.trainers.BpeTrainer(
            vocab_size=vocab, special_tokens=["<pad>", "<unk>"], show_progress=False
        )
        model.train_from_iterator(list(texts), trainer)
        return cls(length, model)

    @property
    def size(self) -> int:
        return int(self.model.get_vocab_size())

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        rows = [_fixed(e.ids, self.length) for e in self.model.encode_batch(list(texts))]
        return np.asarray(rows, dtype=np.int64).reshape(len(rows), self.length)

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": "bpe",
            "length": self.length,
            "pad": "left",
            "tokenizer": json.loads(self.model.to_str()),
        }


Tokenizer = WordTokenizer | BpeTokenizer


def fit_tokenizer(name: str, args: dict[str, Any], texts: Sequence[str]) -> Tokenizer:
    """The `tokenize` entry's tokenizer, fitted on `texts` (the training split).

    Raises:
        ValueError: a bad argument, or `bpe` without the `tokenizers` package.
    """
    length = _positive(args.get("length", 64), f"{name}: length")
    vocab = _positive(args.get("vocab", 20000), f"{name}: vocab")
    lower = args.get("lower", True)
    if not isinstance(lower, bool):
        raise ValueError(f"{name}: lower={lower!r}: expected true or false")
    if name == "bpe":
        return BpeTokenizer.fit(texts, length=length, vocab=vocab, lower=lower)
    min_count = _positive(args.get("min_count", 1), "words: min_count")
    return WordTokenizer.fit(texts, length=length, vocab=vocab, min_count=min_count, lower=lower)


def from_json(spec: dict[str, Any]) -> Tokenizer:
    """A tokenizer saved by `to_json` (tokenizer.json, the ONNX metadata)."""
    try:
        if spec["kind"] == "words":
            return WordTokenizer(int(spec["length"]), bool(spec["lower"]), list(spec["vocab"]))
        if spec["kind"] == "bpe":
            model = _tokenizers().Tokenizer.from_str(json.dumps(spec["tokenizer"]))
            return BpeTokenizer(int(spec["length"]), model)
    except (KeyError, TypeError) as error:
        raise ValueError(f"malformed tokenizer description: {error!r}") from None
    raise ValueError(f"unknown tokenizer kind {spec.get('kind')!r}")


def _tokenizers() -> Any:
    try:
        import tokenizers
    except ImportError:
        raise ValueError(
            "tokenize bpe needs Hugging Face tokenizers: pip install 'netlang[text]'"
        ) from None
    return tokenizers


def _positive(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{what}={value!r}: expected a positive integer")
    return value
