"""Server assembly: a `ServeConfig` (CLI options) -> loaded models -> the ASGI app under uvicorn.

With `workers > 1` uvicorn starts processes that each build their own app (and sessions) from the
config, passed through an environment variable to `app_from_environment`; their metrics are added
up through files in a directory the parent owns (`workers.py`). Uvicorn handles
SIGTERM/SIGINT by refusing new connections and letting in-flight requests finish ("draining")
before the app's lifespan shutdown stops the schedulers. Connections are uvicorn's httptools
protocol with read deadlines (`connection.py`), on uvloop where it is installed (uvicorn's
"auto" loop); past `max_connections` open ones, new requests get 503.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import os
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

from netlang.runtime.signature import Signature
from netlang.serve.app import App, ServedModel, zeros_for
from netlang.serve.connection import ConnectionLimits, GuardedProtocol
from netlang.serve.guards import Guards, is_loopback, read_token
from netlang.serve.metrics import Metrics
from netlang.serve.scheduler import Arrays, BatchScheduler, DirectScheduler, time_calls

log = logging.getLogger("netlang.serve")
CONFIG_ENV = "NETLANG_SERVE_CONFIG"
GRACEFUL_SHUTDOWN_S = 30
SMALL_CALL_S = 0.001  # a CPU model whose one-row call takes less gets one intra-op thread


@dataclass(frozen=True)
class ServeConfig:
    models: list[tuple[str, str]]  # (onnx path, model name)
    host: str = "127.0.0.1"
    port: int = 8000
    grpc_port: int | None = None  # the gRPC API's port (same host); None: HTTP only
    device: str = "auto"
    max_batch_size: int = 0  # 0: dynamic batching off
    max_queue_delay_us: int = 0
    max_queue_size: int = 1024
    max_body_bytes: int = 64 * 1024 * 1024
    token_file: str | None = None
    allow_origins: list[str] = field(default_factory=list)
    workers: int = 1
    threads: int = 0  # inference threads; 0: one per CPU core, at most 8
    header_timeout_s: float = 10.0  # a request head must arrive within this
    body_timeout_s: float = 60.0  # and its body within this after the head
    max_connections: int = 1000  # open connections (and running requests) before 503s
    log_level: str = "info"  # "warning" with `serve -q`
    access_log: bool = False  # one line a request, with `serve -v`


def guards_for(config: ServeConfig) -> Guards:
    return Guards(
        max_body_bytes=config.max_body_bytes,
        token=read_token(config.token_file) if config.token_file else None,
        allow_origins=frozenset(config.allow_origins),
        loopback_only=is_loopback(config.host),
    )


def load_served_model(
    path: str, name: str, config: ServeConfig, executor: Executor, metrics: Metrics
) -> ServedModel:
    """Session + signature + scheduler for one ONNX file."""
    from netlang.runtime import make_session, model_info, provider_of
    from netlang.runtime.device import CPU
    from netlang.runtime.signature import signature_of_session
    from netlang.serve.text_input import text_input
    from netlang.serve.triton_repo import model_config

    session = make_session(path, config.device, spinning=False)
    signature = signature_of_session(session)
    metadata = session.get_modelmeta().custom_metadata_map
    info = model_info(session)
    provider = provider_of(session)
    # a detector's outputs are rows over the whole batch (batch_index says whose), which a merged
    # batch could not hand back per request
    detector = session.get_modelmeta().custom_metadata_map.get("netlang.task") == "detection"
    batching = config.max_batch_size > 0 and signature.batchable and not detector
    if config.max_batch_size > 0 and detector:
        log.warning(
            "model %s returns detections, not rows per input; dynamic batching is off", name
        )
    elif config.max_batch_size > 0 and not batching:
        log.warning("model %s has a fixed dim 0 somewhere; dynamic batching is off for it", name)
    names = [t.name for t in signature.outputs]
    text = text_input(session)  # a model with a tokenizer takes sentences (BYTES [N, 1])
    signature = text.signature if text else signature  # same dim 0s: batching unchanged

    def run(feeds: Arrays) -> Arrays:
        graph_feeds = text.encode(feeds) if text else feeds
        return dict(zip(names, session.run(names, graph_feeds), strict=True))

    # a one-row call on zeros tells a row's cost only when no other dim varies (an image model
    # with free H and W, or a text model's token count, could cost far more on real inputs)
    fixed = text is None and all(None not in t.shape[1:] for t in signature.inputs)
    row_s = _one_row_call_s(run, signature) if fixed else math.inf
    if provider == CPU and row_s < SMALL_CALL_S:
        # its ops are too short to split: a second intra-op thread's wake-ups cost more than it
        # computes (LeNet: 64 -> 40 us a call, and batches of 16 rows 504 -> 413 us)
        session = make_session(path, config.device, spinning=False, intra_op_threads=1)
        row_s = _one_row_call_s(run, signature)
        log.info("%s is small: one intra-op thread, %.0f us a row", name, row_s * 1e6)

    kind = "cpu" if provider == CPU else "gpu"
    triton = model_config(
        signature,
        name,
        config.max_batch_size if batching else 0,
        kind,
        config.max_queue_delay_us,
        classes=info.classes,
    )
    model_metrics = metrics.for_model(name)
    scheduler: DirectScheduler | BatchScheduler
    if batching:
        scheduler = BatchScheduler(
            run,
            executor,
            config.max_queue_size,
            model_metrics,
            max_batch_size=config.max_batch_size,
            max_delay_s=config.max_queue_delay_us / 1e6,
        )
    else:
        scheduler = DirectScheduler(run, executor, config.max_queue_size, model_metrics)
    scheduler.calibrate(row_s, spare_core=config.workers < available_cores())
    log.info(
        "loaded %s from %s on %s (batching %s)",
        name,
        Path(path).name,
        provider,
        f"up to {config.max_batch_size} rows" if batching else "off",
    )
    preprocess = metadata.get("netlang.preprocess")
    return ServedModel(
        name,
        signature,
        provider,
        triton,
        scheduler,
        lambda: run(zeros_for(signature)),
        model_metrics,
        classes=info.classes,
        preprocess=json.loads(preprocess) if preprocess else None,
    )


def _one_row_call_s(run: Callable[[Arrays], Arrays], signature: Signature) -> float:
    """The model's median time for a one-row call (inf if it refuses zeros)."""
    try:
        return time_calls(lambda: run(zeros_for(signature)))
    except Exception:  # noqa: BLE001 - the app's warm-up reports it
        return math.inf


def available_cores() -> int:
    """The cores this process may run on (its affinity mask, where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # (macOS, Windows)
        return os.cpu_count() or 1


def build_app(config: ServeConfig) -> App:
    """Load every model and assemble the app (sessions are created here, not at first request)."""
    guards = guards_for(config)
    threads = config.threads or min(8, os.cpu_count() or 1)
    executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="netlang-infer")
    metrics = Metrics(max(1, config.max_batch_size))
    models = [load_served_model(p, n, config, executor, metrics) for p, n in config.models]
    app = App(models, guards, metrics, executor)
    if config.grpc_port is not None:
        from netlang.serve.grpc_server import GrpcService

        grpc = GrpcService(
            app,
            config.host,
            config.grpc_port,
            max_rpcs=config.max_connections,
            handshake_s=config.header_timeout_s,
            grace_s=GRACEFUL_SHUTDOWN_S,
        )
        app.services.append(grpc)
    return app


def app_from_environment() -> App:
    """uvicorn factory for worker processes: the config travels as JSON in CONFIG_ENV."""
    raw = json.loads(os.environ[CONFIG_ENV])
    raw["models"] = [tuple(m) for m in raw["models"]]
    config = ServeConfig(**raw)
    _configure_logging(config.log_level)
    return build_app(config)


def _configure_logging(level: str) -> None:
    logging.basicConfig(level=level.upper(), format="%(levelname)s:     %(message)s")


def _check_grpc(config: ServeConfig) -> None:
    """Refuse --grpc-port up front where it cannot be served (before any model loads)."""
    from netlang.serve.grpc_v2 import unavailable

    reason = unavailable()
    if reason is not None:
        raise ValueError(reason)
    if config.workers > 1:
        raise ValueError("--grpc-port is served by one process: use it without --workers")
    if config.grpc_port == config.port:
        raise ValueError(f"--grpc-port and --port are both {config.port}: give them two ports")


def serve_forever(config: ServeConfig) -> None:
    """Run uvicorn until SIGTERM/SIGINT, then drain in-flight requests and stop."""
    import uvicorn

    _configure_logging(config.log_level)
    if config.token_file:
        read_token(config.token_file)  # refuse a bad token file before any worker starts
    if config.grpc_port is not None:
        _check_grpc(config)
    if not is_loopback(config.host) and not config.token_file:
        log.warning(
            "listening on %s without --token-file: anyone who can reach it may infer", config.host
        )
    common = {
        "host": config.host,
        "port": config.port,
        "access_log": config.access_log,
        "timeout_graceful_shutdown": GRACEFUL_SHUTDOWN_S,
        "log_level": config.log_level,
        "http": functools.partial(
            GuardedProtocol,
            limits=ConnectionLimits(config.header_timeout_s, config.body_timeout_s),
        ),
        "limit_concurrency": config.max_connections,
        "loop": "auto",  # uvloop where installed (a dependency off Windows), else asyncio's
    }
    if config.workers > 1:
        from netlang.serve.workers import run_workers

        os.environ[CONFIG_ENV] = json.dumps(asdict(config))
        run_workers(
            "netlang.serve.server:app_from_environment",
            factory=True,
            workers=config.workers,
            **common,
        )
    else:
        uvicorn.run(build_app(config), **common)  # type: ignore[arg-type]
