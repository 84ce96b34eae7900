"""The package tree is layered as the pipeline flows: no package imports one above it, the
compiler core imports no heavy runtime, and no modules import each other in a circle."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "netlang"

# Lowest first; a package may import itself and those before it. The root package's
# `__init__` (the Python API) sits above semantics, the CLI above everything.
ORDER = (
    "diagnostics",
    "syntax",
    "ir",
    "ops",
    "semantics",
    "draw",  # tools on the IR: the graph picture, the language server
    "lsp",
    "backends",
    "imaging",  # pictures -> pixels, shared by the data loaders and prediction
    "data",
    "export",
    "runtime",
    "tasks",
    "train",
    "serve",
    "commands",
)
ROOT_LEVEL = {"__init__": "semantics", "__main__": "cli", "cli": "commands"}
CORE = ("diagnostics", "syntax", "ir", "ops", "semantics")
HEAVY = ("torch", "torchvision", "onnxruntime")


def _modules() -> dict[str, Path]:
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        modules[name] = path
    return modules


MODULES = _modules()


def _imports(path: Path, *, type_checking: bool) -> set[str]:
    """Absolute module names imported anywhere in the file (lazy imports in functions too);
    imports under `if TYPE_CHECKING:` only when `type_checking`."""
    tree = ast.parse(path.read_text())
    skipped: set[int] = set()
    if not type_checking:
        for node in ast.walk(tree):
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                skipped.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    found = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            # `from netlang import ir` imports the submodule netlang.ir
            found.update(
                f"{node.module}.{a.name}"
                for a in node.names
                if f"{node.module}.{a.name}" in MODULES
            )
    return found


def _layer(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1:
        return "api"
    if parts[1] in ORDER:
        return parts[1]
    return ROOT_LEVEL[parts[1]]


def _rank(layer: str) -> float:
    if layer == "api":
        return ORDER.index("semantics") + 0.5
    if layer == "cli":
        return len(ORDER)
    return ORDER.index(layer)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_a_module_imports_only_its_own_package_and_those_below(module: str) -> None:
    mine = _layer(module)
    above = sorted(
        name
        for name in _imports(MODULES[module], type_checking=True)
        if name.startswith("netlang.")
        and name in MODULES
        and _layer(name) != mine
        and _rank(_layer(name)) > _rank(mine)
    )
    assert not above, f"{module} ({mine}) imports {above}, from above it in {ORDER}"


def test_the_compiler_core_imports_no_torch_onnxruntime_or_later_stage() -> None:
    offenders = {
        module: sorted(
            name
            for name in _imports(path, type_checking=True)
            if name.split(".")[0] in HEAVY
            or (name.startswith("netlang.") and name in MODULES and _layer(name) not in CORE)
        )
        for module, path in MODULES.items()
        if _layer(module) in CORE
    }
    assert {m: names for m, names in offenders.items() if names} == {}


def test_no_modules_import_each_other_in_a_circle() -> None:
    graph = {
        module: {
            name
            for name in _imports(path, type_checking=False)
            if name in MODULES and name != module and not module.startswith(name + ".")
        }
        for module, path in MODULES.items()
    }
    # a package's __init__ re-exporting its own modules is not a circle back into it
    for module in graph:
        graph[module] = {n for n in graph[module] if not (n != "netlang" and module.startswith(n))}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = 1
        stack.append(module)
        for name in sorted(graph[module]):
            if state.get(name) == 1:
                return stack[stack.index(name) :] + [name]
            if name not in state and (cycle := visit(name)):
                return cycle
        stack.pop()
        state[module] = 2
        return None

    for module in sorted(graph):
        if module not in state:
            cycle = visit(module)
            assert cycle is None, " -> ".join(cycle)


def test_every_module_in_the_package_is_under_500_lines() -> None:
    long = {m: n for m, p in MODULES.items() if (n := len(p.read_text().splitlines())) > 500}
    assert long == {}
