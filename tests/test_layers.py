"""The layering of drnlib (its docstring): every import, also one inside a function, goes to the same layer or a
lower one, and the import graph between its parts has no cycle."""

import ast
from pathlib import Path

import drnlib

PACKAGE = Path(drnlib.__file__).parent
LAYERS = [
    {"errors", "files", "provenance", "toc", "__init__"},
    {"models", "data", "eval"},
    {"train", "analysis", "plots"},
    {"recipes", "runs", "results", "paper", "params", "display"},
    {"pages"},
    {"book", "cli", "campaign", "__main__"},
]
RANK = {part: rank for rank, parts in enumerate(LAYERS) for part in parts}


def _part(module: str) -> str:
    """drnlib.train.engine -> train; drnlib.results -> results."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _imports(path: Path) -> set[str]:
    module = "drnlib." + ".".join(path.relative_to(PACKAGE).with_suffix("").parts)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("drnlib")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.startswith("drnlib"):
                found.add(target)
                for alias in node.names:  # `from drnlib import runs`: the module runs, not the package
                    sub = PACKAGE.joinpath(*target.split(".")[1:], alias.name)
                    if sub.with_suffix(".py").exists() or sub.is_dir():
                        found.add(f"{target}.{alias.name}")
    return found


def _graph() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        source = _part("drnlib." + ".".join(path.relative_to(PACKAGE).with_suffix("").parts))
        for target in _imports(path):
            if _part(target) != source:
                edges.setdefault(source, set()).add(_part(target))
    return edges


def test_every_part_is_in_a_layer_and_imports_only_from_its_layer_or_below():
    parts = {_part("drnlib." + ".".join(p.relative_to(PACKAGE).with_suffix("").parts)) for p in PACKAGE.rglob("*.py")}
    assert parts <= set(RANK), f"parts in no layer: {parts - set(RANK)}"
    upward = [(a, b) for a, targets in _graph().items() for b in targets if RANK[b] > RANK[a]]
    assert upward == [], f"imports from a higher layer: {upward}"


def test_the_import_graph_has_no_cycle():
    graph = _graph()
    state: dict[str, int] = {}

    def visit(node, path):
        state[node] = 1
        for nxt in graph.get(node, ()):
            assert state.get(nxt) != 1, f"import cycle: {' -> '.join([*path, nxt])}"
            if nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for node in graph:
        if node not in state:
            visit(node, [node])
