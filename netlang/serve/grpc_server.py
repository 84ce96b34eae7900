"""The Open Inference Protocol's gRPC API (KServe V2 `inference.GRPCInferenceService`), served
beside HTTP with `--grpc-port`: grpc.aio on the app's own event loop, so the same models,
schedulers (a gRPC and an HTTP request can share a batch), guards and metrics answer both.

Infer requests go through `app.run_infer`, as HTTP's do, after `grpc_tensors` rewrites them as
their HTTP body; every refusal is the HTTP path's `ServeError`, sent with the gRPC status code
that corresponds to its HTTP status and the same message. Limits: a message may be as large as
an HTTP body (`--max-body-bytes`; gRPC itself refuses more with RESOURCE_EXHAUSTED), metadata as
large as HTTP headers, a connection's handshake takes at most `--header-timeout`, idle
connections are closed, dead peers are found by keepalive pings, and a client's deadline ends
its call (queued or running) with DEADLINE_EXCEEDED. The bearer token (`--token-file`) is asked
for as `authorization` metadata, except by ServerLive and ServerReady (HTTP's health probes).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import grpc
from grpc import aio
from prometheus_client import Counter

from netlang.serve.app import App, ServedModel, run_infer, server_metadata
from netlang.serve.grpc_tensors import http_body, infer_response
from netlang.serve.grpc_v2 import grpc_predict_v2_pb2 as pb
from netlang.serve.grpc_v2 import grpc_predict_v2_pb2_grpc as pb_grpc
from netlang.serve.guards import MAX_HEADER_BYTES
from netlang.serve.errors import ServeError

log = logging.getLogger("netlang.serve")
Message = TypeVar("Message")
Handler = Callable[[Any, Any, aio.ServicerContext], Awaitable[Message]]
IDLE_CONNECTION_MS = 300_000  # an idle client reconnects on its next call
KEEPALIVE_MS = 60_000  # a ping this often on a quiet connection; no answer in 20 s: dropped
KEEPALIVE_TIMEOUT_MS = 20_000

STATUS_CODES = {
    400: grpc.StatusCode.INVALID_ARGUMENT,
    401: grpc.StatusCode.UNAUTHENTICATED,
    403: grpc.StatusCode.PERMISSION_DENIED,
    404: grpc.StatusCode.NOT_FOUND,
    413: grpc.StatusCode.RESOURCE_EXHAUSTED,
    500: grpc.StatusCode.INTERNAL,
    503: grpc.StatusCode.UNAVAILABLE,
}


def address(host: str, port: int) -> str:
    return f"[{host.strip('[]')}]:{port}" if ":" in host else f"{host}:{port}"


def _answered(handler: Handler[Message]) -> Handler[Message]:
    """The handler with its refusals sent as gRPC statuses, and every answer counted."""

    @functools.wraps(handler)
    async def answer(self: Servicer, request: Any, context: aio.ServicerContext) -> Message:
        try:
            response = await handler(self, request, context)
        except ServeError as e:
            code = STATUS_CODES.get(e.status, grpc.StatusCode.UNKNOWN)
            self.count(code)
            await context.abort(code, e.message)
        except asyncio.CancelledError:  # the client left, or its deadline passed
            self.count(grpc.StatusCode.CANCELLED)
            raise
        except Exception:
            log.exception("unhandled error in gRPC %s", handler.__name__)
            self.count(grpc.StatusCode.INTERNAL)
            await context.abort(grpc.StatusCode.INTERNAL, "internal server error")
        self.count(grpc.StatusCode.OK)
        return response

    return answer


class Servicer(pb_grpc.GRPCInferenceServiceServicer):
    """The six RPCs of the protocol, answered from the app's models."""

    def __init__(self, app: App, responses: Counter) -> None:
        self.app = app
        self._by_code = {code: responses.labels(code.name) for code in grpc.StatusCode}

    def count(self, code: grpc.StatusCode) -> None:
        self._by_code[code].inc()

    def _authorize(self, context: aio.ServicerContext) -> None:
        if self.app.guards.token is None:
            return
        metadata = context.invocation_metadata() or ()
        given = next((str(v) for k, v in metadata if k == "authorization"), "")
        self.app.guards.check_token(given)

    def _model(self, name: str, version: str, context: aio.ServicerContext) -> ServedModel:
        self._authorize(context)
        return self.app.find_model(name, version or None)

    @_answered
    async def ServerLive(self, request: Any, context: aio.ServicerContext) -> Any:
        return pb.ServerLiveResponse(live=True)

    @_answered
    async def ServerReady(self, request: Any, context: aio.ServicerContext) -> Any:
        return pb.ServerReadyResponse(ready=all(m.ready for m in self.app.models.values()))

    @_answered
    async def ModelReady(self, request: Any, context: aio.ServicerContext) -> Any:
        model = self._model(request.name, request.version, context)
        return pb.ModelReadyResponse(ready=model.ready)

    @_answered
    async def ServerMetadata(self, request: Any, context: aio.ServicerContext) -> Any:
        self._authorize(context)
        return pb.ServerMetadataResponse(**server_metadata())

    @_answered
    async def ModelMetadata(self, request: Any, context: aio.ServicerContext) -> Any:
        """The HTTP document but its parameters (the gRPC message has no field for them)."""
        document = self._model(request.name, request.version, context).metadata()
        tensor = pb.ModelMetadataResponse.TensorMetadata
        return pb.ModelMetadataResponse(
            name=document["name"],
            versions=document["versions"],
            platform=document["platform"],
            inputs=[tensor(**t) for t in document["inputs"]],
            outputs=[tensor(**t) for t in document["outputs"]],
        )

    @_answered
    async def ModelInfer(self, request: Any, context: aio.ServicerContext) -> Any:
        model = self._model(request.model_name, request.model_version, context)
        if not model.ready:
            raise ServeError(503, f"model {model.name!r} is not ready")
        return await run_infer(
            model,
            _message(request),
            lambda parsed, outputs: infer_response(model.name, parsed, outputs, model.classes),
        )


async def _message(request: Any) -> tuple[bytes, str | None]:
    return http_body(request)


class GrpcService:
    """The gRPC server as one of the app's services (started once the models are ready)."""

    def __init__(
        self, app: App, host: str, port: int, *, max_rpcs: int, handshake_s: float, grace_s: float
    ) -> None:
        self.app = app
        self.address = address(host, port)
        self._max_rpcs = max_rpcs
        self._handshake_ms = int(handshake_s * 1000)
        self._grace_s = grace_s
        self._server: aio.Server | None = None
        self._responses = Counter(
            "netlang_grpc_responses",
            "gRPC responses by status code.",
            ("code",),
            registry=app.metrics.registry,
        )

    async def start(self) -> None:
        options = [
            ("grpc.max_receive_message_length", self.app.guards.max_body_bytes),
            ("grpc.max_send_message_length", -1),
            ("grpc.max_metadata_size", MAX_HEADER_BYTES),
            ("grpc.so_reuseport", 0),  # a port in use is an error, never shared
            ("grpc.server_handshake_timeout_ms", self._handshake_ms),
            ("grpc.max_connection_idle_ms", IDLE_CONNECTION_MS),
            ("grpc.keepalive_time_ms", KEEPALIVE_MS),
            ("grpc.keepalive_timeout_ms", KEEPALIVE_TIMEOUT_MS),
        ]
        server = aio.server(options=options, maximum_concurrent_rpcs=self._max_rpcs)
        pb_grpc.add_GRPCInferenceServiceServicer_to_server(
            Servicer(self.app, self._responses), server
        )
        try:
            bound = server.add_insecure_port(self.address)
        except RuntimeError as e:  # (grpcio raises where it used to return 0)
            raise OSError(f"cannot listen for gRPC on {self.address}: {e}") from None
        if bound == 0:
            raise OSError(f"cannot listen for gRPC on {self.address}")
        await server.start()
        self._server = server
        log.info("gRPC API (KServe V2) on %s", self.address)

    async def stop(self) -> None:
        """Refuse new calls, let running ones finish (up to the grace period)."""
        if self._server is not None:
            await self._server.stop(self._grace_s)
