"""Every numbered notebook has a papermill parameters cell and a py:percent twin saying the same."""

from __future__ import annotations

from pathlib import Path

import jupytext
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def test_there_are_notebooks():
    assert NOTEBOOKS


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_parameters_cell(notebook):
    cells = jupytext.read(notebook).cells
    tagged = [c for c in cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1 and tagged[0].cell_type == "code"


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_twin_in_sync(notebook):
    twin = notebook.with_suffix(".py")
    assert twin.is_file(), f"{twin} missing: run `make sync`"
    pair = [[(c.cell_type, c.source.strip()) for c in jupytext.read(path).cells] for path in (notebook, twin)]
    assert pair[0] == pair[1], f"{notebook.name} and {twin.name} differ: run `make sync`"
