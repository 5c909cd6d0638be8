"""Plots of NSNet2 attributions on the time-frequency plane.

Conventions
-----------
* ``attributions`` is a 4-D array ``[f_out, t_out, f_in, t_in]``: for every
  output bin ``(f_out, t_out)`` of the gain mask, the attribution over every
  input bin ``(f_in, t_in)`` of the log-power spectrogram.  Attributions are in
  the units of the explained quantity (mask gain), hence the default colour-bar
  label ``"attribution (mask units)"``.
* ``freqs_hz`` ``[F]`` are bin centre frequencies, ``times_s`` ``[T]`` frame
  centre times.  Images are drawn with pixel edges half a step either side of
  the centres, frequency increasing upwards.
* The pure-numpy reductions (:func:`aggregate`, :func:`global_influence`,
  :func:`time_influence`, :func:`frequency_influence`,
  :func:`time_correlation`) are separate from the plotting so they can be
  tested and reused; they return ``float64`` arrays.
* Each ``plot_*`` function of a 4-D tensor is a thin wrapper: it reduces the
  tensor, then draws the reduced map with a map-level function
  (:func:`plot_global_map`, :func:`plot_time_map`, :func:`plot_frequency_map`,
  :func:`plot_correlation_map`, :func:`plot_bin_map`), which callers that
  computed the reduction themselves (e.g. chunk by chunk) call directly.
* Aggregation is always explicit: ``"abs_sum"`` sums ``|attribution|``
  (magnitude of involvement, signs cannot cancel) and ``"signed_sum"`` sums the
  signed values (net effect, positive and negative contributions cancel).
* Signed maps use the diverging ``"RdBu_r"`` colormap with a symmetric range
  ``[-m, m]`` (red = raises the gain, blue = lowers it); non-negative maps use a
  sequential colormap.
* Every ``plot_*`` function returns a :class:`matplotlib.figure.Figure` (with
  constrained layout, made by :func:`new_figure`).  The panel functions
  (:func:`plot_spectrogram`, :func:`plot_mask`, :func:`plot_attribution_map`)
  take ``ax=None`` to draw into an existing axes instead.  Nothing here calls
  ``plt.show()`` or selects a backend.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib import colormaps
from matplotlib.collections import PatchCollection
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

__all__ = [
    "AGGREGATIONS",
    "DEFAULT_VALUE_LABEL",
    "check_aggregation",
    "aggregation_line",
    "aggregate",
    "global_influence",
    "time_influence",
    "frequency_influence",
    "frame_correlation",
    "time_correlation",
    "new_figure",
    "mark_output_bin",
    "plot_spectrogram",
    "plot_mask",
    "plot_attribution_map",
    "plot_global_map",
    "plot_global_influence",
    "plot_time_map",
    "plot_time_influence",
    "plot_frequency_map",
    "plot_frequency_influence",
    "plot_correlation_map",
    "plot_time_correlation",
    "plot_bin_map",
    "plot_output_bin_map",
    "plot_region_attributions",
    "plot_layer_attributions",
]

AGGREGATIONS = ("abs_sum", "signed_sum")
DEFAULT_VALUE_LABEL = "attribution (mask units)"

_SIGNED_CMAP = "RdBu_r"
_ABS_CMAP = "viridis"
_SPEC_CMAP = "magma"
_MASK_CMAP = "cividis"

_AGG_NOTE = {
    "abs_sum": "(|attribution|, signs cannot cancel)",
    "signed_sum": "(signed, + and - cancel)",
}

_ATTR_SHAPE = "[f_out, t_out, f_in, t_in]"


# ---------------------------------------------------------------------------
# validation helpers
# ---------------------------------------------------------------------------


def check_aggregation(aggregation: str) -> str:
    """Return ``aggregation`` if it is one of :data:`AGGREGATIONS`, else raise ``ValueError``."""
    if aggregation not in AGGREGATIONS:
        raise ValueError(
            f"unknown aggregation {aggregation!r}; expected one of {AGGREGATIONS}"
        )
    return aggregation


def _check_attributions(attributions) -> np.ndarray:
    a = np.asarray(attributions)
    if a.ndim != 4:
        raise ValueError(
            f"attributions must have shape {_ATTR_SHAPE} (4-D), "
            f"got an array with shape {a.shape}"
        )
    return a


def _check_map(values, name: str, shape: str) -> np.ndarray:
    """``values`` as a 2-D float64 array (a reduced map), else ``ValueError`` naming ``shape``."""
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 2:
        raise ValueError(f"{name} must have shape {shape} (2-D), got an array with shape {v.shape}")
    return v


def _check_axis(values, n: int, name: str) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 1 or v.size != n:
        raise ValueError(f"{name} must be 1-D with {n} entries, got shape {v.shape}")
    if v.size > 1 and np.any(np.diff(v) <= 0):
        raise ValueError(f"{name} must be strictly increasing")
    return v


def _check_output_bin(f_out: int, t_out: int, shape: tuple[int, int]) -> None:
    if not (0 <= f_out < shape[0] and 0 <= t_out < shape[1]):
        raise ValueError(f"output bin (f_out={f_out}, t_out={t_out}) outside {tuple(shape)}")


def _check_attr_axes(a: np.ndarray, freqs_hz=None, times_s=None):
    f_out, t_out, f_in, t_in = a.shape
    f = t = None
    if freqs_hz is not None:
        if f_out != f_in:
            raise ValueError(
                f"f_out ({f_out}) and f_in ({f_in}) differ; cannot share freqs_hz"
            )
        f = _check_axis(freqs_hz, f_in, "freqs_hz")
    if times_s is not None:
        if t_out != t_in:
            raise ValueError(
                f"t_out ({t_out}) and t_in ({t_in}) differ; cannot share times_s"
            )
        t = _check_axis(times_s, t_in, "times_s")
    return f, t


# ---------------------------------------------------------------------------
# pure-numpy aggregations
# ---------------------------------------------------------------------------


def aggregate(attributions, aggregation: str, axis=None) -> np.ndarray:
    """Reduce ``attributions`` over ``axis`` with the chosen aggregation.

    ``"abs_sum"``: absolute value, then sum.  ``"signed_sum"``: plain sum.
    Works on arrays of any shape; sums in float64.  ``axis=None`` sums
    everything.  Unknown ``aggregation`` -> ``ValueError``.
    """
    check_aggregation(aggregation)
    a = np.asarray(attributions)
    if aggregation == "abs_sum":
        a = np.abs(a)
    return np.sum(a, axis=axis, dtype=np.float64)


def global_influence(attributions, aggregation: str = "abs_sum") -> np.ndarray:
    """Total contribution of each input bin to the whole mask -> ``[f_in, t_in]``.

    Aggregated over all output bins ``(f_out, t_out)`` and normalised so that
    the largest ``|value|`` is 1 (an all-zero result stays all zero).
    """
    a = _check_attributions(attributions)
    g = aggregate(a, aggregation, axis=(0, 1))
    m = np.max(np.abs(g)) if g.size else 0.0
    if m > 0 and np.isfinite(m):
        g = g / m
    return g


def time_influence(attributions, aggregation: str = "abs_sum") -> np.ndarray:
    """Input-time to output-time influence -> ``[t_out, t_in]``.

    Aggregated over ``f_out`` and ``f_in``; in attribution units (not normalised).
    For a causal model entries with ``t_in > t_out`` are zero.
    """
    a = _check_attributions(attributions)
    return aggregate(a, aggregation, axis=(0, 2))


def frequency_influence(
    attributions,
    aggregation: str = "abs_sum",
    freqs_hz=None,
    max_output_hz: float | None = None,
) -> np.ndarray:
    """Input-frequency to output-frequency influence -> ``[f_out, f_in]``.

    Aggregated over ``t_out`` and ``t_in``; in attribution units.  With
    ``max_output_hz`` (requires ``freqs_hz``) only the output-frequency rows with
    ``freqs_hz <= max_output_hz`` are kept (the "low frequency" view); all input
    frequencies are kept.
    """
    a = _check_attributions(attributions)
    check_aggregation(aggregation)
    if freqs_hz is not None:
        freqs_hz = _check_axis(freqs_hz, a.shape[0], "freqs_hz")
    fi = aggregate(a, aggregation, axis=(1, 3))
    if max_output_hz is not None:
        if freqs_hz is None:
            raise ValueError("max_output_hz requires freqs_hz")
        fi = fi[_low_outputs(freqs_hz, max_output_hz)]
    return fi


def _low_outputs(freqs_hz: np.ndarray, max_output_hz: float) -> np.ndarray:
    """Boolean mask of the output frequencies ``<= max_output_hz`` (at least one, else ``ValueError``)."""
    keep = freqs_hz <= max_output_hz
    if not np.any(keep):
        raise ValueError(
            f"no output frequency <= max_output_hz={max_output_hz} Hz "
            f"(lowest is {freqs_hz[0]} Hz)"
        )
    return keep


def time_correlation(attributions, aggregation: str = "signed_sum") -> np.ndarray:
    """Pearson correlation between input frames' attribution vectors -> ``[t_in, t_in]``.

    The vector of input frame ``t_in`` is the attribution aggregated over
    ``f_in`` (``aggregation``, signed by default), with one entry per output bin
    ``(f_out, t_out)``.  Two frames correlate when they push the same output
    bins in the same proportions.

    Frames whose vector is constant (e.g. all zero) have an undefined
    correlation: their row and column are NaN (no warning is emitted).  Valid
    frames have exactly 1 on the diagonal; values are clipped to ``[-1, 1]``.
    """
    a = _check_attributions(attributions)
    return frame_correlation(aggregate(a, aggregation, axis=2))  # [f_out, t_out, t_in]


def frame_correlation(frame_vectors) -> np.ndarray:
    """Pearson correlation between input frames' vectors -> ``[t_in, t_in]``.

    ``frame_vectors`` ``[..., t_in]``: the attribution of every input frame,
    already aggregated over ``f_in``, with one entry per output bin along the
    leading axes (e.g. ``[f_out, t_out, t_in]``, as computed chunk by chunk).
    :func:`time_correlation` is this function of the aggregated 4-D tensor;
    constant frames give NaN rows and columns as there.
    """
    v = np.asarray(frame_vectors, dtype=np.float64)
    if v.ndim < 1:
        raise ValueError("frame_vectors must have shape [..., t_in]")
    x = v.reshape(-1, v.shape[-1]).T  # [t_in, n_output_bins]
    n = x.shape[1]
    xc = x - x.mean(axis=1, keepdims=True)
    norms = np.sqrt(np.sum(xc * xc, axis=1))
    # A constant row leaves only rounding residue after centring.
    scale = np.max(np.abs(x), axis=1) if n else np.zeros(x.shape[0])
    valid = norms > 10 * np.finfo(np.float64).eps * np.sqrt(max(n, 1)) * scale
    valid &= norms > 0
    z = np.zeros_like(xc)
    z[valid] = xc[valid] / norms[valid, None]
    c = np.clip(z @ z.T, -1.0, 1.0)
    c[~valid, :] = np.nan
    c[:, ~valid] = np.nan
    idx = np.flatnonzero(valid)
    c[idx, idx] = 1.0
    return c


# ---------------------------------------------------------------------------
# drawing helpers
# ---------------------------------------------------------------------------


def _edges(centres: np.ndarray) -> np.ndarray:
    """Pixel edges half a step either side of (possibly non-uniform) centres."""
    c = np.asarray(centres, dtype=np.float64)
    if c.size == 1:
        return np.array([c[0] - 0.5, c[0] + 0.5])
    e = np.empty(c.size + 1)
    e[1:-1] = 0.5 * (c[:-1] + c[1:])
    e[0] = c[0] - 0.5 * (c[1] - c[0])
    e[-1] = c[-1] + 0.5 * (c[-1] - c[-2])
    return e


def _is_uniform(c: np.ndarray) -> bool:
    if c.size < 3:
        return True
    d = np.diff(c)
    return bool(np.allclose(d, d[0], rtol=1e-3, atol=0))


def _show(ax, data, x_centres, y_centres, cmap, norm, gid=None):
    """Draw ``data[y, x]`` with correct physical extents; returns the mappable."""
    x = np.asarray(x_centres, dtype=np.float64)
    y = np.asarray(y_centres, dtype=np.float64)
    xe, ye = _edges(x), _edges(y)
    if _is_uniform(x) and _is_uniform(y):
        m = ax.imshow(
            data,
            origin="lower",
            aspect="auto",
            interpolation="nearest",
            extent=(xe[0], xe[-1], ye[0], ye[-1]),
            cmap=cmap,
            norm=norm,
        )
    else:
        m = ax.pcolormesh(xe, ye, data, shading="flat", cmap=cmap, norm=norm)
        ax.set_xlim(xe[0], xe[-1])
        ax.set_ylim(ye[0], ye[-1])
    if gid is not None:
        m.set_gid(gid)
    return m


def _symmetric_norm(data) -> Normalize:
    d = np.asarray(data, dtype=np.float64)
    finite = d[np.isfinite(d)]
    m = float(np.max(np.abs(finite))) if finite.size else 0.0
    if m == 0.0:
        m = 1.0
    return Normalize(vmin=-m, vmax=m)


def _sequential_norm(data) -> Normalize:
    d = np.asarray(data, dtype=np.float64)
    finite = d[np.isfinite(d)]
    m = float(np.max(finite)) if finite.size else 0.0
    if m <= 0.0:
        m = 1.0
    return Normalize(vmin=0.0, vmax=m)


def _value_style(data, signed: bool):
    if signed:
        return _SIGNED_CMAP, _symmetric_norm(data)
    return _ABS_CMAP, _sequential_norm(data)


def new_figure(figsize, **subplots_kw):
    """``(figure, axes)``: a constrained-layout figure of size ``figsize`` (inches) and its
    ``fig.subplots(**subplots_kw)``.

    The figure is outside pyplot's registry: notebooks ``display`` it once and nothing piles
    up in loops.  Every figure of this module is made here.
    """
    fig = Figure(figsize=figsize, layout="constrained")
    return fig, fig.subplots(**subplots_kw)


def aggregation_line(aggregation: str, over: str) -> str:
    """One title line naming the aggregation and what it sums over, e.g.
    ``"aggregation: abs_sum over all output bins (|attribution|, signs cannot cancel)"``."""
    return f"aggregation: {aggregation} over {over} {_AGG_NOTE[check_aggregation(aggregation)]}"


def _line_colour(aggregation: str) -> str:
    """Reference-line colour visible on the map's colormap and a white legend."""
    return "black" if aggregation == "signed_sum" else "red"


def _label_tf(ax, time_label="Time (s)", freq_label="Frequency (Hz)"):
    ax.set_xlabel(time_label)
    ax.set_ylabel(freq_label)


def _target(ax):
    """``(figure, axes)``: a new 8 x 4 inch figure when ``ax`` is None, else ``ax`` and its figure."""
    if ax is None:
        return new_figure((8, 4))
    return ax.figure, ax


def mark_output_bin(ax, f_hz: float, t_s: float, colour: str = "black", label: str = "target output bin") -> None:
    """Mark an output bin on a time-frequency axes: a circle at ``(t_s, f_hz)`` (labelled
    ``label`` for a legend) and a dashed vertical line at ``t_s`` (later input cannot contribute)."""
    ax.axvline(t_s, color=colour, lw=0.8, ls="--", alpha=0.8)
    ax.plot([t_s], [f_hz], marker="o", ms=11, mfc="none", mec=colour, mew=1.6, ls="none", label=label)


# ---------------------------------------------------------------------------
# basic plots
# ---------------------------------------------------------------------------


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
    lp = np.asarray(log_power)
    if lp.ndim != 2:
        raise ValueError(f"log_power must have shape [F, T], got {lp.shape}")
    f = _check_axis(freqs_hz, lp.shape[0], "freqs_hz")
    t = _check_axis(times_s, lp.shape[1], "times_s")
    fig, ax = _target(ax)
    finite = lp[np.isfinite(lp)]
    if vmin is None:
        vmin = float(np.min(finite)) if finite.size else 0.0
    if vmax is None:
        vmax = float(np.max(finite)) if finite.size else 1.0
    if vmax <= vmin:
        vmax = vmin + 1.0
    im = _show(ax, lp, t, f, _SPEC_CMAP, Normalize(vmin=vmin, vmax=vmax))
    _label_tf(ax)
    if title:
        ax.set_title(title)
    if colorbar:
        fig.colorbar(im, ax=ax, label=value_label)
    return fig


def plot_mask(
    mask,
    freqs_hz,
    times_s,
    title: str = "NSNet2 gain mask (1 = keep, 0 = suppress)",
    value_label: str = "gain (linear, 0-1)",
    ax=None,
) -> Figure:
    """Gain mask ``[F, T]`` on a fixed 0..1 sequential scale.  ``ax=None`` makes a
    new figure, otherwise draws into ``ax``; returns the figure either way."""
    m = np.asarray(mask)
    if m.ndim != 2:
        raise ValueError(f"mask must have shape [F, T], got {m.shape}")
    f = _check_axis(freqs_hz, m.shape[0], "freqs_hz")
    t = _check_axis(times_s, m.shape[1], "times_s")
    fig, ax = _target(ax)
    im = _show(ax, m, t, f, _MASK_CMAP, Normalize(vmin=0.0, vmax=1.0))
    _label_tf(ax)
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
    amap = _check_map(attribution_map, "attribution_map", "[f_in, t_in]")
    f = _check_axis(freqs_hz, amap.shape[0], "freqs_hz")
    t = _check_axis(times_s, amap.shape[1], "times_s")
    fig, ax = _target(ax)
    cmap, norm = _value_style(amap, signed=True)
    im = _show(ax, amap, t, f, cmap, norm, gid=gid)
    _label_tf(ax, "Input time t_in (s)", "Input frequency f_in (Hz)")
    ax.set_title(title, fontsize="medium")
    fig.colorbar(im, ax=ax, label=value_label)
    return fig


# ---------------------------------------------------------------------------
# influence maps: map-level functions and their 4-D wrappers
# ---------------------------------------------------------------------------


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
    g = _check_map(global_map, "global_map", "[f_in, t_in]")
    f = _check_axis(freqs_hz, g.shape[0], "freqs_hz")
    t = _check_axis(times_s, g.shape[1], "times_s")
    signed = aggregation == "signed_sum"
    cmap = _SIGNED_CMAP if signed else _ABS_CMAP
    norm = Normalize(-1.0, 1.0) if signed else Normalize(0.0, 1.0)
    fig, ax = new_figure((8, 4.2))
    im = _show(ax, g, t, f, cmap, norm)
    _label_tf(ax, "Input time t_in (s)", "Input frequency f_in (Hz)")
    ax.set_title(
        title
        or "Global influence of each input bin on the whole gain mask\n"
        + aggregation_line(aggregation, "all output bins"),
        fontsize="medium",
    )
    fig.colorbar(im, ax=ax, label=f"{value_label}\n{aggregation} over all output bins")
    return fig


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
    a = _check_attributions(attributions)
    f, t = _check_attr_axes(a, freqs_hz, times_s)
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
    ti = _check_map(time_map, "time_map", "[t_out, t_in]")
    t = _check_axis(times_s, ti.shape[1], "times_s")
    if ti.shape[0] != t.size:
        raise ValueError(f"time_map must have shape [t_out, t_in] = {(t.size, t.size)}, got {ti.shape}")
    cmap, norm = _value_style(ti, aggregation == "signed_sum")
    fig, ax = new_figure((6.8, 5.6))
    im = _show(ax, ti, t, t, cmap, norm)
    e = _edges(t)
    ax.plot(
        [e[0], e[-1]],
        [e[0], e[-1]],
        color=_line_colour(aggregation),
        lw=0.8,
        alpha=0.7,
        ls="--",
        label="causal limit t_in = t_out",
    )
    ax.set_xlim(e[0], e[-1])
    ax.set_ylim(e[0], e[-1])
    ax.legend(loc="upper left", fontsize="small", framealpha=0.8)
    ax.set_xlabel("Input time t_in (s)")
    ax.set_ylabel("Output time t_out (s)")
    ax.set_title(
        title
        or "Time influence: input frame -> output frame\n"
        + aggregation_line(aggregation, "f_out, f_in"),
        fontsize="medium",
    )
    fig.colorbar(im, ax=ax, label=f"{value_label}\n{aggregation} over f_out, f_in")
    return fig


def plot_time_influence(
    attributions,
    times_s,
    aggregation: str = "abs_sum",
    value_label: str = DEFAULT_VALUE_LABEL,
    title: str | None = None,
) -> Figure:
    """Map ``[t_out, t_in]``: :func:`plot_time_map` of :func:`time_influence`."""
    a = _check_attributions(attributions)
    _, t = _check_attr_axes(a, None, times_s)
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
    fi = _check_map(frequency_map, "frequency_map", "[f_out, f_in]")
    f = _check_axis(freqs_hz, fi.shape[1], "freqs_hz")
    if fi.shape[0] != f.size:
        raise ValueError(f"frequency_map must have shape [f_out, f_in] = {(f.size, f.size)}, got {fi.shape}")
    f_rows = f
    if max_output_hz is not None:
        keep = _low_outputs(f, max_output_hz)
        fi, f_rows = fi[keep], f[keep]
    cmap, norm = _value_style(fi, aggregation == "signed_sum")
    fig, ax = new_figure((7.5, 4.8 if max_output_hz is None else 3.8))
    im = _show(ax, fi, f, f_rows, cmap, norm)
    ex, ey = _edges(f), _edges(f_rows)
    lo, hi = max(ex[0], ey[0]), min(ex[-1], ey[-1])
    ax.plot(
        [lo, hi],
        [lo, hi],
        color=_line_colour(aggregation),
        lw=0.8,
        alpha=0.7,
        ls="--",
        label="f_in = f_out",
    )
    ax.set_xlim(ex[0], ex[-1])
    ax.set_ylim(ey[0], ey[-1])
    ax.legend(loc="upper right", fontsize="small", framealpha=0.8)
    ax.set_xlabel("Input frequency f_in (Hz)")
    ax.set_ylabel("Output frequency f_out (Hz)")
    which = (
        "all output frequencies"
        if max_output_hz is None
        else f"output frequencies <= {max_output_hz:g} Hz"
    )
    ax.set_title(
        title
        or f"Frequency influence: input -> output frequency ({which})\n"
        + aggregation_line(aggregation, "t_out, t_in"),
        fontsize="medium",
    )
    fig.colorbar(im, ax=ax, label=f"{value_label}\n{aggregation} over t_out, t_in")
    return fig


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
    a = _check_attributions(attributions)
    f, _ = _check_attr_axes(a, freqs_hz, None)
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
    c = _check_map(correlation, "correlation", "[t_in, t_in]")
    t = _check_axis(times_s, c.shape[1], "times_s")
    if c.shape[0] != t.size:
        raise ValueError(f"correlation must have shape [t_in, t_in] = {(t.size, t.size)}, got {c.shape}")
    cmap = colormaps[_SIGNED_CMAP].with_extremes(bad="0.8")
    fig, ax = new_figure((6.4, 5.4))
    im = _show(ax, c, t, t, cmap, Normalize(vmin=-1.0, vmax=1.0))
    ax.set_xlabel("Input time t_in (s)")
    ax.set_ylabel("Input time t_in (s)")
    ax.set_title(
        title
        or "Correlation between input frames' attribution vectors\n"
        f"(one entry per output bin; aggregation: {aggregation} over f_in\n"
        f"{_AGG_NOTE[aggregation]}); grey = undefined (constant vector)",
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
    a = _check_attributions(attributions)
    _, t = _check_attr_axes(a, None, times_s)
    return plot_correlation_map(time_correlation(a, aggregation), t, aggregation, title)


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
    amap = _check_map(bin_map, "bin_map", "[f_in, t_in]")
    f = _check_axis(freqs_hz, amap.shape[0], "freqs_hz")
    t = _check_axis(times_s, amap.shape[1], "times_s")
    feats = np.asarray(input_features)
    if feats.shape != amap.shape:
        raise ValueError(
            f"input_features must have shape [f_in, t_in] = {amap.shape}, "
            f"got {feats.shape}"
        )
    _check_output_bin(f_out, t_out, (f.size, t.size))
    fx, tx = f[f_out], t[t_out]

    fig, (ax0, ax1) = new_figure((13, 4.8), ncols=2)
    plot_spectrogram(
        feats, f, t, ax=ax0, title="Input log-power spectrogram (target bin marked)"
    )
    plot_attribution_map(
        amap, f, t, ax=ax1, value_label=value_label,
        title=f"Signed attribution of each input bin to output bin\n"
        f"f_out = {fx:g} Hz, t_out = {tx:.3f} s (no aggregation)",
    )
    for ax, colour in ((ax0, "cyan"), (ax1, "black")):
        mark_output_bin(ax, fx, tx, colour)
    ax1.plot([], [], color="black", lw=0.8, ls="--",
             label="t_out (later inputs cannot contribute)")
    ax1.legend(loc="upper left", fontsize="small", framealpha=0.8)
    fig.suptitle(
        title
        or f"What the gain at {fx:g} Hz, {tx:.3f} s looks at in the input",
    )
    return fig


def plot_output_bin_map(
    attributions,
    f_out: int,
    t_out: int,
    input_features,
    freqs_hz,
    times_s,
    value_label: str = DEFAULT_VALUE_LABEL,
    title: str | None = None,
) -> Figure:
    """Two panels: the input spectrogram with output bin ``(f_out, t_out)``
    marked, and that bin's signed attribution map ``[f_in, t_in]``:
    :func:`plot_bin_map` of ``attributions[f_out, t_out]``."""
    a = _check_attributions(attributions)
    f, t = _check_attr_axes(a, freqs_hz, times_s)
    _check_output_bin(f_out, t_out, a.shape[:2])
    return plot_bin_map(a[f_out, t_out], f_out, t_out, input_features, f, t, value_label, title)


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
        raise ValueError(
            "regions must be a sequence of (f_lo_hz, f_hi_hz, t_lo_s, t_hi_s), "
            f"got shape {regs.shape}"
        )
    if regs.shape[0] != vals.size:
        raise ValueError(
            f"{vals.size} region values but {regs.shape[0]} regions"
        )
    if region_labels is not None and len(region_labels) != vals.size:
        raise ValueError("region_labels must have one entry per region")
    f = _check_axis(freqs_hz, np.asarray(freqs_hz).size, "freqs_hz")
    t = _check_axis(times_s, np.asarray(times_s).size, "times_s")

    fig, ax = new_figure((8.5, 4.6))
    if background is not None:
        bg = np.asarray(background)
        if bg.shape != (f.size, t.size):
            raise ValueError(
                f"background must have shape [F, T] = {(f.size, t.size)}, "
                f"got {bg.shape}"
            )
        finite = bg[np.isfinite(bg)]
        lo, hi = (np.min(finite), np.max(finite)) if finite.size else (0.0, 1.0)
        _show(ax, bg, t, f, "Greys", Normalize(lo, hi if hi > lo else lo + 1),
              gid="background").set_alpha(0.45)

    norm = _symmetric_norm(vals)
    rects = [
        Rectangle((t_lo, f_lo), t_hi - t_lo, f_hi - f_lo)
        for f_lo, f_hi, t_lo, t_hi in regs
    ]
    pc = PatchCollection(
        rects, cmap=_SIGNED_CMAP, norm=norm, edgecolor="black", linewidth=0.8,
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
    te, fe = _edges(t), _edges(f)
    ax.set_xlim(te[0], te[-1])
    ax.set_ylim(fe[0], fe[-1])
    _label_tf(ax)
    ax.set_title(
        title
        or "Attribution of each time-frequency region (signed; "
        "red raises, blue lowers the explained output)",
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
            raise ValueError(
                f"layer {name!r}: expected shape [units, T], got {arr.shape}"
            )
        layers[name] = arr
    n_t = next(iter(layers.values())).shape[1]
    t = _check_axis(times_s, n_t, "times_s")
    for name, arr in layers.items():
        if arr.shape[1] != t.size:
            raise ValueError(
                f"layer {name!r} has {arr.shape[1]} frames, times_s has {t.size}"
            )

    n = len(layers)
    fig, axes = new_figure((9, 0.4 + 2.6 * n), nrows=n, sharex=True, squeeze=False)
    for ax, (name, arr) in zip(axes[:, 0], layers.items()):
        cmap, norm = _value_style(arr, signed=True)
        im = _show(ax, arr, t, np.arange(arr.shape[0]), cmap, norm)
        ax.set_ylabel("unit index")
        ax.set_title(f"{name} ({arr.shape[0]} units)", fontsize="medium")
        fig.colorbar(im, ax=ax, label=value_label)
    axes[-1, 0].set_xlabel("Time (s)")
    fig.suptitle(title or "Signed attribution of latent units over time")
    return fig


def save_png(fig: Figure, path: str | os.PathLike, dpi: int = 100) -> Path:
    """Write ``fig`` as a PNG at ``path`` atomically (a temporary name, then a rename)."""
    from ..io.atomic import write_atomically

    return write_atomically(path, lambda temporary: fig.savefig(temporary, format="png", dpi=dpi))
