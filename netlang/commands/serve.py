"""`netlang serve MODEL.onnx...`: serve ONNX models over the Open Inference Protocol (KServe V2)."""

from __future__ import annotations

from pathlib import Path

import click

from netlang.commands.common import (
    DEVICE_OPTION,
    ONNX_FILE,
    QUIET_OPTION,
    VERBOSE_OPTION,
)


@click.command()
@click.argument("models", nargs=-1, required=True, type=ONNX_FILE)
@click.option(
    "--name",
    "names",
    multiple=True,
    help="Model name for the URL, once per model in order (default: the file stem).",
)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to bind; anything but loopback should come with --token-file.",
)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--grpc-port",
    type=click.IntRange(1, 65535),
    help="Also serve the protocol's gRPC API on this port, same --host (Triton uses 8001); "
    "needs the grpc extra.",
)
@DEVICE_OPTION
@click.option(
    "--max-batch-size",
    default=0,
    show_default=True,
    type=click.IntRange(min=0),
    help="Turn on dynamic batching, merging requests up to this many rows (0: off).",
)
@click.option(
    "--max-queue-delay-us",
    default=0,
    show_default=True,
    type=click.IntRange(min=0),
    help="With batching: how long the oldest request may wait for more rows.",
)
@click.option(
    "--max-queue-size",
    default=1024,
    show_default=True,
    type=click.IntRange(min=1),
    help="Requests a model may hold (queued or running); more get 503.",
)
@click.option(
    "--max-body-bytes",
    default=64 * 1024 * 1024,
    show_default=True,
    type=click.IntRange(min=1),
    help="Largest request body (also after gzip); more: 413.",
)
@click.option(
    "--token-file",
    type=ONNX_FILE,
    help="Require 'Authorization: Bearer <token>' (health probes exempt).",
)
@click.option(
    "--allow-origin",
    "allow_origins",
    multiple=True,
    help="Browser Origin to accept (repeatable); other Origin headers get 403.",
)
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(min=1),
    help="Server processes, each with its own copy of the models.",
)
@click.option(
    "--threads",
    default=0,
    show_default=True,
    type=click.IntRange(min=0),
    help="Inference threads per process (0: one per core, at most 8).",
)
@click.option(
    "--header-timeout",
    default=10.0,
    show_default=True,
    type=click.FloatRange(min=0, min_open=True),
    help="Seconds a client has to send a request's headers; slower ones get 408 and are dropped.",
)
@click.option(
    "--body-timeout",
    default=60.0,
    show_default=True,
    type=click.FloatRange(min=0, min_open=True),
    help="Seconds a client has to send a request's body after its headers.",
)
@click.option(
    "--max-connections",
    default=1000,
    show_default=True,
    type=click.IntRange(min=1),
    help="Open connections (or running requests) past which requests get 503.",
)
@QUIET_OPTION
@VERBOSE_OPTION
def serve(
    models: tuple[Path, ...],
    names: tuple[str, ...],
    host: str,
    port: int,
    grpc_port: int | None,
    device: str,
    max_batch_size: int,
    max_queue_delay_us: int,
    max_queue_size: int,
    max_body_bytes: int,
    token_file: Path | None,
    allow_origins: tuple[str, ...],
    workers: int,
    threads: int,
    header_timeout: float,
    body_timeout: float,
    max_connections: int,
    quiet: bool,
    verbose: bool,
) -> None:
    """Serve ONNX MODELS over HTTP (and gRPC with --grpc-port) for tritonclient, curl and
    KServe V2 clients."""
    from netlang.runtime import DeviceError
    from netlang.serve.server import ServeConfig, serve_forever
    from netlang.serve.triton_repo import ascii_name, check_model_name

    if len(names) > len(models):
        raise click.UsageError("more --name options than models")
    all_names = list(names) + [p.stem for p in models[len(names) :]]
    if len(set(all_names)) != len(all_names):
        raise click.UsageError(f"model names must be unique: {', '.join(all_names)}")
    try:
        for i, n in enumerate(all_names):
            try:
                check_model_name(n)
            except ValueError as bad:
                if i < len(names):
                    raise
                raise ValueError(
                    f"{bad}; the name comes from the file name {models[i].name}: "
                    f"give it one with --name {ascii_name(n)}"
                ) from None
        config = ServeConfig(
            models=[(str(p), n) for p, n in zip(models, all_names, strict=True)],
            host=host,
            port=port,
            grpc_port=grpc_port,
            device=device,
            max_batch_size=max_batch_size,
            max_queue_delay_us=max_queue_delay_us,
            max_queue_size=max_queue_size,
            max_body_bytes=max_body_bytes,
            token_file=str(token_file) if token_file else None,
            allow_origins=list(allow_origins),
            workers=workers,
            threads=threads,
            header_timeout_s=header_timeout,
            body_timeout_s=body_timeout,
            max_connections=max_connections,
            log_level="warning" if quiet else "info",
            access_log=verbose and not quiet,
        )
        serve_forever(config)
    except (DeviceError, ValueError, OSError) as e:
        raise click.ClickException(str(e)) from None
