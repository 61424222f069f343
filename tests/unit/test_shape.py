"""The code's shape, as ARCHITECTURE.md promises it: modules, classes and functions a reader can hold in mind, and
an import graph without a cycle (each package depends on those below it, never back)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab.settings import PROJECT_ROOT

MAX_MODULE_LINES, MAX_CLASS_LINES, MAX_FUNCTION_LINES = 400, 200, 80
TREES = ("lab", "tests", "bench")
EXEMPT = {
    "lab/dockerfiles": "the images' own programs (the app, the reaper), run inside containers",
}


def python_files() -> Iterator[Path]:
    for tree in TREES:
        for path in sorted((PROJECT_ROOT / tree).rglob("*.py")):
            relative = path.relative_to(PROJECT_ROOT).as_posix()
            if not any(relative.startswith(prefix) for prefix in EXEMPT):
                yield path


def oversized(path: Path) -> list[str]:
    source = path.read_text()
    found = []
    if len(source.splitlines()) > MAX_MODULE_LINES:
        found.append(f"{path.name}: {len(source.splitlines())} lines")
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            limit = MAX_CLASS_LINES if isinstance(node, ast.ClassDef) else MAX_FUNCTION_LINES
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            if length > limit:
                found.append(f"{path.name}:{node.lineno} {node.name}: {length} lines (at most {limit})")
    return found


def test_no_module_class_or_function_is_too_long_to_read() -> None:
    """Modules of at most 400 lines, classes of 200, functions of 80, in the lab, its tests and its bench."""
    found = [problem for path in python_files() for problem in oversized(path)]
    assert found == []


def test_a_long_function_is_found() -> None:
    """The size check sees a function over the limit (a check that cannot fail would prove nothing)."""
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_FUNCTION_LINES))
    probe = PROJECT_ROOT / "tests" / "unit" / "__shape_probe.py"
    try:
        probe.write_text(f"def long() -> None:\n{body}\n")
        assert oversized(probe) == [f"__shape_probe.py:1 long: {MAX_FUNCTION_LINES + 1} lines (at most 80)"]
    finally:
        probe.unlink()


def import_graph(root: Path) -> dict[str, set[str]]:
    """Module -> the lab modules it imports (anywhere in it: at the top, in a function, for type checking)."""
    modules = {}
    for path in root.rglob("*.py"):
        if "dockerfiles" in path.parts:
            continue
        name = ".".join(path.relative_to(root.parent).with_suffix("").parts).removesuffix(".__init__")
        modules[name] = path
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "lab":
                for alias in node.names:
                    submodule = f"{node.module}.{alias.name}"
                    graph[name].add(submodule if submodule in modules else node.module)
            elif isinstance(node, ast.Import):
                graph[name] |= {alias.name for alias in node.names if alias.name in modules}
        graph[name] &= set(modules) - {name}
    return graph


def cycle_in(graph: dict[str, set[str]]) -> list[str]:
    """One cycle of the graph (its modules in order, the first repeated at the end), or [] if it has none."""
    state: dict[str, str] = {}
    path: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = "open"
        path.append(node)
        for following in sorted(graph[node]):
            if state.get(following) == "open":
                return [*path[path.index(following):], following]
            if following not in state and (found := visit(following)):
                return found
        state[node] = "done"
        path.pop()
        return []

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return []


def test_the_lab_imports_without_a_cycle() -> None:
    """No module of the lab imports, directly or through others, a module that imports it."""
    assert cycle_in(import_graph(PROJECT_ROOT / "lab")) == []


@pytest.mark.parametrize("graph, cycle", [
    ({"a": {"b"}, "b": {"c"}, "c": {"a"}}, ["a", "b", "c", "a"]),
    ({"a": {"b"}, "b": set(), "c": {"b"}}, []),
])
def test_a_cycle_is_found(graph: dict[str, set[str]], cycle: list[str]) -> None:
    assert cycle_in(graph) == cycle
