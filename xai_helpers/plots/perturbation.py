"""Figures of the perturbation test (notebook 04): amplified bins, mask change, deletion / insertion curves."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from matplotlib.colors import ListedColormap, Normalize
from matplotlib.figure import Figure

from ..experiments.curves import curve_summary
from ..experiments.perturbation import MASK_CHANGE_LABEL
from .style import SELECTION_COLOURS, SIGNED_CMAP, check_plane, draw_image, draw_underlay, new_figure, time_label

ORDER_COLOURS = {"top": "tab:red", "flop": "tab:blue", "random": "0.35"}


def _panels(n: int, height: float = 3.4) -> tuple[Figure, list]:
    fig, axes = new_figure((4.2 * n + 1.2, height), nrows=1, ncols=n, sharex=True, sharey=True, squeeze=False)
    return fig, list(axes[0])


def plot_selection(
    selections: Mapping[str, np.ndarray],
    freqs_hz: np.ndarray,
    times_s: np.ndarray,
    gain_db: float | None = None,
    title: str = "",
    underlay=None,
) -> Figure:
    """One panel per boolean selection ``[F, T]``: the amplified bins (axes: time in the file ``times_s``, s;
    frequency Hz). ``underlay``: the segment's log-power ``[F, T]`` drawn in grey beneath, the selected bins
    translucent red on it and the kept ones transparent."""
    fig, axes = _panels(len(selections))
    cmap = ListedColormap(list(SELECTION_COLOURS))
    image = None
    for ax, (name, selection) in zip(axes, selections.items()):
        selection, f, t = check_plane(
            np.asarray(selection, dtype=bool), f"selection {name!r}", "[F, T]", freqs_hz, times_s
        )
        if underlay is not None:
            draw_underlay(ax, check_plane(underlay, "underlay", "[F, T]", f, t)[0], f, t)
        image = draw_image(ax, selection, t, f, cmap, Normalize(0, 1), gid="selection")
        if underlay is not None:
            image.set_alpha(np.where(selection > 0, 0.7, 0.0))
        ax.set_title(f"{name}: {int(selection.sum())} of {selection.size} bins")
        ax.set_xlabel(time_label())
    axes[0].set_ylabel("frequency (Hz)")
    bar = fig.colorbar(image, ax=axes, ticks=[0.25, 0.75], fraction=0.03)
    bar.ax.set_yticklabels(
        [
            "kept" if underlay is None else "kept\n(grey: input\nspectrogram)",
            "amplified" if gain_db is None else f"+{gain_db:g} dB",
        ]
    )
    if title:
        fig.suptitle(title)
    return fig


def plot_mask_change(
    changes: Mapping[str, np.ndarray], freqs_hz: np.ndarray, times_s: np.ndarray, title: str = ""
) -> Figure:
    """New minus original mask ``[F, T]`` per panel (time in the file ``times_s``, s), diverging colormap on one
    symmetric range shared by all panels."""
    fig, axes = _panels(len(changes))
    peak = max(float(np.max(np.abs(c))) for c in changes.values()) or 1.0
    image = None
    for ax, (name, change) in zip(axes, changes.items()):
        change, f, t = check_plane(change, f"mask change {name!r}", "[F, T]", freqs_hz, times_s)
        image = draw_image(ax, change, t, f, SIGNED_CMAP, Normalize(-peak, peak))
        ax.set_title(f"{name}: mean |change| {np.mean(np.abs(change)):.4f}")
        ax.set_xlabel(time_label())
    axes[0].set_ylabel("frequency (Hz)")
    fig.colorbar(image, ax=axes, label=MASK_CHANGE_LABEL, fraction=0.03)
    if title:
        fig.suptitle(title)
    return fig


def plot_curves(curves: pd.DataFrame, areas: pd.DataFrame | None = None, title: str = "") -> Figure:
    """Deletion and insertion curves (mean |mask change| vs fraction of bins) per order; random as mean ± std band."""
    summary = curve_summary(curves)
    fig, axes = new_figure((11, 3.8), ncols=2, sharey=True)
    area_of = {} if areas is None else areas.set_index("order").to_dict("index")
    for ax, kind, caption in (
        (axes[0], "deletion", "deletion: first k ranked bins -> baseline"),
        (axes[1], "insertion", "insertion: baseline + first k ranked bins of the input"),
    ):
        for order, group in summary.groupby("order", sort=False):
            colour = ORDER_COLOURS.get(order, "k")
            label = (
                order
                if order != "random"
                else f"random (mean ± std, {int(curves[curves.order == 'random'].run.nunique())} seeds)"
            )
            if order in area_of:
                label += f", area {area_of[order][f'{kind}_area']:.4f}"
            ax.plot(group["fraction"], group[kind], marker="o", ms=3, color=colour, label=label)
            if order == "random":
                ax.fill_between(
                    group["fraction"],
                    group[kind] - group[f"{kind}_std"],
                    group[kind] + group[f"{kind}_std"],
                    color=colour,
                    alpha=0.25,
                    lw=0,
                )
        ax.set_title(caption)
        ax.set_xlabel("fraction of the segment's bins (ranked order)")
        ax.set_xlim(0, 1)
        ax.legend(fontsize="small")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("mean |mask(x') - mask(x)| (gain)")
    if title:
        fig.suptitle(title)
    return fig
