"""Language-server latency after a keystroke, on ResNet-152-sized files, over real JSON-RPC.

Each round changes one number in place (so the file stays valid and no line moves), then at
once asks for a hover on a layer; it records the time from sending the change to (a) the
hover's answer and (b) the diagnostics for that version, and the time of a completion request
on the settled document. Where the keystroke lands decides what the server can reuse: a
comment (nothing to re-check), one model's header, or the model every other one reads. Then
10 changes are sent at once (typing faster than the server analyses) and the time to the last
one's diagnostics is taken. Medians over the rounds; with `--against`, a second checkout's
server runs the same rounds, alternating with this one's, so both see the same load.

    python bench/lsp_bench.py --rounds 30 [--against /tmp/lsp-main]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "lsp"))

from lsp_client import Client  # noqa: E402


FROM_STDLIB = """\
import "resnet"

# ResNet-152 from the library's stages
model Mine(classes: int = 1000) {
    input image: float32[N, 3, 224, 224]
    x = image -> stem: conv2d(64, kernel=7, stride=2, padding=3, bias=false)
              -> bn: batchnorm2d
              -> relu
              -> pool: maxpool2d(3, stride=2, padding=1)
              -> s1: ResNetStage("bottleneck", 64, 3)
              -> s2: ResNetStage("bottleneck", 128, 8, stride=2)
              -> s3: ResNetStage("bottleneck", 256, 36, stride=2)
              -> s4: ResNetStage("bottleneck", 512, 3, stride=2)
    logits = x -> avgpool: adaptive_avgpool2d(1) -> flatten -> fc: linear(classes)
    output logits
}
"""


def flat_resnet152() -> str:
    """ResNet-152 written out layer by layer (no blocks, no loops): the most text to parse."""
    lines = [
        "# ResNet-152, flat: 1000 layers at most",
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


@dataclass
class Case:
    label: str
    path: Path
    text: str
    hover_at: str  # hovered in every round: a layer, whose hover needs the new version's graph
    edit: Callable[[str, int], str]  # the text of version `v`


def digit(old: str) -> Callable[[str, int], str]:
    """A keystroke changing a number in place: `old` (4 digits) becomes 1000 + v, so no line
    moves and the hover position stays."""
    return lambda text, version: text.replace(old, f"{old[:-4]}{1000 + version}", 1)


def keystroke(client: Client, uri: str, case: Case, version: int, position: dict) -> dict:
    start = time.perf_counter()
    client.change(uri, version, case.edit(case.text, version))
    hovered = client.request(
        "textDocument/hover", {"textDocument": {"uri": uri}, "position": position}
    )
    hover = (time.perf_counter() - start) * 1000
    client.diagnostics(uri, version)
    diagnostics = (time.perf_counter() - start) * 1000
    assert hovered and "parameters" in hovered["contents"]["value"], hovered
    start = time.perf_counter()
    client.request("textDocument/completion", {"textDocument": {"uri": uri}, "position": position})
    return {
        "hover": hover,
        "diagnostics": diagnostics,
        "completion": (time.perf_counter() - start) * 1000,
    }


def burst(client: Client, uri: str, case: Case, version: int, count: int = 10) -> float:
    """`count` changes sent at once (typing faster than analysis): ms to the last's diagnostics."""
    start = time.perf_counter()
    for v in range(version, version + count):
        client.change(uri, v, case.edit(case.text, v))
    client.diagnostics(uri, version + count - 1)
    return (time.perf_counter() - start) * 1000


def run_case(servers: dict[str, Client], case: Case, rounds: int) -> dict[str, dict]:
    """The rounds alternate between the servers, so both see the same load."""
    before = case.text[: case.text.index(case.hover_at) + 1]
    position = {"line": before.count("\n"), "character": len(before) - before.rfind("\n") - 1}
    uris = {}
    for name, client in servers.items():
        uris[name] = client.open(case.path, case.text)
        client.diagnostics(uris[name], 1, timeout=120)
    times: dict[str, list[dict]] = {name: [] for name in servers}
    bursts: dict[str, list[float]] = {name: [] for name in servers}
    for version in range(2, rounds + 2):
        for name, client in servers.items():
            times[name].append(keystroke(client, uris[name], case, version, position))
    for index in range(3):
        for name, client in servers.items():
            bursts[name].append(burst(client, uris[name], case, 1000 + 100 * index))
    results = {}
    for name, client in servers.items():
        client.notify("textDocument/didClose", {"textDocument": {"uri": uris[name]}})
        hover = [t["hover"] for t in times[name]]
        results[name] = {
            "hover": statistics.median(hover),
            "hover_p90": sorted(hover)[int(0.9 * (len(hover) - 1))],
            "diagnostics": statistics.median(t["diagnostics"] for t in times[name]),
            "completion": statistics.median(t["completion"] for t in times[name]),
            "burst": statistics.median(bursts[name]),
        }
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument(
        "--against",
        type=Path,
        help="another checkout (e.g. `git worktree add /tmp/main main`): "
        "its server runs beside this one's, rounds alternating",
    )
    args = parser.parse_args()
    servers = {"this": Client()}
    if args.against:
        servers = {"against": Client(args.against.resolve()), **servers}
    for client in servers.values():
        client.initialize()
    resnet = REPO / "stdlib" / "resnet.net"
    flat = REPO / "bench" / "flat152.net"
    text, flat_text = resnet.read_text(), flat_resnet152()
    hover, flat_hover = "conv1: conv2d(width", "layer3_20_conv2"
    cases = [
        Case("resnet.net: in a comment", resnet, text, hover, digit("(1000")),
        Case(
            "resnet.net: in ResNet18's header",
            resnet,
            text,
            hover,
            digit("ResNet18(classes: int = 1000"),
        ),
        Case(
            "resnet.net: in ResNet, which all 6 read",
            resnet,
            text,
            hover,
            digit("[3, 4, 6, 3], classes: int = 1000"),
        ),
        Case(
            'ResNet-152 from `import "resnet"`: in the model',
            REPO / "bench" / "mine.net",
            FROM_STDLIB,
            "stem: conv2d",
            digit("classes: int = 1000"),
        ),
        Case(
            "flat ResNet-152 (362 lines): in a comment",
            flat,
            flat_text,
            flat_hover,
            digit("flat: 1000"),
        ),
        Case(
            "flat ResNet-152 (362 lines): in the model",
            flat,
            flat_text,
            flat_hover,
            digit("classes: int = 1000"),
        ),
    ]
    print(
        f"python {sys.version.split()[0]}, {args.rounds} keystrokes each (median ms), "
        f"load average before {os.getloadavg()[0]:.1f}"
    )
    print(
        "| file: where the keystroke is | server | change -> hover | hover p90 "
        "| change -> diagnostics | 10 changes at once -> diagnostics | completion |"
    )
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    try:
        for case in cases:
            for name, r in run_case(servers, case, args.rounds).items():
                print(
                    f"| {case.label} | {name} | {r['hover']:.1f} | {r['hover_p90']:.1f} "
                    f"| {r['diagnostics']:.1f} | {r['burst']:.1f} | {r['completion']:.1f} |"
                )
    finally:
        for client in servers.values():
            client.close()
    print(f"load average after {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
