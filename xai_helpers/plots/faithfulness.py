"""Figures of the faithfulness benchmark (notebook 05), from its long-form rows."""

from __future__ import annotations

import pandas as pd
from matplotlib.figure import Figure

from ..experiments.agreement import CONTROLS
from .style import new_figure


def plot_enrichment(rows: list[dict]) -> Figure:
    """Enrichment (mean ± std over files, placements, seeds) against burst level, one line per method;
    the controls dashed, chance (1.0) as a grey line."""
    frame = pd.DataFrame(rows)
    frame = frame[frame["metric"] == "enrichment"].assign(
        level=lambda f: f["condition"].str.split().str[1].astype(float)
    )
    stats = frame.groupby(["method", "level"])["value"].agg(["mean", "std"]).reset_index()
    fig, ax = new_figure((8, 4.5))
    for method, group in stats.groupby("method"):
        style = {"linestyle": "--", "color": "0.3" if method == "energy" else "0.6"} if method in CONTROLS else {}
        ax.errorbar(
            group["level"], group["mean"], yerr=group["std"].fillna(0), marker="o", capsize=3, label=method, **style
        )
    ax.axhline(1.0, color="0.8", lw=1, zorder=0)
    ax.set_xlabel("burst level relative to speech (dB)")
    ax.set_ylabel("enrichment (1.0 = chance)")
    ax.set_title("Attribution mass on the burst, explaining another band at the same time")
    ax.legend(fontsize="small", ncols=2)
    return fig


def plot_randomisation(rows: list[dict]) -> Figure:
    """Spearman correlation of original and randomised maps as layers are re-initialised from the top;
    left |maps|, right signed maps."""
    frame = pd.DataFrame(rows)
    steps = frame[["depth", "layer", "condition"]].drop_duplicates().sort_values("depth")
    order, layers = list(steps["condition"]), list(steps["layer"])
    fig, axes = new_figure((11, 4), ncols=2, sharey=True)
    for ax, metric, title in zip(
        axes, ("randomisation_spearman_abs", "randomisation_spearman_signed"), ("|map|", "signed map")
    ):
        subset = frame[frame["metric"] == metric]
        means = subset.groupby(["method", "condition"])["value"].mean().unstack()[order]
        for method, values in means.iterrows():
            ax.plot(range(len(order)), values.to_numpy(), marker="o", label=method)
        ax.set_xticks(range(len(order)), layers, rotation=30)
        ax.set_xlabel(f"re-initialised from {layers[0]} down to")
        ax.axhline(0.0, color="0.8", lw=1, zorder=0)
        ax.set_title(f"cascading randomisation: {title}")
    axes[0].set_ylabel("Spearman correlation with the original map")
    axes[1].legend(fontsize="small")
    return fig


GROUND_TRUTH_PANELS = (
    ("shapley_spearman", "Spearman with exact Shapley values"),
    ("shapley_sign_agreement", "sign agreement (Shapley mass)"),
    ("lesion_false_positive_share", "mass on the lesioned band"),
)


def plot_ground_truth(rows: list[dict]) -> Figure:
    """Per method (controls grey): mean ± std over conditions of the Shapley Spearman correlation, the
    sign agreement and the lesioned model's false-positive share, one horizontal bar panel each."""
    frame = pd.DataFrame(rows)
    fig, axes = new_figure((13, 4.5), ncols=len(GROUND_TRUTH_PANELS), sharey=True)
    order = frame[frame["metric"] == "shapley_spearman"].groupby("method")["value"].mean().sort_values().index.tolist()
    for ax, (metric, title) in zip(axes, GROUND_TRUTH_PANELS):
        stats = frame[frame["metric"] == metric].groupby("method")["value"].agg(["mean", "std"]).reindex(order)
        colours = ["0.6" if method in CONTROLS else "C0" for method in order]
        ax.barh(range(len(order)), stats["mean"].fillna(0), xerr=stats["std"].fillna(0), color=colours, capsize=3)
        ax.axvline(0.0, color="0.5", lw=1)
        ax.set_title(title, fontsize="medium")
    axes[0].set_yticks(range(len(order)), order)
    fig.suptitle("Ground truth: exact Shapley values of tiles and a lesioned band (controls grey)")
    return fig
