"""Maps on the time-frequency plane: spectrogram, mask, one output's attribution map, regions, latent units.

Every ``plot_*`` function returns a :class:`matplotlib.figure.Figure`; the panel functions
(:func:`plot_spectrogram`, :func:`plot_mask`, :func:`plot_attribution_map`) take ``ax=None`` to
draw into an existing axes instead. Conventions (colormaps, extents): :mod:`.style`; the
aggregated influence maps: :mod:`.influence`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.collections import PatchCollection
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from .style import (
    DEFAULT_VALUE_LABEL,
    MASK_CMAP,
    SIGNED_CMAP,
    SPECTROGRAM_CMAP,
    check_axis,
    check_output_bin,
    check_plane,
    draw_image,
    edges,
    figure_and_axes,
    label_time_frequency,
    new_figure,
    symmetric_norm,
    time_label,
    value_style,
)

MAP_GID = "attribution_map"
"""``gid`` of the attribution image in :func:`attribution_map_figure` (to find it in tests)."""


def mark_output_bin(ax, f_hz: float, t_s: float, colour: str = "black", label: str = "target output bin") -> None:
    """Mark an output bin on a time-frequency axes: a circle at ``(t_s, f_hz)`` (labelled
    ``label`` for a legend) and a dashed vertical line at ``t_s`` (later input cannot contribute)."""
    ax.axvline(t_s, color=colour, lw=0.8, ls="--", alpha=0.8)
    ax.plot([t_s], [f_hz], marker="o", ms=11, mfc="none", mec=colour, mew=1.6, ls="none", label=label)


def _plane(values, name: str, freqs_hz, times_s) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(values [F, T], freqs_hz [F], times_s [T])`` checked; ``ValueError`` naming ``name`` otherwise."""
    v = np.asarray(values)
    if v.ndim != 2:
        raise ValueError(f"{name} must have shape [F, T], got {v.shape}")
    return v, check_axis(freqs_hz, v.shape[0], "freqs_hz"), check_axis(times_s, v.shape[1], "times_s")


def plot_spectrogram(
    log_power,
    freqs_hz,
    times_s,
    vmin: float | None = None,
    vmax: float | None = None,
    ax=None,
    title: str = "Input log-power spectrogram",
    value_label: str = "log10 power (log10 |STFT|^2)",
    colorbar: bool = True,
) -> Figure:
    """Log-power spectrogram ``[F, T]``.  ``ax=None`` makes a new figure,
    otherwise draws into ``ax``; returns the figure either way."""
    lp, f, t = _plane(log_power, "log_power", freqs_hz, times_s)
    fig, ax = figure_and_axes(ax)
    finite = lp[np.isfinite(lp)]
    if vmin is None:
        vmin = float(np.min(finite)) if finite.size else 0.0
    if vmax is None:
        vmax = float(np.max(finite)) if finite.size else 1.0
    if vmax <= vmin:
        vmax = vmin + 1.0
    im = draw_image(ax, lp, t, f, SPECTROGRAM_CMAP, Normalize(vmin=vmin, vmax=vmax))
    label_time_frequency(ax)
    if title:
        ax.set_title(title)
    if colorbar:
        fig.colorbar(im, ax=ax, label=value_label)
    return fig


def plot_mask(
    mask,
    freqs_hz,
    times_s,
    title: str = "gain mask (1 = keep, 0 = suppress)",
    value_label: str = "gain (linear, 0-1)",
    ax=None,
) -> Figure:
    """Gain mask ``[F, T]`` on a fixed 0..1 sequential scale.  ``ax=None`` makes a
    new figure, otherwise draws into ``ax``; returns the figure either way."""
    m, f, t = _plane(mask, "mask", freqs_hz, times_s)
    fig, ax = figure_and_axes(ax)
    im = draw_image(ax, m, t, f, MASK_CMAP, Normalize(vmin=0.0, vmax=1.0))
    label_time_frequency(ax)
    ax.set_title(title)
    fig.colorbar(im, ax=ax, label=value_label)
    return fig


def plot_attribution_map(
    attribution_map,
    freqs_hz,
    times_s,
    ax=None,
    value_label: str = DEFAULT_VALUE_LABEL,
    title: str = "Signed attribution of each input bin\n(red raises the gain, blue lowers it)",
    gid: str | None = None,
) -> Figure:
    """Signed attribution map ``[f_in, t_in]`` of one explained output (no aggregation),
    diverging colormap with a symmetric range.  ``ax=None`` makes a new figure, otherwise
    draws into ``ax``; returns the figure either way.  ``gid``: set on the image (to find it)."""
    amap, f, t = check_plane(attribution_map, "attribution_map", "[f_in, t_in]", freqs_hz, times_s)
    fig, ax = figure_and_axes(ax)
    cmap, norm = value_style(amap, signed=True)
    im = draw_image(ax, amap, t, f, cmap, norm, gid=gid)
    label_time_frequency(ax, time_label("Input time t_in"), "Input frequency f_in (Hz)")
    ax.set_title(title, fontsize="medium")
    fig.colorbar(im, ax=ax, label=value_label)
    return fig


def plot_bin_map(
    bin_map,
    f_out: int,
    t_out: int,
    input_features,
    freqs_hz,
    times_s,
    value_label: str = DEFAULT_VALUE_LABEL,
    title: str | None = None,
) -> Figure:
    """Two panels: the input spectrogram with output bin ``(f_out, t_out)`` (indices into
    ``freqs_hz``, ``times_s``) marked, and that bin's signed attribution map ``bin_map``
    ``[f_in, t_in]`` (e.g. ``attributions[f_out, t_out]``)."""
    amap, f, t = check_plane(bin_map, "bin_map", "[f_in, t_in]", freqs_hz, times_s)
    feats = np.asarray(input_features)
    if feats.shape != amap.shape:
        raise ValueError(f"input_features must have shape [f_in, t_in] = {amap.shape}, got {feats.shape}")
    check_output_bin(f_out, t_out, (f.size, t.size))
    fx, tx = f[f_out], t[t_out]

    fig, (ax0, ax1) = new_figure((13, 4.8), ncols=2)
    plot_spectrogram(feats, f, t, ax=ax0, title="Input log-power spectrogram (target bin marked)")
    plot_attribution_map(
        amap,
        f,
        t,
        ax=ax1,
        value_label=value_label,
        title=f"Signed attribution of each input bin to output bin\n"
        f"f_out = {fx:g} Hz, t_out = {tx:.3f} s (no aggregation)",
    )
    for ax, colour in ((ax0, "cyan"), (ax1, "black")):
        mark_output_bin(ax, fx, tx, colour)
    ax1.plot([], [], color="black", lw=0.8, ls="--", label="t_out (later inputs cannot contribute)")
    ax1.legend(loc="upper left", fontsize="small", framealpha=0.8)
    fig.suptitle(
        title or f"What the gain at {fx:g} Hz, {tx:.3f} s looks at in the input",
    )
    return fig


def plot_region_attributions(
    region_values,
    regions: Sequence[tuple[float, float, float, float]],
    freqs_hz,
    times_s,
    value_label: str = DEFAULT_VALUE_LABEL,
    region_labels: Sequence[str] | None = None,
    background=None,
    title: str | None = None,
) -> Figure:
    """Rectangles ``(f_lo_hz, f_hi_hz, t_lo_s, t_hi_s)`` on the time-frequency
    plane, coloured by their signed value and annotated with it.

    ``background``: optional log-power spectrogram ``[F, T]`` drawn faintly in
    grey underneath (no colour bar) to show where the regions lie.
    """
    vals = np.asarray(region_values, dtype=np.float64).reshape(-1)
    regs = np.asarray(regions, dtype=np.float64)
    if regs.ndim != 2 or regs.shape[1] != 4:
        raise ValueError(f"regions must be a sequence of (f_lo_hz, f_hi_hz, t_lo_s, t_hi_s), got shape {regs.shape}")
    if regs.shape[0] != vals.size:
        raise ValueError(f"{vals.size} region values but {regs.shape[0]} regions")
    if region_labels is not None and len(region_labels) != vals.size:
        raise ValueError("region_labels must have one entry per region")
    f = check_axis(freqs_hz, np.asarray(freqs_hz).size, "freqs_hz")
    t = check_axis(times_s, np.asarray(times_s).size, "times_s")

    fig, ax = new_figure((8.5, 4.6))
    if background is not None:
        bg = np.asarray(background)
        if bg.shape != (f.size, t.size):
            raise ValueError(f"background must have shape [F, T] = {(f.size, t.size)}, got {bg.shape}")
        finite = bg[np.isfinite(bg)]
        lo, hi = (np.min(finite), np.max(finite)) if finite.size else (0.0, 1.0)
        draw_image(ax, bg, t, f, "Greys", Normalize(lo, hi if hi > lo else lo + 1), gid="background").set_alpha(0.45)

    norm = symmetric_norm(vals)
    rects = [Rectangle((t_lo, f_lo), t_hi - t_lo, f_hi - f_lo) for f_lo, f_hi, t_lo, t_hi in regs]
    pc = PatchCollection(
        rects,
        cmap=SIGNED_CMAP,
        norm=norm,
        edgecolor="black",
        linewidth=0.8,
        alpha=0.85,
    )
    pc.set_array(vals)
    ax.add_collection(pc)
    m = norm.vmax
    for i, ((f_lo, f_hi, t_lo, t_hi), v) in enumerate(zip(regs, vals)):
        name = region_labels[i] if region_labels is not None else f"R{i}"
        ax.text(
            0.5 * (t_lo + t_hi),
            0.5 * (f_lo + f_hi),
            f"{name}\n{v:+.3g}",
            ha="center",
            va="center",
            fontsize="small",
            color="white" if abs(v) > 0.6 * m else "black",
            clip_on=True,
        )
    te, fe = edges(t), edges(f)
    ax.set_xlim(te[0], te[-1])
    ax.set_ylim(fe[0], fe[-1])
    label_time_frequency(ax)
    ax.set_title(
        title or "Attribution of each time-frequency region (signed; red raises, blue lowers the explained output)",
        fontsize="medium",
    )
    fig.colorbar(pc, ax=ax, label=value_label)
    return fig


def plot_layer_attributions(
    layer_attributions: Mapping[str, np.ndarray],
    times_s,
    value_label: str = DEFAULT_VALUE_LABEL,
    title: str | None = None,
) -> Figure:
    """One panel per layer: signed attribution ``[units, T]``, units x time.

    Each panel has its own symmetric colour scale (layers differ in magnitude).
    """
    if not layer_attributions:
        raise ValueError("layer_attributions is empty")
    layers = {}
    for name, arr in layer_attributions.items():
        arr = np.asarray(arr, dtype=np.float64)
        if arr.ndim != 2:
            raise ValueError(f"layer {name!r}: expected shape [units, T], got {arr.shape}")
        layers[name] = arr
    n_t = next(iter(layers.values())).shape[1]
    t = check_axis(times_s, n_t, "times_s")
    for name, arr in layers.items():
        if arr.shape[1] != t.size:
            raise ValueError(f"layer {name!r} has {arr.shape[1]} frames, times_s has {t.size}")

    n = len(layers)
    fig, axes = new_figure((9, 0.4 + 2.6 * n), nrows=n, sharex=True, squeeze=False)
    for ax, (name, arr) in zip(axes[:, 0], layers.items()):
        cmap, norm = value_style(arr, signed=True)
        im = draw_image(ax, arr, t, np.arange(arr.shape[0]), cmap, norm)
        ax.set_ylabel("unit index")
        ax.set_title(f"{name} ({arr.shape[0]} units)", fontsize="medium")
        fig.colorbar(im, ax=ax, label=value_label)
    axes[-1, 0].set_xlabel(time_label())
    fig.suptitle(title or "Signed attribution of latent units over time")
    return fig


def attribution_map_figure(
    amap: np.ndarray,
    input_features: np.ndarray,
    mask: np.ndarray,
    freqs_hz: np.ndarray,
    times_s: np.ndarray,
    output_bin: tuple[int, int] | None = None,
    region: tuple[float, float, float, float] | None = None,
    value_label: str = DEFAULT_VALUE_LABEL,
    title: str | None = None,
) -> Figure:
    """Three panels: input log-power spectrogram ``[f, t]``, the signed attribution map ``amap``
    ``[f_in, t_in]`` of one explained output, and the gain mask ``[f, t]`` (0..1).

    The explained output is marked on all three: ``output_bin`` (indices ``(f_out, t_out)``) by a
    circle and a dashed line at ``t_out`` (later input cannot contribute), or ``region``
    (``f_lo_hz, f_hi_hz, t_lo_s, t_hi_s``) by a dashed rectangle.
    """
    amap = np.asarray(amap, dtype=np.float64)
    for name, array in (("input_features", input_features), ("mask", mask)):
        if np.shape(array) != amap.shape:
            raise ValueError(f"{name} must have shape [f, t] = {amap.shape}, got {np.shape(array)}")
    fig, (ax0, ax1, ax2) = new_figure((16, 4.6), ncols=3)
    plot_spectrogram(input_features, freqs_hz, times_s, ax=ax0, title="Input log-power spectrogram")
    plot_attribution_map(amap, freqs_hz, times_s, ax=ax1, value_label=value_label, gid=MAP_GID)
    plot_mask(mask, freqs_hz, times_s, ax=ax2)
    ax2.title.set_fontsize("medium")
    if output_bin is not None:
        fx, tx = float(np.asarray(freqs_hz)[output_bin[0]]), float(np.asarray(times_s)[output_bin[1]])
        for ax, colour in ((ax0, "cyan"), (ax1, "black"), (ax2, "red")):
            mark_output_bin(ax, fx, tx, colour, label="explained output bin")
        ax1.legend(loc="upper left", fontsize="small", framealpha=0.8)
        title = title or f"What the gain at {fx:g} Hz, {tx:.3f} s looks at in the input"
    if region is not None:
        f_lo, f_hi, t_lo, t_hi = region
        for ax, colour in ((ax0, "cyan"), (ax1, "black"), (ax2, "red")):
            ax.add_patch(
                Rectangle(
                    (t_lo, f_lo),
                    t_hi - t_lo,
                    f_hi - f_lo,
                    fill=False,
                    edgecolor=colour,
                    lw=1.4,
                    ls="--",
                    label="explained output region",
                )
            )
        ax1.legend(loc="upper left", fontsize="small", framealpha=0.8)
    if title:
        fig.suptitle(title)
    return fig
