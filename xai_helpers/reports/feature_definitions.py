"""Notebook 06's summary: what the feature-definition study shows and, per grid, which definition and
method come closest to the exact Shapley values."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from IPython.display import Markdown

from ..experiments.feature_definitions import Study
from ..experiments.feature_metrics import headline


def summary(study: Study, rows: pd.DataFrame, files: Sequence[str], noise_seeds: Sequence[int]) -> Markdown:
    """What notebook 06 shows and what it found (Markdown): the outputs, files, noise seeds and grids, then
    the per-grid points :func:`~xai_helpers.experiments.feature_metrics.reading` opens with
    (:func:`~xai_helpers.experiments.feature_metrics.headline`: closest and furthest from the exact Shapley
    values); the whole reading closes the report."""
    grids = ", ".join(f"{grid.name} ({grid.tiles.count} players)" for grid in study.grids)
    outputs = ", ".join(f"`{output.name}`" for output in study.outputs)
    shows = (
        f"**What this shows.** The same {study.model} outputs ({outputs}) explained with input bins, with grouped "
        "regions as "
        f"players and with latent units, on {len(files)} file(s) x {len(noise_seeds)} noise seed(s), over the grids "
        f"{grids}; each compared with the exact Shapley values of the same regions, with the others, across noise "
        "and files, and by cost."
    )
    points = headline(rows, study.grids)
    return Markdown(
        f"{shows}\n\n**What we found.**\n\n" + "\n".join(points) + "\n\nThe full reading closes the report."
    )
