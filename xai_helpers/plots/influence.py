"""The influence maps of the 4-D attribution tensor ``[f_out, t_out, f_in, t_in]``: global, time,
frequency (and its low-frequency variant), temporal correlation.

Each map has a map-level function (``plot_*_map``: draws a reduced map, as :mod:`xai_helpers.analysis.influence`
computes it, e.g. chunk by chunk) and a 4-D wrapper (reduces the tensor, then draws). The maps drawn for
a stored file, with their captions: :data:`INFLUENCE_PLOTS`. To add an influence plot: its reduction in
:mod:`xai_helpers.analysis.influence`, its function and an :data:`INFLUENCE_PLOTS` entry here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from matplotlib import colormaps
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

from ..analysis.influence import Influence, check_aggregation, check_attributions, frequency_influence, global_influence, low_outputs, time_correlation, time_influence
from .style import (
    ABS_CMAP,
    AGGREGATION_NOTE,
    DEFAULT_VALUE_LABEL,
    SIGNED_CMAP,
    aggregation_line,
    check_attr_axes,
    check_plane,
    check_square_map,
    draw_image,
    edges,
    label_time_frequency,
    line_colour,
    new_figure,
    value_style,
)


def _annotate(fig: Figure, ax, image, title: str | None, heading: str, aggregation: str, over: str, value_label: str) -> Figure:
    """``title``, or ``heading`` and the aggregation line; a colour bar naming the aggregation over ``over``."""
    ax.set_title(title or heading + aggregation_line(aggregation, over), fontsize="medium")
    fig.colorbar(image, ax=ax, label=f"{value_label}\n{aggregation} over {over}")
    return fig


def _diagonal(ax, x_edges: np.ndarray, y_edges: np.ndarray, aggregation: str, label: str, legend: str) -> None:
    """The dashed diagonal ``y = x`` over the image's extent (pixel edges), the limits and the legend."""
    lo, hi = max(x_edges[0], y_edges[0]), min(x_edges[-1], y_edges[-1])
    ax.plot([lo, hi], [lo, hi], color=line_colour(aggregation), lw=0.8, alpha=0.7, ls="--", label=label)
    ax.set_xlim(x_edges[0], x_edges[-1])
    ax.set_ylim(y_edges[0], y_edges[-1])
    ax.legend(loc=legend, fontsize="small", framealpha=0.8)


def plot_global_map(
    global_map,
    freqs_hz,
    times_s,
    aggregation: str = "abs_sum",
    value_label: str = "relative influence (unitless, max |value| = 1)",
    title: str | None = None,
) -> Figure:
    """Map ``[f_in, t_in]`` of each input bin's total influence on the whole mask, from the
    normalised map (max ``|value|`` = 1, as :func:`global_influence` returns it).

    Fixed colour range: ``[-1, 1]`` diverging for ``"signed_sum"``, ``[0, 1]`` sequential
    for ``"abs_sum"``.
    """
    check_aggregation(aggregation)
    g, f, t = check_plane(global_map, "global_map", "[f_in, t_in]", freqs_hz, times_s)
    signed = aggregation == "signed_sum"
    cmap = SIGNED_CMAP if signed else ABS_CMAP
    norm = Normalize(-1.0, 1.0) if signed else Normalize(0.0, 1.0)
    fig, ax = new_figure((8, 4.2))
    im = draw_image(ax, g, t, f, cmap, norm)
    label_time_frequency(ax, "Input time t_in (s)", "Input frequency f_in (Hz)")
    return _annotate(fig, ax, im, title, "Global influence of each input bin on the whole gain mask\n", aggregation, "all output bins", value_label)


def plot_global_influence(
    attributions,
    freqs_hz,
    times_s,
    aggregation: str = "abs_sum",
    value_label: str = "relative influence (unitless, max |value| = 1)",
    title: str | None = None,
) -> Figure:
    """Map ``[f_in, t_in]`` of each input bin's total influence on the whole mask:
    :func:`plot_global_map` of :func:`global_influence`."""
    a = check_attributions(attributions)
    f, t = check_attr_axes(a, freqs_hz, times_s)
    return plot_global_map(global_influence(a, aggregation), f, t, aggregation, value_label, title)


def plot_time_map(
    time_map,
    times_s,
    aggregation: str = "abs_sum",
    value_label: str = DEFAULT_VALUE_LABEL,
    title: str | None = None,
) -> Figure:
    """Map ``[t_out, t_in]`` (as :func:`time_influence` returns it): x = input time,
    y = output time, with the causal diagonal ``t_in = t_out`` drawn as a thin line."""
    check_aggregation(aggregation)
    ti, t = check_square_map(time_map, "time_map", "[t_out, t_in]", times_s, "times_s")
    cmap, norm = value_style(ti, aggregation == "signed_sum")
    fig, ax = new_figure((6.8, 5.6))
    im = draw_image(ax, ti, t, t, cmap, norm)
    _diagonal(ax, edges(t), edges(t), aggregation, "causal limit t_in = t_out", "upper left")
    ax.set_xlabel("Input time t_in (s)")
    ax.set_ylabel("Output time t_out (s)")
    return _annotate(fig, ax, im, title, "Time influence: input frame -> output frame\n", aggregation, "f_out, f_in", value_label)


def plot_time_influence(
    attributions,
    times_s,
    aggregation: str = "abs_sum",
    value_label: str = DEFAULT_VALUE_LABEL,
    title: str | None = None,
) -> Figure:
    """Map ``[t_out, t_in]``: :func:`plot_time_map` of :func:`time_influence`."""
    a = check_attributions(attributions)
    _, t = check_attr_axes(a, None, times_s)
    return plot_time_map(time_influence(a, aggregation), t, aggregation, value_label, title)


def plot_frequency_map(
    frequency_map,
    freqs_hz,
    aggregation: str = "abs_sum",
    max_output_hz: float | None = None,
    value_label: str = DEFAULT_VALUE_LABEL,
    title: str | None = None,
) -> Figure:
    """Map ``[f_out, f_in]`` over all output frequencies (as :func:`frequency_influence`
    returns it without ``max_output_hz``): x = input frequency, y = output frequency (only
    the rows of outputs <= ``max_output_hz`` when given), with the diagonal ``f_in = f_out``."""
    check_aggregation(aggregation)
    fi, f = check_square_map(frequency_map, "frequency_map", "[f_out, f_in]", freqs_hz, "freqs_hz")
    f_rows = f
    if max_output_hz is not None:
        keep = low_outputs(f, max_output_hz)
        fi, f_rows = fi[keep], f[keep]
    cmap, norm = value_style(fi, aggregation == "signed_sum")
    fig, ax = new_figure((7.5, 4.8 if max_output_hz is None else 3.8))
    im = draw_image(ax, fi, f, f_rows, cmap, norm)
    _diagonal(ax, edges(f), edges(f_rows), aggregation, "f_in = f_out", "upper right")
    ax.set_xlabel("Input frequency f_in (Hz)")
    ax.set_ylabel("Output frequency f_out (Hz)")
    which = (
        "all output frequencies"
        if max_output_hz is None
        else f"output frequencies <= {max_output_hz:g} Hz"
    )
    return _annotate(fig, ax, im, title, f"Frequency influence: input -> output frequency ({which})\n", aggregation, "t_out, t_in", value_label)


def plot_frequency_influence(
    attributions,
    freqs_hz,
    aggregation: str = "abs_sum",
    max_output_hz: float | None = None,
    value_label: str = DEFAULT_VALUE_LABEL,
    title: str | None = None,
) -> Figure:
    """Map ``[f_out, f_in]``: :func:`plot_frequency_map` of :func:`frequency_influence`
    (only outputs <= ``max_output_hz`` when given)."""
    a = check_attributions(attributions)
    f, _ = check_attr_axes(a, freqs_hz, None)
    fi = frequency_influence(a, aggregation)
    return plot_frequency_map(fi, f, aggregation, max_output_hz, value_label, title)


def plot_correlation_map(
    correlation,
    times_s,
    aggregation: str = "signed_sum",
    title: str | None = None,
) -> Figure:
    """Pearson correlation ``[t_in, t_in]`` between input frames' attribution vectors (as
    :func:`time_correlation` or :func:`frame_correlation` return it; ``aggregation`` is the
    one the vectors were aggregated over ``f_in`` with); grey = undefined (NaN)."""
    check_aggregation(aggregation)
    c, t = check_square_map(correlation, "correlation", "[t_in, t_in]", times_s, "times_s")
    cmap = colormaps[SIGNED_CMAP].with_extremes(bad="0.8")
    fig, ax = new_figure((6.4, 5.4))
    im = draw_image(ax, c, t, t, cmap, Normalize(vmin=-1.0, vmax=1.0))
    ax.set_xlabel("Input time t_in (s)")
    ax.set_ylabel("Input time t_in (s)")
    ax.set_title(
        title
        or "Correlation between input frames' attribution vectors\n"
        f"(one entry per output bin; aggregation: {aggregation} over f_in\n"
        f"{AGGREGATION_NOTE[aggregation]}); grey = undefined (constant vector)",
        fontsize="medium",
    )
    fig.colorbar(im, ax=ax, label="Pearson r (unitless)")
    return fig


def plot_time_correlation(
    attributions,
    times_s,
    aggregation: str = "signed_sum",
    title: str | None = None,
) -> Figure:
    """Pearson correlation ``[t_in, t_in]`` between input frames' attribution
    vectors: :func:`plot_correlation_map` of :func:`time_correlation`."""
    a = check_attributions(attributions)
    _, t = check_attr_axes(a, None, times_s)
    return plot_correlation_map(time_correlation(a, aggregation), t, aggregation, title)


@dataclass(frozen=True)
class InfluencePlot:
    """One influence plot of a stored all-bins file: how to draw it from an :class:`~xai_helpers.analysis.influence.Influence`
    (``draw(influence, freqs_hz, times_s, low_freq_hz, value_label) -> Figure``), and its caption (Markdown;
    ``{aggregation}`` and ``{low_freq_hz}`` are filled in)."""

    draw: Callable[[Influence, np.ndarray, np.ndarray, float, str], Figure]
    caption: str
    needs_low_freq: bool = False
    """Drawn only when a low-frequency limit is given."""


_CAPTIONS = {
    "global_influence": (
        "**Global influence.** For each input bin `(f_in, t_in)`, its total contribution to the whole mask: "
        "the attributions of that bin to every output bin, aggregated with `{aggregation}` and scaled so the "
        "largest is 1. Bright areas are the parts of the input the model relies on most."
    ),
    "time_influence": (
        "**Time influence.** Row `t_out`, column `t_in`: how much input frame `t_in` contributes to output "
        "frame `t_out` (summed over both frequency axes with `{aggregation}`). NSNet2 is causal: input after "
        "the output (`t_in > t_out`, the upper triangle of the matrix `[t_out, t_in]`) has no effect, so with "
        "output time drawn upwards everything right of and below the dashed diagonal is zero. How far left "
        "of the diagonal the colour reaches shows how much past context the model uses."
    ),
    "frequency_influence": (
        "**Frequency influence.** Row `f_out`, column `f_in`: how much input frequency `f_in` contributes to "
        "the gain at output frequency `f_out` (summed over both time axes with `{aggregation}`). A strong "
        "diagonal means each gain mostly looks at its own frequency; off-diagonal mass shows cross-band context."
    ),
    "low_frequency_influence": (
        "**Low-frequency variant.** The same map restricted to output frequencies at or below "
        "{low_freq_hz:g} Hz (all input frequencies kept), where speech carries most of its energy, so its rows "
        "get the full colour range."
    ),
    "time_correlation": (
        "**Temporal correlation.** The Pearson correlation between input frames' attribution vectors (each "
        "frame's attributions, aggregated over `f_in` with `{aggregation}`, with one entry per output bin). "
        "Red blocks are frames that push the same output bins in the same proportions; grey is undefined "
        "(a frame whose vector is constant, e.g. all zero)."
    ),
}

INFLUENCE_PLOTS: dict[str, InfluencePlot] = {
    "global_influence": InfluencePlot(
        lambda r, f, t, low, label: plot_global_map(r.global_influence, f, t, r.aggregation), _CAPTIONS["global_influence"]),
    "time_influence": InfluencePlot(
        lambda r, f, t, low, label: plot_time_map(r.time_influence, t, r.aggregation, value_label=label), _CAPTIONS["time_influence"]),
    "frequency_influence": InfluencePlot(
        lambda r, f, t, low, label: plot_frequency_map(r.frequency_influence, f, r.aggregation, value_label=label),
        _CAPTIONS["frequency_influence"]),
    "low_frequency_influence": InfluencePlot(
        lambda r, f, t, low, label: plot_frequency_map(r.frequency_influence, f, r.aggregation, max_output_hz=low, value_label=label),
        _CAPTIONS["low_frequency_influence"], needs_low_freq=True),
    "time_correlation": InfluencePlot(
        lambda r, f, t, low, label: plot_correlation_map(r.time_correlation(), t, r.aggregation), _CAPTIONS["time_correlation"]),
}
"""The influence plots of an all-bins file, in display order."""
