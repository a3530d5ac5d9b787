"""The folder list is the architecture: these tests keep its layers and sizes honest.

- ``edge`` and ``cloud`` never import each other; ``devices`` and ``protos`` import neither (and ``protos``
  not ``devices``); only ``tools`` may import everything.
- No import cycles between modules. Imports made only for type checking (``if TYPE_CHECKING:``) do not run,
  so they cannot make a cycle; every other import counts, including those inside functions.
- No module in ``edge/``, ``cloud/``, ``devices/``, ``protos/`` is over 450 lines unless its opening comment
  says why, and ``edge/`` keeps at most 8 modules at its top level.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ("protos", "devices", "edge", "cloud", "tools")
# What each layer may import, besides itself.
ALLOWED: dict[str, set[str]] = {
    "protos": set(),
    "devices": {"protos"},
    "edge": {"devices", "protos"},
    "cloud": {"protos"},
    "tools": {"protos", "devices", "edge", "cloud"},
}
MAX_LINES = 450
LONG_MODULE_REASON = "long because"
EDGE_TOP_LEVEL_MODULES = 8


def _modules() -> dict[str, Path]:
    """Every module of Eyeline's own code by dotted name (``eyeline.edge.frames.sampler``)."""
    found: dict[str, Path] = {}
    for layer in LAYERS:
        for path in sorted((ROOT / layer).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(("eyeline", *parts))] = path
    return found


MODULES = _modules()


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(node: ast.AST, module: str, *, runtime_only: bool) -> Iterator[str]:
    """Dotted names of the ``eyeline`` modules ``node`` imports."""
    for child in ast.iter_child_nodes(node):
        if runtime_only and isinstance(child, ast.If) and _is_type_checking(child.test):
            yield from (name for stmt in child.orelse for name in _imports(stmt, module, runtime_only=True))
            continue
        if isinstance(child, ast.Import):
            yield from (alias.name for alias in child.names if alias.name.startswith("eyeline."))
        elif isinstance(child, ast.ImportFrom):
            yield from _from_import(child, module)
        yield from _imports(child, module, runtime_only=runtime_only)


def _from_import(node: ast.ImportFrom, module: str) -> Iterator[str]:
    base = node.module or ""
    if node.level:  # relative imports would hide a crossing from this reading; the project has none
        raise AssertionError(f"{module} uses a relative import; Eyeline imports absolutely")
    if not base.startswith("eyeline"):
        return
    for alias in node.names:
        submodule = f"{base}.{alias.name}"
        yield submodule if submodule in MODULES else base


def _resolve(name: str) -> str | None:
    """The module a dotted import name lands in (an imported attribute belongs to its module)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _graph(*, runtime_only: bool) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        targets = {_resolve(name) for name in _imports(tree, module, runtime_only=runtime_only)}
        graph[module] = {target for target in targets if target is not None and target != module}
    return graph


def _layer(module: str) -> str:
    return module.split(".")[1]


def test_every_layer_imports_only_the_layers_beneath_it() -> None:
    crossings = sorted(f"{module} imports {target}"
                       for module, targets in _graph(runtime_only=False).items() for target in targets
                       if _layer(target) != _layer(module) and _layer(target) not in ALLOWED[_layer(module)])
    assert crossings == []


def test_there_are_no_import_cycles_between_modules() -> None:
    cycles = _cycles(_graph(runtime_only=True))
    assert cycles == [], "import cycles: " + "; ".join(" -> ".join(cycle) for cycle in cycles)


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected component of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


@pytest.mark.parametrize("layer", ["edge", "cloud", "devices", "protos"])
def test_no_module_is_long_without_a_stated_reason(layer: str) -> None:
    long = []
    for module, path in MODULES.items():
        if _layer(module) != layer or path.name.endswith(("_pb2.py", "_pb2_grpc.py")):
            continue
        text = path.read_text()
        opening = ast.get_docstring(ast.parse(text)) or ""
        if text.count("\n") > MAX_LINES and LONG_MODULE_REASON not in opening:
            long.append(f"{path.relative_to(ROOT)} ({text.count(chr(10))} lines)")
    assert long == [], f"over {MAX_LINES} lines with no '{LONG_MODULE_REASON} ...' in the opening comment"


def test_the_edge_top_level_holds_only_a_few_modules() -> None:
    top = sorted(path.name for path in (ROOT / "edge").glob("*.py"))
    assert len(top) <= EDGE_TOP_LEVEL_MODULES, top
