"""Shared drawing conventions: one colormap per quantity, the figure factory, pixel extents, PNG output.

* Signed maps use the diverging :data:`SIGNED_CMAP` with a symmetric range ``[-m, m]`` (red raises the
  explained output, blue lowers it); non-negative maps :data:`ABS_CMAP`; log-power spectrograms
  :data:`SPECTROGRAM_CMAP`; gain masks :data:`MASK_CMAP` on 0..1, everywhere.
* Images are drawn with pixel edges half a step either side of the centres (:func:`edges`,
  :func:`extent`), frequency increasing upwards; axes in Hz and in seconds **in the file** (:func:`file_times`:
  the stored frame times count from the explained segment's start,
  :attr:`~xai_helpers.store.reader.AttributionFile.start_s` gives it).
* Non-negative maps may take a log colour scale from a floor to their peak (:func:`log_norm`); a map may be
  drawn over the grey input spectrogram (:func:`draw_underlay`, :func:`overlay`).
* Every figure is made by :func:`new_figure` (constrained layout, outside pyplot's registry) and
  returned; nothing here calls ``plt.show()`` or selects a backend.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from matplotlib import colormaps
from matplotlib.colors import Colormap, LogNorm, Normalize
from matplotlib.figure import Figure

from ..analysis.influence import check_aggregation
from ..io.atomic import write_atomically

NA = "n/a"
"""What a missing value (NaN) shows in a figure or a report."""
SIGNED_CMAP = "RdBu_r"
ABS_CMAP = "viridis"
SPECTROGRAM_CMAP = "magma"
MASK_CMAP = "cividis"
POSITIVE_CMAP = "Reds"
"""Non-negative maps of what raises the explained output (the red of :data:`SIGNED_CMAP`)."""
NEGATIVE_CMAP = "Blues"
"""Non-negative maps of what lowers it (the blue of :data:`SIGNED_CMAP`)."""
UNDERLAY_CMAP = "Greys"
TIME_IN_FILE = "in the file (s)"
"""How every time axis is labelled: ``f"Time {TIME_IN_FILE}"``, ``f"Input time t_in {TIME_IN_FILE}"``."""
SELECTION_COLOURS = ("#f2f2f2", "#b2182b")
"""Kept / selected bins of a boolean selection map."""
DEFAULT_VALUE_LABEL = "attribution (mask units)"

AGGREGATION_NOTE = {
    "abs_sum": "(|attribution|, signs cannot cancel)",
    "signed_sum": "(signed, + and - cancel)",
}


def check_map(values, name: str, shape: str) -> np.ndarray:
    """``values`` as a 2-D float64 array (a reduced map), else ``ValueError`` naming ``shape``."""
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 2:
        raise ValueError(f"{name} must have shape {shape} (2-D), got an array with shape {v.shape}")
    return v


def check_axis(values, n: int, name: str) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64)
    if v.ndim != 1 or v.size != n:
        raise ValueError(f"{name} must be 1-D with {n} entries, got shape {v.shape}")
    if v.size > 1 and np.any(np.diff(v) <= 0):
        raise ValueError(f"{name} must be strictly increasing")
    return v


def check_plane(values, name: str, shape: str, freqs_hz, times_s) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(map [F, T], freqs_hz [F], times_s [T])`` checked as :func:`check_map` and :func:`check_axis` do."""
    v = check_map(values, name, shape)
    return v, check_axis(freqs_hz, v.shape[0], "freqs_hz"), check_axis(times_s, v.shape[1], "times_s")


def check_square_map(values, name: str, shape: str, axis_values, axis_name: str) -> tuple[np.ndarray, np.ndarray]:
    """``(map [N, N], axis [N])`` for a map whose rows and columns share one axis (``[t_out, t_in]``,
    ``[f_out, f_in]``, ``[t_in, t_in]``); ``ValueError`` naming ``name`` and ``shape`` otherwise."""
    v = check_map(values, name, shape)
    axis = check_axis(axis_values, v.shape[1], axis_name)
    if v.shape[0] != axis.size:
        raise ValueError(f"{name} must have shape {shape} = {(axis.size, axis.size)}, got {v.shape}")
    return v, axis


def check_output_bin(f_out: int, t_out: int, shape: tuple[int, int]) -> None:
    if not (0 <= f_out < shape[0] and 0 <= t_out < shape[1]):
        raise ValueError(f"output bin (f_out={f_out}, t_out={t_out}) outside {tuple(shape)}")


def check_attr_axes(a: np.ndarray, freqs_hz=None, times_s=None):
    f_out, t_out, f_in, t_in = a.shape
    f = t = None
    if freqs_hz is not None:
        if f_out != f_in:
            raise ValueError(f"f_out ({f_out}) and f_in ({f_in}) differ; cannot share freqs_hz")
        f = check_axis(freqs_hz, f_in, "freqs_hz")
    if times_s is not None:
        if t_out != t_in:
            raise ValueError(f"t_out ({t_out}) and t_in ({t_in}) differ; cannot share times_s")
        t = check_axis(times_s, t_in, "times_s")
    return f, t


def edges(centres: np.ndarray) -> np.ndarray:
    """Pixel edges half a step either side of (possibly non-uniform) centres."""
    c = np.asarray(centres, dtype=np.float64)
    if c.size == 1:
        return np.array([c[0] - 0.5, c[0] + 0.5])
    e = np.empty(c.size + 1)
    e[1:-1] = 0.5 * (c[:-1] + c[1:])
    e[0] = c[0] - 0.5 * (c[1] - c[0])
    e[-1] = c[-1] + 0.5 * (c[-1] - c[-2])
    return e


def extent(freqs_hz: np.ndarray, times_s: np.ndarray) -> tuple[float, float, float, float]:
    """``imshow`` extent ``(t_left, t_right, f_bottom, f_top)`` of a map ``[F, T]``: pixel edges half a step
    either side of the centres."""
    te, fe = edges(times_s), edges(freqs_hz)
    return (te[0], te[-1], fe[0], fe[-1])


def file_times(times_s, segment_start_s: float = 0.0) -> np.ndarray:
    """Frame centres ``[T]`` in seconds from the start of the file: ``times_s`` (from the explained segment's
    start, as the store keeps them) plus ``segment_start_s``. Every time axis of the maps goes through here."""
    t = np.asarray(times_s, dtype=np.float64)
    if not np.isfinite(segment_start_s) or segment_start_s < 0:
        raise ValueError(f"segment_start_s must be a finite time >= 0 s, got {segment_start_s}")
    return t + float(segment_start_s)


def time_label(what: str = "Time") -> str:
    """Axis label of a time axis: ``"Time in the file (s)"``, ``"Input time t_in in the file (s)"``."""
    return f"{what} {TIME_IN_FILE}"


def log_norm(peak: float, floor: float) -> LogNorm:
    """Log colour scale from ``floor * peak`` to ``peak`` (``floor`` in (0, 1); a peak <= 0 gives ``[floor, 1]``).
    Values below the floor, zeros included, take the colormap's lowest colour (``under``)."""
    if not 0 < floor < 1:
        raise ValueError(f"log_floor must lie between 0 and 1 (a fraction of the peak), got {floor}")
    top = float(peak) if np.isfinite(peak) and peak > 0 else 1.0
    return LogNorm(vmin=floor * top, vmax=top, clip=False)


def lowest_under(cmap: str) -> Colormap:
    """``cmap`` with values below its range, and undefined ones, drawn in its lowest colour."""
    base = colormaps[cmap]
    return base.with_extremes(under=base(0.0), bad=base(0.0))


def draw_underlay(ax, log_power, freqs_hz, times_s):
    """The log-power spectrogram ``[F, T]`` in light grey (white = quiet, mid-grey = loudest, so a map's colours
    stand out on it) under a map; returns the image (``gid="underlay"``, no colour bar)."""
    lp = np.asarray(log_power, dtype=np.float64)
    finite = lp[np.isfinite(lp)]
    lo, hi = (float(np.min(finite)), float(np.max(finite))) if finite.size else (0.0, 1.0)
    span = hi - lo if hi > lo else 1.0
    return draw_image(ax, lp, times_s, freqs_hz, UNDERLAY_CMAP, Normalize(lo, lo + 1.6 * span), gid="underlay")


def overlay(image, values, norm: Normalize, gamma: float = 1.0) -> None:
    """Make ``image`` (a map drawn over :func:`draw_underlay`) translucent where its ``values`` are weak: the
    opacity is ``strength ** gamma``, ``strength`` in 0..1 the value's position on the colour scale (its distance
    from the centre for a diverging scale; 0 below a log scale's floor), so the grey spectrogram shows through
    everywhere but where the map is strong."""
    v = np.ma.filled(np.ma.asarray(norm(np.asarray(values, dtype=np.float64)), dtype=np.float64), 0.0)
    strength = np.clip(np.abs(2 * v - 1) if norm.vmin is not None and norm.vmin < 0 else v, 0.0, 1.0)
    image.set_alpha(np.where(np.isfinite(strength), strength, 0.0) ** gamma)


def is_uniform(c: np.ndarray) -> bool:
    if c.size < 3:
        return True
    d = np.diff(c)
    return bool(np.allclose(d, d[0], rtol=1e-3, atol=0))


def draw_image(ax, data, x_centres, y_centres, cmap, norm, gid=None):
    """Draw ``data[y, x]`` with correct physical extents; returns the mappable."""
    x = np.asarray(x_centres, dtype=np.float64)
    y = np.asarray(y_centres, dtype=np.float64)
    xe, ye = edges(x), edges(y)
    if is_uniform(x) and is_uniform(y):
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


def symmetric_norm(data) -> Normalize:
    d = np.asarray(data, dtype=np.float64)
    finite = d[np.isfinite(d)]
    m = float(np.max(np.abs(finite))) if finite.size else 0.0
    if m == 0.0:
        m = 1.0
    return Normalize(vmin=-m, vmax=m)


def sequential_norm(data) -> Normalize:
    d = np.asarray(data, dtype=np.float64)
    finite = d[np.isfinite(d)]
    m = float(np.max(finite)) if finite.size else 0.0
    if m <= 0.0:
        m = 1.0
    return Normalize(vmin=0.0, vmax=m)


def value_style(data, signed: bool):
    if signed:
        return SIGNED_CMAP, symmetric_norm(data)
    return ABS_CMAP, sequential_norm(data)


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
    return f"aggregation: {aggregation} over {over} {AGGREGATION_NOTE[check_aggregation(aggregation)]}"


def line_colour(aggregation: str) -> str:
    """Reference-line colour visible on the map's colormap and a white legend."""
    return "black" if aggregation == "signed_sum" else "red"


def label_time_frequency(ax, x_label: str | None = None, freq_label: str = "Frequency (Hz)"):
    """Label a time-frequency axes: time in the file (:func:`time_label`) across unless ``x_label``, Hz up."""
    ax.set_xlabel(x_label or time_label())
    ax.set_ylabel(freq_label)


def figure_and_axes(ax):
    """``(figure, axes)``: a new 8 x 4 inch figure when ``ax`` is None, else ``ax`` and its figure."""
    if ax is None:
        return new_figure((8, 4))
    return ax.figure, ax


def save_png(fig: Figure, path: str | os.PathLike, dpi: int = 100) -> Path:
    """Write ``fig`` as a PNG at ``path`` atomically (a temporary name, then a rename)."""
    return write_atomically(path, lambda temporary: fig.savefig(temporary, format="png", dpi=dpi))
