"""Generate netlang/serve/grpc_v2/grpc_predict_v2_pb2{.py,.pyi,_grpc.py} from KServe's
grpc_predict_v2.proto with grpcio-tools (a tool for this script only, not a dependency:
`pip install grpcio-tools`), then give the messages a private descriptor pool.

The private pool is the one change to protoc's output: Triton's client (`tritonclient.grpc`) and
KServe's package define the same `inference.*` messages in protobuf's default pool, and a second
definition there fails at import ("duplicate symbol"), so netlang's server could not be imported
beside either. The wire format only knows field numbers and the service's method paths, which
the pool does not change. tests/serve/test_grpc_protos.py checks the committed modules are
current.

    python scripts/grpc_protos.py
"""

from __future__ import annotations

import ast
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PROTO = Path("netlang/serve/grpc_v2/grpc_predict_v2.proto")  # relative: protoc's import path
OUTPUTS = ("grpc_predict_v2_pb2.py", "grpc_predict_v2_pb2.pyi", "grpc_predict_v2_pb2_grpc.py")
DEFAULT_POOL = "DESCRIPTOR = _descriptor_pool.Default().AddSerializedFile("
PRIVATE_POOL = (
    "# netlang: a private pool, not Default(): tritonclient and kserve define inference.* too\n"
    "DESCRIPTOR = _descriptor_pool.DescriptorPool().AddSerializedFile("
)


def protoc(*arguments: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "grpc_tools.protoc", "-I", ".", *arguments, str(PROTO)],
        cwd=REPO,
        check=True,
    )


def generate(into: Path) -> None:
    """The three modules, written under `into` (at PROTO's relative path)."""
    protoc(f"--python_out={into}", f"--pyi_out={into}", f"--grpc_python_out={into}")
    module = into / PROTO.parent / OUTPUTS[0]
    text = module.read_text()
    if text.count(DEFAULT_POOL) != 1:
        raise SystemExit(f"protoc's output no longer has one {DEFAULT_POOL!r}; update this script")
    module.write_text(text.replace(DEFAULT_POOL, PRIVATE_POOL))


def embedded_descriptor(module: Path) -> bytes:
    """The serialised FileDescriptorProto a generated `_pb2.py` embeds (the messages' truth;
    the rest of the file differs between tool versions only in version checks)."""
    for node in ast.walk(ast.parse(module.read_text())):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "AddSerializedFile":
            return ast.literal_eval(node.args[0])
    raise ValueError(f"{module} embeds no descriptor")


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        generate(Path(scratch))
        for name in OUTPUTS:
            source = Path(scratch) / PROTO.parent / name
            (REPO / PROTO.parent / name).write_text(source.read_text())
    print(f"wrote {', '.join(OUTPUTS)} in {PROTO.parent}")


if __name__ == "__main__":
    main()
