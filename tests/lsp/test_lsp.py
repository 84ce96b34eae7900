"""`netlang lsp` end to end over JSON-RPC: a real server process, a hand-rolled client."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

pytest.importorskip("pygls")
from lsp_client import Client  # noqa: E402

SMALL = """\
import "googlenet"

# Two convolutions; the doc comment the hover shows.
block Pair(channels: int)(x) {
    return x -> first: conv2d(channels, 3, padding=1) -> relu
             -> second: conv2d(channels, 3, padding=1) -> relu
}

model Small(classes: int = 10) {
    input image: float32[N, 1, 28, 28]
    features = image -> conv: conv2d(6, 5) -> relu -> pair: Pair(8) -> stem: BasicConv2d(4)
    logits = features -> flatten -> fc: linear(classes)
    output logits
}
"""


@pytest.fixture(scope="module")
def server():
    client = Client()
    client.initialize()
    yield client
    client.close()


@pytest.fixture(scope="module")
def small(server: Client, tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("lsp") / "small.net"
    path.write_text(SMALL)
    uri = server.open(path)
    assert server.diagnostics(uri) == []
    return uri


def _at(text: str, needle: str, offset: int = 1) -> dict[str, int]:
    """The LSP position `offset` characters into the first occurrence of `needle`."""
    before = text[: text.index(needle) + offset]
    return {"line": before.count("\n"), "character": len(before) - before.rfind("\n") - 1}


def _hover(server: Client, uri: str, text: str, needle: str, offset: int = 1) -> str:
    result = server.request(
        "textDocument/hover",
        {"textDocument": {"uri": uri}, "position": _at(text, needle, offset)},
    )
    return result["contents"]["value"] if result else ""


def test_hover_on_a_layer_shows_its_shape_parameters_and_macs(server: Client, small: str) -> None:
    text = _hover(server, small, SMALL, "conv: conv2d(6, 5)")
    # conv2d(6, 5) on [N, 1, 28, 28]: 6*1*5*5 + 6 = 156 parameters; 6*24*24 outputs, 25 MACs each
    assert "`[N, 6, 24, 24]` · 156 parameters · 86.40k MACs" in text
    assert "conv2d(channels: int, kernel: ints" in text


def test_hover_on_a_tensor_name_shows_its_inferred_type(server: Client, small: str) -> None:
    # Pair keeps 8 channels at 24x24; BasicConv2d(4) is a 1x1 conv: [N, 4, 24, 24]
    assert "**features**: `float32[N, 4, 24, 24]`" in _hover(
        server, small, SMALL, "features -> flatten"
    )
    assert "`float32[N, 1, 28, 28]`" in _hover(server, small, SMALL, "image ->")


def test_hover_on_a_block_call_shows_signature_doc_and_totals(server: Client, small: str) -> None:
    text = _hover(server, small, SMALL, "Pair(8)")
    assert "block Pair(channels: int)(x)" in text
    assert "Two convolutions; the doc comment the hover shows." in text
    # first: 8*6*9 + 8 = 440, second: 8*8*9 + 8 = 584
    assert "`[N, 8, 24, 24]` · 1,024 parameters" in text
    stdlib = _hover(server, small, SMALL, "BasicConv2d(4)")
    assert "block BasicConv2d(channels: int, kernel: int = 1" in stdlib


def test_definition_of_blocks_and_imports_reaches_the_stdlib(server: Client, small: str) -> None:
    def where(needle: str) -> dict:
        return server.request(
            "textDocument/definition",
            {"textDocument": {"uri": small}, "position": _at(SMALL, needle, 2)},
        )

    local = where("Pair(8)")
    assert local["uri"] == small and local["range"]["start"]["line"] == 3
    block = where("BasicConv2d(4)")
    assert block["uri"].endswith("/stdlib/googlenet.net")
    line = (
        Path(block["uri"].removeprefix("file://"))
        .read_text()
        .splitlines()[block["range"]["start"]["line"]]
    )
    assert line.startswith("block BasicConv2d(")
    assert where('"googlenet"')["uri"] == block["uri"]


def test_completion_offers_layers_and_then_the_arguments_of_the_open_call(
    server: Client, small: str
) -> None:
    def labels(text: str, needle: str, offset: int) -> set[str]:
        server.change(small, 2, text)
        result = server.request(
            "textDocument/completion",
            {"textDocument": {"uri": small}, "position": _at(text, needle, offset)},
        )
        return {item["label"] for item in result["items"]}

    edited = SMALL.replace("conv2d(6, 5)", "conv2d(6, 5, ")
    arguments = labels(edited, "conv2d(6, 5, ", len("conv2d(6, 5, "))
    assert {"stride=", "padding=", "groups=", "bias="} <= arguments and "channels=" in arguments
    layers = labels(SMALL, "-> relu -> pair", 3)
    assert {"conv2d", "batchnorm2d", "relu", "Pair", "BasicConv2d", "model"} <= layers
    server.change(small, 3, SMALL)


def test_diagnostics_carry_codes_and_related_locations_and_clear_when_fixed(
    server: Client, small: str
) -> None:
    broken = SMALL + "\nblock Pair(c: int)(x) {\n    return x\n}\n"
    server.change(small, 4, broken)
    (diagnostic,) = server.diagnostics(small, 4)
    assert diagnostic["code"] == "NL2006" and diagnostic["severity"] == 1
    assert diagnostic["range"]["start"]["line"] == broken.count("\n") - 3
    (related,) = diagnostic["relatedInformation"]
    assert related["location"]["range"]["start"]["line"] == 3
    assert related["message"] == "first defined here"
    server.change(small, 5, SMALL.replace("linear(classes)", "lineer(classes)"))
    (typo,) = server.diagnostics(small, 5)
    assert typo["code"] == "NL2001" and "hint: did you mean `linear`?" in typo["message"]
    server.change(small, 6, SMALL)
    assert server.diagnostics(small, 6) == []


def test_changes_sent_together_leave_the_last_versions_diagnostics(
    server: Client, small: str
) -> None:
    for version in range(10, 15):  # typing faster than the server analyses
        server.change(small, version, SMALL.replace("linear(classes)", "lineer(classes)"))
    server.change(small, 15, SMALL)
    assert server.diagnostics(small, 15) == []


def test_of_changes_read_one_after_another_only_the_last_is_analysed() -> None:
    from netlang.lsp.server import DRAIN_S, NetlangServer

    async def typing() -> list[str]:
        server, published = NetlangServer(), []
        server.publish = published.append  # type: ignore[method-assign]
        for version in range(2, 7):
            server.publish_soon("file:///a.net", version)
        server.publish_soon("file:///b.net", 1)
        await asyncio.sleep(DRAIN_S * 5)
        return published

    assert asyncio.run(typing()) == ["file:///a.net", "file:///b.net"]


def test_document_symbols_list_blocks_and_models_with_their_layers(
    server: Client, small: str
) -> None:
    result = server.request("textDocument/documentSymbol", {"textDocument": {"uri": small}})
    names = [(s["name"], [c["name"] for c in s.get("children") or []]) for s in result]
    assert names == [
        ("googlenet", []),
        ("Pair", ["first", "second"]),
        ("Small", ["conv", "pair", "stem", "fc"]),
    ]
