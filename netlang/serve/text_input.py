"""Text in, token ids to the graph: a model whose ONNX metadata holds "netlang.tokenizer" is
served as taking sentences, so a curl or tritonclient user sends text, not ids.

The served input keeps the graph input's name but is BYTES [N, 1], one sentence a row (Triton's
shape for a string per batch row: with batching its config dims are [1]). Sentences are encoded
with the tokenizer fitted at training time, the one `netlang predict` uses, inside the model's run
function: in an inference thread, and once per merged batch when dynamic batching is on. The ONNX
file itself still takes token ids, for every other runtime (and `export --triton`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnxruntime as ort

from netlang.data.tokenize import Tokenizer, from_json
from netlang.runtime.session import model_info
from netlang.runtime.signature import BY_V2, Signature, TensorSpec

Arrays = dict[str, np.ndarray]


@dataclass(frozen=True)
class TextInput:
    ids: TensorSpec  # the graph's token-id input
    tokenizer: Tokenizer
    signature: Signature  # as served: `ids` replaced by a BYTES [N, 1] input of the same name

    def encode(self, feeds: Arrays) -> Arrays:
        """Feeds with the sentences of the text input replaced by their token ids."""
        sentences = [str(s) for s in feeds[self.ids.name].reshape(-1)]
        ids = self.tokenizer.encode(sentences).astype(self.ids.datatype.numpy, copy=False)
        return {**feeds, self.ids.name: ids}


def text_input(session: ort.InferenceSession) -> TextInput | None:
    """The text front of a session whose model carries a tokenizer (None when it has none).

    Raises:
        ValueError: a tokenizer on a model whose input is not one [N, length] integer tensor.
    """
    info = model_info(session)
    if info.tokenizer is None:
        return None
    tokenizer = from_json(info.tokenizer)
    if len(info.signature.inputs) != 1:
        raise ValueError("a model with a tokenizer must have a single (token-id) input")
    (ids,) = info.signature.inputs
    if np.dtype(ids.datatype.numpy).kind not in "iu" or len(ids.shape) != 2:
        raise ValueError(
            f"a model with a tokenizer needs an integer [N, length] input; {ids.name!r} is "
            f"{ids.datatype.v2} {ids.v2_shape}"
        )
    if ids.shape[1] not in (None, tokenizer.length):
        raise ValueError(
            f"input {ids.name!r} takes {ids.shape[1]} tokens but the tokenizer makes "
            f"{tokenizer.length}"
        )
    text = TensorSpec(ids.name, BY_V2["BYTES"], (ids.shape[0], 1))
    return TextInput(ids, tokenizer, Signature((text,), info.signature.outputs))
