"""Open Inference Protocol (KServe V2) infer bodies: raw request bytes -> `InferRequest`, and
result arrays -> response bytes, with Triton's binary tensor data extension in both directions.

The request is parsed by hand from bytes (never by Content-Type, which tritonclient omits or gets
wrong): a JSON header of `Inference-Header-Content-Length` bytes, then the binary blobs of the
inputs that carry `parameters.binary_data_size`, in input order. Every way a body can be wrong is
a `ServeError` with a 4xx status and a message naming the problem.

JSON has no NaN or Infinity: such tokens in a request, and numbers that overflow the input's
datatype (`1e400`, `1e39` for FP32), are refused with a 400. Non-finite *outputs* asked for as
JSON are written as the strings "NaN", "Infinity" and "-Infinity" (the proto3 JSON mapping, which
numpy and so tritonclient's `as_numpy` read back); the binary extension carries them as they are.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from netlang.runtime.signature import DataType, Signature, TensorSpec, datatype_of_array
from netlang.serve.binary_tensors import binary_tensor, in_place, to_binary
from netlang.serve.errors import ServeError as ServeError  # (where callers have imported it)
from netlang.serve.errors import bad
from netlang.serve.json_tensors import (
    NumericText,
    check_frame,
    cut_numeric_arrays,
    parse_numbers,
)

_UNSUPPORTED_REQUEST_PARAMETERS = ("sequence_id", "sequence_start", "sequence_end")
_SHARED_MEMORY = ("shared_memory_region", "shared_memory_byte_size", "shared_memory_offset")
_INTEGER_KINDS = "biu"
_NUMBER_KINDS = "biuf"
_NON_FINITE_JSON = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}


@dataclass(frozen=True, slots=True)
class RequestedOutput:
    name: str
    binary: bool
    classification: int = 0  # top-k "score:index[:label]" strings instead of the tensor


@dataclass(frozen=True, slots=True)
class InferRequest:
    id: str | None
    inputs: dict[str, np.ndarray]
    outputs: tuple[RequestedOutput, ...]


@dataclass(frozen=True, slots=True)
class _Plan:
    """What a header of binary inputs says, checked once: each input's spec, shape, element
    count, blob size and wire dtype (when its blob is read in place as it is), in body order, and
    the outputs asked for."""

    id: str | None
    inputs: tuple[tuple[TensorSpec, tuple[int, ...], int, int, np.dtype | None], ...]
    outputs: tuple[RequestedOutput, ...]
    blob_bytes: int


Plans = dict[bytes, _Plan]  # a header's bytes -> its plan, one table per model
PLAN_HEADER_BYTES = 4096  # longer headers are not remembered (a binary request's is ~200 bytes)
PLANS_KEPT = 64


def parse_infer(
    body: bytes, header_length: str | None, signature: Signature, plans: Plans | None = None
) -> InferRequest:
    """Validate and decode one infer body against the model's signature. With `plans` (the
    model's table), a header whose inputs are all binary is remembered: clients send the same
    header with every request, so its JSON is parsed and checked once and later requests only
    cut their blobs out of the body (the data still checked as each input's datatype needs)."""
    header = _plan_key(body, header_length) if plans is not None else None
    if plans is not None and header is not None:
        plan = plans.get(header)
        if plan is not None and len(body) == len(header) + plan.blob_bytes:
            return _apply(plan, body, len(header))
    request, arrays = _parse_header(body, header_length)
    offset = len(body) if header_length is None else int(header_length)
    parameters = _parameters(request, "request")
    for key in _UNSUPPORTED_REQUEST_PARAMETERS:
        if parameters.get(key):
            raise bad(f"unsupported parameter {key!r}: sequence batching is not implemented")
    binary_default = parameters.get("binary_data_output", False)
    if not isinstance(binary_default, bool):
        raise bad("parameter 'binary_data_output' must be a boolean")
    request_id = request.get("id")
    if request_id is not None and not isinstance(request_id, str):
        raise bad("'id' must be a string")

    raw_inputs = request.get("inputs")
    if not isinstance(raw_inputs, list) or not raw_inputs:
        raise bad("'inputs' must be a non-empty list")
    specs = {t.name: t for t in signature.inputs}
    inputs: dict[str, np.ndarray] = {}
    steps = []  # the plan's inputs, while every input so far is binary
    for raw in raw_inputs:
        spec, shape = _input_header(raw, specs, inputs)
        start = offset
        array, offset = _input_data(raw, spec, shape, body, offset, arrays)
        if "binary_data_size" in raw.get("parameters", {}):
            steps.append((spec, shape, math.prod(shape), offset - start, in_place(spec)))
        inputs[spec.name] = array
    if offset != len(body):
        raise bad(f"{len(body) - offset} bytes of binary data were not claimed by any input")
    missing = [name for name in specs if name not in inputs]
    if missing:
        raise bad(f"missing input(s): {', '.join(missing)}")
    _check_batch_agrees(inputs, signature)
    outputs = _requested_outputs(request, signature, binary_default)
    if plans is not None and header is not None and len(steps) == len(inputs):
        if len(plans) >= PLANS_KEPT:  # clients that vary their headers: start afresh
            plans.clear()  # (atomic: parses of large bodies run in worker threads)
        blob_bytes = len(body) - len(header)
        plans[header] = _Plan(request_id, tuple(steps), outputs, blob_bytes)
    return InferRequest(request_id, inputs, outputs)


def _plan_key(body: bytes, header_length: str | None) -> bytes | None:
    """The header's bytes, when it is short enough to be remembered."""
    if header_length is None or not (header_length.isascii() and header_length.isdigit()):
        return None
    end = int(header_length)
    return body[:end] if end <= min(len(body), PLAN_HEADER_BYTES) else None


def _apply(plan: _Plan, body: bytes, offset: int) -> InferRequest:
    """A remembered header's request: each input's blob cut out of this body, without a copy."""
    view = memoryview(body)
    inputs = {}
    for spec, shape, count, size, wire in plan.inputs:
        blob = view[offset : offset + size]  # (its size was checked with the plan's header)
        if wire is None:
            inputs[spec.name] = binary_tensor(blob, spec, shape, count)
        else:
            inputs[spec.name] = np.frombuffer(blob, dtype=wire).reshape(shape)
        offset += size
    return InferRequest(plan.id, inputs, plan.outputs)


def _parse_header(
    body: bytes, header_length: str | None
) -> tuple[dict[str, Any], dict[str, NumericText]]:
    """The JSON header as an object, with its large numeric arrays cut out (`json_tensors`)."""
    end = len(body)
    if header_length is not None:
        if not (header_length.isascii() and header_length.isdigit()):
            raise bad("Inference-Header-Content-Length must be a non-negative integer")
        end = int(header_length)
        if end > len(body):
            raise bad(f"Inference-Header-Content-Length {end} exceeds the body length {len(body)}")
    header, arrays = cut_numeric_arrays(body[:end] if header_length is not None else body)
    try:
        request = json.loads(header, parse_constant=_refuse_constant)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        raise bad(f"malformed JSON in the request header: {type(e).__name__}") from None
    if not isinstance(request, dict):
        raise bad("the request header must be a JSON object")
    return request, arrays


def _refuse_constant(token: str) -> None:
    raise bad(f"{token} is not a JSON number; send finite numbers (or binary data)")


def _parameters(owner: dict[str, Any], what: str) -> dict[str, Any]:
    parameters = owner.get("parameters", {})
    if not isinstance(parameters, dict):
        raise bad(f"'parameters' of the {what} must be an object")
    return parameters


def _input_header(
    raw: Any, specs: dict[str, TensorSpec], seen: dict[str, np.ndarray]
) -> tuple[TensorSpec, tuple[int, ...]]:
    if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
        raise bad("each input must be an object with a string 'name'")
    name = raw["name"]
    if name not in specs:
        raise bad(f"unknown input {name!r}; the model's inputs are: {', '.join(specs)}")
    if name in seen:
        raise bad(f"input {name!r} is given twice")
    spec = specs[name]
    if raw.get("datatype") != spec.datatype.v2:
        raise bad(
            f"input {name!r} has datatype {raw.get('datatype')!r}; the model expects "
            f"{spec.datatype.v2}"
        )
    shape = raw.get("shape")
    if not isinstance(shape, list) or not all(type(d) is int and d >= 0 for d in shape):
        raise bad(f"input {name!r}: 'shape' must be a list of non-negative integers")
    if len(shape) != len(spec.shape) or any(
        want is not None and want != got for want, got in zip(spec.shape, shape, strict=True)
    ):
        raise bad(f"input {name!r} has shape {shape}; the model expects {spec.v2_shape}")
    return spec, tuple(shape)


def _input_data(
    raw: dict[str, Any],
    spec: TensorSpec,
    shape: tuple[int, ...],
    body: bytes,
    offset: int,
    arrays: dict[str, NumericText],
) -> tuple[np.ndarray, int]:
    parameters = _parameters(raw, f"input {spec.name!r}")
    if any(key in parameters for key in _SHARED_MEMORY):
        raise bad("shared-memory inputs are not supported")
    count = math.prod(shape)
    if "binary_data_size" not in parameters:
        if "data" not in raw:
            raise bad(f"input {spec.name!r} has neither 'data' nor 'binary_data_size'")
        data = raw["data"]
        if isinstance(data, str) and data in arrays:
            return _numeric_tensor(arrays[data], spec, shape, count), offset
        return _json_tensor(data, spec, shape, count), offset
    size = parameters["binary_data_size"]
    if type(size) is not int or size < 0:
        raise bad(f"input {spec.name!r}: 'binary_data_size' must be a non-negative integer")
    if offset + size > len(body):
        raise bad(
            f"input {spec.name!r} claims {size} bytes of binary data but only "
            f"{len(body) - offset} remain"
        )
    blob = memoryview(body)[offset : offset + size]  # the array will read the body in place
    return binary_tensor(blob, spec, shape, count), offset + size


def _numeric_tensor(
    array: NumericText, spec: TensorSpec, shape: tuple[int, ...], count: int
) -> np.ndarray:
    """A numbers-only `data` array parsed piecewise into numpy (same checks as `_json_tensor`)."""
    target = np.dtype(spec.datatype.numpy)
    if target.kind not in "iuf":  # numbers for BOOL or BYTES: the general path says why not
        return _json_tensor(json.loads(array.json()), spec, shape, count)
    wide = target if target.itemsize >= 4 else np.dtype(np.float64)
    parse_as = {"f": wide, "i": np.dtype(np.int64), "u": np.dtype(np.uint64)}[target.kind]
    try:
        check_frame(array, shape)
        values = parse_numbers(array, shape, parse_as, _refuse_constant)
    except ValueError as e:
        raise bad(f"input {spec.name!r}: {e}") from None
    return _coerce(values, spec.datatype, spec.name)


def _json_tensor(data: Any, spec: TensorSpec, shape: tuple[int, ...], count: int) -> np.ndarray:
    datatype = spec.datatype
    if not isinstance(data, list):
        raise bad(f"input {spec.name!r}: 'data' must be a (possibly nested) list")
    try:
        array = np.array(data, dtype=object if datatype.v2 == "BYTES" else None)
    except (ValueError, TypeError):
        raise bad(f"input {spec.name!r}: 'data' is ragged or not numeric") from None
    if array.size != count:
        raise bad(
            f"input {spec.name!r}: {array.size} data elements for shape {list(shape)} "
            f"({count} elements)"
        )
    array = array.reshape(shape)
    if datatype.v2 == "BYTES":
        if not all(isinstance(v, str) for v in array.flat):
            raise bad(f"input {spec.name!r}: BYTES data must be strings")
        return array
    if datatype.v2 != "BOOL" and array.dtype.kind in "biuf" and _holds_bool(data):
        raise bad(f"input {spec.name!r}: JSON true/false cannot be {datatype.v2} data")
    return _coerce(array, datatype, spec.name)


def _holds_bool(data: list[Any]) -> bool:
    """Whether a nested list holds a JSON true or false: numpy reads [1.5, true] as floats, but
    Triton refuses a boolean in a numeric tensor (and a number in a BOOL one: `_coerce`)."""
    rows = [data]
    while rows:
        for value in rows.pop():
            if type(value) is bool:
                return True
            if type(value) is list:
                rows.append(value)
    return False


def _coerce(array: np.ndarray, datatype: DataType, name: str) -> np.ndarray:
    """JSON numbers -> the model dtype, refusing lossy kinds (floats as ints, numbers as bools)."""
    target = np.dtype(datatype.numpy)
    allowed = (
        "b" if target.kind == "b" else _INTEGER_KINDS if target.kind in "iu" else _NUMBER_KINDS
    )
    if array.size and array.dtype.kind not in allowed:
        raise bad(f"input {name!r}: data of kind {array.dtype.kind!r} cannot be {datatype.v2}")
    if target.kind in "iu" and array.size:
        info = np.iinfo(target)
        if int(array.min()) < info.min or int(array.max()) > info.max:
            raise bad(f"input {name!r}: a value is out of range for {datatype.v2}")
    if target.kind != "f":
        return array.astype(target)
    with np.errstate(over="ignore"):
        converted = array.astype(target, copy=False)
    if not np.isfinite(converted).all():
        raise bad(f"input {name!r}: a value is out of range for {datatype.v2} (not finite)")
    return converted


def _check_batch_agrees(inputs: dict[str, np.ndarray], signature: Signature) -> None:
    if not signature.batchable:
        return
    rows = {int(a.shape[0]) for a in inputs.values()}
    if len(rows) > 1:
        raise bad(f"inputs disagree on the batch size (dim 0): {sorted(rows)}")


def _requested_outputs(
    request: dict[str, Any], signature: Signature, binary_default: bool
) -> tuple[RequestedOutput, ...]:
    raw_outputs = request.get("outputs")
    if raw_outputs is None or raw_outputs == []:
        return tuple(RequestedOutput(t.name, binary_default) for t in signature.outputs)
    if not isinstance(raw_outputs, list):
        raise bad("'outputs' must be a list")
    known = [t.name for t in signature.outputs]
    outputs: list[RequestedOutput] = []
    for raw in raw_outputs:
        if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
            raise bad("each requested output must be an object with a string 'name'")
        name = raw["name"]
        if name not in known:
            raise bad(f"unknown output {name!r}; the model's outputs are: {', '.join(known)}")
        if any(o.name == name for o in outputs):
            raise bad(f"output {name!r} is requested twice")
        parameters = _parameters(raw, f"output {name!r}")
        classification = parameters.get("classification", 0)
        if isinstance(classification, bool) or not isinstance(classification, int):
            raise bad(f"output {name!r}: 'classification' must be a positive integer")
        if classification < 0:
            raise bad(f"output {name!r}: 'classification' must be a positive integer")
        if any(key in parameters for key in _SHARED_MEMORY):
            raise bad("shared-memory outputs are not supported")
        binary = parameters.get("binary_data", binary_default)
        if not isinstance(binary, bool):
            raise bad(f"output {name!r}: 'binary_data' must be a boolean")
        outputs.append(RequestedOutput(name, binary, classification))
    return tuple(outputs)


def classify(array: np.ndarray, k: int, classes: tuple[str, ...] | None) -> np.ndarray:
    """Triton's classification extension: the k largest scores along the last axis of each row,
    best first, as "score:index" strings ("score:index:label" when the model names its classes);
    scores are printed like C++ std::to_string, as Triton does."""
    if array.ndim == 0 or array.dtype.kind not in _NUMBER_KINDS:
        raise bad("classification needs a numeric output with a class axis")
    k = min(k, array.shape[-1])
    order = np.argsort(-array, axis=-1, kind="stable")[..., :k]
    labelled = classes is not None and len(classes) == array.shape[-1]
    rows = np.empty(order.shape, dtype=object)
    for position in np.ndindex(order.shape):
        index = int(order[position])
        score = float(array[position[:-1] + (index,)])
        text = f"{score:f}:{index}"
        rows[position] = f"{text}:{classes[index]}" if labelled else text  # type: ignore[index]
    return rows


Heads = dict[tuple[object, ...], tuple[bytes, bytes]]  # response headers but their ids, per model


def encode_infer(
    model_name: str,
    request: InferRequest,
    results: dict[str, np.ndarray],
    classes: tuple[str, ...] | None = None,
    heads: Heads | None = None,
) -> tuple[bytes, int | None]:
    """Response body, and the JSON header's length when binary blobs follow it (else None);
    `classes` label the answers to a classification request. With `heads` (the model's table),
    the header of binary outputs is written once per outputs asked and their shapes: only the
    request's id changes from one response to the next."""
    key = None
    if heads is not None and all(w.binary and not w.classification for w in request.outputs):
        arrays = [results[w.name] for w in request.outputs]
        if all(a.dtype.kind not in "OSU" for a in arrays):  # (BYTES blobs vary in size)
            key = (request.outputs, *((a.dtype.str, a.shape) for a in arrays))
            cut = heads.get(key)
            if cut is not None:
                header = _with_id(cut, request.id)
                # (numbers already little-endian: their C-order bytes are the wire's)
                blobs = [
                    a.tobytes() if a.dtype.str[0] != ">" else to_binary(a, datatype_of_array(a))
                    for a in arrays
                ]
                return b"".join([header, *blobs]), len(header)
    entries, blobs = [], []
    for wanted in request.outputs:
        array = results[wanted.name]
        if wanted.classification:
            array = classify(array, wanted.classification, classes)
        datatype = datatype_of_array(array)
        entry: dict[str, Any] = {
            "name": wanted.name,
            "datatype": datatype.v2,
            "shape": list(array.shape),
        }
        if wanted.binary:
            blob = to_binary(array, datatype)
            entry["parameters"] = {"binary_data_size": len(blob)}
            blobs.append(blob)
        else:
            entry["data"] = _to_json(array, datatype)
        entries.append(entry)
    response: dict[str, Any] = {"model_name": model_name, "model_version": "1"}
    if request.id is not None:
        response["id"] = request.id
    response["outputs"] = entries
    header = json.dumps(response, separators=(",", ":"), allow_nan=False).encode()
    if key is not None and heads is not None:
        if len(heads) >= PLANS_KEPT:
            heads.clear()
        # the same JSON without the id, cut where the id goes (JSON escapes a quote in a name)
        response.pop("id", None)
        head, _, outputs = (
            json.dumps(response, separators=(",", ":")).encode().partition(b',"outputs":')
        )
        heads[key] = (head, outputs)
    if not blobs:
        return header, None
    return b"".join([header, *blobs]), len(header)


def _with_id(cut: tuple[bytes, bytes], request_id: str | None) -> bytes:
    head, outputs = cut
    if request_id is None:
        return b"".join((head, b',"outputs":', outputs))
    return b"".join((head, b',"id":', json.dumps(request_id).encode(), b',"outputs":', outputs))


def _to_json(array: np.ndarray, datatype: DataType) -> list[Any]:
    flat = array.reshape(-1)
    if datatype.v2 == "BYTES":
        return [v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in flat]
    values = flat.tolist()
    if flat.dtype.kind == "f" and not np.isfinite(flat).all():
        for i in np.flatnonzero(~np.isfinite(flat)).tolist():
            values[i] = _NON_FINITE_JSON[str(values[i])]
    return values
