"""Every plot of :mod:`xai_helpers.plots` for a batch of stored attribution files (notebook 03).

:func:`plot_file` reads one ``.h5`` file (layout: :mod:`xai_helpers.store`) and draws the plots
that fit its layout; :func:`plot_batch` does it for every audio file of a folder (or one file),
writes the figures as PNG files and returns them, with the files that have no attributions and
the damaged or incomplete ``.h5`` files listed apart.

Plots by layout (the dictionary keys of :func:`plot_file`; times are seconds from the start of
the explained segment, frequencies bin centres in Hz):

* every layout: ``spectrogram`` (the input log-power ``[f, t]`` the model saw), ``mask`` (its
  predicted gain ``[f, t]``);
* ``attributions [f_out, t_out, f_in, t_in]`` over all output bins: ``global_influence``
  ``[f_in, t_in]``, ``time_influence`` ``[t_out, t_in]``, ``frequency_influence`` ``[f_out,
  f_in]``, ``low_frequency_influence`` (only output rows ``<= low_freq_hz``),
  ``time_correlation`` ``[t_in, t_in]``, and ``output_bin_map``: the signed map ``[f_in, t_in]``
  of the *representative output bin*, the one with the largest total ``|attribution|`` over all
  input bins (named in the figure's title);
* the same with a single explained bin (``outputs="bin"``): ``output_bin_map`` of that bin;
* ``[region, f_in, t_in]`` (``outputs="regions"``): ``region_{r}_map`` per output region;
* grouped input regions (``features="regions"``): ``group_influence`` (aggregated over all output
  bins), ``output_bin_groups`` (the representative or single bin) or ``region_{r}_groups``,
  drawn with :func:`~xai_helpers.plots.plot_region_attributions`;
* latent units (``features="latent"``): ``latent_influence`` (aggregated over all output bins),
  ``output_bin_latent`` or ``region_{r}_latent``, drawn with
  :func:`~xai_helpers.plots.plot_layer_attributions`.

The 4-D tensor of a short segment is read whole. A larger one (more than ``max_in_memory_bytes``,
1.5 GB as float32 by default) is aggregated chunk by chunk over ``t_out``; the plots are then
drawn from the aggregated maps by the map-level functions of :mod:`~xai_helpers.plots` (the ones
its 4-D functions draw with). Only the temporal correlation keeps a ``[f_out, t_out, t_in]``
array; when even that is out of reach, :class:`TooLargeError` names the file and its size.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from ..plots import maps as plots
from ..io.datasets import list_audio_files
from ..attribution.explain import attribution_paths
from ..store.writer import AttributionFile, AttributionFileError

logger = logging.getLogger(__name__)

MAX_IN_MEMORY_BYTES = 1.5e9
"""Attribution tensors larger than this (as float32) are aggregated chunk by chunk."""
CHUNK_BYTES = 128 * 1024**2
"""Size (float32) of one chunk of output frames read at a time in the chunked path."""
MAX_CORRELATION_BYTES = 2e9
"""Largest ``[f_out, t_out, t_in]`` float64 array the chunked temporal correlation may hold."""
PNG_DPI = 100

__all__ = [
    "BatchPlotReport",
    "BinAggregates",
    "FilePlots",
    "TooLargeError",
    "aggregate_bins",
    "figure_basename",
    "plot_batch",
    "plot_caption",
    "plot_file",
    "representative_bin",
]


class TooLargeError(ValueError):
    """An attribution file too large to plot even chunk by chunk (the message names it and its size)."""


# ---------------------------------------------------------------------------
# chunked aggregation of the 4-D tensor
# ---------------------------------------------------------------------------


@dataclass
class BinAggregates:
    """The reductions of a 4-D tensor ``[f_out, t_out, f_in, t_in]`` that the plots need (float64).

    Equal (up to float rounding) to :mod:`xai_helpers.plots`' functions on the whole tensor.
    """

    aggregation: str
    global_influence: np.ndarray
    """``[f_in, t_in]``, normalised to max ``|value|`` = 1 (as :func:`~xai_helpers.plots.global_influence`)."""
    time_influence: np.ndarray
    """``[t_out, t_in]`` in attribution units."""
    frequency_influence: np.ndarray
    """``[f_out, f_in]`` in attribution units (all output frequencies)."""
    frame_vectors: np.ndarray | None
    """``[f_out, t_out, t_in]``: aggregated over ``f_in`` (the vectors :func:`~xai_helpers.plots.frame_correlation` correlates)."""
    output_totals: np.ndarray
    """``[f_out, t_out]``: total ``|attribution|`` of each output bin over all input bins."""


def _chunk_frames(shape: tuple[int, ...], chunk_bytes: float) -> int:
    per_frame = 4 * shape[0] * int(np.prod(shape[2:]))
    return int(max(1, min(shape[1], chunk_bytes // max(per_frame, 1))))


def _frame_chunks(stored: AttributionFile, name: str, chunk_bytes: float) -> Iterator[tuple[slice, np.ndarray]]:
    """``(t_out slice, values [f_out, n, ...])`` chunk by chunk over the output frames of ``name``."""
    shape = stored.file[name].shape
    step = _chunk_frames(shape, chunk_bytes)
    for t0 in range(0, shape[1], step):
        frames = slice(t0, min(t0 + step, shape[1]))
        yield frames, stored.read_attributions((slice(None), frames), name=name)


def aggregate_bins(
    stored: AttributionFile,
    aggregation: str,
    chunk_bytes: float = CHUNK_BYTES,
    frame_vectors: bool = True,
) -> BinAggregates:
    """Aggregate ``stored``'s 4-D ``attributions`` chunk by chunk over ``t_out`` (never whole in memory).

    ``frame_vectors=False`` skips the ``[f_out, t_out, t_in]`` array of the temporal correlation.
    """
    plots.check_aggregation(aggregation)
    f_out, t_out, f_in, t_in = stored.file["attributions"].shape
    glob = np.zeros((f_in, t_in))
    times = np.zeros((t_out, t_in))
    freqs = np.zeros((f_out, f_in))
    totals = np.zeros((f_out, t_out))
    vectors = np.zeros((f_out, t_out, t_in)) if frame_vectors else None
    for frames, chunk in _frame_chunks(stored, "attributions", chunk_bytes):
        magnitude = np.abs(chunk)
        values = magnitude if aggregation == "abs_sum" else chunk
        per_frame = values.sum(axis=2, dtype=np.float64)  # [f_out, n, t_in]
        glob += values.sum(axis=(0, 1), dtype=np.float64)
        freqs += values.sum(axis=(1, 3), dtype=np.float64)
        times[frames] = per_frame.sum(axis=0)
        totals[:, frames] = magnitude.sum(axis=(2, 3), dtype=np.float64)
        if vectors is not None:
            vectors[:, frames] = per_frame
    peak = np.max(np.abs(glob)) if glob.size else 0.0
    if peak > 0 and np.isfinite(peak):
        glob = glob / peak
    return BinAggregates(aggregation, glob, times, freqs, vectors, totals)


# ---------------------------------------------------------------------------
# per-file plotting
# ---------------------------------------------------------------------------


@dataclass
class _Context:
    """What every plot of one file shares."""

    path: Path
    freqs: np.ndarray
    times: np.ndarray
    features: np.ndarray
    mask: np.ndarray
    attrs: dict
    value_label: str


def _context(stored: AttributionFile) -> _Context:
    target = str(stored.attrs.get("target", "mask"))
    return _Context(
        stored.path,
        np.asarray(stored["freqs_hz"], dtype=np.float64),
        np.asarray(stored["times_s"], dtype=np.float64),
        stored["input_features"],
        stored["mask"],
        stored.attrs,
        f"attribution ({target} units)",
    )


def _bin_label(ctx: _Context, f_out: int, t_out: int) -> str:
    return f"{ctx.freqs[f_out]:g} Hz, {ctx.times[t_out]:.3f} s"


def _representative_bin(totals: np.ndarray) -> tuple[int, int]:
    """The output bin with the largest total ``|attribution|`` (first one on ties)."""
    f_out, t_out = np.unravel_index(int(np.argmax(totals)), totals.shape)
    return int(f_out), int(t_out)


def representative_bin(stored: AttributionFile, name: str = "attributions", chunk_bytes: float = CHUNK_BYTES) -> tuple[int, int]:
    """Indices ``(f_out, t_out)`` of the output bin with the largest total ``|attribution|`` over all
    inputs of ``name`` (``[f_out, t_out, ...]``), read chunk by chunk."""
    return _representative_bin(_over_outputs(stored, name, "abs_sum", chunk_bytes)[1])


def _bin_map_title(ctx: _Context, f_out: int, t_out: int, representative: bool) -> str:
    why = "representative output bin (largest total |attribution| over all input bins)" if representative else "explained output bin"
    return f"What the gain at {_bin_label(ctx, f_out, t_out)} looks at in the input\n{why}"


def _bin_map(ctx: _Context, amap: np.ndarray, f_out: int, t_out: int, representative: bool) -> Figure:
    """:func:`~xai_helpers.plots.plot_bin_map` of one output bin's ``[f_in, t_in]`` map."""
    return plots.plot_bin_map(
        amap, f_out, t_out, ctx.features, ctx.freqs, ctx.times,
        value_label=ctx.value_label, title=_bin_map_title(ctx, f_out, t_out, representative),
    )


def _bins_in_memory(ctx: _Context, a: np.ndarray, low_freq_hz: float | None, aggregation: str) -> dict[str, Figure]:
    f, t = ctx.freqs, ctx.times
    label = ctx.value_label
    figures = {
        "global_influence": plots.plot_global_influence(a, f, t, aggregation),
        "time_influence": plots.plot_time_influence(a, t, aggregation, value_label=label),
        "frequency_influence": plots.plot_frequency_influence(a, f, aggregation, value_label=label),
    }
    if low_freq_hz is not None:
        figures["low_frequency_influence"] = plots.plot_frequency_influence(
            a, f, aggregation, max_output_hz=low_freq_hz, value_label=label
        )
    figures["time_correlation"] = plots.plot_time_correlation(a, t, aggregation)
    f_out, t_out = _representative_bin(np.abs(a).sum(axis=(2, 3), dtype=np.float64))
    figures["output_bin_map"] = _bin_map(ctx, a[f_out, t_out], f_out, t_out, representative=True)
    return figures


def _bins_chunked(
    ctx: _Context, stored: AttributionFile, low_freq_hz: float | None, aggregation: str, chunk_bytes: float
) -> dict[str, Figure]:
    f_out, t_out, _, t_in = stored.file["attributions"].shape
    correlation_bytes = 8 * f_out * t_out * t_in
    if correlation_bytes > MAX_CORRELATION_BYTES:
        raise TooLargeError(
            f"{ctx.path}: {_gb(stored)} GB of attributions; the temporal correlation alone would need "
            f"{correlation_bytes / 1e9:.1f} GB; explain a shorter segment"
        )
    agg = aggregate_bins(stored, aggregation, chunk_bytes)
    f, t = ctx.freqs, ctx.times
    label = ctx.value_label
    figures = {
        "global_influence": plots.plot_global_map(agg.global_influence, f, t, aggregation),
        "time_influence": plots.plot_time_map(agg.time_influence, t, aggregation, value_label=label),
        "frequency_influence": plots.plot_frequency_map(agg.frequency_influence, f, aggregation, value_label=label),
    }
    if low_freq_hz is not None:
        figures["low_frequency_influence"] = plots.plot_frequency_map(
            agg.frequency_influence, f, aggregation, max_output_hz=low_freq_hz, value_label=label
        )
    figures["time_correlation"] = plots.plot_correlation_map(plots.frame_correlation(agg.frame_vectors), t, aggregation)
    fo, to = _representative_bin(agg.output_totals)
    figures["output_bin_map"] = _bin_map(ctx, stored.read_attributions((fo, to)), fo, to, representative=True)
    return figures


def _gb(stored: AttributionFile, name: str = "attributions") -> str:
    return f"{4 * int(np.prod(stored.file[name].shape)) / 1e9:.2f}"


def _outline(fig: Figure, region, label: str) -> None:
    """Draw the explained output region's outline on the first axes of ``fig``."""
    f_lo, f_hi, t_lo, t_hi = region
    ax = fig.axes[0]
    ax.add_patch(Rectangle((t_lo, f_lo), t_hi - t_lo, f_hi - f_lo, fill=False, edgecolor="cyan", lw=1.6, ls="--", label=label))
    ax.legend(loc="upper right", fontsize="small", framealpha=0.8)


def _output_regions(stored: AttributionFile) -> np.ndarray:
    if "output_regions" in stored:
        return np.asarray(stored["output_regions"], dtype=np.float64)
    return np.asarray(json.loads(stored.attrs["output_regions"]), dtype=np.float64)


def _region_label(region) -> str:
    f_lo, f_hi, t_lo, t_hi = region
    return f"{f_lo:g}-{f_hi:g} Hz, {t_lo:g}-{t_hi:g} s"


def _single_bin(stored: AttributionFile, ctx: _Context) -> tuple[int, int]:
    indices = json.loads(str(stored.attrs.get("output_bin_indices", "null")))
    if indices is None:
        raise AttributionFileError(f"{ctx.path}: outputs='bin' but no output_bin_indices attribute")
    return int(indices[0]), int(indices[1])


def _is_all_bins(shape: tuple[int, ...], ctx: _Context) -> bool:
    return shape[:2] == (ctx.freqs.size, ctx.times.size) and ctx.attrs.get("outputs") != "bin"


def _bin_plots(ctx, stored, low_freq_hz, aggregation, max_in_memory_bytes, chunk_bytes) -> dict[str, Figure]:
    shape = stored.file["attributions"].shape
    if _is_all_bins(shape, ctx):
        if 4 * int(np.prod(shape)) > max_in_memory_bytes:
            logger.info("%s: %s GB of attributions, aggregated chunk by chunk", ctx.path, _gb(stored))
            return _bins_chunked(ctx, stored, low_freq_hz, aggregation, chunk_bytes)
        return _bins_in_memory(ctx, stored.read_attributions(), low_freq_hz, aggregation)
    f_out, t_out = _single_bin(stored, ctx)
    return {"output_bin_map": _bin_map(ctx, stored.read_attributions((0, 0)), f_out, t_out, representative=False)}


def _region_map_plots(ctx: _Context, stored: AttributionFile) -> dict[str, Figure]:
    from .explorer import attribution_map_figure

    figures = {}
    for r, region in enumerate(_output_regions(stored)):
        amap = stored.read_attributions((r,))
        figures[f"region_{r}_map"] = attribution_map_figure(
            amap, ctx.features, ctx.mask, ctx.freqs, ctx.times, region=tuple(region), value_label=ctx.value_label,
            title=f"What the sum of the gain over region R{r} ({_region_label(region)}) looks at in the input",
        )
    return figures


def _over_outputs(stored: AttributionFile, name: str, aggregation: str, chunk_bytes: float) -> tuple[np.ndarray, np.ndarray]:
    """Chunked ``(aggregated over (f_out, t_out) [...], total |attribution| per output bin [f_out, t_out])``."""
    shape = stored.file[name].shape
    summed = np.zeros(shape[2:])
    totals = np.zeros(shape[:2])
    axes = tuple(range(2, len(shape)))
    for frames, chunk in _frame_chunks(stored, name, chunk_bytes):
        magnitude = np.abs(chunk)
        summed += plots.aggregate(magnitude if aggregation == "abs_sum" else chunk, "signed_sum", axis=(0, 1))
        totals[:, frames] = magnitude.sum(axis=axes, dtype=np.float64)
    return summed, totals


def _target_indices(stored: AttributionFile, ctx: _Context, name: str):
    """``[(key suffix, index, title, output region or None)]`` of the single targets to draw for ``name``."""
    shape = stored.file[name].shape
    if ctx.attrs.get("outputs") == "regions":
        return [
            (f"region_{r}", (r,), f"output region R{r} ({_region_label(region)})", tuple(region))
            for r, region in enumerate(_output_regions(stored))
        ]
    if _is_all_bins(shape, ctx):
        return None
    f_out, t_out = _single_bin(stored, ctx)
    return [("output_bin", (0, 0), f"explained output bin {_bin_label(ctx, f_out, t_out)}", None)]


def _group_plots(ctx, stored, aggregation, chunk_bytes) -> dict[str, Figure]:
    groups = np.asarray(stored["feature_groups"], dtype=np.float64)
    draw = lambda values, title: plots.plot_region_attributions(  # noqa: E731
        values, groups, ctx.freqs, ctx.times, value_label=ctx.value_label, background=ctx.features, title=title
    )
    targets = _target_indices(stored, ctx, "attributions")
    figures = {}
    if targets is None:
        summed, totals = _over_outputs(stored, "attributions", aggregation, chunk_bytes)
        figures["group_influence"] = draw(
            summed, f"Influence of each input region on the whole gain mask\n{plots.aggregation_line(aggregation, 'all output bins')}"
        )
        f_out, t_out = _representative_bin(totals)
        targets = [("output_bin", (f_out, t_out), f"representative output bin {_bin_label(ctx, f_out, t_out)} "
                    "(largest total |attribution|)", None)]
    for key, index, what, region in targets:
        fig = draw(stored.read_attributions(index), f"Signed attribution of each input region to the {what}")
        if region is not None:
            _outline(fig, region, "explained output region")
        figures[f"{key}_groups"] = fig
    return figures


def _latent_plots(ctx, stored, aggregation, chunk_bytes) -> dict[str, Figure]:
    layers = [f"latent/{name}" for name in stored.file["latent"]]
    targets = _target_indices(stored, ctx, layers[0])
    figures = {}
    if targets is None:
        summed, totals = {}, 0.0
        for name in layers:
            summed[name[7:]], layer_totals = _over_outputs(stored, name, aggregation, chunk_bytes)
            totals = totals + layer_totals
        figures["latent_influence"] = plots.plot_layer_attributions(
            summed, ctx.times, value_label=f"{ctx.value_label}\n{aggregation} over all output bins",
            title="Influence of each latent unit over time on the whole gain mask\n"
            + plots.aggregation_line(aggregation, "all output bins"),
        )
        f_out, t_out = _representative_bin(totals)
        targets = [("output_bin", (f_out, t_out), f"representative output bin {_bin_label(ctx, f_out, t_out)} "
                    "(largest total |attribution|)", None)]
    for key, index, what, _ in targets:
        values = {name[7:]: stored.read_attributions(index, name=name) for name in layers}
        figures[f"{key}_latent"] = plots.plot_layer_attributions(
            values, ctx.times, value_label=ctx.value_label, title=f"Signed attribution of latent units to the {what}"
        )
    return figures


def plot_file(
    h5_path: str | os.PathLike,
    low_freq_hz: float | None = 1000.0,
    aggregation: str = "abs_sum",
    max_in_memory_bytes: float = MAX_IN_MEMORY_BYTES,
    chunk_bytes: float = CHUNK_BYTES,
) -> dict[str, Figure]:
    """The plots that fit the layout of the attribution file ``h5_path``, by name (see the module docstring).

    ``low_freq_hz``: the low-frequency variant keeps output frequencies ``<= low_freq_hz`` (Hz);
    ``None`` leaves it out. ``aggregation``: ``"abs_sum"`` or ``"signed_sum"`` (see
    :mod:`xai_helpers.plots`). Raises :class:`~xai_helpers.store.AttributionFileError` naming the
    file if it is incomplete, damaged or unreadable, :class:`TooLargeError` if it is too large.
    """
    plots.check_aggregation(aggregation)
    path = Path(h5_path)
    try:
        with AttributionFile(path) as stored:
            ctx = _context(stored)
            figures = {
                "spectrogram": plots.plot_spectrogram(
                    ctx.features, ctx.freqs, ctx.times,
                    title="Input log-power spectrogram of the explained segment (what the model saw)",
                ),
                "mask": plots.plot_mask(ctx.mask, ctx.freqs, ctx.times),
            }
            features = str(ctx.attrs.get("features", "bins"))
            if features == "latent":
                figures.update(_latent_plots(ctx, stored, aggregation, chunk_bytes))
            elif features == "regions":
                figures.update(_group_plots(ctx, stored, aggregation, chunk_bytes))
            elif stored.file["attributions"].ndim == 3:
                figures.update(_region_map_plots(ctx, stored))
            else:
                figures.update(_bin_plots(ctx, stored, low_freq_hz, aggregation, max_in_memory_bytes, chunk_bytes))
    except (OSError, KeyError) as error:  # a chunk that cannot be read or decompressed, a missing dataset
        raise AttributionFileError(f"{path}: damaged attribution file ({error})") from error
    return figures


# ---------------------------------------------------------------------------
# batch
# ---------------------------------------------------------------------------


@dataclass
class FilePlots:
    """The plots of one attribution file."""

    source: Path
    """The audio file."""
    h5_path: Path
    figures: dict[str, Figure]
    """Plot name -> figure (in display order)."""
    png_paths: dict[str, Path]
    """Plot name -> the PNG written."""


@dataclass
class BatchPlotReport:
    """What :func:`plot_batch` did."""

    method: str | None
    aggregation: str
    figures_dir: Path
    plotted: list[FilePlots] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)
    """Audio files with no ``.h5`` of the method in the attributions folder."""
    damaged: list[tuple[Path, str]] = field(default_factory=list)
    """``(.h5 path, message)`` of the files left out: incomplete, damaged or too large."""

    def rows(self) -> list[dict[str, object]]:
        """One table row per attribution file or skipped audio file: file, status, figures or reason."""
        rows: list[dict[str, object]] = [
            {"file": item.h5_path.name, "status": "plotted", "detail": f"{len(item.figures)} figures"} for item in self.plotted
        ]
        rows += [{"file": path.name, "status": "damaged", "detail": message} for path, message in self.damaged]
        rows += [{"file": path.name, "status": "skipped", "detail": "no attribution file"} for path in self.skipped]
        return rows

    def summary(self) -> str:
        """A few lines: counts, then every skipped and damaged file."""
        lines = [
            f"{len(self.plotted)} attribution file(s) plotted ({self.method or 'any method'}, {self.aggregation}) "
            f"-> {self.figures_dir}; {len(self.skipped)} audio file(s) without attributions; "
            f"{len(self.damaged)} damaged or incomplete file(s) left out"
        ]
        lines += [f"  skipped (no .h5): {path}" for path in self.skipped]
        lines += [f"  left out: {message}" for _, message in self.damaged]
        return "\n".join(lines)


def figure_basename(h5_path: str | os.PathLike, aggregation: str) -> str:
    """``{h5 file stem}_{aggregation}``: PNG files are ``{basename}_{plot}.png``."""
    return f"{Path(h5_path).stem}_{aggregation}"


def plot_batch(
    input_path: str | os.PathLike,
    attributions_dir: str | os.PathLike,
    method: str | None = "deepliftshap",
    low_freq_hz: float | None = 1000.0,
    aggregation: str = "abs_sum",
    figures_dir: str | os.PathLike = "reports/figures",
    dpi: int = PNG_DPI,
    max_in_memory_bytes: float = MAX_IN_MEMORY_BYTES,
) -> BatchPlotReport:
    """:func:`plot_file` for every ``.h5`` of ``method`` (``None``: any) of each audio file of ``input_path``.

    ``input_path`` is an audio file or a folder (:func:`~xai_helpers.datasets.list_audio_files`);
    each file's attribution files are found in ``attributions_dir`` by
    :func:`~xai_helpers.explain.attribution_paths`. Audio files with none are listed in
    ``skipped``; incomplete, damaged or too large ``.h5`` files are logged and listed in
    ``damaged`` and the others still plotted. Every figure is written atomically to
    ``figures_dir/{figure_basename}_{plot}.png`` and returned, so a notebook shows it without
    recomputing.
    """
    plots.check_aggregation(aggregation)
    attributions_dir = Path(attributions_dir)
    if not attributions_dir.is_dir():
        raise FileNotFoundError(f"{attributions_dir}: no such folder of attribution files (run notebook 02 first)")
    figures_dir = Path(figures_dir)
    report = BatchPlotReport(method, aggregation, figures_dir)
    for source in list_audio_files(input_path):
        found = attribution_paths(source, attributions_dir, method)
        if not found:
            logger.info("%s: no %s attribution file in %s, skipped", source, method or "", attributions_dir)
            report.skipped.append(source)
            continue
        for h5_path in found:
            try:
                figures = plot_file(h5_path, low_freq_hz, aggregation, max_in_memory_bytes)
            except (AttributionFileError, TooLargeError) as error:
                logger.warning("%s; left out", error)
                report.damaged.append((h5_path, str(error)))
                continue
            base = figure_basename(h5_path, aggregation)
            pngs = {name: plots.save_png(fig, figures_dir / f"{base}_{name}.png", dpi) for name, fig in figures.items()}
            report.plotted.append(FilePlots(source, h5_path, figures, pngs))
    return report


# ---------------------------------------------------------------------------
# captions
# ---------------------------------------------------------------------------

_CAPTIONS = {
    "spectrogram": (
        "**Input spectrogram.** The log10 power of the explained segment, exactly what the model saw: "
        "time (s from the segment start) across, frequency (Hz) up. Bright = loud."
    ),
    "mask": (
        "**Gain mask.** The gain NSNet2 applies to each bin (1 keeps it, 0 removes it). The attributions "
        "below explain these values."
    ),
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
    "output_bin_map": (
        "**Output-bin map.** One output bin of the mask (circled; for all-bins files the one with the largest "
        "total |attribution|, named in the title) and the signed attribution of every input bin to it: red "
        "raises that gain, blue lowers it. Nothing lies right of the dashed line: later input cannot contribute."
    ),
    "map": (
        "**Output-region map.** The signed attribution of every input bin to the sum of the gain over the "
        "dashed output region: red raises it, blue lowers it."
    ),
    "group_influence": (
        "**Input-region influence.** Each rectangle is a group of input bins; its number is its contribution "
        "to the whole mask, aggregated over all output bins with `{aggregation}`."
    ),
    "groups": (
        "**Input-region attributions.** The signed attribution of each group of input bins (rectangles) to "
        "one explained output (named in the title)."
    ),
    "latent_influence": (
        "**Latent influence.** For each layer, the contribution of every hidden unit (rows) at every frame "
        "(columns) to the whole mask, aggregated over all output bins with `{aggregation}`."
    ),
    "latent": (
        "**Latent attributions.** The signed attribution of every hidden unit at every frame to one explained "
        "output (named in the title)."
    ),
}


def plot_caption(name: str, aggregation: str = "abs_sum", low_freq_hz: float | None = 1000.0) -> str:
    """A few sentences (Markdown) saying what plot ``name`` of :func:`plot_file` shows and how to read it."""
    key = name if name in _CAPTIONS else name.rsplit("_", 1)[-1]
    text = _CAPTIONS.get(key, f"**{name}**")
    return text.format(aggregation=aggregation, low_freq_hz=low_freq_hz if low_freq_hz is not None else float("nan"))
