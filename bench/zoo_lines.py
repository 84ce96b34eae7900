"""Lines of model code: each stdlib family's `.net` file beside torchvision's module for it.

Counts code lines only (no blank lines, comments or docstrings). For torchvision, the weight
enums, the registered builder functions (`@register_model`) and module-level metadata are left
out: what remains is the architecture (its nn.Module classes and helpers), which is what the
`.net` file writes down.

    python bench/zoo_lines.py
"""

from __future__ import annotations

import ast
import io
import tokenize
from pathlib import Path

import torchvision.models

REPO = Path(__file__).resolve().parents[1]
TORCHVISION = Path(torchvision.models.__file__).parent
FAMILIES = {
    "squeezenet": ["squeezenet.py"],
    "densenet": ["densenet.py"],
    "shufflenet": ["shufflenetv2.py"],
    "mobilenet": ["mobilenetv2.py", "mobilenetv3.py"],
    "efficientnet": ["efficientnet.py"],
    "convnext": ["convnext.py"],
    "vit": ["vision_transformer.py"],
    "regnet": ["regnet.py"],
    "inception": ["inception.py"],
    "swin": ["swin_transformer.py"],
    "resnet": ["resnet.py"],
    "vgg": ["vgg.py"],
    "alexnet": ["alexnet.py"],
    "googlenet": ["googlenet.py"],
}


def net_lines(path: Path) -> int:
    return sum(1 for line in path.read_text().splitlines() if line.strip()[:1] not in ("", "#"))


def _is_architecture(node: ast.stmt) -> bool:
    if isinstance(node, ast.ClassDef):
        return not any(getattr(base, "id", "") == "WeightsEnum" for base in node.bases)
    if isinstance(node, ast.FunctionDef):
        names = {
            getattr(d, "id", getattr(getattr(d, "func", None), "id", ""))
            for d in node.decorator_list
        }
        return "register_model" not in names and not node.name.startswith("_ovewrite")
    return isinstance(node, ast.ClassDef | ast.FunctionDef)


def python_lines(path: Path) -> int:
    source = path.read_text()
    tree = ast.parse(source)
    docstrings = {
        n.body[0].lineno
        for n in ast.walk(tree)
        if isinstance(n, ast.Module | ast.ClassDef | ast.FunctionDef)
        and n.body
        and isinstance(n.body[0], ast.Expr)
        and isinstance(getattr(n.body[0], "value", None), ast.Constant)
        and isinstance(n.body[0].value.value, str)
    }
    skipped: set[int] = set()
    for n in ast.walk(tree):
        if isinstance(n, ast.Expr) and n.lineno in docstrings:
            skipped.update(range(n.lineno, n.end_lineno + 1))
    kept: set[int] = set()
    for node in tree.body:
        if _is_architecture(node):
            kept.update(range(node.lineno, node.end_lineno + 1))
    comments = {
        t.start[0]
        for t in tokenize.generate_tokens(io.StringIO(source).readline)
        if t.type == tokenize.COMMENT
    }
    lines = source.splitlines()
    return sum(
        1
        for k in kept - skipped
        if lines[k - 1].strip() and not (k in comments and lines[k - 1].strip().startswith("#"))
    )


def main() -> None:
    print("| family | netlang lines | torchvision lines | ratio |")
    print("| --- | ---: | ---: | ---: |")
    for family, modules in FAMILIES.items():
        net = REPO / "stdlib" / f"{family}.net"
        if not net.exists():
            continue
        theirs = sum(python_lines(TORCHVISION / m) for m in modules)
        ours = net_lines(net)
        print(f"| {family} | {ours} | {theirs} | {theirs / ours:.1f}x |")


if __name__ == "__main__":
    main()
