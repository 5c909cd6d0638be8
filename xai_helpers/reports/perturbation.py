"""Notebook 04's sections: the figures (written as PNG and returned) and tables of the perturbation test."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
from IPython.display import HTML, display

from ..experiments.perturbation import FilePerturbation, quality_column
from ..experiments.quality import QUALITY_METRICS
from ..plots.perturbation import plot_curves, plot_mask_change, plot_selection
from ..plots.style import save_png
from .audio import audio_players

PANELS = {"top": "top", "flop": "flop", "random": "random (first seed)"}
"""Order key -> panel title of the selection and mask-change figures."""


def _panels(values: dict) -> dict:
    return {title: values[order] for order, title in PANELS.items()}


def show_selections(done: Sequence[FilePerturbation], gain_db: float, ranking: str, output_dir: str | os.PathLike) -> None:
    """Per file: the amplified bins of top, flop and the first random selection; written to ``{file}_selection.png``."""
    for result in done:
        fig = plot_selection(_panels(result.selections), result.freqs_hz, result.times_s, gain_db,
                             title=f"{result.basename}: amplified bins ({ranking} ranking)")
        save_png(fig, Path(output_dir) / f"{result.basename}_selection.png")
        display(fig)


def show_mask_changes(done: Sequence[FilePerturbation], gain_db: float, output_dir: str | os.PathLike) -> None:
    """Per file: the mask change of each selection (``{file}_mask_change.png``), its amplification table
    and players of the original and amplified files."""
    for result in done:
        fig = plot_mask_change(_panels(result.changes), result.freqs_hz, result.times_s,
                               title=f"{result.basename}: mask change after +{gain_db:g} dB")
        save_png(fig, Path(output_dir) / f"{result.basename}_mask_change.png")
        display(fig)
        display(result.amplification.set_index("order").round(4))
        display(HTML(audio_players({name: result.waves[name] for name in ("original", "top", "flop")}, result.sample_rate)))


def reference_table(done: Sequence[FilePerturbation]) -> pd.DataFrame | None:
    """Per file: mean mask of the input and of the baseline, their difference, and the attribution sum per output bin."""
    if not done:
        return None
    return pd.DataFrame([{"file": result.source.name, **result.reference} for result in done]).set_index("file").round(4)


def show_curves(done: Sequence[FilePerturbation], method: str, ranking: str, output_dir: str | os.PathLike) -> None:
    """Per file: deletion and insertion curves (``{file}_curves.png``)."""
    for result in done:
        fig = plot_curves(result.curves, result.areas, title=f"{result.basename}: {method}, {ranking} ranking")
        save_png(fig, Path(output_dir) / f"{result.basename}_curves.png")
        display(fig)


def show_areas(done: Sequence[FilePerturbation]) -> None:
    """Areas under the curves per file and order, then their mean over files per method and order."""
    if not done:
        return
    areas = pd.concat([result.areas.assign(file=result.source.name) for result in done], ignore_index=True)
    display(areas.set_index(["file", "order"]).round(4))
    display(areas.groupby(["method", "order"], sort=False)[["deletion_area", "insertion_area"]].mean().round(4))


def amplification_table(done: Sequence[FilePerturbation]) -> pd.DataFrame | None:
    """Mean |mask change| after amplifying top, flop and random selections: files x orders."""
    if not done:
        return None
    amplification = pd.concat([result.amplification.assign(file=result.source.name) for result in done])
    return amplification.pivot(index="file", columns="order", values="mean |mask change|")[["top", "flop", "random"]].round(4)


def quality_change_table(done: Sequence[FilePerturbation]) -> pd.DataFrame | None:
    """The enhanced output's scores when the top, flop and random bins are amplified: rows (file, order).

    Columns: the reference (``clean`` or ``enhanced original``), per score (PESQ, STOI, SI-SDR dB)
    the enhanced original's value, the value after amplification (random: mean over seeds) and the
    change; NaN where a score cannot apply.
    """
    if not done:
        return None
    rows = []
    for result in done:
        for record in result.quality.to_dict("records"):
            row = {"file": result.source.name, "order": record["order"], "reference": result.quality_reference}
            for metric in QUALITY_METRICS:
                amplified = quality_column(metric, "amplified")
                row[amplified.replace("(amplified)", "(original)")] = result.quality_original[metric]
                row[amplified] = record[amplified]
                row[quality_column(metric, "change")] = record[quality_column(metric, "change")]
            rows.append(row)
    return pd.DataFrame(rows).set_index(["file", "order"])


def mean_quality_changes(table: pd.DataFrame | None) -> pd.DataFrame | None:
    """Mean over files of each score's change, per order (top, flop, random): the closing summary."""
    if table is None:
        return None
    changes = [quality_column(metric, "change") for metric in QUALITY_METRICS]
    return table.groupby(level="order", sort=False)[changes].mean()
