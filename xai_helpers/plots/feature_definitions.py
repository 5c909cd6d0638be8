"""Figures of the feature-definition study (notebook 06): one output under every definition, unit
profiles, and agreement / stability / cost summaries."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ..experiments.feature_definitions import Score, Study
from .style import draw_image, file_times, new_figure, symmetric_norm, time_label

SPECTROGRAM_CMAP = "magma"
SIGNED = "RdBu_r"


def _panel_map(study: Study, score: Score) -> tuple[np.ndarray, np.ndarray, str]:
    """``(image [rows, T], row centres, row label)`` of one score: bins as they are, tile scores spread
    evenly over their bins (value per bin), latent group scores over frames (sum over the group's units)."""
    segment = study.example
    if score.grid == "bins":
        return score.map, segment.freqs_hz, "Frequency (Hz)"
    if score.definition == "latent":
        groups = study.unit_groups[score.grid]
        n_groups = len(score.values)
        image = np.stack([score.map[groups == g].sum(axis=0) for g in range(n_groups)])
        return image, np.arange(n_groups), "unit group (input band)"
    tiles = next(g for g in study.grids if g.name == score.grid).tiles
    per_bin = score.values / tiles.masks.sum(axis=(1, 2))
    return np.einsum("k,kft->ft", per_bin, tiles.masks.astype(float)), segment.freqs_hz, "Frequency (Hz)"


def plot_definitions(study: Study, output: str, grid: str, methods: list[tuple[str, str, str]] | None = None) -> Figure:
    """The explained ``output`` of the example segment under each definition, side by side on one time axis
    (seconds in the file), with the input spectrogram underneath every column. ``methods``:
    ``(definition, grid, method)`` triples; by default every bin method at bin level, every region method on ``grid``
    and each latent method on the last latent layer. Signed colours centred on zero, one scale per panel."""
    example = study.example
    chosen = [s for s in study.scores if s.file == example.file and s.seed == example.seed and s.output == output]
    if methods is None:
        layers = [s.grid for s in chosen if s.definition == "latent"]

        def keep(s):
            return (
                (s.definition == "bins" and s.grid == "bins")
                or (s.definition == "regions" and s.grid == grid)
                or (s.definition == "latent" and s.grid == layers[-1])
            )

        panels = [s for s in chosen if keep(s)]
    else:
        lookup = {(s.definition, s.grid, s.method): s for s in chosen}
        panels = [lookup[m] for m in methods]
    if not panels:
        raise ValueError(f"no score of output {output!r} on grid {grid!r} for the example segment")
    fig, axes = new_figure(
        (2.1 * len(panels), 5.2),
        nrows=2,
        ncols=len(panels),
        sharex=True,
        squeeze=False,
        gridspec_kw={"height_ratios": [3, 2]},
    )
    weights = next(o.weights for o in study.outputs if o.name == output)
    times = file_times(example.times_s, example.start_s)
    for column, score in enumerate(panels):
        image, rows, label = _panel_map(study, score)
        ax = axes[0, column]
        mappable = draw_image(ax, image, times, rows, SIGNED, symmetric_norm(image))
        fig.colorbar(mappable, ax=ax, location="top", shrink=0.8).ax.tick_params(labelsize=6)
        ax.set_title(f"{score.definition}: {score.method}\n{score.grid}", fontsize=8)
        if column == 0 or label != "Frequency (Hz)":
            ax.set_ylabel(label, fontsize=8)
        if label != "Frequency (Hz)":
            edges = next(g for g in study.grids if g.name == study.unit_group_grid).band_edges_hz
            ax.set_yticks(rows, [f"{lo:.0f}-{hi:.0f}" for lo, hi in zip(edges[:-1], edges[1:])], fontsize=6)
        spectrum = axes[1, column]
        draw_image(spectrum, example.features, times, example.freqs_hz, SPECTROGRAM_CMAP, None)
        spectrum.contour(times, example.freqs_hz, weights > 0, levels=[0.5], colors="cyan", linewidths=0.8)
        spectrum.set_xlabel(time_label(), fontsize=8)
        if column == 0:
            spectrum.set_ylabel("input log-power\n(Hz; cyan: explained output)", fontsize=8)
    fig.suptitle(f"{output} of {example.file} (noise seed {example.seed}) under each feature definition", fontsize=10)
    return fig


def plot_unit_profiles(study: Study, n_units: int = 6) -> Figure:
    """Per latent layer: every unit's profile ``[units, F]`` (normalised by its largest |value|, units sorted
    by group then by peak frequency) as an image, and the ``n_units`` units with the largest profiles as lines."""
    layers = list(study.profiles)
    fig, axes = new_figure(
        (11, 2.8 * len(layers)), nrows=len(layers), ncols=2, squeeze=False, gridspec_kw={"width_ratios": [2, 3]}
    )
    freqs = study.example.freqs_hz
    for row, layer in enumerate(layers):
        profiles, groups = study.profiles[layer], study.unit_groups[layer]
        scale = np.maximum(np.abs(profiles).max(axis=1, keepdims=True), np.finfo(float).tiny)
        order = np.lexsort((np.argmax(np.abs(profiles), axis=1), groups))
        image_ax, line_ax = axes[row]
        draw_image(image_ax, (profiles / scale)[order], freqs, np.arange(len(order)), SIGNED, symmetric_norm([1.0]))
        for boundary in np.flatnonzero(np.diff(groups[order])):
            image_ax.axhline(boundary + 0.5, color="black", lw=0.6)
        image_ax.set(
            title=f"{layer}: unit profiles (normalised; lines between groups)",
            xlabel="Input frequency (Hz)",
            ylabel="unit (sorted)",
        )
        strongest = np.argsort(-np.abs(profiles).sum(axis=1))[:n_units]
        for unit in strongest:
            line_ax.plot(freqs, profiles[unit], lw=1, label=f"unit {unit} (group {groups[unit]})")
        line_ax.axhline(0, color="0.7", lw=0.6)
        line_ax.set(
            title=f"{layer}: the {n_units} strongest units",
            xlabel="Input frequency (Hz)",
            ylabel="activation change\n(summed over frames)",
        )
        line_ax.legend(fontsize=6, ncols=2)
    return fig


def plot_summary(rows: pd.DataFrame) -> Figure:
    """Left: mean Spearman with exact Shapley per method and grid; right: spread of normalised scores
    across noise seeds and files (lower is steadier)."""
    fig, (left, right) = new_figure((12, 4.5), ncols=2)
    agreement = rows[rows["metric"] == "shapley_spearman"].assign(label=lambda f: f["definition"] + "/" + f["method"])
    pivot = agreement.pivot_table(index="label", columns="grid", values="value", aggfunc="mean")
    pivot.plot.barh(ax=left, width=0.8)
    left.axvline(0, color="0.5", lw=0.8)
    left.set(xlabel="Spearman with exact Shapley (mean)", ylabel="", title="Agreement with the exact Shapley values")
    left.legend(fontsize=6, loc="upper center", bbox_to_anchor=(0.5, -0.15), ncols=3)
    spread = rows[rows["metric"].isin(["spread_seeds", "spread_files"])].assign(
        label=lambda f: f["definition"] + "/" + f["method"]
    )
    if not spread.empty:
        spread.pivot_table(index="label", columns="metric", values="value", aggfunc="mean").plot.barh(
            ax=right, width=0.8
        )
    right.set(
        xlabel="spread of normalised scores (mean std)", ylabel="", title="Stability across noise seeds and files"
    )
    return fig
