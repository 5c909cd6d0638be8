"""The README's quick start runs as written and prints what it says."""

from __future__ import annotations

import contextlib
import io
import os
import re
from pathlib import Path

import matplotlib

REPO = Path(__file__).resolve().parents[1]


def quick_start() -> str:
    """The first ```python block under the README's "Quick start in Python" heading."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("## Quick start in Python", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_quick_start_explains_a_file_that_adds_up_and_saves_its_map(tmp_path):
    matplotlib.use("Agg")  # a plain script here, not a notebook
    (tmp_path / "data").symlink_to(REPO / "data")
    printed = io.StringIO()
    cwd = Path.cwd()
    os.chdir(tmp_path)
    try:
        with contextlib.redirect_stdout(printed):
            exec(compile(quick_start(), "README.md quick start", "exec"), {})
    finally:
        os.chdir(cwd)
    status, shape, delta = re.fullmatch(r"(\w+) (\(.*?\)) (\S+)\n", printed.getvalue()).groups()
    assert status == "computed" and shape == "(161, 20, 161, 20)"
    assert float(delta) < 1e-4  # complete: the map adds up to the mask's change
    assert (tmp_path / "global_influence.png").stat().st_size > 10_000
    assert len(list((tmp_path / "runs" / "quickstart").glob("harvard_01__deepliftshap_complete_*.h5"))) == 1
