"""`netlang graph`: layers as boxes, shapes on edges, blocks as clusters that --depth closes;
and the block hierarchy carried into ONNX node metadata."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from netlang.cli import main
from netlang.draw.dot import to_dot
from netlang.semantics.program import load

REPO = Path(__file__).resolve().parents[2]
GOOGLENET = REPO / "stdlib" / "googlenet.net"


@pytest.fixture(scope="module")
def googlenet():
    return load(GOOGLENET).model()


def _edges_into(dot: str, target: str) -> list[str]:
    return re.findall(rf'-> "{re.escape(target)}" \[label="([^"]*)"\]', dot)


def test_inception_branches_are_clusters_whose_edges_carry_the_branch_shapes(googlenet) -> None:
    dot = to_dot(googlenet)
    for branch in ("branch1", "branch2", "branch3", "branch4"):
        assert f'subgraph "cluster_inception3a.{branch}"' in dot
    assert 'label="inception3a: Inception (155,872 params)"' in dot
    # inception3a's four branches end in 64, 128, 32 and 32 channels (the paper's table 1) and
    # their concatenation has 256
    assert sorted(_edges_into(dot, "inception3a.4")) == sorted(
        ["[N, 64, 28, 28]", "[N, 128, 28, 28]", "[N, 32, 28, 28]", "[N, 32, 28, 28]"]
    )
    assert _edges_into(dot, "inception3b.branch1.conv") == ["[N, 256, 28, 28]"]
    assert '"conv1.conv" [label="conv\\nconv2d(64, 7, stride=2, padding=3, bias=false)' in dot
    assert _edges_into(dot, "output:logits") == ["[N, 1000]"]


def test_depth_closes_nested_blocks_into_one_box_with_their_parameter_total(googlenet) -> None:
    dot = to_dot(googlenet, depth=1)
    # branch2 of inception3a: 1x1 conv 192->96 (18,432) + bn (192) + 3x3 conv 96->128
    # (110,592) + bn (256)
    assert '"block:inception3a.branch2" [label="inception3a.branch2: group\\n129,472 params"' in dot
    assert "inception3a.branch2.0.conv" not in dot
    assert _edges_into(dot, "inception3a.4")[1] == "[N, 128, 28, 28]"
    closed = to_dot(googlenet, depth=0)
    assert "subgraph" not in closed
    assert '"block:inception3a" [label="inception3a: Inception\\n155,872 params"' in closed


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz is not installed")
def test_graph_command_draws_an_svg_with_shapes_on_the_edges(tmp_path: Path) -> None:
    out = tmp_path / "g.svg"
    result = CliRunner().invoke(main, ["graph", str(GOOGLENET), "-o", str(out), "--depth", "1"])
    assert result.exit_code == 0, result.output
    svg = out.read_text()
    assert svg.lstrip().startswith("<?xml") and "inception3a: Inception" in svg
    assert "[N, 256, 28, 28]" in svg and "[N, 1000]" in svg


def test_without_graphviz_the_dot_file_is_written_and_the_message_says_how_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    result = CliRunner().invoke(main, ["graph", str(GOOGLENET), "-o", str(tmp_path / "g.png")])
    assert result.exit_code == 1
    assert "apt-get install graphviz" in result.stderr and "Traceback" not in result.output
    assert (tmp_path / "g.dot").read_text().startswith('digraph "GoogLeNet"')


def test_graph_rejects_an_unknown_picture_format_as_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["graph", str(GOOGLENET), "-o", str(tmp_path / "g.jpg")])
    assert result.exit_code == 2 and ".svg, .png, .pdf or .dot" in result.stderr


def test_graph_never_imports_torch(tmp_path: Path) -> None:
    script = f"""
import sys
from netlang.cli import main
try:
    main(["graph", {str(GOOGLENET)!r}, "-o", {str(tmp_path / "g.dot")!r}], standalone_mode=False)
except SystemExit:
    pass
print("HEAVY", sorted(m for m in ("torch", "onnxruntime") if m in sys.modules))
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert "HEAVY []" in out.stdout


def test_onnx_nodes_carry_their_block_hierarchy_and_the_model_lists_the_blocks(googlenet) -> None:
    from netlang.backends.onnx_emit import emit_onnx

    model = emit_onnx(googlenet)
    node = next(n for n in model.graph.node if n.name == "inception3a.branch2.1.conv")
    props = {p.key: p.value for p in node.metadata_props}
    assert props == {
        "namespace": "inception3a/branch2/1",
        "netlang.blocks": "Inception/group/BasicConv2d",
    }
    scopes = json.loads({p.key: p.value for p in model.metadata_props}["netlang.scopes"])
    assert scopes["inception3a.branch2"]["params"] == 129_472
    assert scopes["inception3a"]["block"] == "Inception"
    outside = sum(n.param_count for n in googlenet.nodes if not googlenet.enclosing(n.name))
    top = sum(s["params"] for name, s in scopes.items() if "." not in name)
    assert top + outside == googlenet.param_count == 6_624_904
