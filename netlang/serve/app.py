"""The V2 inference server as a raw ASGI app: HTTP requests -> health, metadata, config, infer
and metrics responses, for one or more ONNX models.

Raw ASGI rather than a framework so that every byte is under our control: infer bodies are read
with a hard size cap and parsed by hand (binary extension, no Content-Type needed), and every
failure, routing ones included, is a JSON `{"error": ...}` that tritonclient can read. Guards
(`guards.py`) run before routing: header limits, Host (on loopback, against DNS rebinding), browser
Origin, then the bearer token (health probes and CORS preflights are exempt). Inference runs in a
thread pool so probes answer during long runs.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import re
import time
import zlib
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from typing import Any, Protocol, TypeVar

import numpy as np

from netlang.runtime.signature import Signature
from netlang.serve.guards import Guards, preflight_headers
from netlang.serve.metrics import CONTENT_TYPE, Metrics, ModelMetrics
from netlang.serve.protocol import (
    Heads,
    InferRequest,
    Plans,
    ServeError,
    encode_infer,
    parse_infer,
)
from netlang.serve.scheduler import Arrays, BatchScheduler, DirectScheduler

log = logging.getLogger("netlang.serve")
Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
Response = tuple[int, list[tuple[bytes, bytes]], bytes]
Answer = TypeVar("Answer")

OFF_LOOP_BYTES = 1 << 20  # infer bodies larger than this are parsed in a worker thread
_MODEL_PATH = re.compile(
    r"/v2/models/(?P<name>[^/]+)(?:/versions/(?P<version>[^/]+))?(?P<action>/ready|/config|/infer)?"
)


@dataclass(eq=False)
class ServedModel:
    name: str
    signature: Signature
    provider: str
    config: dict[str, Any]
    scheduler: DirectScheduler | BatchScheduler
    warm_up: Callable[[], None]
    metrics: ModelMetrics
    ready: bool = False
    classes: tuple[str, ...] | None = None
    preprocess: dict[str, Any] | None = None  # the "netlang.preprocess" metadata
    plans: Plans = field(default_factory=dict)  # its clients' binary headers, checked once
    heads: Heads = field(default_factory=dict)  # its binary responses' headers, written once

    def metadata(self) -> dict[str, Any]:
        def tensors(specs: Any) -> list[dict[str, Any]]:
            return [{"name": t.name, "datatype": t.datatype.v2, "shape": t.v2_shape} for t in specs]

        document: dict[str, Any] = {
            "name": self.name,
            "versions": ["1"],
            "platform": "onnxruntime_onnx",
            "inputs": tensors(self.signature.inputs),
            "outputs": tensors(self.signature.outputs),
        }
        # protocol parameters are scalars, so the lists travel as JSON text
        parameters: dict[str, Any] = {}
        if self.preprocess:
            if "input" in self.preprocess:
                parameters["input"] = self.preprocess["input"]
            parameters["preprocess"] = json.dumps(self.preprocess, sort_keys=True)
        if self.classes is not None:
            parameters["classes"] = json.dumps(list(self.classes))
        if parameters:
            document["parameters"] = parameters
        return document


class Service(Protocol):
    """Another listener beside HTTP on the app's event loop (the gRPC API, `grpc_server.py`),
    started once every model is ready and stopped before the schedulers are."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


async def run_infer(
    model: ServedModel,
    message: Awaitable[tuple[bytes, str | None]],
    encode: Callable[[InferRequest, Arrays], Answer],
) -> Answer:
    """One infer request, whichever protocol it came by: `message` gives its body as HTTP's
    binary tensor extension carries it (and its Inference-Header-Content-Length), which is
    parsed and checked against the model's signature, run by the model's scheduler and
    `encode`d; the request is counted in the model's metrics."""
    started = time.perf_counter()
    try:
        body, header_length = await message
        parse = functools.partial(parse_infer, body, header_length, model.signature, model.plans)
        if len(body) > OFF_LOOP_BYTES:  # parsing big JSON here would stall health probes
            request = await asyncio.get_running_loop().run_in_executor(None, parse)
        else:
            request = parse()
        outputs = await model.scheduler.submit(request.inputs)
        answer = encode(request, outputs)
    except ServeError as e:
        reason = {503: "REJECTED", 500: "BACKEND"}.get(e.status, "BAD_REQUEST")
        model.metrics.failed(reason)
        raise
    model.metrics.success.inc()
    model.metrics.request_seconds.observe(time.perf_counter() - started)
    return answer


def server_metadata() -> dict[str, Any]:
    try:
        release = version("netlang")
    except PackageNotFoundError:
        release = "unknown"
    extensions = ["binary_tensor_data", "classification", "model_configuration"]
    return {"name": "netlang", "version": release, "extensions": extensions}


def _json(status: int, document: Any) -> Response:
    body = json.dumps(document, separators=(",", ":")).encode()
    return status, [(b"content-type", b"application/json")], body


def _error(status: int, message: str) -> Response:
    return _json(status, {"error": message})


class App:
    """ASGI callable serving `models` under the Open Inference Protocol."""

    def __init__(
        self, models: list[ServedModel], guards: Guards, metrics: Metrics, executor: Executor
    ) -> None:
        self.models = {m.name: m for m in models}
        self.guards = guards
        self.metrics = metrics
        self.executor = executor
        self.services: list[Service] = []  # started with the models, stopped before them
        # the largest body the connection's fast path reads for `respond` (`fast_path.py`)
        self.fast_body_bytes = min(guards.max_body_bytes, OFF_LOOP_BYTES)
        # each model's infer paths, found by a lookup instead of the pattern on every request
        self._infer_paths = {
            path: model
            for model in models
            for path in (
                f"/v2/models/{model.name}/infer",
                f"/v2/models/{model.name}/versions/1/infer",
            )
            if _infer_target(path) == model.name
        }
        self._routes: dict[str, tuple[str, Callable[[], Response]]] = {
            "/v2/health/live": ("GET", lambda: _json(200, {"live": True})),
            "/v2/health/ready": ("GET", self._server_ready),
            "/v2": ("GET", lambda: _json(200, server_metadata())),
            "/metrics": ("GET", self._metrics),
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        status, response_headers, body = await self.respond(
            scope["method"], scope["path"], scope["headers"], receive
        )
        await send({"type": "http.response.start", "status": status, "headers": response_headers})
        await send({"type": "http.response.body", "body": body})

    async def respond(
        self, method: str, path: str, raw_headers: list[tuple[bytes, bytes]], receive: Receive
    ) -> Response:
        """The whole answer to one request, whichever way it came in (the ASGI cycle or the
        connection's fast path for infer, `connection.py`): guards, routing, errors as JSON,
        the response counted, CORS headers and Content-Length added."""
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in raw_headers}
        try:
            status, response_headers, body = await self._handle(
                method, path, raw_headers, headers, receive
            )
        except ServeError as e:
            status, response_headers, body = _error(e.status, e.message)
            response_headers += [(k.encode(), v.encode()) for k, v in e.headers]
        except Exception:
            log.exception("unhandled error in %s %s", method, path[:200])
            status, response_headers, body = _error(500, "internal server error")
        self.metrics.response(status).inc()
        response_headers += self.guards.cors_headers(headers.get("origin"))
        response_headers.append((b"content-length", str(len(body)).encode()))
        if method == "HEAD":  # GET's status and headers, no body (RFC 9110 9.3.2)
            return status, response_headers, b""
        return status, response_headers, body

    def infer_route(self, method: str, path: str) -> ServedModel | None:
        """The served model that `method path` asks to infer with, if it names one (the
        requests the connection's fast path may take; `respond` still checks everything)."""
        return self._infer_paths.get(path) if method == "POST" else None

    async def _handle(
        self,
        method: str,
        path: str,
        raw_headers: list[tuple[bytes, bytes]],
        headers: dict[str, str],
        receive: Receive,
    ) -> Response:
        guards = self.guards
        guards.check_header_limits(raw_headers)
        guards.check_host(headers.get("host", ""))
        guards.check_origin(headers.get("origin"))
        if method == "OPTIONS":  # a CORS preflight: never carries the token
            return 204, preflight_headers(), b""
        if not path.startswith("/v2/health/"):
            guards.check_token(headers.get("authorization", ""))
        if path in self._routes:
            allowed, handler = self._routes[path]
            _check_method(method, allowed)
            return handler()
        model = self._infer_paths.get(path)
        if model is not None:  # (what the pattern below would find, without it)
            _check_method(method, "POST")
            return await self._infer(model, receive, headers)
        match = _MODEL_PATH.fullmatch(path)
        if match is None:
            raise ServeError(404, f"no such endpoint: {path[:200]}")
        model = self.find_model(match["name"], match["version"])
        action = match["action"]
        if action == "/infer":
            _check_method(method, "POST")
            return await self._infer(model, receive, headers)
        _check_method(method, "GET")
        if action == "/ready":
            if not model.ready:
                raise ServeError(400, f"model {model.name!r} is not ready")
            return _json(200, {"name": model.name, "ready": True})
        if action == "/config":
            return _json(200, model.config)
        return _json(200, model.metadata())

    def find_model(self, name: str, version_: str | None) -> ServedModel:
        model = self.models.get(name)
        if model is None:
            raise ServeError(404, f"unknown model {name[:100]!r}")
        if version_ not in (None, "1"):
            raise ServeError(404, f"model {name!r} has no version {version_[:20]!r}; it has '1'")
        return model

    def _server_ready(self) -> Response:
        if all(m.ready for m in self.models.values()):
            return _json(200, {"ready": True})
        return _error(400, "server is not ready")

    def _metrics(self) -> Response:
        return 200, [(b"content-type", CONTENT_TYPE.encode())], self.metrics.render()

    async def _infer(
        self, model: ServedModel, receive: Receive, headers: dict[str, str]
    ) -> Response:
        payload, json_length = await run_infer(
            model,
            _http_message(receive, headers, self.guards.max_body_bytes),
            lambda request, outputs: encode_infer(
                model.name, request, outputs, model.classes, model.heads
            ),
        )
        if json_length is None:
            return 200, [(b"content-type", b"application/json")], payload
        response_headers = [
            (b"content-type", b"application/octet-stream"),
            (b"inference-header-content-length", str(json_length).encode()),
        ]
        return 200, response_headers, payload

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self._start()
                except Exception as e:  # noqa: BLE001 - reported to the ASGI server, which exits
                    await send({"type": "lifespan.startup.failed", "message": str(e)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                for service in self.services:
                    await service.stop()
                for model in self.models.values():
                    await model.scheduler.stop()
                self.executor.shutdown(wait=True)
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _start(self) -> None:
        loop = asyncio.get_running_loop()
        for model in self.models.values():
            await model.scheduler.start()
            try:
                await loop.run_in_executor(self.executor, model.warm_up)
            except Exception:  # noqa: BLE001 - a model may reject zeros; serving can still work
                log.warning("warm-up inference of %s failed; serving anyway", model.name)
            model.ready = True
            log.info("model %s ready on %s", model.name, model.provider)
        for service in self.services:
            await service.start()


def _infer_target(path: str) -> str | None:
    """The model name in an infer path of version 1 or none, as routing reads it."""
    match = _MODEL_PATH.fullmatch(path)
    if match is None or match["action"] != "/infer" or match["version"] not in (None, "1"):
        return None
    return match["name"]


def _check_method(method: str, allowed: str) -> None:
    """405 unless `method` is `allowed`; HEAD goes wherever GET does (health probes use it)."""
    if method != allowed and not (method == "HEAD" and allowed == "GET"):
        listed = "GET, HEAD" if allowed == "GET" else allowed
        raise ServeError(405, "Method Not Allowed", (("allow", listed),))


async def _http_message(
    receive: Receive, headers: dict[str, str], limit: int
) -> tuple[bytes, str | None]:
    body = await _read_body(receive, headers, limit)
    return body, headers.get("inference-header-content-length")


async def _read_body(receive: Receive, headers: dict[str, str], limit: int) -> bytes:
    """The request body, refused with 413 past `limit` bytes (before or after decompression)."""
    declared = headers.get("content-length")
    if declared is not None:
        if not (declared.isascii() and declared.isdigit()):
            raise ServeError(400, "Content-Length must be a non-negative integer")
        if int(declared) > limit:
            raise ServeError(413, f"request body of {declared} bytes exceeds the limit of {limit}")
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ServeError(400, "client disconnected before sending the whole body")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise ServeError(413, f"request body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    encoding = headers.get("content-encoding", "identity").strip().lower()
    if encoding in ("gzip", "deflate"):
        return _decompress(body, limit)
    if encoding not in ("", "identity"):
        raise ServeError(415, f"unsupported Content-Encoding {encoding[:40]!r}")
    return body


def _decompress(body: bytes, limit: int) -> bytes:
    decompressor = zlib.decompressobj(zlib.MAX_WBITS | 32)  # gzip or zlib header, auto-detected
    try:
        data = decompressor.decompress(body, limit + 1)
    except zlib.error:
        raise ServeError(400, "request body is not valid gzip/deflate data") from None
    if len(data) > limit or decompressor.unconsumed_tail:
        raise ServeError(413, f"decompressed request body exceeds the limit of {limit} bytes")
    if not decompressor.eof:
        raise ServeError(400, "compressed request body is truncated")
    return data


def zeros_for(signature: Signature) -> dict[str, np.ndarray]:
    """Warm-up feeds: zeros (empty strings for BYTES), variable dims set to 1."""
    feeds = {}
    for spec in signature.inputs:
        shape = tuple(1 if d is None else d for d in spec.shape)
        if spec.datatype.v2 == "BYTES":
            feeds[spec.name] = np.full(shape, "", dtype=object)
        else:
            feeds[spec.name] = np.zeros(shape, dtype=spec.datatype.numpy)
    return feeds
