"""Notebook 05's set-up (its parameters and the ``full_run`` preset to benchmark settings, files and model),
its ground-truth section (tables and the figure, written as PNG), its captioned tables (burst levels in
numeric order, layers in the model's randomisation order) and its summary."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from IPython.display import Markdown, display
from pandas.io.formats.style import Styler

from ..dsp.stft import StftConfig
from ..experiments.agreement import METRICS
from ..experiments.faithfulness import BenchmarkSettings
from ..experiments.faithfulness_reading import headline, method_table, summary_table
from ..io.audio import load_audio
from ..io.datasets import list_audio_files
from ..models.cache import cached_model
from ..models.base import MaskModel
from ..models.registry import DEFAULT_MODEL, model_sample_rate
from ..plots.faithfulness import plot_ground_truth
from ..plots.style import save_png
from .tables import captioned, numeric_key, order_key, sort_labels

FULL_RUN = {
    "n_files": None,
    "placements": ((3000.0, 0.8), (2000.0, 1.0), (4500.0, 0.6)),
    "seeds": (0, 1),
    "n_samples": 50,
    "levels_db": (20.0, 10.0, 0.0),
    "randomisation_files": None,
}
"""What ``full_run=True`` overrides: all files, three placements, three levels, two seeds, more samples,
randomisation on every file."""


@dataclass
class Benchmark:
    """Everything notebook 05 runs on: settings, clean waves ``{name: [N]}``, the model and its STFT."""

    settings: BenchmarkSettings
    clean_waves: dict[str, np.ndarray]
    model: MaskModel
    stft: StftConfig

    def describe(self) -> str:
        s = self.settings
        return (
            f"{len(self.clean_waves)} file(s), {len(s.placements)} placement(s), levels {list(s.levels_db)} dB, "
            f"seeds {list(s.seeds)}, Shapley bands cut at {list(s.shapley_band_edges_hz)} Hz x {s.shapley_spans + 1} "
            "spans "
            f"+ the burst tile, lesioned band {list(s.lesion_band_hz)} Hz, {s.removal} removal; model {self.model.name}"
        )


def benchmark_setup(
    input_path: str | os.PathLike,
    n_files: int | None,
    methods: Sequence[str],
    levels_db: Sequence[float],
    placements: Sequence[Sequence[float]],
    explained_offset_hz: Sequence[float],
    snr_db: float,
    baseline: str,
    n_samples: int,
    seeds: Sequence[int],
    full_run: bool,
    sample_rate: int,
    shapley_band_edges_hz: Sequence[float],
    shapley_spans: int,
    lesion_band_hz: Sequence[float],
    removal: str,
    model: str = DEFAULT_MODEL,
) -> Benchmark:
    """Notebook 05's parameters to a :class:`Benchmark`; ``full_run`` replaces ``n_files``, ``placements``,
    ``levels_db``, ``seeds``, ``n_samples`` and the randomisation's files by :data:`FULL_RUN`."""
    randomisation_files = 1
    if full_run:
        n_files, placements, levels_db, seeds, n_samples, randomisation_files = (
            FULL_RUN[key] for key in ("n_files", "placements", "levels_db", "seeds", "n_samples", "randomisation_files")
        )
    settings = BenchmarkSettings(
        methods=tuple(methods),
        levels_db=tuple(levels_db),
        placements=tuple(tuple(p) for p in placements),
        explained_offset_hz=tuple(explained_offset_hz),
        snr_db=snr_db,
        baseline=baseline,
        seeds=tuple(seeds),
        n_samples=n_samples,
        shapley_band_edges_hz=tuple(shapley_band_edges_hz),
        shapley_spans=int(shapley_spans),
        lesion_band_hz=tuple(lesion_band_hz),
        removal=removal,
        randomisation_files=randomisation_files,
    )
    files = list_audio_files(input_path)[:n_files]
    model = cached_model(model_sample_rate(model, sample_rate), "cpu", model)
    sample_rate = model.sample_rate
    return Benchmark(
        settings, {path.stem: load_audio(path, sample_rate) for path in files}, model, model.stft_config(sample_rate)
    )


BURST_METRICS = ("burst_effect", "burst_shapley", "burst_effect_share", "burst_material")


def show_ground_truth(rows: list[dict], output_dir: str | os.PathLike) -> None:
    """The Shapley agreement per method (mean, std, count over conditions), the lesion false-positive
    shares, the burst per condition, and :func:`~xai_helpers.plots.faithfulness.plot_ground_truth`
    (written to ``faithfulness_ground_truth.png``)."""
    display(
        captioned(
            method_table(rows, METRICS),
            "Agreement with the exact Shapley values of the tiles, per method and "
            "control: mean, std and count over files, levels, placements and seeds (Spearman, Pearson, sign "
            "agreement, top-3: 1 is best; L1: 0 is best).",
            drop_empty=True,
        )
    )
    display(
        captioned(
            method_table(rows, ["lesion_false_positive_share"]),
            "Share of |attribution| on the band the lesioned model cannot see (0 is right): mean, std and count.",
            precision=4,
            drop_empty=True,
        )
    )
    frame = pd.DataFrame(rows)
    burst = frame[frame["metric"].isin(BURST_METRICS)]
    table = burst.pivot_table(index=["sample", "placement", "condition", "seed"], columns="metric", values="value")[
        list(BURST_METRICS)
    ]
    display(
        captioned(
            sort_labels(table, numeric_key, axis="index", level=2),
            "The burst per condition: its measured effect "
            "on the explained output, its exact Shapley value, the effect as a share of the explained change, and "
            "burst_material (1: the effect reaches the set share of the change).",
        )
    )
    fig = plot_ground_truth(rows)
    save_png(fig, Path(output_dir) / "faithfulness_ground_truth.png")
    display(fig)


def condition_table(rows: list[dict], metric: str, caption: str, precision: int = 3) -> Styler:
    """:func:`~xai_helpers.experiments.faithfulness.summary_table` of ``metric`` (mean and std per method and
    burst level), levels in numeric order (-20, -10, 0 dB), captioned; columns without a value (std of one
    condition) left out."""
    return captioned(sort_labels(summary_table(rows, metric), numeric_key), caption, precision, drop_empty=True)


def randomisation_table(rows: list[dict], metric: str = "randomisation_spearman_signed", precision: int = 2) -> Styler:
    """The cascading randomisation's ``metric`` per method (rows) and depth (columns: the last layer
    re-initialised, in the model's randomisation order, top layer first), mean and std, captioned."""
    table = summary_table(rows, metric)
    steps = pd.DataFrame(rows)[["depth", "layer", "condition"]].drop_duplicates().sort_values("depth")
    order = tuple(steps["layer"])
    layers = dict(zip(steps["condition"], steps["layer"]))
    table = sort_labels(table.rename(columns=layers, level=table.columns.nlevels - 1), order_key(order))
    return captioned(
        table,
        f"Cascading randomisation ({metric.removeprefix('randomisation_')}): Spearman correlation between "
        "each method's map and its map with every layer from the top down to the column's layer "
        f"re-initialised (order: {' → '.join(order)}); mean over files (and std, with several).",
        precision,
        drop_empty=True,
    )


def summary(benchmark: Benchmark, rows: list[dict]) -> Markdown:
    """What notebook 05 shows and what it found (Markdown): the benchmark, then the points
    :func:`~xai_helpers.experiments.faithfulness.reading` opens with
    (:func:`~xai_helpers.experiments.faithfulness.headline`: the method closest to the exact Shapley values
    with its margin, the controls, and any control that ranks as well); the whole reading closes the report."""
    methods = ", ".join(f"`{m}`" for m in benchmark.settings.methods)
    shows = (
        f"**What this shows.** Attribution methods ({methods}) and the controls `random`, `energy` and `flipped`, "
        f"scored against ground truths built into the input and the model: {benchmark.describe()}."
    )
    return Markdown(
        f"{shows}\n\n**What we found.**\n\n" + "\n".join(headline(rows)) + "\n\nThe full reading closes the report."
    )
