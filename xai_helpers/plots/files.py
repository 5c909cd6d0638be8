"""Notebook 03's per-file plotting: every plot that fits each stored attribution file, written as PNG.

:func:`plot_file` reads one ``.h5`` file (layout: :mod:`xai_helpers.store.reader`) and draws the plots
that fit its layout; :func:`plot_batch` does it for every audio file of a folder (or one file),
writes the figures as PNG files and returns them, with the files that have no attributions and
the damaged or incomplete ``.h5`` files listed apart.

Plots by layout (the dictionary keys of :func:`plot_file`, :class:`PlotKey`; times are seconds from the start of
the file (:func:`~xai_helpers.plots.style.file_times`), frequencies bin centres in Hz):

* every layout: ``spectrogram`` (the input log-power ``[f, t]`` the model saw), ``mask`` (its
  predicted gain ``[f, t]``);
* ``attributions [f_out, t_out, f_in, t_in]`` over all output bins: ``global_influence``
  ``[f_in, t_in]`` (the panels of :class:`~xai_helpers.plots.influence.MapOptions`), ``time_influence``
  ``[t_out, t_in]``, ``frequency_influence`` ``[f_out, f_in]``, ``low_frequency_influence`` (the original's:
  input columns ``<= low_freq_hz``, every output row), ``low_output_frequency_influence`` (output rows
  ``<= low_freq_hz``, every input column),
  ``time_correlation`` ``[t_in, t_in]``, and ``output_bin_map``: the signed map ``[f_in, t_in]``
  of the *representative output bin*, the one with the largest total ``|attribution|`` over all
  input bins (named in the figure's title);
* the same with a single explained bin (``outputs="bin"``): ``output_bin_map`` of that bin;
* ``[region, f_in, t_in]`` (``outputs="regions"``): ``region_{r}_map`` per output region;
* grouped input regions (``features="regions"``): ``group_influence`` (aggregated over all output
  bins), ``output_bin_groups`` (the representative or single bin) or ``region_{r}_groups``,
  drawn with :func:`~xai_helpers.plots.maps.plot_region_attributions`;
* latent units (``features="latent"``): ``latent_influence`` (aggregated over all output bins),
  ``output_bin_latent`` or ``region_{r}_latent``, drawn with
  :func:`~xai_helpers.plots.maps.plot_layer_attributions`.

The influence maps (:data:`~xai_helpers.plots.influence.INFLUENCE_PLOTS`) are the file's stored
``maps/`` (``store="maps"``, and full files written since), else reduced by
:func:`~xai_helpers.analysis.influence.file_maps`: a 4-D tensor up to ``max_in_memory_bytes``
(1.5 GB as float32 by default) is read as one chunk, a larger one chunk by chunk over ``t_out``.
The representative bin's map of a maps-only file is recomputed exactly by the engine
(:func:`~xai_helpers.attribution.on_demand.bin_map`). :func:`plot_batch` keeps each all-bins file's maps
(:attr:`FilePlots.maps`) for the band analysis and notebook 03's summary.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from ..analysis.influence import OutputSums, check_aggregation, file_maps, influence_from_maps, output_sums
from ..attribution.maps import InfluenceMaps
from ..analysis.inventory import check_attributions_found, check_something_done
from ..attribution.explain import attribution_paths
from ..attribution.on_demand import bin_map
from ..io.datasets import list_audio_files
from ..io.paths import check_output_dir
from ..store.reader import AttributionFile, AttributionFileError
from .influence import INFLUENCE_PLOTS, MapOptions, PlotInputs
from .maps import (
    attribution_map_figure,
    plot_bin_map,
    plot_layer_attributions,
    plot_mask,
    plot_region_attributions,
    plot_spectrogram,
)
from .style import aggregation_line, file_times, save_png

logger = logging.getLogger(__name__)

MAX_IN_MEMORY_BYTES = 1.5e9
"""Attribution tensors larger than this (as float32) are aggregated chunk by chunk."""
CHUNK_BYTES = 128 * 1024**2
"""Size (float32) of one chunk of output frames read at a time in the chunked path."""
PNG_DPI = 100

__all__ = [
    "BatchPlotReport",
    "FilePlots",
    "MapOptions",
    "PlotKey",
    "figure_basename",
    "plot_batch",
    "plot_caption",
    "plot_file",
]


class PlotKey(str):
    """The key of one plot of :func:`plot_file`, built from typed parts that are never parsed back out of it:
    ``kind``, what the plot shows (the caption of :func:`plot_caption`: ``"mask"``, ``"global_influence"``,
    ``"output_bin_map"``, ``"map"``, ``"groups"``, ``"latent"``, ...), and ``output``, which of the explained outputs it
    is drawn for when a file has one plot per output (``"output_bin"``, ``"region_3"``), else ``None``.

    The key *is* its name, a ``str``: ``PlotKey("groups", "region_3") == "region_3_groups"``; the dictionary, the PNG
    file ``{figure_basename}_{name}.png`` and the gallery's heading use it, and ``figures["mask"]`` finds
    ``PlotKey("mask")``. Immutable."""

    kind: str
    output: str | None

    def __new__(cls, kind: str, output: str | None = None) -> PlotKey:
        key = super().__new__(cls, kind if output is None else f"{output}_{kind}")
        object.__setattr__(key, "kind", kind)
        object.__setattr__(key, "output", output)
        return key

    def __getnewargs__(self) -> tuple[str, str | None]:  # copy and pickle rebuild it from its parts
        return self.kind, self.output

    def __setattr__(self, name: str, value) -> None:
        raise AttributeError(f"PlotKey is immutable: cannot set {name!r}")

    def __repr__(self) -> str:
        return f"PlotKey({self.kind!r})" if self.output is None else f"PlotKey({self.kind!r}, {self.output!r})"


@dataclass
class _Context:
    """What every plot of one file shares."""

    path: Path
    freqs: np.ndarray
    times: np.ndarray
    """Frame centres, s from the start of the file."""
    start_s: float
    """Start of the explained segment in the file, s (stored regions count from it)."""
    features: np.ndarray
    mask: np.ndarray
    value_label: str

    def bin_label(self, f_out: int, t_out: int) -> str:
        return f"{self.freqs[f_out]:g} Hz, {self.times[t_out]:.3f} s"

    def in_file(self, region) -> tuple[float, float, float, float]:
        """A stored region ``(f_lo_hz, f_hi_hz, t_lo_s, t_hi_s)`` (times from the segment start) in file time."""
        f_lo, f_hi, t_lo, t_hi = (float(v) for v in region)
        return f_lo, f_hi, t_lo + self.start_s, t_hi + self.start_s


def _context(stored: AttributionFile) -> _Context:
    start = stored.start_s
    return _Context(
        stored.path,
        stored.freqs_hz,
        file_times(stored.times_s, start),
        start,
        stored.input_features,
        stored.mask,
        f"attribution ({stored.target} units)",
    )


def _bin_map(ctx: _Context, amap: np.ndarray, f_out: int, t_out: int, representative: bool) -> Figure:
    """:func:`~xai_helpers.plots.maps.plot_bin_map` of one output bin's ``[f_in, t_in]`` map."""
    why = (
        "representative output bin (largest total |attribution| over all input bins)"
        if representative
        else "explained output bin"
    )
    return plot_bin_map(
        amap,
        f_out,
        t_out,
        ctx.features,
        ctx.freqs,
        ctx.times,
        value_label=ctx.value_label,
        title=f"What the gain at {ctx.bin_label(f_out, t_out)} looks at in the input\n{why}",
    )


def _gb(stored: AttributionFile, name: str = "attributions") -> str:
    return f"{stored.attributions_size_bytes(name) / 1e9:.2f}"


def _all_bins_plots(
    ctx, stored, low_freq_hz, aggregation, max_in_memory_bytes, chunk_bytes, options: MapOptions
) -> tuple[dict[PlotKey, Figure], InfluenceMaps]:
    """The influence plots of an all-bins file (its stored maps, else reduced from the 4-D tensor),
    then the representative bin's map (the stored slice, else recomputed by the engine); and the maps."""
    chunk = float("inf")
    if not stored.has_maps and stored.attributions_size_bytes() > max_in_memory_bytes:
        logger.info("%s: %s GB of attributions, aggregated chunk by chunk", ctx.path, _gb(stored))
        chunk = chunk_bytes
    maps = file_maps(stored, chunk)
    result = influence_from_maps(maps, aggregation)
    inputs = PlotInputs(ctx.freqs, ctx.times, ctx.features, ctx.value_label, low_freq_hz, options)
    figures = {
        PlotKey(name): plot.draw(result, inputs)
        for name, plot in INFLUENCE_PLOTS.items()
        if low_freq_hz is not None or not plot.needs_low_freq
    }
    f_out, t_out = result.representative_bin()
    figures[PlotKey("output_bin_map")] = _bin_map(ctx, bin_map(stored, f_out, t_out), f_out, t_out, representative=True)
    return figures, maps


def _outline(fig: Figure, region, label: str) -> None:
    """Draw the explained output region's outline on the first axes of ``fig``."""
    f_lo, f_hi, t_lo, t_hi = region
    ax = fig.axes[0]
    ax.add_patch(
        Rectangle((t_lo, f_lo), t_hi - t_lo, f_hi - f_lo, fill=False, edgecolor="cyan", lw=1.6, ls="--", label=label)
    )
    ax.legend(loc="upper right", fontsize="small", framealpha=0.8)


def _region_label(region) -> str:
    f_lo, f_hi, t_lo, t_hi = region
    return f"{f_lo:g}-{f_hi:g} Hz, {t_lo:.3g}-{t_hi:.3g} s in the file"


def _region_map_plots(ctx: _Context, stored: AttributionFile) -> dict[PlotKey, Figure]:
    figures = {}
    for r, region in enumerate(stored.output_regions):
        figures[PlotKey("map", f"region_{r}")] = attribution_map_figure(
            stored.read_attributions((r,)),
            ctx.features,
            ctx.mask,
            ctx.freqs,
            ctx.times,
            region=ctx.in_file(region),
            value_label=ctx.value_label,
            title=(
                f"What the sum of the gain over region R{r} ({_region_label(ctx.in_file(region))}) "
                "looks at in the input"
            ),
        )
    return figures


def _single_targets(stored: AttributionFile, ctx: _Context) -> list[tuple[str, tuple, str, tuple | None]] | None:
    """``[(output of the :class:`PlotKey`, index, title, output region or None)]`` of the explained outputs to draw
    one by one; ``None`` for all output bins (drawn aggregated, then the representative bin)."""
    if stored.outputs == "regions":
        return [
            (f"region_{r}", (r,), f"output region R{r} ({_region_label(ctx.in_file(region))})", ctx.in_file(region))
            for r, region in enumerate(stored.output_regions)
        ]
    if stored.outputs == "all_bins":
        return None
    f_out, t_out = stored.output_bin
    return [("output_bin", (0, 0), f"explained output bin {ctx.bin_label(f_out, t_out)}", None)]


def _representative_target(ctx: _Context, sums: OutputSums) -> list[tuple[str, tuple, str, None]]:
    f_out, t_out = sums.representative()
    return [
        (
            "output_bin",
            (f_out, t_out),
            f"representative output bin {ctx.bin_label(f_out, t_out)} (largest total |attribution|)",
            None,
        )
    ]


def _group_plots(ctx, stored, aggregation, chunk_bytes) -> dict[PlotKey, Figure]:
    groups = [ctx.in_file(group) for group in stored.feature_groups]

    def draw(values, title):
        return plot_region_attributions(
            values, groups, ctx.freqs, ctx.times, value_label=ctx.value_label, background=ctx.features, title=title
        )

    targets = _single_targets(stored, ctx)
    figures = {}
    if targets is None:
        sums = output_sums(stored, "attributions", chunk_bytes)
        figures[PlotKey("group_influence")] = draw(
            sums.summed(aggregation),
            "Influence of each input region on the whole gain mask\n"
            f"{aggregation_line(aggregation, 'all output bins')}",
        )
        targets = _representative_target(ctx, sums)
    for output, index, what, region in targets:
        fig = draw(stored.read_attributions(index), f"Signed attribution of each input region to the {what}")
        if region is not None:
            _outline(fig, region, "explained output region")
        figures[PlotKey("groups", output)] = fig
    return figures


def _latent_plots(ctx, stored, aggregation, chunk_bytes) -> dict[PlotKey, Figure]:
    layers = stored.latent_layers
    targets = _single_targets(stored, ctx)
    figures = {}
    if targets is None:
        sums = {layer: output_sums(stored, f"latent/{layer}", chunk_bytes) for layer in layers}
        figures[PlotKey("latent_influence")] = plot_layer_attributions(
            {layer: s.summed(aggregation) for layer, s in sums.items()},
            ctx.times,
            value_label=f"{ctx.value_label}\n{aggregation} over all output bins",
            title="Influence of each latent unit over time on the whole gain mask\n"
            + aggregation_line(aggregation, "all output bins"),
        )
        combined = next(iter(sums.values()))
        combined.totals = sum(s.totals for s in sums.values())
        targets = _representative_target(ctx, combined)
    for output, index, what, _ in targets:
        values = {layer: stored.read_attributions(index, name=f"latent/{layer}") for layer in layers}
        figures[PlotKey("latent", output)] = plot_layer_attributions(
            values, ctx.times, value_label=ctx.value_label, title=f"Signed attribution of latent units to the {what}"
        )
    return figures


def _file_plots(
    stored, low_freq_hz, aggregation, max_in_memory_bytes, chunk_bytes, options: MapOptions
) -> tuple[dict[PlotKey, Figure], InfluenceMaps | None]:
    """:func:`plot_file`'s figures of the open file ``stored``, and its influence maps (all-bins files, else
    ``None``)."""
    ctx = _context(stored)
    figures = {
        PlotKey("spectrogram"): plot_spectrogram(
            ctx.features,
            ctx.freqs,
            ctx.times,
            title="Input log-power spectrogram of the explained segment (what the model saw)",
        ),
        PlotKey("mask"): plot_mask(ctx.mask, ctx.freqs, ctx.times),
    }
    layout, maps = stored.layout, None
    if layout == "latent":
        figures.update(_latent_plots(ctx, stored, aggregation, chunk_bytes))
    elif layout == "groups":
        figures.update(_group_plots(ctx, stored, aggregation, chunk_bytes))
    elif layout == "regions":
        figures.update(_region_map_plots(ctx, stored))
    elif layout == "all_bins":
        influence_figures, maps = _all_bins_plots(
            ctx, stored, low_freq_hz, aggregation, max_in_memory_bytes, chunk_bytes, options
        )
        figures.update(influence_figures)
    else:
        f_out, t_out = stored.output_bin
        figures[PlotKey("output_bin_map")] = _bin_map(
            ctx, stored.read_attributions((0, 0)), f_out, t_out, representative=False
        )
    return figures, maps


def _damaged(path: Path, error: BaseException) -> AttributionFileError:
    return AttributionFileError(f"{path}: damaged attribution file ({error})")


def plot_file(
    h5_path: str | os.PathLike,
    low_freq_hz: float | None = 1000.0,
    aggregation: str = "abs_sum",
    max_in_memory_bytes: float = MAX_IN_MEMORY_BYTES,
    chunk_bytes: float = CHUNK_BYTES,
    options: MapOptions | None = None,
    source: str | os.PathLike | None = None,
) -> dict[PlotKey, Figure]:
    """The plots that fit the layout of the attribution file ``h5_path``, by :class:`PlotKey` (a ``str``: its name;
    see the module docstring).

    ``low_freq_hz``: the low-frequency variants keep input (the original's) or output frequencies
    ``<= low_freq_hz`` (Hz); ``None`` leaves them out. ``aggregation``: ``"abs_sum"`` or ``"signed_sum"``.
    ``options``: how the influence maps are normalised and drawn (default :class:`MapOptions`: the original's
    row normalisation and log scales, spectrogram underlay). With ``source`` (the audio file), the file must
    have been computed from it (:meth:`~xai_helpers.store.reader.AttributionFile.check_source`, checked
    before plotting; an unreadable audio file raises its own ``OSError``). Raises
    :class:`~xai_helpers.store.reader.AttributionFileError` naming the file if it is incomplete,
    damaged, unreadable or from another source.
    """
    return _plot_file(h5_path, low_freq_hz, aggregation, max_in_memory_bytes, chunk_bytes, options, source)[0]


def _plot_file(
    h5_path, low_freq_hz, aggregation, max_in_memory_bytes, chunk_bytes, options: MapOptions | None, source
) -> tuple[dict[PlotKey, Figure], InfluenceMaps | None]:
    """:func:`plot_file`'s figures, and the file's influence maps (all-bins files, else ``None``)."""
    check_aggregation(aggregation)
    path = Path(h5_path)
    try:
        stored = AttributionFile(path)
    except (OSError, KeyError) as error:
        raise _damaged(path, error) from error
    with stored:
        if source is not None:
            stored.check_source(source)  # an .h5 renamed to another input's name
        try:
            return _file_plots(
                stored, low_freq_hz, aggregation, max_in_memory_bytes, chunk_bytes, options or MapOptions()
            )
        except (OSError, KeyError) as error:  # a chunk that cannot be read or decompressed, a missing dataset
            raise _damaged(path, error) from error


# ---------------------------------------------------------------------------
# batch
# ---------------------------------------------------------------------------


@dataclass
class FilePlots:
    """The plots of one attribution file."""

    source: Path
    """The audio file."""
    h5_path: Path
    figures: dict[PlotKey, Figure]
    """Plot -> figure (in display order)."""
    png_paths: dict[PlotKey, Path]
    """Plot -> the PNG written."""
    maps: InfluenceMaps | None = None
    """The influence maps of an all-bins file (stored, or reduced once for its plots; ``None`` for other layouts):
    the band analysis and notebook 03's summary read them instead of reducing the file again."""


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
    """``(.h5 path, message)`` of the files left out: incomplete or damaged."""
    model: str | None = None
    """The model whose files were plotted (``None``: any)."""

    def h5_paths(self) -> list[Path]:
        """The attribution files plotted, in order."""
        return [item.h5_path for item in self.plotted]

    def maps(self) -> dict[Path, InfluenceMaps]:
        """The influence maps of the all-bins files plotted, by ``.h5`` path (:attr:`FilePlots.maps`)."""
        return {item.h5_path: item.maps for item in self.plotted if item.maps is not None}

    def rows(self) -> list[dict[str, object]]:
        """One table row per attribution file or skipped audio file: file, status, figures or reason."""
        rows: list[dict[str, object]] = [
            {"file": item.h5_path.name, "status": "plotted", "detail": f"{len(item.figures)} figures"}
            for item in self.plotted
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
    options: MapOptions | None = None,
    model: str | None = None,
) -> BatchPlotReport:
    """:func:`plot_file` for every ``.h5`` of ``method`` (``None``: any) explaining ``model`` (``None``: any) of each
    audio file of ``input_path``.

    ``input_path`` is an audio file or a folder (:func:`~xai_helpers.io.datasets.list_audio_files`);
    each file's attribution files are found in ``attributions_dir`` by
    :func:`~xai_helpers.attribution.explain.attribution_paths`. Audio files with none are listed in
    ``skipped``; incomplete or damaged ``.h5`` files, and those computed from another audio file
    (:meth:`~xai_helpers.store.reader.AttributionFile.check_source`), are logged and listed in
    ``damaged`` and the others still plotted. Every figure is written atomically to
    ``figures_dir/{figure_basename}_{plot}.png`` and returned, so a notebook shows it without
    recomputing; so are the all-bins files' influence maps (:meth:`BatchPlotReport.maps`).
    ``options``: :func:`plot_file`'s. Nothing to plot is an error naming what exists:
    ``FileNotFoundError`` when no audio file has an ``.h5`` of ``method`` (the message lists the methods
    found), :class:`~xai_helpers.analysis.inventory.NothingDoneError` when every one found was damaged;
    ``ValueError`` when ``figures_dir`` is an existing file.
    """
    check_aggregation(aggregation)
    attributions_dir = Path(attributions_dir)
    figures_dir = check_output_dir(figures_dir, name="output_dir (figures_dir)")
    sources = list_audio_files(input_path)
    check_attributions_found(sources, attributions_dir, method, model)
    report = BatchPlotReport(method, aggregation, figures_dir, model=model)
    for source in sources:
        found = attribution_paths(source, attributions_dir, method, model)
        if not found:
            logger.info("%s: no %s attribution file in %s, skipped", source, method or "", attributions_dir)
            report.skipped.append(source)
            continue
        for h5_path in found:
            try:
                figures, maps = _plot_file(
                    h5_path, low_freq_hz, aggregation, max_in_memory_bytes, CHUNK_BYTES, options, source
                )
            except AttributionFileError as error:
                logger.warning("%s; left out", error)
                report.damaged.append((h5_path, str(error)))
                continue
            base = figure_basename(h5_path, aggregation)
            pngs = {name: save_png(fig, figures_dir / f"{base}_{name}.png", dpi) for name, fig in figures.items()}
            report.plotted.append(FilePlots(source, h5_path, figures, pngs, maps))
    check_something_done(len(report.plotted), [(path.name, message) for path, message in report.damaged], "plotted")
    return report


# ---------------------------------------------------------------------------
# captions
# ---------------------------------------------------------------------------

_CAPTIONS = {  # by PlotKey.kind
    "spectrogram": (
        "**Input spectrogram.** The log10 power of the explained segment, exactly what the model saw: "
        "time (s in the file) across, frequency (Hz) up. Bright = loud."
    ),
    "mask": (
        "**Gain mask.** The gain the model applies to each bin's magnitude (1 keeps it, 0 removes it). "
        "The attributions "
        "below explain these values."
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
    **{name: plot.caption for name, plot in INFLUENCE_PLOTS.items()},
}


def plot_caption(key: PlotKey | str, aggregation: str = "abs_sum", low_freq_hz: float | None = 1000.0) -> str:
    """A few sentences (Markdown) saying what plot ``key`` of :func:`plot_file` shows and how to read it (the caption of
    its ``kind``; a plain ``str`` names a plot of the whole file, e.g. ``"mask"``)."""
    key = key if isinstance(key, PlotKey) else PlotKey(key)
    text = _CAPTIONS.get(key.kind, f"**{key}**")
    return text.format(aggregation=aggregation, low_freq_hz=low_freq_hz if low_freq_hz is not None else float("nan"))
