"""bench/'s layout: few top-level modules, job folders that import one way, no import cycle.

Imports are read from the source with :mod:`ast` (those inside functions too), so a lazy import
that would close a cycle or cross a layer counts the same as one at the top of a module.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"

# Each job folder and the folders it may import (the top-level contract modules are open to all).
ALLOWED = {
    "files": set(),
    "metrics": set(),
    "protocols": {"files", "metrics"},
    "data": {"files"},
    "records": {"files"},
    "reporting": {"files", "metrics", "protocols", "records"},
    "running": {"files", "metrics", "protocols", "data", "records", "reporting"},
    "launch": {"files", "metrics", "protocols", "data", "records", "reporting", "running"},
}
# The top-level contract modules read their inputs through bench.files (config's --set values
# through the loader); the one other arrow into a job folder is explained in bench/registry.py.
CONTRACT_MAY_IMPORT = {"files"}
CONTRACT_EXCEPTIONS = {("bench.registry", "data")}


def _modules() -> dict[str, Path]:
    found = {}
    for path in BENCH.rglob("*.py"):
        parts = path.relative_to(BENCH.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def _imports(path: Path, modules: dict[str, Path]) -> set[str]:
    """The bench modules ``path`` imports, anywhere in it, resolved to files."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "bench":
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                out.add(full if full in modules else node.module)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name.split(".")[0] == "bench")
    return {name for name in out if name in modules}


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(path, modules) - {name} for name, path in modules.items()}


def _folder(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and (BENCH / parts[1]).is_dir() else None


def test_top_level_holds_at_most_eight_modules_and_every_folder_says_what_it_is() -> None:
    top = sorted(p.name for p in BENCH.glob("*.py") if p.name != "__init__.py")
    assert len(top) <= 8, top
    folders = sorted(p.name for p in BENCH.iterdir() if p.is_dir() and p.name != "__pycache__")
    assert set(folders) == set(ALLOWED), folders
    for folder in folders:
        init = BENCH / folder / "__init__.py"
        assert ast.get_docstring(ast.parse(init.read_text())), f"{init} has no docstring"


def test_no_import_cycle() -> None:
    graph = _graph()
    state: dict[str, int] = {}  # 1 on the current path, 2 finished

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycle = path[path.index(nxt):] + [nxt]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])


def test_folders_import_one_way() -> None:
    wrong = []
    for module, targets in _graph().items():
        source = _folder(module)
        for target in targets:
            goal = _folder(target)
            if goal is None or goal == source:
                continue
            if source is None:
                if goal not in CONTRACT_MAY_IMPORT and (module, goal) not in CONTRACT_EXCEPTIONS:
                    wrong.append(f"{module} -> {target}")
            elif goal not in ALLOWED[source]:
                wrong.append(f"{module} -> {target}")
    assert not wrong, wrong


def test_the_harness_imports_no_method() -> None:
    offenders = []
    for path in BENCH.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([node.module or ""] if isinstance(node, ast.ImportFrom)
                     else [a.name for a in node.names] if isinstance(node, ast.Import) else [])
            offenders += [f"{path}: {n}" for n in names if n.split(".")[0] == "bench_methods"]
    assert not offenders, offenders
