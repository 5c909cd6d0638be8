"""Attribution per input frequency band over a dataset: the original project's grouped-band analysis.

Each file's global map ``[f_in, t_in]`` (``sum |a|`` for ``"abs_sum"``, ``sum a`` for ``"signed_sum"``, over
every explained output bin) is summed over its frames and over the input bins of each band; the bands are
linear (equal width in Hz) or mel (equal width on the mel scale, ``2595 log10(1 + f / 700)``:
:mod:`xai_helpers.dsp.mel`), from 0 Hz to the highest bin centre. ``share=True`` divides each file's band values
by their total ``|value|`` (the original's normalisation; a file's bands then sum to 1 for ``"abs_sum"``), so
files of different durations weigh alike. The figure (mean and spread over files) is
:func:`~xai_helpers.plots.bands.plot_band_attribution`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..attribution.maps import InfluenceMaps
from ..dsp.mel import mel_edges_hz
from ..store.reader import AttributionFile
from .influence import check_aggregation, check_choice, file_maps

BAND_SCALES = ("linear", "mel")


def band_edges_hz(scale: str, n_bands: int, max_hz: float) -> np.ndarray:
    """Edges ``[n_bands + 1]`` (Hz) of ``n_bands`` bands from 0 to ``max_hz``, equally wide in Hz (``"linear"``)
    or in mel (``"mel"``: narrow at low frequencies)."""
    check_choice(scale, BAND_SCALES, "band scale")
    if int(n_bands) != n_bands or n_bands < 1:
        raise ValueError(f"n_bands must be a positive integer, got {n_bands!r}")
    if not max_hz > 0:
        raise ValueError(f"max_hz must be > 0 Hz, got {max_hz}")
    if scale == "linear":
        return np.linspace(0.0, float(max_hz), int(n_bands) + 1)
    edges = mel_edges_hz(int(n_bands), float(max_hz))
    edges[0], edges[-1] = 0.0, float(max_hz)
    return edges


def band_index(freqs_hz, edges_hz) -> np.ndarray:
    """Band of each bin ``[F]`` (int): bin ``f`` is in band ``b`` when ``edges[b] <= f < edges[b + 1]``, the last
    band including its upper edge. ``ValueError`` if a bin lies outside ``[edges[0], edges[-1]]``."""
    f = np.asarray(freqs_hz, dtype=np.float64)
    e = np.asarray(edges_hz, dtype=np.float64)
    if e.ndim != 1 or e.size < 2 or np.any(np.diff(e) <= 0):
        raise ValueError(f"edges_hz must be strictly increasing with at least 2 entries, got {e}")
    outside = (f < e[0]) | (f > e[-1])
    if np.any(outside):
        raise ValueError(f"bins at {f[outside]} Hz lie outside the bands {e[0]:g}-{e[-1]:g} Hz")
    return np.clip(np.searchsorted(e, f, side="right") - 1, 0, e.size - 2)


def band_sums(global_map, freqs_hz, edges_hz) -> np.ndarray:
    """Sum of ``global_map`` ``[f_in, t_in]`` over its frames and over the bins of each band -> ``[B]`` (float64;
    ``B = len(edges_hz) - 1``; bands :func:`band_index`). The bands' values add up to the map's total."""
    g = np.asarray(global_map, dtype=np.float64)
    f = np.asarray(freqs_hz, dtype=np.float64)
    if g.ndim != 2 or f.ndim != 1 or f.size != g.shape[0]:
        raise ValueError(f"global_map [f_in, t_in] and freqs_hz [f_in] do not match: shapes {g.shape} and {f.shape}")
    return np.bincount(band_index(f, edges_hz), weights=g.sum(axis=1), minlength=len(edges_hz) - 1)


def band_labels(edges_hz) -> list[str]:
    """Tick labels ``"0-1k"``, ``"1k-2.5k"``, ... of the bands between ``edges_hz`` (Hz, kHz above 1 kHz)."""

    def short(hz: float) -> str:
        return f"{hz / 1000:.3g}k" if hz >= 1000 else f"{hz:.0f}"

    e = np.asarray(edges_hz, dtype=np.float64)
    return [f"{short(lo)}-{short(hi)}" for lo, hi in zip(e[:-1], e[1:])]


@dataclass
class BandAttribution:
    """Attribution per input frequency band of ``N`` files (:func:`band_attribution`)."""

    scale: str
    aggregation: str
    share: bool
    edges_hz: np.ndarray
    """``[B + 1]`` band edges, Hz."""
    values: np.ndarray
    """``[N, B]``: each file's band sums (a share of its total ``|value|`` when ``share``)."""
    files: list[str] = field(default_factory=list)
    """``[N]`` attribution file names."""
    left_out: list[tuple[str, str]] = field(default_factory=list)
    """``(file, reason)`` of the files without all-bins maps over input bins."""

    @property
    def mean(self) -> np.ndarray:
        """``[B]`` mean over files (NaN without files)."""
        return self.values.mean(axis=0) if len(self.values) else np.full(len(self.edges_hz) - 1, np.nan)

    @property
    def std(self) -> np.ndarray:
        """``[B]`` standard deviation over files (population, ``ddof=0`` as the original; 0 for one file)."""
        return self.values.std(axis=0) if len(self.values) else np.full(len(self.edges_hz) - 1, np.nan)

    def table(self) -> pd.DataFrame:
        """Files (rows, then ``mean`` and ``std``) by band (columns ``"0-1k Hz"``, ...), the values of
        :attr:`values`."""
        columns = [f"{label} Hz" for label in band_labels(self.edges_hz)]
        frame = pd.DataFrame(self.values, index=pd.Index(self.files, name="file"), columns=columns)
        frame.loc["mean"], frame.loc["std"] = self.mean, self.std
        return frame

    def value_label(self, target: str = "mask") -> str:
        """What a band's value is, for an axis label."""
        what = "|attribution|" if self.aggregation == "abs_sum" else "signed attribution"
        if self.share:
            return f"share of the file's total {what}\n(each file's bands' |values| sum to 1)"
        return f"{what} ({target} units),\nsummed over the band's bins, frames and all output bins"


def file_band_values(values: np.ndarray, share: bool) -> np.ndarray:
    """One file's band sums ``[B]``, divided by their total ``|value|`` when ``share`` (all-zero stays zero)."""
    v = np.asarray(values, dtype=np.float64)
    total = np.sum(np.abs(v))
    return v / total if share and total > 0 else v


def band_attribution(
    h5_paths: list[str | os.PathLike],
    scale: str = "linear",
    n_bands: int = 8,
    aggregation: str = "abs_sum",
    share: bool = True,
    maps: Mapping[Path, InfluenceMaps] | None = None,
) -> BandAttribution:
    """:class:`BandAttribution` of the attribution files ``h5_paths``: each file's global map (``global_abs`` or
    ``global_signed`` of its :func:`~xai_helpers.analysis.influence.file_maps`) in ``n_bands`` ``scale`` bands
    from 0 Hz to its highest bin. ``maps``: the maps already at hand by ``.h5`` path (notebook 03's plots keep
    them), read instead of reducing those files again. Files explained on other layouts (one bin, regions,
    grouped or latent features) are listed in ``left_out``; the first file's frequencies set the bands, a file
    with other bins is left out. ``ValueError`` when no file is left."""
    check_aggregation(aggregation)
    kind = "global_abs" if aggregation == "abs_sum" else "global_signed"
    known = maps or {}
    rows, files, left_out, edges, freqs = [], [], [], None, None
    for path in map(Path, h5_paths):
        with AttributionFile(path) as stored:
            if stored.layout != "all_bins":
                left_out.append((path.name, f"layout {stored.layout!r}: no global map over input bins"))
                continue
            f = stored.freqs_hz
            if edges is None:
                freqs, edges = f, band_edges_hz(scale, n_bands, float(f[-1]))
            elif f.shape != freqs.shape or not np.allclose(f, freqs):
                left_out.append((path.name, f"other frequency bins ({f.size} up to {f[-1]:g} Hz)"))
                continue
            file_global = (known[path] if path in known else file_maps(stored))[kind]
            rows.append(file_band_values(band_sums(file_global, f, edges), share))
            files.append(path.name)
    if edges is None:
        reasons = "; ".join(f"{name}: {why}" for name, why in left_out) or "no file given"
        raise ValueError(f"no attribution file with all-bins maps over input bins for the band analysis ({reasons})")
    values = np.asarray(rows, dtype=np.float64).reshape(len(rows), len(edges) - 1)
    return BandAttribution(scale, aggregation, share, edges, values, files, left_out)
