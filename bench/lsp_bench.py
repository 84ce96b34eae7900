"""Language-server latency after a keystroke, on ResNet-152-sized files, over real JSON-RPC.

Each round edits the document (a digit in a comment changes, so the program stays valid and
is fully re-checked), then at once asks for a hover on a layer; it records the time from
sending the change to (a) the diagnostics for that version and (b) the hover's answer, and
the time of a completion request on the settled document. Medians over the rounds.

    python bench/lsp_bench.py --rounds 30
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "lsp"))

from lsp_client import Client  # noqa: E402

from netlang.lsp.analysis import analyse  # noqa: E402


def flat_resnet152() -> str:
    """ResNet-152 written out layer by layer (no blocks, no loops): the most text to parse."""
    lines = [
        "# ResNet-152, flat: 0",
        "model Flat152(classes: int = 1000) {",
        "    input image: float32[N, 3, 224, 224]",
        "    x = image -> conv1: conv2d(64, kernel=7, stride=2, padding=3, bias=false)",
        "        -> bn1: batchnorm2d -> relu -> maxpool: maxpool2d(3, stride=2, padding=1)",
    ]
    channels = 64
    for stage, (planes, blocks) in enumerate(zip((64, 128, 256, 512), (3, 8, 36, 3)), 1):
        for index in range(blocks):
            stride = 2 if index == 0 and stage > 1 else 1
            name = f"layer{stage}_{index}"
            lines += [
                f"    y = x -> {name}_conv1: conv2d({planes}, kernel=1, bias=false)",
                f"          -> {name}_bn1: batchnorm2d -> relu",
                f"          -> {name}_conv2: conv2d({planes}, kernel=3, stride={stride}, "
                f"padding=1, bias=false)",
                f"          -> {name}_bn2: batchnorm2d -> relu",
                f"          -> {name}_conv3: conv2d({4 * planes}, kernel=1, bias=false)",
                f"          -> {name}_bn3: batchnorm2d",
            ]
            if index == 0 and (stride != 1 or channels != 4 * planes):
                lines.append(
                    f"    s = x -> {name}_down: conv2d({4 * planes}, kernel=1, stride={stride}, "
                    f"bias=false) -> {name}_downbn: batchnorm2d"
                )
                lines.append("    x = relu(y + s)")
            else:
                lines.append("    x = relu(y + x)")
            channels = 4 * planes
    lines += [
        "    logits = x -> avgpool: adaptive_avgpool2d(1) -> flatten -> fc: linear(classes)",
        "    output logits",
        "}",
    ]
    return "\n".join(lines) + "\n"


def measure(client: Client, path: Path, text: str, hover_at: str, rounds: int) -> dict:
    uri = client.open(path, text)
    client.diagnostics(uri, 1, timeout=120)
    before = text[: text.index(hover_at) + 1]
    position = {"line": before.count("\n"), "character": len(before) - before.rfind("\n") - 1}
    diagnostics_ms, hover_ms, completion_ms = [], [], []
    for version in range(2, rounds + 2):
        edited = text.replace(": 0", f": {version}", 1) if ": 0" in text else f"# {version}\n{text}"
        shift = 0 if ": 0" in text else 1
        start = time.perf_counter()
        client.change(uri, version, edited)
        where = {"line": position["line"] + shift, "character": position["character"]}
        hovered = client.request(
            "textDocument/hover", {"textDocument": {"uri": uri}, "position": where}
        )
        hover_ms.append((time.perf_counter() - start) * 1000)
        client.diagnostics(uri, version)
        diagnostics_ms.append((time.perf_counter() - start) * 1000)
        assert hovered and "parameters" in hovered["contents"]["value"], hovered
        start = time.perf_counter()
        client.request("textDocument/completion", {"textDocument": {"uri": uri}, "position": where})
        completion_ms.append((time.perf_counter() - start) * 1000)
    client.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
    analysis_ms = []
    for _ in range(max(rounds // 3, 3)):
        start = time.perf_counter()
        analyse(str(path), text)
        analysis_ms.append((time.perf_counter() - start) * 1000)
    return {
        "analysis": statistics.median(analysis_ms),
        "lines": text.count("\n"),
        "diagnostics": statistics.median(diagnostics_ms),
        "hover": statistics.median(hover_ms),
        "hover_p90": sorted(hover_ms)[int(0.9 * (len(hover_ms) - 1))],
        "completion": statistics.median(completion_ms),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    client = Client()
    client.initialize()
    resnet = REPO / "stdlib" / "resnet.net"
    cases = {
        "stdlib/resnet.net (ResNet + 5 aliases, 18 to 152)": (
            resnet,
            resnet.read_text(),
            "conv1: conv2d(width",
        ),
        "flat ResNet-152 (every layer written out)": (
            REPO / "bench" / "flat152.net",
            flat_resnet152(),
            "layer3_20_conv2",
        ),
    }
    print(f"python {sys.version.split()[0]}, {args.rounds} keystrokes each (median ms)")
    print(
        "| file | lines | change -> hover | hover p90 | change -> diagnostics | completion "
        "| analysis in process |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    try:
        for label, (path, text, hover_at) in cases.items():
            r = measure(client, path, text, hover_at, args.rounds)
            print(
                f"| {label} | {r['lines']} | {r['hover']:.1f} | {r['hover_p90']:.1f} "
                f"| {r['diagnostics']:.1f} | {r['completion']:.1f} | {r['analysis']:.1f} |"
            )
    finally:
        client.close()


if __name__ == "__main__":
    main()
