"""The grouped-band bar chart: attribution per input frequency band, mean and spread over a dataset's files."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from ..analysis.bands import BandAttribution, band_labels
from .style import new_figure

BAR_COLOUR = "#9ecae1"


def plot_band_attribution(bands: BandAttribution, target: str = "mask", title: str | None = None) -> Figure:
    """Bars of the mean over files of each band's attribution (:class:`~xai_helpers.analysis.bands.BandAttribution`
    ``values [N, B]``) with ± one standard deviation as error bars and every file's value as a dot; x: the bands
    (Hz), y: what the values are (:meth:`~xai_helpers.analysis.bands.BandAttribution.value_label`)."""
    n_files, n_bands = bands.values.shape
    x = np.arange(n_bands)
    fig, ax = new_figure((max(6.0, 0.8 * n_bands + 2), 4.2))
    ax.bar(x, bands.mean, yerr=bands.std, capsize=4, color=BAR_COLOUR, edgecolor="black", label="mean ± std over files")
    if n_files:
        jitter = np.linspace(-0.2, 0.2, n_files) if n_files > 1 else np.zeros(1)
        ax.scatter(
            (x[None, :] + jitter[:, None]).ravel(), bands.values.ravel(), s=10, color="0.25", zorder=3, label="one file"
        )
    if bands.aggregation == "signed_sum":
        ax.axhline(0.0, color="black", lw=0.8)
    ax.set_xticks(x, band_labels(bands.edges_hz), rotation=30 if n_bands > 8 else 0)
    ax.set_xlabel(f"input frequency band (Hz, {bands.scale} bands)")
    ax.set_ylabel(bands.value_label(target))
    ax.legend(fontsize="small")
    ax.grid(axis="y", alpha=0.3)
    ax.set_title(
        title
        or f"Attribution per input frequency band over {n_files} file(s): mean ± std\n"
        f"({bands.aggregation} over all output bins and the file's frames)",
        fontsize="medium",
    )
    return fig
