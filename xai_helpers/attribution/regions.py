"""Time-frequency regions in Hz and seconds, mapped to STFT bins.

A region is ``(f_lo_hz, f_hi_hz, t_lo_s, t_hi_s)``; times are relative to the explained
segment's start. A bin belongs to a region when its centre frequency is in ``[f_lo, f_hi)`` and
its frame centre time in ``[t_lo, t_hi)``. Regions serve as explained outputs (the sum of the mask
over a band by time segment) and as grouped input features (Captum feature masks).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

Region = tuple[float, float, float, float]


ACCEPTED = "'LO-HIHz@START-ENDs' (e.g. '1000-2000Hz@0.1-0.3s') or [f_lo_hz, f_hi_hz, t_lo_s, t_hi_s]"


def parse_region(region: Sequence[float] | str, name: str = "region") -> Region:
    """``[f_lo, f_hi, t_lo, t_hi]`` (Hz, Hz, s, s) or ``"1000-2000Hz@0.1-0.3s"`` as a checked tuple; errors
    name the parameter ``name`` (e.g. ``"output_regions"``) and the accepted forms."""
    if isinstance(region, str):
        try:
            band, span = region.replace("Hz", "").replace("s", "").split("@")
            values = [float(v) for v in band.split("-") + span.split("-")]
        except ValueError as error:
            raise ValueError(f"{name}: region {region!r} is malformed; expected {ACCEPTED}") from error
    else:
        values = [float(v) for v in region]
    if len(values) != 4:
        raise ValueError(f"{name}: region {region!r} has {len(values)} numbers; expected {ACCEPTED}")
    f_lo, f_hi, t_lo, t_hi = values
    if not (0 <= f_lo < f_hi and 0 <= t_lo < t_hi):
        raise ValueError(f"{name}: region {region!r} needs 0 <= f_lo < f_hi and 0 <= t_lo < t_hi")
    return (f_lo, f_hi, t_lo, t_hi)


def region_bins(region: Region, freqs_hz: np.ndarray, times_s: np.ndarray) -> np.ndarray:
    """Boolean mask ``[F, T]`` of the bins inside ``region``; ``ValueError`` if it holds none."""
    f_lo, f_hi, t_lo, t_hi = region
    in_band = (freqs_hz >= f_lo) & (freqs_hz < f_hi)
    in_span = (times_s >= t_lo) & (times_s < t_hi)
    bins = in_band[:, None] & in_span[None, :]
    if not bins.any():
        raise ValueError(
            f"region {region} holds no bin of this segment "
            f"({freqs_hz[0]:g}-{freqs_hz[-1]:g} Hz, frame centres {times_s[0]:.3f}-{times_s[-1]:.3f} s)"
        )
    return bins


def region_grid(freqs_hz: np.ndarray, times_s: np.ndarray, band_hz: float, span_s: float) -> list[Region]:
    """Regions of ``band_hz`` by ``span_s`` tiling the whole plane of ``freqs_hz`` ``[F]`` x ``times_s`` ``[T]``.

    Edges fall on multiples of ``band_hz`` and ``span_s``; the first and last bands and spans reach
    past the first and last bins and frames so that every bin is covered.
    """
    if band_hz <= 0 or span_s <= 0:
        raise ValueError(f"region grid needs band_hz > 0 and span_s > 0, got {band_hz} Hz, {span_s} s")
    f_edges = band_hz * np.arange(int(freqs_hz[0] // band_hz), int(freqs_hz[-1] // band_hz) + 2)
    t_edges = span_s * np.arange(int(times_s[0] // span_s), int(times_s[-1] // span_s) + 2)
    return [
        (float(f_lo), float(f_hi), float(t_lo), float(t_hi))
        for f_lo, f_hi in zip(f_edges[:-1], f_edges[1:])
        for t_lo, t_hi in zip(t_edges[:-1], t_edges[1:])
    ]


def feature_mask(regions: Sequence[Region], freqs_hz: np.ndarray, times_s: np.ndarray) -> np.ndarray:
    """Integer labels ``[F, T]``: bin -> index of its region. Every bin must lie in exactly one region."""
    labels = np.full((len(freqs_hz), len(times_s)), -1, dtype=np.int64)
    for index, region in enumerate(regions):
        bins = region_bins(region, freqs_hz, times_s)
        if (labels[bins] >= 0).any():
            raise ValueError(f"region {region} overlaps an earlier region")
        labels[bins] = index
    if (labels < 0).any():
        raise ValueError(f"{int((labels < 0).sum())} bins lie in no region: the regions must tile the segment")
    return labels
