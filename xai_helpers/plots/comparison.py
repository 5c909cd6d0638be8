"""Figures of the enhancer comparison (notebook 07): global maps of the models side by side, context curves,
per-file dots of any metric, and relevance against quality."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure

from ..experiments.comparison import MapView
from ..experiments.relation import spearman, wide
from .style import NA
from .style import ABS_CMAP, TIME_IN_FILE, lowest_under, new_figure

DENSITY_LABEL = "share of Σ|attribution| per kHz per s"
DENSITY_FLOOR = 1e-3
"""The log colour scale of the maps reaches down to this fraction of each row's peak density."""


def plot_map_grid(views: Mapping[str, Sequence[MapView]], title: str = "") -> Figure:
    """One row per key of ``views`` (a condition), one column per model: each :class:`MapView`'s density (Hz x s
    in the file, each model on its own grid) on a log colour scale shared by the row, speech-dominant bins
    outlined in white."""
    rows = list(views)
    n_cols = max(len(v) for v in views.values())
    fig, axes = new_figure(
        (4.2 * n_cols + 1.2, 2.9 * len(rows)), nrows=len(rows), ncols=n_cols, squeeze=False, sharey=True
    )
    cmap = lowest_under(ABS_CMAP)
    for r, condition in enumerate(rows):
        peak = max((float(np.nanmax(v.density)) for v in views[condition]), default=1.0) or 1.0
        norm = LogNorm(vmin=DENSITY_FLOOR * peak, vmax=peak)
        image = None
        for c in range(n_cols):
            ax = axes[r, c]
            if c >= len(views[condition]):
                ax.set_visible(False)
                continue
            view = views[condition][c]
            image = ax.pcolormesh(view.times_s, view.freqs_hz, view.density, cmap=cmap, norm=norm, shading="nearest")
            if view.speech.any() and not view.speech.all():
                ax.contour(
                    view.times_s, view.freqs_hz, view.speech.astype(float), levels=[0.5], colors="white", linewidths=0.6
                )
            ax.set_title(f"{view.model} · {condition}", fontsize="medium")
            if r == len(rows) - 1:
                ax.set_xlabel(f"Time {TIME_IN_FILE}")
            if c == 0:
                ax.set_ylabel("Input frequency (Hz)")
        if image is not None:
            fig.colorbar(image, ax=list(axes[r]), label=DENSITY_LABEL, shrink=0.9)
    if title:
        fig.suptitle(title)
    return fig


def plot_context_curves(
    curves: Mapping[str, Sequence[tuple[np.ndarray, np.ndarray]]], lag_grid_ms: np.ndarray, erb_grid: np.ndarray
) -> Figure:
    """Left: mean share of an output frame's ``|attribution|`` within each look-back (ms); right: of an output
    frequency's within each distance (ERB); one line per model (``curves[model]``: its jobs' ``(lag, spread)``
    curves), the band from the lowest to the highest job; 50 % and 90 % dotted."""
    fig, axes = new_figure((11, 4), ncols=2, sharey=True)
    for model, pairs in curves.items():
        for ax, grid, index in ((axes[0], lag_grid_ms, 0), (axes[1], erb_grid, 1)):
            stack = np.array([pair[index] for pair in pairs])
            (line,) = ax.plot(grid, np.nanmean(stack, axis=0), label=model)
            ax.fill_between(grid, np.nanmin(stack, axis=0), np.nanmax(stack, axis=0), color=line.get_color(), alpha=0.2)
    for ax, label in ((axes[0], "look-back (ms)"), (axes[1], "distance from the output frequency (ERB)")):
        for level in (0.5, 0.9):
            ax.axhline(level, color="0.6", lw=0.8, ls=":")
        ax.set_xlabel(label)
    axes[0].set_ylabel("share of |attribution| within")
    axes[0].set_title("temporal context (output frames of the segment's second half)")
    axes[1].set_title("spectral context")
    axes[1].legend()
    return fig


def plot_metric_dots(frame: pd.DataFrame, metrics: Sequence[str], labels: Mapping[str, str] | None = None) -> Figure:
    """One panel per metric of ``metrics`` that ``frame`` holds: a dot per (condition, file) of each model (colour:
    condition), the model's mean ± standard deviation in black beside them."""
    labels = labels or {}
    table = wide(frame)
    metrics = [m for m in metrics if m in table]
    models = list(dict.fromkeys(frame["model"]))
    conditions = list(dict.fromkeys(frame["condition"]))
    colours = {c: f"C{i % 10}" for i, c in enumerate(conditions)}
    n_cols = min(3, len(metrics))
    n_rows = -(-len(metrics) // n_cols)
    fig, axes = new_figure((4.2 * n_cols, 3.2 * n_rows), nrows=n_rows, ncols=n_cols, squeeze=False)
    offsets = np.linspace(-0.2, 0.05, max(len(conditions), 1))
    for ax, metric in zip(axes.flat, metrics):
        for m, model in enumerate(models):
            points = table[table["model"] == model]
            for k, condition in enumerate(conditions):
                values = points.loc[points["condition"] == condition, metric].dropna()
                ax.scatter(
                    np.full(len(values), m + offsets[k]),
                    values,
                    s=16,
                    color=colours[condition],
                    label=condition if m == 0 else None,
                )
            values = points[metric].dropna()
            if len(values):
                ax.errorbar(
                    m + 0.2,
                    values.mean(),
                    yerr=values.std(ddof=1) if len(values) > 1 else 0,
                    fmt="o",
                    color="k",
                    capsize=3,
                )
        ax.set_xticks(range(len(models)), models)
        ax.set_title(labels.get(metric, metric), fontsize="medium")
    for ax in list(axes.flat)[len(metrics) :]:
        ax.set_visible(False)
    handles, names = axes.flat[0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, names, loc="outside lower center", ncols=min(len(names), 3), fontsize="small")
    return fig


def _rho(x, y) -> str:
    value = spearman(x, y)
    return f"{value:.2f}" if np.isfinite(value) else NA


def plot_relation(frame: pd.DataFrame, x_metric: str, y_metric: str) -> Figure:
    """``y_metric`` against ``x_metric``, a dot per (model, condition, file), colour by model; the title gives the
    Spearman correlation per model and pooled (n/a with fewer than 3 points or a constant side)."""
    table = wide(frame)
    fig, ax = new_figure((6.5, 4.5))
    parts = []
    for i, model in enumerate(dict.fromkeys(frame["model"])):
        points = table[table["model"] == model]
        if x_metric in points and y_metric in points:
            ax.scatter(points[x_metric], points[y_metric], s=22, color=f"C{i}", label=model)
            parts.append(f"{model} {_rho(points[x_metric], points[y_metric])}")
    if x_metric in table and y_metric in table:
        parts.append(f"pooled {_rho(table[x_metric], table[y_metric])}")
    ax.set_xlabel(x_metric)
    ax.set_ylabel(y_metric)
    ax.set_title("Spearman: " + ", ".join(parts), fontsize="medium")
    ax.legend(fontsize="small")
    return fig
