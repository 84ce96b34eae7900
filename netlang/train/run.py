"""`netlang train` as a function: a `.net` file (+ CLI overrides) -> a trained run directory.

load -> model graph -> its train section -> TrainConfig -> data splits -> normalisation (train
statistics only) -> torch module (-> checkpoint weights and their mapping report, for transfer
learning) -> fit. Under torchrun (RANK / WORLD_SIZE set) every worker runs this, joined to the
job's process group for fit's duration.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from netlang import ir
from netlang.diagnostics import CompileError, error
from netlang.ops import REGISTRY
from netlang.train import distributed, transfer
from netlang.train.config import TrainConfig, resolve_config
from netlang.train.loop import TrainResult, fit
from netlang.semantics.layer_patterns import TransferError
from netlang.semantics.train_spec import Call

if TYPE_CHECKING:
    from netlang.semantics.settings import Origins


def train_file(
    path: str | Path,
    model: str | None = None,
    overrides: Mapping[str, Any] | None = None,
    *,
    settings: Mapping[str, str] | None = None,
    resume: bool = False,
    log: Callable[[str], Any] = print,
    quiet: bool = False,
    verbose: bool = False,
    tracking: dict[str, Any] | None = None,
) -> TrainResult:
    """Train the model `model` (default: the one with a train section) of the file at `path`.

    Args:
        path: the `.net` file; relative data paths resolve against its folder.
        model: which model; None picks the file's trained model.
        overrides: CLI values (see settings.OVERRIDES); None means unset.
        settings: `--set NAME=VALUE` texts: model arguments or train-section entries.
        resume: continue the run in `out` (or the newest runs/<model>-* folder).
        log: where progress lines and messages go.
        quiet: no progress bar and no per-epoch lines (`netlang train -q`).
        verbose: also the layer table, the resolved configuration and the split sizes (`-v`).
        tracking: where else the run is logged (see netlang.train.tracking.make_trackers).

    Raises:
        CompileError: the file does not compile.
        ValueError: a bad train section or override, missing data, or nothing to resume.
    """
    from netlang.backends.torch_module import to_torch

    program, graph = _build(path, model, settings or {})
    if graph.train is None:
        raise ValueError(
            f"{graph.name} has no train section: add one after the model, e.g. "
            f"`train {graph.name} {{ data digits(split=[0.8, 0.1, 0.1]) }}`"
        )
    config = resolve_config(graph.train, graph.name, overrides)
    try:
        splits, normalization = prepare_data(config, Path(path).parent)
    except DataError as problem:  # named at the `.net` line that asked for the data
        span = graph.train.spans.get(problem.key) if graph.train else None
        if span is None:
            raise ValueError(problem.message) from None
        raise CompileError(
            [error("NL2053", problem.message, span, hint=problem.hint)], program.sources
        ) from None
    _check_input_shape(graph, splits, program.sources)
    _check_class_count(graph, config, splits, program.sources)
    _check_vocabulary(graph, splits.tokenizer, program.sources)
    tokenizer = None if splits.tokenizer is None else splits.tokenizer.to_json()
    module = to_torch(graph, init=config.init.name if config.init else None, seed=config.seed)
    with distributed.joined(config.device) as world:
        if verbose and world.is_main:
            _describe(graph, config, splits, log)
        if config.weights is not None or config.staged:
            try:
                report = transfer.prepare(module, graph, config, Path(path).parent, load=not resume)
            except TransferError as problem:  # the checkpoint: said at the `weights` line
                span = graph.train.spans.get("weights") if graph.train else None
                if span is None:
                    raise
                diagnostic = error("NL2053", problem.message, span, hint=problem.hint)
                raise CompileError([diagnostic], program.sources) from None
            if world.is_main:
                log(report)
        run_dir = Path(world.broadcast(str(_run_dir(config, resume)) if world.is_main else ""))
        metadata = {
            "arguments": graph.arguments,
            "normalization": normalization,
            "processes": world.size,
            **({"tokenizer": tokenizer} if tokenizer else {}),
            "set": dict(settings or {}),
        }
        return fit(
            module,
            splits,
            config,
            run_dir,
            source_text=program.source.text,
            resume=resume,
            log=log,
            weight_names=weight_names(graph),
            metadata=metadata,
            world=world,
            layers=[node.name for node in graph.nodes],
            output_names=[value.name for value in graph.outputs],
            quiet=quiet,
            tracking=tracking,
        )


def _describe(graph: ir.Graph, config: TrainConfig, splits: Any, log: Callable[[str], Any]) -> None:
    """What `netlang train -v` adds before training starts."""
    sizes = {name: len(getattr(splits, name) or ()) for name in ("train", "val", "test")}
    log(graph.summary())
    from netlang.train.state import device_for

    log(f"device: {device_for(config.device)}")
    log(f"config (as config.json records it): {config.dumps()}")
    log("data: " + ", ".join(f"{count} {name}" for name, count in sizes.items()))


def _build(
    path: str | Path,
    model: str | None,
    settings: Mapping[str, str],
    origins: Origins | None = None,
) -> tuple[Any, Any]:
    """The program and the model's graph, `--set` values applied (raises CompileError);
    `origins`: where values were typed other than in their own `--set` (a `--sweep`)."""
    import netlang
    from netlang.semantics.settings import setting_sources, split_settings, value_spans

    program = netlang.load(Path(path))
    name = model or program.default_model()
    arguments, entries = split_settings(settings, program.parameters(name), name, origins)
    # fit: what `check` holds against the model, train holds too
    spans = value_spans(settings, origins)
    graph, diagnostics = program.build(
        name, arguments, train_settings=entries, fit=True, argument_spans=spans
    )
    if graph is None:
        sources = {**program.sources, **setting_sources(settings, origins)}
        raise CompileError(diagnostics, sources)
    return program, graph


def check_settings(
    path: str | Path, model: str | None, settings: Mapping[str, str], origins: Origins
) -> None:
    """Raise CompileError where the file with these values does not compile (a sweep checks
    each variant before it trains the first)."""
    _build(path, model, settings, origins)


def planned_run_dir(
    path: str | Path,
    model: str | None,
    overrides: Mapping[str, Any] | None,
    resume: bool,
    settings: Mapping[str, str] | None = None,
) -> Path:
    """The run directory train_file will use (a launcher names it once for all its workers)."""
    graph = _build(path, model, settings or {})[1]
    return _run_dir(resolve_config(graph.train, graph.name, overrides), resume)


class DataError(ValueError):
    """Data that cannot be read at run time; `key` is the train entry that asked for it."""

    def __init__(self, key: str, problem: Exception) -> None:
        super().__init__(str(problem))
        self.key, self.message = key, str(problem)
        self.hint: str | None = getattr(problem, "hint", None)  # data.download.MissingData's


def prepare_data(config: TrainConfig, base_dir: Path) -> tuple[Any, dict[str, Any] | None]:
    """The splits, normalised with statistics of the train split; returns them with the
    statistics as {"kind", "mean", "std"}, for several inputs (`config.inputs`) {"kind",
    "inputs": {name: {"mean", "std"}}} over the float ones (None when not normalised)."""
    from netlang.data import load_data

    if config.data is None:
        raise ValueError(
            f"the train section of {config.model} names no data: add e.g. "
            "`data digits(split = [0.8, 0.1, 0.1])`"
        )
    try:
        inputs = {"inputs": config.inputs} if config.inputs else {}  # several: named arrays
        splits = load_data(config.data, seed=config.seed, base_dir=base_dir, **inputs)
    except (ValueError, OSError) as problem:
        raise DataError("data", problem) from None
    if config.test_data is not None:
        try:
            test = _test_split(config.test_data, config.seed, base_dir, inputs)
        except (ValueError, OSError) as problem:
            raise DataError("test_data", problem) from None
        splits = replace(splits, test=test)
    if config.classes is not None:
        splits = replace(splits, classes=list(config.classes))
    if splits.inputs is not None:
        return normalized_inputs(splits, config.normalize)
    if splits.train.x.dtype == object:
        return _tokenized(splits, config.tokenize or Call("words")), None
    if config.normalize == "none" or splits.train.x.dtype.kind != "f":
        return splits, None
    scaler = scaler_for(config.normalize, splits.train.x)
    scaled = {
        name: None if ds is None else replace(ds, x=scaler(ds.x))
        for name, ds in (("train", splits.train), ("val", splits.val), ("test", splits.test))
    }
    return replace(splits, **scaled), {"kind": config.normalize, **scaler.to_metadata()}


def normalized_inputs(splits: Any, kind: str) -> tuple[Any, dict[str, Any] | None]:
    """Several inputs: each float one normalised with its own train statistics (integer ones,
    token ids, as they are); the statistics by input name."""
    first = splits.train.x
    floats = [name for name, a in first.arrays.items() if a.dtype.kind == "f" and a.ndim >= 2]
    if kind == "none" or not floats:
        return splits, None
    scalers = {name: scaler_for(kind, first.arrays[name]) for name in floats}

    def scaled(ds: Any) -> Any:
        if ds is None:
            return None
        return replace(ds, x=ds.x.replace(**{n: s(ds.x.arrays[n]) for n, s in scalers.items()}))

    parts = {name: scaled(getattr(splits, name)) for name in ("train", "val", "test")}
    statistics = {name: s.to_metadata() for name, s in scalers.items()}
    return replace(splits, **parts), {"kind": kind, "inputs": statistics}


def scaler_for(kind: str, x: Any) -> Any:
    """The train split's Standardizer ("standardize"), or min-max scaling to [0, 1]."""
    from netlang.data import Standardizer

    return Standardizer.fit(x) if kind == "standardize" else _unit_scaler(x)


def _tokenized(splits: Any, call: Call) -> Any:
    """Fit the tokenizer on the training texts only, then encode every split with it."""
    from netlang.data.tokenize import fit_tokenizer
    from netlang.semantics.train_schema import SCHEMA

    table: Any = SCHEMA["tokenize"]
    tokenizer = fit_tokenizer(call.name, call.bind(table[call.name]), list(splits.train.x))
    encoded = {
        name: None if ds is None else replace(ds, x=tokenizer.encode(list(ds.x)))
        for name, ds in (("train", splits.train), ("val", splits.val), ("test", splits.test))
    }
    return replace(splits, **encoded, input_shape=(tokenizer.length,), tokenizer=tokenizer)


def _check_input_shape(graph: ir.Graph, splits: Any, sources: Mapping[str, Any]) -> None:
    """The data's samples must have the shape each model input declares: a mismatch is the
    user's (a 3-channel model on 1-channel digits), said at the `data` line, not a matmul error.
    Several inputs: each input's array, its element kind too (floats or token ids)."""
    from netlang.semantics.train_inputs import shape_mismatch

    if graph.train is None or not graph.inputs:
        return
    shapes = splits.input_shapes or {graph.inputs[0].name: splits.input_shape}
    kinds = (
        {} if splits.inputs is None else {n: a.dtype.kind for n, a in splits.train.x.arrays.items()}
    )
    for value in graph.inputs:
        given = "the data" if len(shapes) == 1 else f"the data's {value.name}"
        found = shapes.get(value.name)
        problem = (
            None if found is None else shape_mismatch(value, found, given, kinds.get(value.name))
        )
        if problem is None:
            continue
        span = graph.train.spans.get("data") or graph.train.span
        if span is None:
            raise ValueError(problem[0])
        raise CompileError([error("NL2054", problem[0], span, hint=problem[1])], sources)


# task -> the axis of its first output that holds one score per class
CLASS_AXIS = {"classification": 1, "sequence": 2, "segmentation": 1}


def _check_class_count(
    graph: ir.Graph, config: TrainConfig, splits: Any, sources: Mapping[str, Any]
) -> None:
    """A classifier's output must have one score per class of the data: `check` knows the
    count of the built-in sets only; here the data is read (an image folder of 3 classes under a
    10-way head would train, report 10 classes, and ship no names; a class id past the head is
    an index error in the loss)."""
    import numpy as np

    from netlang.tasks import infer_task

    task = infer_task(config.task, config.loss.name if config.loss else None, splits)
    shape, y = graph.outputs[0].type.shape, splits.train.y
    if task == "regression":
        _check_target_width(
            graph, y, graph.train.spans.get("data") if graph.train else None, sources
        )
    axis = CLASS_AXIS.get(task)
    if axis is None or len(shape) <= axis or not isinstance(shape[axis], int) or y.size == 0:
        return
    width, labels = shape[axis], y[y >= 0]  # -100: an unlabelled time step
    names = list(splits.classes or [])
    count = max(len(names), int(labels.max()) + 1 if labels.size else 0)
    if width == count or (width == 1 and count <= 2 and task == "classification"):
        return
    source = config.data.name if config.data is not None else "the data"
    named = f" ({', '.join(map(str, names))})" if 0 < len(names) <= 12 else ""
    message = (
        f"the output {graph.outputs[0].name} has {width} classes but {source} has {count}{named}"
    )
    if not names:
        message += f": its class ids go up to {int(np.max(labels))}"
    hint = f"set the model's class count to {count}"
    span = graph.train.spans.get("data") if graph.train else None
    if span is None:
        raise ValueError(f"{message}; {hint}")
    raise CompileError([error("NL2052", message, span, hint=hint)], sources)


def _check_target_width(graph: ir.Graph, y: Any, span: Any, sources: Mapping[str, Any]) -> None:
    """A regression's output gives one number per target: [N, 2] against one label column is
    the user's, said at the `data` line, not a view error in the loss."""
    import math

    shape = graph.outputs[0].type.shape
    if not all(isinstance(d, int) for d in shape[1:]):
        return
    width, targets = math.prod(shape[1:]), math.prod(y.shape[1:])
    if width == targets:
        return
    message = (
        f"the output {graph.outputs[0].name} gives {width} numbers a sample, and the data's "
        f"targets are {targets}"
    )
    hint = f"end the model with linear({targets})"
    if span is None:
        raise ValueError(f"{message}; {hint}")
    raise CompileError([error("NL2052", message, span, hint=hint)], sources)


def _check_vocabulary(graph: ir.Graph, tokenizer: Any, sources: Mapping[str, Any]) -> None:
    """Token ids must fit the model's first embedding table; said at the `tokenize` line (the
    ids the training texts gave are known only now)."""
    if tokenizer is None:
        return
    size = tokenizer.size
    tables = [n for n in graph.nodes if n.op == "embedding"]
    if not tables or tables[0].attrs["num"] >= size:
        return
    message = (
        f"the tokenizer has {size} ids but embedding `{tables[0].name}` has room for "
        f"{tables[0].attrs['num']}"
    )
    hint = "raise the model's vocabulary or lower tokenize's vocab"
    spans = graph.train.spans if graph.train else {}
    span = spans.get("tokenize") or spans.get("data")
    if span is None:
        raise ValueError(f"{message}: {hint}")
    raise CompileError([error("NL2054", message, span, hint=hint)], sources)


def _test_split(call: Call, seed: int, base_dir: Path, inputs: dict[str, Any]) -> Any:
    """All of `test_data`: the source's own test split if it has one, else every sample."""
    from netlang.data import load_data

    if "split" not in call.kwargs:
        call = Call(call.name, call.args, {**call.kwargs, "split": 1.0})
    loaded = load_data(call, seed=seed, base_dir=base_dir, **inputs)
    return loaded.test if loaded.test is not None else loaded.train


def _unit_scaler(x: Any) -> Any:
    """Min-max scaling to [0, 1] per channel, as a Standardizer (mean = min, std = max - min)."""
    import numpy as np

    from netlang.data import Standardizer

    axes = (0, *range(2, x.ndim))
    low, high = x.min(axis=axes), x.max(axis=axes)
    span = np.where(high > low, high - low, 1.0)
    return Standardizer(low.astype(np.float32), span.astype(np.float32))


def weight_names(graph: ir.Graph) -> list[str]:
    """The state_dict names of connection weights (layers that take a weight init), for L1/L2."""
    return [
        f"{node.name}.{name}"
        for node in graph.nodes
        if "init" in REGISTRY[node.op].tags
        for name in node.params
        if name.startswith("weight")
    ]


def _run_dir(config: TrainConfig, resume: bool) -> Path:
    if config.out is not None:
        return Path(config.out)
    if resume:
        runs = sorted(Path("runs").glob(f"{config.model}-*"))
        if not runs:
            raise ValueError(
                f"nothing to resume: no runs/{config.model}-* folder; name the run with --out"
            )
        return runs[-1]
    return Path("runs") / f"{config.model}-{time.strftime('%Y%m%d-%H%M%S')}"
