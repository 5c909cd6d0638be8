"""The influence maps of the 4-D attribution tensor ``[f_out, t_out, f_in, t_in]``: global, time,
frequency (and its low-frequency variant), temporal correlation.

Each map has a function (``plot_*_map``) that draws the reduced map, as :mod:`xai_helpers.analysis.influence`
computes it (e.g. chunk by chunk, from a stored file). The maps drawn for a stored file, with their captions:
:data:`INFLUENCE_PLOTS`. To add an influence plot: its reduction in
:mod:`xai_helpers.analysis.influence`, its function and an :data:`INFLUENCE_PLOTS` entry here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
from matplotlib import colormaps
from matplotlib.colors import LogNorm, Normalize
from matplotlib.figure import Figure

from ..analysis.influence import (
    GLOBAL_MAPS,
    NET_GLOBAL_MAPS,
    ROW_NORMALISATIONS,
    Influence,
    check_aggregation,
    check_choice,
    low_inputs,
    low_outputs,
    normalise_map,
)
from .style import (
    ABS_CMAP,
    AGGREGATION_NOTE,
    DEFAULT_VALUE_LABEL,
    NEGATIVE_CMAP,
    POSITIVE_CMAP,
    SIGNED_CMAP,
    aggregation_line,
    check_plane,
    check_square_map,
    draw_image,
    draw_underlay,
    edges,
    label_time_frequency,
    line_colour,
    log_norm,
    lowest_under,
    new_figure,
    overlay,
    time_label,
    value_style,
)


def _annotate(
    fig: Figure, ax, image, title: str | None, heading: str, aggregation: str, over: str, value_label: str
) -> Figure:
    """``title``, or ``heading`` and the aggregation line; a colour bar labelled ``value_label``."""
    ax.set_title(title or heading + aggregation_line(aggregation, over), fontsize="medium")
    fig.colorbar(image, ax=ax, label=value_label, extend="min" if isinstance(image.norm, LogNorm) else "neither")
    return fig


def _diagonal(ax, x_edges: np.ndarray, y_edges: np.ndarray, aggregation: str, label: str, legend: str) -> None:
    """The dashed diagonal ``y = x`` over the image's extent (pixel edges), the limits and the legend."""
    lo, hi = max(x_edges[0], y_edges[0]), min(x_edges[-1], y_edges[-1])
    ax.plot([lo, hi], [lo, hi], color=line_colour(aggregation), lw=0.8, alpha=0.7, ls="--", label=label)
    ax.set_xlim(x_edges[0], x_edges[-1])
    ax.set_ylim(y_edges[0], y_edges[-1])
    ax.legend(loc=legend, fontsize="small", framealpha=0.8)


def normalised_label(
    value_label: str, aggregation: str, over: str, normalisation: str, row: str, log_scale: bool = False
) -> str:
    """Colour-bar label of a time or frequency map: what its numbers are and how they are normalised.

    ``"none"``: ``value_label`` (units of the explained quantity), raw sums over ``over``; ``"rows"``: each
    ``row`` divided by its total ``|attribution|`` (rows of an ``abs_sum`` map sum to 1)."""
    check_choice(normalisation, ROW_NORMALISATIONS, "normalisation")
    scale = ", log scale" if log_scale else ""
    if normalisation == "none":
        return f"{value_label}{scale}\nraw sums over {over} ({aggregation})"
    if aggregation == "abs_sum":
        return f"share of the row's total |attribution|{scale}\nrow-normalised: each {row} sums to 1"
    return f"attribution / row's total |attribution|{scale}\nrow-normalised: each {row}'s |values| sum to 1"


def _row_style(values: np.ndarray, aggregation: str, log_floor: float | None):
    """``(cmap, norm)`` of a time or frequency map: log from ``log_floor`` of the peak (``abs_sum`` only), else
    linear."""
    if log_floor is None:
        return value_style(values, aggregation == "signed_sum")
    if aggregation != "abs_sum":
        raise ValueError(
            "a log colour scale needs a non-negative map: aggregation 'abs_sum' (signed_sum is drawn linear)"
        )
    return lowest_under(ABS_CMAP), log_norm(float(np.max(values)) if values.size else 1.0, log_floor)


GLOBAL_PANELS = {
    "abs_sum": ("Σ|a|: involvement (signs cannot cancel)", "Σ|a| / max Σ|a|", ABS_CMAP),
    "signed_sum": ("Σa: net effect (+ raises, - lowers the output)", "Σa / max |Σa|", SIGNED_CMAP),
    "net_abs": ("|Σa|: net effect of either sign (the original's)", "|Σa| / max |Σa|", ABS_CMAP),
    "net_positive": ("max(Σa, 0): net effect raises the output", "max(Σa, 0) / max |Σa|", POSITIVE_CMAP),
    "net_negative": ("max(-Σa, 0): net effect lowers the output", "max(-Σa, 0) / max |Σa|", NEGATIVE_CMAP),
}
"""Global map name -> (panel title, colour-bar quantity, colormap); ``a`` is summed over every output bin."""


def plot_global_maps(
    global_maps: Mapping[str, np.ndarray],
    freqs_hz,
    times_s,
    log_floor: float | None = 1e-2,
    underlay=None,
    value_label: str = DEFAULT_VALUE_LABEL,
    title: str | None = None,
) -> Figure:
    """One panel per global map ``[f_in, t_in]`` (names and scaling of
    :data:`~xai_helpers.analysis.influence.GLOBAL_MAPS`,
    each already divided by its peak as :func:`~xai_helpers.analysis.influence.global_map` returns it), two per row.

    ``log_floor``: non-negative maps on a log colour scale from ``log_floor`` to 1 (the original's: 0.01), values
    below it in the lowest colour; ``None``: linear 0..1. ``signed_sum`` is always linear on ``[-1, 1]``.
    ``underlay``: the input log-power ``[f_in, t_in]`` drawn grey beneath, each map translucent where it is weak
    (:func:`~xai_helpers.plots.style.overlay`). Every colour bar names its quantity and normalisation."""
    if not global_maps:
        raise ValueError(f"global_maps is empty; expected some of {GLOBAL_MAPS}")
    checked = {}
    for name, values in global_maps.items():
        check_choice(name, GLOBAL_MAPS, "global map")
        checked[name] = check_plane(values, f"global map {name!r}", "[f_in, t_in]", freqs_hz, times_s)
    n = len(checked)
    ncols = 1 if n == 1 else 2
    nrows = -(-n // ncols)
    fig, axes = new_figure((8 if n == 1 else 14, 4.2 * nrows), nrows=nrows, ncols=ncols, squeeze=False)
    for ax in axes.ravel()[n:]:
        ax.set_visible(False)
    for ax, (name, (g, f, t)) in zip(axes.ravel(), checked.items()):
        heading, quantity, cmap = GLOBAL_PANELS[name]
        signed = name == "signed_sum"
        if signed:
            norm, scale = Normalize(-1.0, 1.0), "linear"
        elif log_floor is not None:
            norm, cmap, scale = log_norm(1.0, log_floor), lowest_under(cmap), f"log, floor {log_floor:g}"
        else:
            norm, scale = Normalize(0.0, 1.0), "linear"
        if underlay is not None:
            draw_underlay(ax, check_plane(underlay, "underlay", "[f_in, t_in]", f, t)[0], f, t)
        image = draw_image(ax, g, t, f, cmap, norm, gid=f"global_{name}")
        if underlay is not None:
            overlay(image, g, norm)
        label_time_frequency(ax, time_label("Input time t_in"), "Input frequency f_in (Hz)")
        ax.set_title(f"{name}: {heading}", fontsize="medium")
        fig.colorbar(
            image,
            ax=ax,
            extend="min" if isinstance(norm, LogNorm) else "neither",
            label=f"{quantity} (unitless), {scale}\na = {value_label}",
        )
    under = (
        "\nover the input spectrogram (grey; a map is opaque where strong, transparent where weak)"
        if underlay is not None
        else ""
    )
    fig.suptitle((title or "Global influence of each input bin, summed over all output bins (a = attribution)") + under)
    return fig


def plot_global_map(
    global_map,
    freqs_hz,
    times_s,
    aggregation: str = "abs_sum",
    value_label: str = "relative influence (unitless, max |value| = 1)",
    title: str | None = None,
) -> Figure:
    """Map ``[f_in, t_in]`` of each input bin's total influence on the whole mask, from the normalised
    map (max ``|value|`` = 1, as :func:`~xai_helpers.analysis.influence.global_influence` returns it).

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
    label_time_frequency(ax, time_label("Input time t_in"), "Input frequency f_in (Hz)")
    return _annotate(
        fig,
        ax,
        im,
        title,
        "Global influence of each input bin on the whole gain mask\n",
        aggregation,
        "all output bins",
        f"{value_label}\n{aggregation} over all output bins",
    )


def plot_time_map(
    time_map,
    times_s,
    aggregation: str = "abs_sum",
    value_label: str = DEFAULT_VALUE_LABEL,
    title: str | None = None,
    normalisation: str = "none",
    log_floor: float | None = None,
) -> Figure:
    """Map ``[t_out, t_in]`` (raw sums, as :func:`~xai_helpers.analysis.influence.time_influence` returns it):
    x = input time, y = output time, with the causal diagonal ``t_in = t_out`` drawn as a thin line.

    ``normalisation``: ``"none"`` draws the sums (``value_label``: their units), ``"rows"`` each output
    frame's row divided by its total ``|attribution|`` (the original's; rows sum to 1 with ``abs_sum``).
    ``log_floor``: a log colour scale from ``log_floor`` of the peak (``abs_sum`` only), else linear."""
    check_aggregation(aggregation)
    ti, t = check_square_map(time_map, "time_map", "[t_out, t_in]", times_s, "times_s")
    ti = normalise_map(ti, normalisation)
    cmap, norm = _row_style(ti, aggregation, log_floor)
    fig, ax = new_figure((6.8, 5.6))
    im = draw_image(ax, ti, t, t, cmap, norm)
    _diagonal(ax, edges(t), edges(t), aggregation, "causal limit t_in = t_out", "upper left")
    ax.set_xlabel(time_label("Input time t_in"))
    ax.set_ylabel(time_label("Output time t_out"))
    label = normalised_label(
        value_label, aggregation, "f_out, f_in", normalisation, "output frame", log_floor is not None
    )
    return _annotate(
        fig, ax, im, title, "Time influence: input frame -> output frame\n", aggregation, "f_out, f_in", label
    )


def plot_frequency_map(
    frequency_map,
    freqs_hz,
    aggregation: str = "abs_sum",
    max_output_hz: float | None = None,
    value_label: str = DEFAULT_VALUE_LABEL,
    title: str | None = None,
    normalisation: str = "none",
) -> Figure:
    """Map ``[f_out, f_in]`` over all output frequencies (as :func:`~xai_helpers.analysis.influence.frequency_influence`
    returns it without ``max_output_hz``): x = input frequency, y = output frequency (only
    the rows of outputs <= ``max_output_hz`` when given: the output-restricted low-frequency view), with the
    diagonal ``f_in = f_out``. ``normalisation``: as :func:`plot_time_map` (``"rows"``: per output frequency)."""
    check_aggregation(aggregation)
    fi, f = check_square_map(frequency_map, "frequency_map", "[f_out, f_in]", freqs_hz, "freqs_hz")
    fi = normalise_map(fi, normalisation)
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
    which = "all output frequencies" if max_output_hz is None else f"output frequencies <= {max_output_hz:g} Hz"
    label = normalised_label(value_label, aggregation, "t_out, t_in", normalisation, "output frequency")
    return _annotate(
        fig,
        ax,
        im,
        title,
        f"Frequency influence: input -> output frequency ({which})\n",
        aggregation,
        "t_out, t_in",
        label,
    )


def plot_low_frequency_map(
    frequency_map,
    freqs_hz,
    max_input_hz: float,
    aggregation: str = "abs_sum",
    value_label: str = DEFAULT_VALUE_LABEL,
    title: str | None = None,
    normalisation: str = "rows",
) -> Figure:
    """The original project's low-frequency view of a map ``[f_out, f_in]`` (raw sums): the input frequencies
    ``<= max_input_hz`` (x) for every output frequency (y), via :func:`~xai_helpers.analysis.influence.low_inputs`;
    ``"rows"`` then divides each output row by its total over those inputs (as the original: rows sum to 1)."""
    check_aggregation(aggregation)
    fi, f = check_square_map(frequency_map, "frequency_map", "[f_out, f_in]", freqs_hz, "freqs_hz")
    low, f_low = low_inputs(fi, f, max_input_hz)
    low = normalise_map(low, normalisation)
    cmap, norm = value_style(low, aggregation == "signed_sum")
    fig, ax = new_figure((6.2, 4.8))
    im = draw_image(ax, low, f_low, f, cmap, norm)
    _diagonal(ax, edges(f_low), edges(f), aggregation, "f_in = f_out", "lower right")
    ax.set_xlabel("Input frequency f_in (Hz)")
    ax.set_ylabel("Output frequency f_out (Hz)")
    label = normalised_label(
        value_label, aggregation, "t_out, t_in", normalisation, f"output row (inputs <= {max_input_hz:g} Hz)"
    )
    return _annotate(
        fig,
        ax,
        im,
        title,
        f"Low-frequency influence: inputs <= {max_input_hz:g} Hz -> every output frequency\n",
        aggregation,
        "t_out, t_in",
        label,
    )


def plot_correlation_map(
    correlation,
    times_s,
    aggregation: str = "signed_sum",
    title: str | None = None,
) -> Figure:
    """Pearson correlation ``[t_in, t_in]`` between input frames' attribution vectors (as
    :func:`~xai_helpers.analysis.influence.time_correlation` or
    :func:`~xai_helpers.analysis.influence.frame_correlation`
    return it; ``aggregation`` is the one the vectors were aggregated over ``f_in`` with); grey = undefined (NaN)."""
    check_aggregation(aggregation)
    c, t = check_square_map(correlation, "correlation", "[t_in, t_in]", times_s, "times_s")
    cmap = colormaps[SIGNED_CMAP].with_extremes(bad="0.8")
    fig, ax = new_figure((6.4, 5.4))
    im = draw_image(ax, c, t, t, cmap, Normalize(vmin=-1.0, vmax=1.0))
    ax.set_xlabel(time_label("Input time t_in"))
    ax.set_ylabel(time_label("Input time t_in"))
    ax.set_title(
        title
        or "Correlation between input frames' attribution vectors\n"
        f"(one entry per output bin; aggregation: {aggregation} over f_in\n"
        f"{AGGREGATION_NOTE[aggregation]}); grey = undefined (constant vector)",
        fontsize="medium",
    )
    fig.colorbar(im, ax=ax, label="Pearson r (unitless)")
    return fig


@dataclass(frozen=True)
class MapOptions:
    """How notebook 03 draws the influence maps of an all-bins file (each figure states what it uses)."""

    global_maps: tuple[str, ...] | None = None
    """Panels of the global figure (:data:`~xai_helpers.analysis.influence.GLOBAL_MAPS`); ``None``: the
    aggregation's own map (``sum |a|`` or ``sum a``) beside the original's three (``|sum a|`` and its parts)."""
    log_floor: float | None = 1e-2
    """Log colour scale of the non-negative global maps and of the ``abs_sum`` time map, from this fraction of
    the peak (the original's: 0.01); ``None``: linear."""
    normalisation: str = "rows"
    """Time and frequency maps: ``"rows"`` (each output row over its total ``|attribution|``, the original's) or
    ``"none"`` (raw sums in units of the explained quantity)."""
    underlay: bool = True
    """Draw the input spectrogram in grey beneath the global maps."""

    def __post_init__(self) -> None:
        check_choice(self.normalisation, ROW_NORMALISATIONS, "normalisation")
        for name in self.global_maps or ():
            check_choice(name, GLOBAL_MAPS, "global map")
        if self.global_maps is not None and not self.global_maps:
            raise ValueError(f"global_maps is empty; expected some of {GLOBAL_MAPS} (or None)")
        if self.log_floor is not None and not 0 < self.log_floor < 1:
            raise ValueError(
                f"log_floor must lie between 0 and 1 (a fraction of the peak) or be None, got {self.log_floor}"
            )

    def global_names(self, aggregation: str) -> tuple[str, ...]:
        """The global maps drawn with ``aggregation``."""
        return (
            tuple(self.global_maps)
            if self.global_maps is not None
            else (check_aggregation(aggregation), *NET_GLOBAL_MAPS)
        )

    def time_log_floor(self, aggregation: str) -> float | None:
        """The time map's log floor: :attr:`log_floor` for ``abs_sum``, ``None`` (linear) for signed maps."""
        return self.log_floor if aggregation == "abs_sum" else None


RAW_MAPS = MapOptions(log_floor=None, normalisation="none", underlay=False)
"""Options that draw the maps as sums in units of the explained quantity, linear, without underlay."""


@dataclass(frozen=True)
class PlotInputs:
    """What every influence plot of one file needs besides the maps: axes (Hz; s in the file), the input spectrogram
    ``[f, t]``, the unit label of the explained quantity, the low-frequency limit (Hz or ``None``) and the options."""

    freqs_hz: np.ndarray
    times_s: np.ndarray
    features: np.ndarray
    value_label: str
    low_freq_hz: float | None
    options: MapOptions


@dataclass(frozen=True)
class InfluencePlot:
    """One influence plot of a stored all-bins file: how to draw it from an
    :class:`~xai_helpers.analysis.influence.Influence`
    (``draw(influence, inputs: PlotInputs) -> Figure``), and its caption (Markdown; ``{aggregation}`` and
    ``{low_freq_hz}`` are filled in)."""

    draw: Callable[[Influence, PlotInputs], Figure]
    caption: str
    needs_low_freq: bool = False
    """Drawn only when a low-frequency limit is given."""


def _draw_global(r: Influence, p: PlotInputs) -> Figure:
    names = p.options.global_names(r.aggregation)
    return plot_global_maps(
        {name: r.global_maps[name] for name in names},
        p.freqs_hz,
        p.times_s,
        p.options.log_floor,
        p.features if p.options.underlay else None,
        p.value_label,
        title="Global influence of each input bin, summed over all output bins (a = attribution)\n"
        + aggregation_line(r.aggregation, "all output bins"),
    )


_CAPTIONS = {
    "global_influence": (
        "**Global influence.** For each input bin `(f_in, t_in)`, its attributions `a` to every output bin, summed. "
        "`Σ|a|` (`abs_sum`) adds magnitudes: how much the model involves the bin; `Σa` (`signed_sum`) its net effect. "
        "The original project draws `|Σa|` and its positive and negative parts (the bins whose net effect raises, "
        "resp. lowers the mask), all divided by the largest `|Σa|` and on a log colour scale from 1 down to a floor "
        "(darkest: below the floor). Where `Σ|a|` is bright but `|Σa|` dark, the bin pushes different outputs in "
        "opposite directions. With the underlay the grey input spectrogram shows through where a map is weak."
    ),
    "time_influence": (
        "**Time influence.** Row `t_out`, column `t_in`: how much input frame `t_in` contributes to output "
        "frame `t_out` (summed over both frequency axes with `{aggregation}`). Row-normalised (the original's), "
        "each row is the share of that output frame's attribution coming from each input frame; raw, the sums "
        "themselves, in units of the explained output. The models here (NSNet2, DTLN, GTCRN) are causal: input after "
        "the output (`t_in > t_out`, the upper triangle of the matrix `[t_out, t_in]`) has no effect, so with "
        "output time drawn upwards everything right of and below the dashed diagonal is zero. How far left "
        "of the diagonal the colour reaches shows how much past context the model uses."
    ),
    "frequency_influence": (
        "**Frequency influence.** Row `f_out`, column `f_in`: how much input frequency `f_in` contributes to "
        "the gain at output frequency `f_out` (summed over both time axes with `{aggregation}`; row-normalised or "
        "raw as the colour bar says). A strong diagonal means each gain mostly looks at its own frequency; "
        "off-diagonal mass shows cross-band context."
    ),
    "low_frequency_influence": (
        "**Low-frequency influence (the original's).** Only the input frequencies at or below {low_freq_hz:g} Hz, "
        "where speech carries most of its energy, for every output frequency; row-normalised, each row is how that "
        "output's attribution to those low inputs is shared among them."
    ),
    "low_output_frequency_influence": (
        "**Low output frequencies.** The frequency map restricted to output frequencies at or below "
        "{low_freq_hz:g} Hz (all input frequencies kept), so those rows get the full colour range."
    ),
    "time_correlation": (
        "**Temporal correlation.** The Pearson correlation between input frames' attribution vectors (each "
        "frame's attributions, aggregated over `f_in` with `{aggregation}`, with one entry per output bin). "
        "Red blocks are frames that push the same output bins in the same proportions; grey is undefined "
        "(a frame whose vector is constant, e.g. all zero)."
    ),
}

INFLUENCE_PLOTS: dict[str, InfluencePlot] = {
    "global_influence": InfluencePlot(_draw_global, _CAPTIONS["global_influence"]),
    "time_influence": InfluencePlot(
        lambda r, p: plot_time_map(
            r.time_influence,
            p.times_s,
            r.aggregation,
            p.value_label,
            normalisation=p.options.normalisation,
            log_floor=p.options.time_log_floor(r.aggregation),
        ),
        _CAPTIONS["time_influence"],
    ),
    "frequency_influence": InfluencePlot(
        lambda r, p: plot_frequency_map(
            r.frequency_influence,
            p.freqs_hz,
            r.aggregation,
            value_label=p.value_label,
            normalisation=p.options.normalisation,
        ),
        _CAPTIONS["frequency_influence"],
    ),
    "low_frequency_influence": InfluencePlot(
        lambda r, p: plot_low_frequency_map(
            r.frequency_influence,
            p.freqs_hz,
            p.low_freq_hz,
            r.aggregation,
            p.value_label,
            normalisation=p.options.normalisation,
        ),
        _CAPTIONS["low_frequency_influence"],
        needs_low_freq=True,
    ),
    "low_output_frequency_influence": InfluencePlot(
        lambda r, p: plot_frequency_map(
            r.frequency_influence,
            p.freqs_hz,
            r.aggregation,
            max_output_hz=p.low_freq_hz,
            value_label=p.value_label,
            normalisation=p.options.normalisation,
        ),
        _CAPTIONS["low_output_frequency_influence"],
        needs_low_freq=True,
    ),
    "time_correlation": InfluencePlot(
        lambda r, p: plot_correlation_map(r.time_correlation(), p.times_s, r.aggregation), _CAPTIONS["time_correlation"]
    ),
}
"""The influence plots of an all-bins file, in display order."""
