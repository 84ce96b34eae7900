"""Every diagnostic code with its title and a longer explanation (`netlang explain CODE`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Code:
    title: str
    explanation: str


CODES: dict[str, Code] = {
    # NL1xxx: syntax
    "NL1001": Code(
        "unexpected character",
        "The file contains a character that is not part of the "
        "language, such as `'` (strings use double quotes) or `$`. Names take ASCII letters, "
        "digits and `_` only; accents are fine in strings and comments.\n\n"
        "    x = 'a'     # error\n    x = \"a\"     # fine\n"
        "    salida_única = x -> relu     # error: write `salida_unica`",
    ),
    "NL1002": Code(
        "unexpected token",
        "The parser found a word or symbol where it cannot be. The "
        "hint lists what could come there.\n\n    y = x -> }     # a stage must follow `->`",
    ),
    "NL1007": Code(
        "decimal comma",
        "A number such as `0,2` outside strings and comments: netlang, like Python, writes "
        "decimals with a point, so `0,2` is two numbers, 0 and 2, and the call or list gets one "
        "argument too many. (A warning: `[0,3]` may mean the two numbers.)\n\n"
        "    dropout(0,2)      # dropout(0.2)\n    adam(lr=0,001)    # adam(lr=0.001)",
    ),
    "NL1003": Code(
        "unexpected end of file",
        "The file ends inside a definition: usually a `{` that is never closed.",
    ),
    "NL1004": Code(
        "nested too deep",
        "Expressions, `{ }` groups or bodies nest more than 100 levels deep. No real model "
        "needs that; the compiler refuses it rather than run out of stack. Name inner parts "
        "(`h = ...`), or repeat layers with `for`. Long `->` chains are fine: they do not nest. "
        "Parentheses do not count (they leave no node). A run of binary operators does, one "
        "level per operator (`x + x + x` is `(x + x) + x`): over 100 in a row, compute the "
        "sum in named parts.",
    ),
    "NL1005": Code(
        "not UTF-8",
        "A source file must be UTF-8 text. The error points at the first byte that is not "
        "(often a Latin-1 `é` in a comment); re-save the file as UTF-8.",
    ),
    "NL1006": Code(
        "source too large",
        "A source file has more than 250,000 characters (no model needs that: the largest "
        "of the standard library has 9,000); the compiler refuses it, before parsing, rather "
        "than spend a minute on it. Split it into files joined by `import`, or repeat layers "
        "with `for`.",
    ),
    # NL2xxx: names, arguments, structure
    "NL2001": Code(
        "undefined name",
        "A name is used that is neither a variable, a parameter, a "
        "block, a constant, a layer nor a builtin.\n\n    y = x -> rleu     # did you mean `relu`?",
    ),
    "NL2003": Code(
        "unknown argument",
        "A layer, block or setting got a named argument it does not "
        "take.\n\n    conv2d(6, kernal=5)     # did you mean `kernel`?",
    ),
    "NL2004": Code(
        "missing argument",
        "A required argument has no value.\n\n"
        "    conv2d(kernel=3)     # conv2d needs its output `channels`",
    ),
    "NL2005": Code(
        "wrong argument type or value",
        "An argument has the wrong kind of value, e.g. "
        'a string where an integer is needed.\n\n    conv2d("six", 5)',
    ),
    "NL2006": Code(
        "duplicate definition",
        "The same name is defined twice (a model, block, constant, input, stage or train setting).",
    ),
    "NL2007": Code(
        "duplicate layer name",
        "Two layers in one scope have the same label; "
        "parameter names would collide.\n\n    x -> fc: linear(10) -> fc: linear(2)",
    ),
    "NL2008": Code(
        "import not found",
        '`import "name"` looks in the standard library; '
        '`import "./file.net"` looks next to the importing file.',
    ),
    "NL2009": Code(
        "import cycle",
        "Files import each other in a loop. Move the shared blocks "
        "to a third file that both import.",
    ),
    "NL2010": Code(
        "recursive definition",
        "A block uses itself (directly or through other "
        "blocks), or a constant is defined in terms of itself. Blocks are expanded at "
        "compile time, so recursion would never end; use `for` to repeat layers.",
    ),
    "NL2011": Code(
        "wrong number of inputs",
        "A layer or block got a different number of input "
        "tensors than it takes.\n\n    block Pair()(a, b) { ... }\n"
        "    y = x -> Pair   # needs 2 inputs",
    ),
    "NL2012": Code(
        "compile-time value required",
        "A tensor is used where the compiler needs a "
        "value it knows now: an `if` condition, a loop range, a layer argument. "
        "Tensors only have values when the model runs; their shapes are known now, "
        "via `shape(x)` and `channels(x)`.",
    ),
    "NL2013": Code(
        "unused tensor",
        "A tensor is computed but never used or output: its layers "
        "would be dead weight. (A warning.)",
    ),
    "NL2014": Code(
        "unknown model",
        "No model with this name exists in the file or its imports (a `train` section or "
        "`--model` names it), or the file defines no model to build at all.",
    ),
    "NL2015": Code(
        "unknown train setting",
        "A `train` section uses a setting or choice the "
        "trainer does not know. Nothing is silently ignored.\n\n"
        "    optimiser adam()   # `optimizer`",
    ),
    "NL2050": Code(
        "train setting out of range",
        "A `train` setting has a value the trainer would refuse before its first batch: a "
        "negative rate, zero epochs, split fractions that do not sum to 1, an angle past a full "
        "turn, an unknown metric, or settings that contradict each other.\n\n"
        "    optimizer adam(lr=-1)     # the learning rate must be > 0",
    ),
    "NL2051": Code(
        "pattern names no layer",
        "A `freeze`, `unfreeze`, `replace` or `lr_mult` pattern selects no layer of the model "
        "(names are the IR's, as `netlang summary` prints them), or a range `a..b` names a "
        "layer that is not top-level or runs backwards.\n\n"
        '    freeze ["featurez"]     # did you mean `features`?',
    ),
    "NL2052": Code(
        "loss does not fit the model or data",
        "The loss cannot compare the model's output with the data's targets: `mse` on a data "
        "set of class ids, `cross_entropy` on an output without a class axis, or an output "
        "with another number of classes than the data has.\n\n"
        "    loss mse     # digits gives class ids: use cross_entropy",
    ),
    "NL2053": Code(
        "data cannot be read",
        "The `data` (or `test_data`) of a `train` section names a file or folder that is "
        "missing or malformed when training starts. Paths are relative to the `.net` file. "
        "`mnist`, `notmnist` and `cifar10` fetch their published files with `download=true` "
        "(`check` never downloads).",
    ),
    "NL2054": Code(
        "data does not fit the model's input",
        "The samples the `data` of a `train` section gives do not have the shape the model's "
        "`input` declares (after the batch axis), so not one batch could run.\n\n"
        "    input image: float32[N, 3, 32, 32]\n"
        "    data digits(size=32)     # gives [N, 1, 32, 32]: declare 1 channel",
    ),
    "NL2055": Code(
        "softmax before cross_entropy",
        "The model's output comes out of a `softmax` and the loss is `cross_entropy`, which "
        "applies (log-)softmax itself: the probabilities are squashed twice and the gradients "
        "all but vanish. Output the logits; `netlang predict` prints probabilities anyway. "
        "(A warning.)\n\n"
        "    logits = x -> linear(10) -> softmax     # drop `-> softmax`",
    ),
    "NL2056": Code(
        "embedding into conv1d without a permute",
        "`embedding` gives [N, tokens, dim], and `conv1d` reads [N, channels, length]: fed "
        "straight in, the tokens are its channels and it slides along the embedding features. "
        "Swap the two axes first. (A warning.)\n\n"
        "    tokens -> embedding(8000, 64) -> permute([0, 2, 1]) -> conv1d(128, kernel=3)",
    ),
    "NL2057": Code(
        "nll on an output that is not log-probabilities",
        "`loss nll` takes log-probabilities, and the model's output does not come out of a "
        "`log_softmax`: on raw scores (logits) it pushes the right class's score up without "
        "bound instead of learning the classes, and on probabilities it learns slowly. Use "
        "`cross_entropy`, which applies log_softmax to logits itself, or end the model with "
        "`log_softmax`. (A warning.)\n\n"
        "    logits = x -> linear(10) -> log_softmax     # or keep the logits: loss cross_entropy",
    ),
    "NL2017": Code(
        "too many arguments", "More positional arguments than the layer or block takes."
    ),
    "NL2018": Code(
        "not a layer",
        "A value is used as a layer (after `->`) but is a tensor, a "
        "number or a model; or `->` has no tensor on its left.",
    ),
    "NL2019": Code("missing output", "A model declares no `output`, or a block has no `return`."),
    "NL2021": Code(
        "misplaced statement", "`input`/`output`/`test` belong in models, `return` in blocks."
    ),
    "NL2022": Code(
        "invalid arithmetic", "Division by zero, an index out of range or a value too large."
    ),
    "NL2023": Code(
        "model too large",
        "Elaboration created more layers than the compiler allows; a loop bound is probably wrong.",
    ),
    "NL2024": Code(
        "import of a file that is not netlang source",
        "An import names a standard-library module (letters, digits and `_`) or a `.net` file by "
        'a relative path (`import "./lib/blocks.net"`). Any other file is never read, so its '
        "content can never appear in a diagnostic; a `.net` file must be UTF-8 text.",
    ),
    # NL3xxx: shapes
    "NL3001": Code(
        "shape mismatch",
        "Tensors that must agree in shape do not, e.g. the two "
        "sides of a residual `add`. Project one side (a 1x1 conv) to match.",
    ),
    "NL3002": Code(
        "channel mismatch", "Channel counts do not fit the layer, e.g. not divisible by `groups`."
    ),
    "NL3003": Code(
        "wrong rank",
        "A layer got a tensor with the wrong number of axes, e.g. "
        "`linear` after a convolution without `flatten`.\n\n"
        "    x -> conv2d(16, 5) -> linear(10)     # insert `flatten` before linear",
    ),
    "NL3004": Code(
        "non-positive output size",
        "A kernel or window is larger than its (padded) "
        "input, so the output would have no positions. Pool less, pad more, or use a "
        "larger input.",
    ),
    "NL3005": Code(
        "concat or split mismatch",
        "`concat` needs equal sizes on every axis but the joined one; `split` sizes must add up.",
    ),
    "NL3006": Code(
        "shape annotation mismatch",
        "A written shape `h: [N, 64, 56, 56] = ...` does not match the inferred one.",
    ),
    "NL3007": Code(
        "assertion failed", "An `assert` in a model or block is false for these arguments."
    ),
    "NL3008": Code(
        "model test failed",
        "A `test { ... }` expectation (output shapes, `params == ...`) does not hold.",
    ),
    "NL3009": Code(
        "wrong element type",
        "A layer needs another element type: most compute in float32, `embedding` takes "
        "integer token ids (`int64[N, T]`), and the inputs of one layer share one type; "
        '`cast("float32")` changes a tensor\'s element type.',
    ),
    # NL4xxx: backends
    "NL4001": Code(
        "unsupported by the ONNX backend",
        "The op or attribute combination has no ONNX lowering at the pinned opset; `check` "
        "reports it, since every model that checks must also export (e.g. adaptive pooling "
        "to a size other than 1 needs the input's spatial size fixed).",
    ),
}
