"""gRPC infer messages <-> the HTTP path's forms: a `ModelInferRequest` -> the body of the HTTP
request it corresponds to, and result arrays -> a `ModelInferResponse`.

One truth for both protocols: the gRPC request is not decoded on its own but rewritten as the
HTTP body with Triton's binary tensor extension, which `protocol.parse_infer` then checks and
decodes as it does every HTTP request (names, datatypes, shapes, element counts, value ranges,
missing inputs: the same checks and the same messages). `raw_input_contents` become binary
blobs, as do `bytes_contents` (their length-prefixed form); the other typed contents become the
JSON `"data"` arrays that are their HTTP equivalent (so integers are range-checked and NaN is
refused as in JSON). A header of raw inputs is the same bytes for every request of one shape, so
the model's remembered header plans answer it without parsing JSON. Only what HTTP cannot say
wrong is checked here: where the data lies (raw or typed contents, and which field).
"""

from __future__ import annotations

import json
import struct
from typing import Any

import numpy as np

from netlang.runtime.signature import datatype_of_array
from netlang.serve.grpc_v2 import grpc_predict_v2_pb2 as pb
from netlang.serve.binary_tensors import to_binary
from netlang.serve.errors import bad
from netlang.serve.protocol import InferRequest, classify

# the contents field that carries each datatype (FP16 and BF16 have none: raw contents only)
CONTENTS_FIELD = {
    "BOOL": "bool_contents",
    "INT8": "int_contents",
    "INT16": "int_contents",
    "INT32": "int_contents",
    "INT64": "int64_contents",
    "UINT8": "uint_contents",
    "UINT16": "uint_contents",
    "UINT32": "uint_contents",
    "UINT64": "uint64_contents",
    "FP32": "fp32_contents",
    "FP64": "fp64_contents",
    "BYTES": "bytes_contents",
}


def http_body(request: pb.ModelInferRequest) -> tuple[bytes, str]:
    """The HTTP binary-extension body (JSON header, then blobs) and its header's length."""
    raw = request.raw_input_contents
    if raw and len(raw) != len(request.inputs):
        raise bad(
            f"raw_input_contents has {len(raw)} entries for {len(request.inputs)} inputs; "
            "send one per input, in the inputs' order"
        )
    inputs: list[dict[str, Any]] = []
    blobs: list[bytes] = []
    for i, tensor in enumerate(request.inputs):
        entry: dict[str, Any] = {
            "name": tensor.name,
            "datatype": tensor.datatype,
            "shape": list(tensor.shape),
        }
        parameters = _parameters(tensor.parameters)
        if raw:
            if tensor.HasField("contents") and tensor.contents.ListFields():
                raise bad(
                    f"input {tensor.name!r} has contents while raw_input_contents is used; "
                    "send every input's data one way"
                )
            blob = raw[i]
        else:
            blob = _typed_contents(tensor, entry)
        if blob is not None:
            parameters["binary_data_size"] = len(blob)
            blobs.append(blob)
        if parameters:
            entry["parameters"] = parameters
        inputs.append(entry)
    header: dict[str, Any] = {}
    if request.id:
        header["id"] = request.id
    if request.parameters:
        header["parameters"] = _parameters(request.parameters)
    header["inputs"] = inputs
    if request.outputs:
        header["outputs"] = [_requested_output(o) for o in request.outputs]
    text = json.dumps(header, separators=(",", ":"), allow_nan=True).encode()
    return b"".join([text, *blobs]), str(len(text))


def _typed_contents(tensor: Any, entry: dict[str, Any]) -> bytes | None:
    """A typed input's data: put in `entry` as JSON data, or returned as a binary blob (BYTES).
    No contents at all are an empty array, which the HTTP checks count against the shape."""
    name, datatype = tensor.name, tensor.datatype
    if datatype in ("FP16", "BF16"):
        raise bad(f"input {name!r} is {datatype}, which has no contents field: send it raw")
    expected = CONTENTS_FIELD.get(datatype)
    if expected is None:  # not a protocol datatype: the HTTP checks name it
        return None
    given = [field.name for field, _ in tensor.contents.ListFields()]
    if given and given != [expected]:
        raise bad(
            f"input {name!r} of datatype {datatype} carries its data in contents.{expected}, "
            f"not in {', '.join(f'contents.{g}' for g in given)}"
        )
    values = getattr(tensor.contents, expected)
    if expected == "bytes_contents":
        return b"".join(struct.pack("<I", len(v)) + v for v in values)
    entry["data"] = list(values)
    return None


def _parameters(parameters: Any) -> dict[str, Any]:
    """Protocol parameters as the JSON scalars HTTP carries."""
    out = {}
    for key, parameter in parameters.items():
        choice = parameter.WhichOneof("parameter_choice")
        out[key] = None if choice is None else getattr(parameter, choice)
    return out


def _requested_output(output: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": output.name}
    if output.parameters:
        entry["parameters"] = _parameters(output.parameters)
    return entry


def infer_response(
    model_name: str,
    request: InferRequest,
    results: dict[str, np.ndarray],
    classes: tuple[str, ...] | None,
) -> pb.ModelInferResponse:
    """The outputs asked for, in raw contents (as Triton answers): each one's bytes as the
    binary extension carries them; classification strings as BYTES."""
    response = pb.ModelInferResponse(model_name=model_name, model_version="1", id=request.id or "")
    for wanted in request.outputs:
        array = results[wanted.name]
        if wanted.classification:
            array = classify(array, wanted.classification, classes)
        datatype = datatype_of_array(array)
        response.outputs.add(name=wanted.name, datatype=datatype.v2, shape=array.shape)
        response.raw_output_contents.append(to_binary(array, datatype))
    return response
