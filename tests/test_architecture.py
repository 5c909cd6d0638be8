"""The package's layers: every module imports, and the package-internal import graph has no cycle."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import pytest

import xai_helpers

PACKAGE = Path(xai_helpers.__file__).parent
LAYERS = ("dsp", "io", "store", "models", "attribution", "analysis", "experiments", "plots", "reports", "run")
"""Lowest first: a module may import its own layer's modules and those of the layers before it."""


def module_names() -> list[str]:
    return sorted(m.name for m in pkgutil.walk_packages(xai_helpers.__path__, "xai_helpers.") if not m.name.endswith("__main__"))


def internal_imports(name: str) -> set[str]:
    """Modules of the package that ``name`` imports anywhere in its source (function-level imports included)."""
    path = PACKAGE.parent / (name.replace(".", "/") + ".py")
    if not path.exists():
        path = PACKAGE.parent / name.replace(".", "/") / "__init__.py"
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            candidates = [f"{base}.{alias.name}" for alias in node.names] + [base]
        elif isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        else:
            continue
        known = set(module_names()) | {"xai_helpers"}
        found |= {c for c in candidates if c in known and c.startswith("xai_helpers") and c != name}
    return found


@pytest.mark.parametrize("name", module_names())
def test_every_module_imports(name):
    importlib.import_module(name)


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle of ``graph`` (node -> the nodes it imports) as a path ``[a, b, ..., a]``, or ``None``."""
    state: dict[str, str] = {}

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = "open"
        for child in sorted(graph.get(node, ())):
            if state.get(child) == "open":
                return path[path.index(child):] + [child]
            if child not in state:
                cycle = visit(child, path + [child])
                if cycle:
                    return cycle
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node, [node])
            if cycle:
                return cycle
    return None


def layer(name: str) -> int:
    parts = name.split(".")
    return LAYERS.index(parts[1]) if len(parts) > 1 and parts[1] in LAYERS else -1


def test_import_graph_has_no_cycle_and_points_downwards():
    graph = {name: internal_imports(name) for name in module_names()}
    assert find_cycle(graph) is None, f"import cycle: {' -> '.join(find_cycle(graph))}"
    upward = [(a, b) for a, edges in graph.items() for b in edges if layer(b) > layer(a)]
    assert not upward, f"imports from a higher layer: {upward}"


def test_the_checks_can_fail():
    """A cycle hidden in a function-level import (as batch_plots <-> explorer was) is found, and so is an upward import."""
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
    assert layer("xai_helpers.run.book") > layer("xai_helpers.dsp.stft")
    # function-level imports are seen: explain_file's tqdm import is third-party, Explorer's imports are internal
    assert "xai_helpers.analysis.influence" in internal_imports("xai_helpers.plots.explorer")
    assert "xai_helpers.reports.html" in internal_imports("xai_helpers.run.book")  # imported inside main()
