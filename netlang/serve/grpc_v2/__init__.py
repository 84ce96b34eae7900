"""KServe's gRPC predict v2 protocol (`grpc_predict_v2.proto`, Apache-2.0, from kserve/kserve
docs/predict-api/v2) and the modules grpcio-tools generates from it (`scripts/grpc_protos.py`
writes them; do not edit them by hand). They need the `grpc` extra: grpcio and a protobuf
runtime at least as new as the one they were generated for."""

from __future__ import annotations


def unavailable() -> str | None:
    """Why the gRPC API cannot be served here (None when it can): told before models load."""
    try:
        import grpc  # noqa: F401

        from netlang.serve.grpc_v2 import grpc_predict_v2_pb2_grpc  # noqa: F401
    except Exception as e:  # noqa: BLE001 - ImportError, or the generated code's version checks
        return (
            "--grpc-port needs grpcio>=1.75.1 and protobuf>=6.31.1 (pip install 'netlang[grpc]'): "
            f"{type(e).__name__}: {e}"
        )
    return None
