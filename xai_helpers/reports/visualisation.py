"""Notebook 03's summary: what its maps show and what they found, read off the run's own numbers.

Two numbers per all-bins attribution file, both of ``|attribution|`` (whatever the notebook's aggregation):
how much of the global map lies at low input frequencies (:func:`low_frequency_share`) and how much of the
time map lies within a short lag behind the output frame (:func:`near_share`; the model is causal, so an
output frame looks at its own input frame and earlier ones). :func:`influence_reach` reads them from the
files, :func:`summary` writes them with the batch's counts and the band analysis's top band. :func:`show_bands` shows
the band analysis (figure, written as PNG, and table).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from IPython.display import Markdown, display

from ..analysis.bands import BandAttribution, band_attribution, band_labels
from ..analysis.influence import influence_from_maps, reduce_file
from ..attribution.maps import InfluenceMaps
from ..plots.bands import plot_band_attribution
from ..plots.files import BatchPlotReport, MapOptions
from ..plots.style import save_png
from ..store.reader import AttributionFile
from .tables import captioned

NEAR_MS = 100.0
"""Lag behind the output frame (ms) within which :func:`near_share` counts the time map's mass."""
REACH_COLUMNS = ("file", "low_share", "near_share")
LOW_HZ = 1000.0
"""Low-frequency limit (Hz) of :func:`low_frequency_share` when the notebook leaves its low-frequency views out."""


def low_frequency_share(global_abs: np.ndarray, freqs_hz: np.ndarray, low_hz: float) -> float:
    """Share (0..1) of a non-negative global map ``[f_in, t_in]`` (e.g. ``Σ|a|``) at input frequencies
    ``<= low_hz`` (Hz; ``freqs_hz`` ``[f_in]``); NaN when the map is all zero."""
    values = np.abs(np.asarray(global_abs, dtype=np.float64))
    total = values.sum()
    return float(values[np.asarray(freqs_hz) <= low_hz].sum() / total) if total > 0 else float("nan")


def near_share(time_map: np.ndarray, frames: int) -> float:
    """Share (0..1) of ``|time_map|`` ``[t_out, t_in]`` whose input frame lies 0 to ``frames - 1`` frames
    before its output frame (``0 <= t_out - t_in < frames``); NaN when the map is all zero."""
    if frames < 1:
        raise ValueError(f"frames must be >= 1, got {frames}")
    values = np.abs(np.asarray(time_map, dtype=np.float64))
    lag = np.arange(values.shape[0])[:, None] - np.arange(values.shape[1])[None, :]
    total = values.sum()
    return float(values[(lag >= 0) & (lag < frames)].sum() / total) if total > 0 else float("nan")


def influence_reach(
    h5_paths: Sequence[str | os.PathLike],
    low_hz: float | None,
    near_ms: float = NEAR_MS,
    maps: Mapping[Path, InfluenceMaps] | None = None,
) -> pd.DataFrame:
    """One row per all-bins attribution file of ``h5_paths`` (others are left out): its file name,
    :func:`low_frequency_share` of ``Σ|a|`` up to ``low_hz`` (Hz; ``None``: :data:`LOW_HZ`) and :func:`near_share` of
    its ``Σ|a|`` time map within ``near_ms`` (ms, rounded to whole frames of the file's hop). ``maps``: the files'
    influence maps already at hand by ``.h5`` path (:meth:`~xai_helpers.plots.files.BatchPlotReport.maps`), read instead
    of reducing them again."""
    low_hz = LOW_HZ if low_hz is None else low_hz
    known = maps or {}
    rows = []
    for path in h5_paths:
        with AttributionFile(path) as stored:
            if stored.layout != "all_bins":
                continue
            at_hand = known.get(Path(path))
            influence = reduce_file(stored, "abs_sum") if at_hand is None else influence_from_maps(at_hand, "abs_sum")
            times = stored.times_s
            hop_s = float(np.min(np.diff(times))) if times.size > 1 else 1.0
            frames = max(1, int(round(near_ms / 1000 / hop_s)))
            rows.append(
                (
                    os.path.basename(path),
                    low_frequency_share(influence.global_maps["abs_sum"], stored.freqs_hz, low_hz),
                    near_share(influence.time_influence, frames),
                )
            )
    return pd.DataFrame(rows, columns=list(REACH_COLUMNS))


def show_bands(
    report: BatchPlotReport, scale: str, n_bands: int, share: bool, output_dir: str | os.PathLike
) -> BandAttribution:
    """The band analysis of the files of ``report`` (:func:`~xai_helpers.analysis.bands.band_attribution` with its
    aggregation, reading the maps it kept): its figure, written to
    ``output_dir/bands_{method}_{aggregation}_{scale}.png``,
    the files left out of it, and its table (4 decimals); returned for :func:`summary`."""
    bands = band_attribution(report.h5_paths(), scale, n_bands, report.aggregation, share, maps=report.maps())
    figure = plot_band_attribution(bands)
    save_png(figure, Path(output_dir) / f"bands_{report.method}_{report.aggregation}_{scale}.png")
    display(figure)
    for name, reason in bands.left_out:
        print(f"left out of the band analysis: {name}: {reason}")
    values = "shares of the file's total |value|" if share else "sums in attribution units"
    display(
        captioned(
            bands.table(),
            f"Attribution per input frequency band ({len(bands.edges_hz) - 1} {scale} bands, "
            f"{report.aggregation}; each file's bands as {values}): one row per file, then the mean and the "
            "standard deviation over files.",
            precision=4,
        )
    )
    return bands


def _spread(values: pd.Series) -> str:
    """``"62 %"`` for one file, ``"62 % (55-70 % over 8 files)"`` for several."""
    shares = values.dropna() * 100
    if len(shares) == 1:
        return f"{shares.iloc[0]:.0f} %"
    return f"{shares.mean():.0f} % ({shares.min():.0f}-{shares.max():.0f} % over {len(shares)} files)"


def summary(
    report: BatchPlotReport,
    bands: BandAttribution,
    reach: pd.DataFrame,
    options: MapOptions,
    low_hz: float | None,
    near_ms: float = NEAR_MS,
) -> Markdown:
    """What notebook 03 shows and what it found (Markdown): the method, aggregation and map options; the files
    plotted, skipped and left out (``report``); the mean share of ``Σ|a|`` up to ``low_hz`` (Hz) and of the time
    map within ``near_ms`` (ms) of the output frame (``reach``: :func:`influence_reach`); the band with the
    largest mean value in the band analysis (``bands``). ``low_hz`` ``None``: :data:`LOW_HZ`."""
    low_hz = LOW_HZ if low_hz is None else low_hz
    method = report.method or "any method"
    scale = f"log scale from {options.log_floor:g} of the peak" if options.log_floor else "linear scale"
    of_model = f" of {report.model}" if report.model else ""
    shows = (
        f"**What this shows.** Influence maps of the `{method}` attributions{of_model} of {len(report.plotted)} "
        "file(s), "
        f"aggregated with `{report.aggregation}`: global ({scale}), "
    )
    shows += (
        f"input time → output time and input frequency → output frequency "
        f"({'row-normalised' if options.normalisation == 'rows' else 'raw sums'}), one output bin's map, "
        f"attribution per input band ({bands.scale}, {len(bands.edges_hz) - 1} bands), and an explorer of any bin."
    )
    found = [
        f"Files: {len(report.plotted)} plotted, {len(report.skipped)} without attributions, "
        f"{len(report.damaged)} damaged or incomplete left out."
    ]
    if len(reach):
        found.append(
            f"Input frequencies up to {low_hz:g} Hz carry {_spread(reach['low_share'])} of Σ|a|; "
            f"{_spread(reach['near_share'])} of the time map's |attribution| lies within {near_ms:g} ms "
            "behind the output frame (the rest reaches further back)."
        )
    if len(bands.values):
        mean = np.abs(bands.mean)
        top = int(np.argmax(mean))
        share = (
            f"{bands.mean[top] * 100:.0f} % of each file's total on average"
            if bands.share
            else f"{bands.mean[top]:.3g} on average"
        )
        found.append(f"Top band of the band analysis: {band_labels(bands.edges_hz)[top]} Hz ({share}).")
    return Markdown(f"{shows}\n\n**What we found.** " + " ".join(found))
