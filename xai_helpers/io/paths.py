"""Checks of a notebook's output folder before any work: a folder (not a file), and outside its inputs."""

from __future__ import annotations

import os
from pathlib import Path


def check_output_dir(
    output_dir: str | os.PathLike, *, input_path: str | os.PathLike | None = None, name: str = "output_dir"
) -> Path:
    """``output_dir`` as a ``Path`` if a notebook may write into it; ``ValueError`` naming ``name`` otherwise.

    Refused: an existing path that is not a folder (a missing folder is fine: writers create it);
    with ``input_path`` a folder, an ``output_dir`` equal to it or inside it (outputs mixed with the
    inputs they are made from: notebook 01 run twice so would add noise to its own noisy files).
    Paths are compared resolved (``../data/x`` and ``data/x`` are one folder); an ``input_path`` that
    is a file (or missing) is not compared.
    """
    output = Path(output_dir)
    if output.exists() and not output.is_dir():
        raise ValueError(f"{name}: {output} is an existing file, not a folder; give a folder (created if missing)")
    if input_path is not None and Path(input_path).is_dir():
        inputs, resolved = Path(input_path).resolve(), output.resolve()
        if resolved == inputs or inputs in resolved.parents:
            where = "is the input folder" if resolved == inputs else "lies inside the input folder"
            raise ValueError(
                f"{name}: {output} {where} input_path {input_path}: outputs must stay apart from the inputs they are "
                f"made from (a second run over {input_path} would take them as inputs); "
                f"choose an {name} outside input_path"
            )
    return output
