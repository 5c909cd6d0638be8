"""The package's layers: every module imports and its public names exist, and the package-internal import graph
has no cycle and points downwards."""

from __future__ import annotations

import ast
import functools
import importlib
import pkgutil
import types
from pathlib import Path

import xai_helpers

PACKAGE = Path(xai_helpers.__file__).parent
LAYERS = ("dsp", "io", "store", "models", "attribution", "analysis", "experiments", "plots", "reports", "run")
"""Lowest first: a module may import its own layer's modules and those of the layers before it."""


@functools.cache
def module_names() -> tuple[str, ...]:
    return tuple(
        sorted(
            m.name
            for m in pkgutil.walk_packages(xai_helpers.__path__, "xai_helpers.")
            if not m.name.endswith("__main__")
        )
    )


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


def import_failures(name: str) -> list[str]:
    """What is wrong with module ``name``: it does not import, or a name of its ``__all__`` does not exist in it."""
    try:
        module = importlib.import_module(name)
    except Exception as error:  # noqa: BLE001 - every failure is reported, with its type
        return [f"{name}: does not import: {type(error).__name__}: {error}"]
    return public_name_failures(module)


def public_name_failures(module: types.ModuleType) -> list[str]:
    """The entries of ``module.__all__`` (if it has one) that are not strings or not names of the module."""
    public = getattr(module, "__all__", ())
    return [
        f"{module.__name__}: __all__ names {entry!r}, which it does not define"
        for entry in public
        if not isinstance(entry, str) or not hasattr(module, entry)
    ]


def test_every_module_imports_and_its_public_names_exist():
    names = module_names()
    assert len(names) > 100, f"the walk found only {len(names)} modules: {names}"
    assert {"xai_helpers.dsp.stft", "xai_helpers.run.book", "xai_helpers.plots.files"} <= set(names)
    failures = [failure for name in names for failure in import_failures(name)]
    assert not failures, "\n".join(failures)


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle of ``graph`` (node -> the nodes it imports) as a path ``[a, b, ..., a]``, or ``None``."""
    state: dict[str, str] = {}

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = "open"
        for child in sorted(graph.get(node, ())):
            if state.get(child) == "open":
                return path[path.index(child) :] + [child]
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
    """A cycle hidden in a function-level import (as batch_plots <-> explorer was) is found, and so is an upward import;
    a module that does not import, or names in ``__all__`` what it lacks, is reported."""
    assert (
        import_failures("xai_helpers.no_such_module")
        and "ModuleNotFoundError" in import_failures("xai_helpers.no_such_module")[0]
    )
    fake = types.ModuleType("fake")
    fake.present, fake.__all__ = 1, ["present", "absent", 3]
    assert public_name_failures(fake) == [
        "fake: __all__ names 'absent', which it does not define",
        "fake: __all__ names 3, which it does not define",
    ]
    assert public_name_failures(types.ModuleType("no_all")) == []
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
    assert layer("xai_helpers.run.book") > layer("xai_helpers.dsp.stft")
    # function-level imports are seen: explain_file's tqdm import is third-party, Explorer's imports are internal
    assert "xai_helpers.analysis.influence" in internal_imports("xai_helpers.plots.explorer")
    assert "xai_helpers.reports.html" in internal_imports("xai_helpers.run.book")  # imported inside main()
