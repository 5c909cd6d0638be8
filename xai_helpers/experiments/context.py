"""How far back in time and how far across frequency a model's outputs reach: context measures that compare
across STFT grids (milliseconds, Hz, ERB), read off the influence maps of all output bins.

From the time map ``time_abs`` ``[t_out, t_in]`` (``sum |a|`` over output and input frequencies) each output
frame ``t`` gets a distribution of ``|attribution|`` over the lag ``L = t - t_in`` (frames); its **look-back**
at quantile ``q`` is the smallest lag whose cumulative share reaches ``q``, in milliseconds ``L * hop_s * 1000``.
Inputs after the output frame (none for the causal models of the registry, ``lookahead_frames = 0``) are left
out. A frame ``t`` cannot look back more than ``t`` frames into the explained segment: :func:`lookback_quantiles`
averages only over output frames with at least ``min_history`` frames before them, so every averaged frame
could reach that far.

From the frequency map ``freq_abs`` ``[f_out, f_in]`` each output frequency gets a distribution over the
distance ``|f_in - f_out|``, in Hz or in ERB numbers (:func:`erb_number`, Glasberg & Moore 1990); its
**spread** at ``q`` is the smallest distance whose cumulative share reaches ``q``. Both are means over the
output rows that hold any attribution (each row counts once). :func:`low_band_share` is the share of the
global map's ``|attribution|`` on input bins below a cut-off (1 kHz by default).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

QUANTILES = (0.5, 0.9)
"""The quantiles reported: the distance holding half and nine tenths of each output's |attribution|."""
LOW_BAND_HZ = 1000.0
"""Cut-off of :func:`low_band_share`, Hz."""
SCALES = ("hz", "erb")


def erb_number(freqs_hz) -> np.ndarray:
    """ERB-rate (Cams) of ``freqs_hz`` (any shape, Hz): ``21.4 log10(1 + 0.00437 f)`` (Glasberg & Moore 1990)."""
    return 21.4 * np.log10(1.0 + 0.00437 * np.asarray(freqs_hz, dtype=np.float64))


def _check_quantiles(quantiles: Sequence[float]) -> tuple[float, ...]:
    values = tuple(float(q) for q in quantiles)
    if not values or any(not 0.0 < q <= 1.0 for q in values):
        raise ValueError(f"quantiles must lie in (0, 1], got {list(quantiles)}")
    return values


def distance_quantiles(distances: np.ndarray, mass: np.ndarray, quantiles: Sequence[float]) -> np.ndarray:
    """Per row, the smallest distance whose cumulative mass reaches each quantile -> ``[rows, len(quantiles)]``.

    ``distances`` and ``mass`` ``[rows, n]`` (non-negative mass; NaN distances are left out). A row without
    mass gives NaN. Equal distances count together (the mass of every bin at that distance is included)."""
    qs = np.asarray(_check_quantiles(quantiles))
    d = np.asarray(distances, dtype=np.float64)
    m = np.where(np.isnan(d), 0.0, np.asarray(mass, dtype=np.float64))
    if d.shape != m.shape or d.ndim != 2:
        raise ValueError(f"distances and mass must share one [rows, n] shape, got {d.shape} and {m.shape}")
    if (m < 0).any():
        raise ValueError("mass must be non-negative (|attribution|)")
    order = np.argsort(np.where(np.isnan(d), np.inf, d), axis=1, kind="stable")
    d_sorted = np.take_along_axis(d, order, axis=1)
    cumulative = np.cumsum(np.take_along_axis(m, order, axis=1), axis=1)
    totals = cumulative[:, -1:] if cumulative.size else np.zeros((d.shape[0], 1))
    out = np.full((d.shape[0], qs.size), np.nan)
    valid = totals[:, 0] > 0
    for row in np.flatnonzero(valid):
        # a relative tolerance keeps a quantile that is reached exactly from slipping one step by rounding
        index = np.searchsorted(cumulative[row], qs * totals[row, 0] * (1.0 - 1e-9))
        out[row] = d_sorted[row, np.minimum(index, d.shape[1] - 1)]
    return out


def lag_distances(n_out: int, n_in: int) -> np.ndarray:
    """Lags ``t_out - t_in`` ``[n_out, n_in]`` in frames, NaN where the input lies after the output (future)."""
    lags = np.arange(n_out)[:, None] - np.arange(n_in)[None, :]
    return np.where(lags >= 0, lags, np.nan).astype(np.float64)


def lookback_quantiles(
    time_map, hop_s: float, quantiles: Sequence[float] = QUANTILES, min_history: int = 0
) -> dict[float, float]:
    """Mean look-back (ms) per quantile (module docstring) of ``time_map`` ``[t_out, t_in]`` (non-negative,
    ``sum |a|``) on a grid of hop ``hop_s`` s, over the output frames ``t >= min_history`` that hold attribution;
    NaN for a quantile when none does."""
    t = np.asarray(time_map, dtype=np.float64)
    if t.ndim != 2:
        raise ValueError(f"time_map must be [t_out, t_in], got shape {t.shape}")
    if not 0 <= int(min_history) < t.shape[0]:
        raise ValueError(f"min_history must lie in 0..{t.shape[0] - 1} frames, got {min_history}")
    per_row = distance_quantiles(lag_distances(*t.shape), np.abs(t), quantiles)[int(min_history) :]
    return _row_means(per_row * hop_s * 1000.0, quantiles)


def frequency_distances(freqs_hz, scale: str = "hz") -> np.ndarray:
    """``|s(f_in) - s(f_out)|`` ``[F, F]`` with ``s`` the identity (``"hz"``) or :func:`erb_number` (``"erb"``)."""
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {SCALES}, not {scale!r}")
    f = np.asarray(freqs_hz, dtype=np.float64)
    s = f if scale == "hz" else erb_number(f)
    return np.abs(s[None, :] - s[:, None])


def spread_quantiles(
    freq_map, freqs_hz, quantiles: Sequence[float] = QUANTILES, scale: str = "hz"
) -> dict[float, float]:
    """Mean spread per quantile (module docstring; Hz or ERB by ``scale``) of ``freq_map`` ``[f_out, f_in]``
    (non-negative, ``sum |a|``) over bins ``freqs_hz`` ``[F]``, over the output rows that hold attribution."""
    m = np.asarray(freq_map, dtype=np.float64)
    f = np.asarray(freqs_hz, dtype=np.float64)
    if m.ndim != 2 or m.shape != (f.size, f.size):
        raise ValueError(f"freq_map must be [f_out, f_in] = {(f.size, f.size)} for {f.size} bins, got {m.shape}")
    per_row = distance_quantiles(frequency_distances(f, scale), np.abs(m), quantiles)
    return _row_means(per_row, quantiles)


def _row_means(per_row: np.ndarray, quantiles: Sequence[float]) -> dict[float, float]:
    means = {}
    for column, q in enumerate(_check_quantiles(quantiles)):
        values = per_row[:, column]
        values = values[np.isfinite(values)]
        means[q] = float(values.mean()) if values.size else float("nan")
    return means


def low_band_share(global_map, freqs_hz, cutoff_hz: float = LOW_BAND_HZ) -> float:
    """Share of ``|global_map|`` ``[f_in, t_in]`` on input bins below ``cutoff_hz`` (NaN for an all-zero map)."""
    g = np.abs(np.asarray(global_map, dtype=np.float64))
    f = np.asarray(freqs_hz, dtype=np.float64)
    if g.ndim != 2 or g.shape[0] != f.size:
        raise ValueError(f"global_map must be [f_in, t_in] with {f.size} bins, got {g.shape}")
    total = g.sum()
    return float(g[f < cutoff_hz].sum() / total) if total > 0 else float("nan")


def cumulative_profile(distances: np.ndarray, mass: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Mean over rows with mass of each row's share of mass within distance ``<= grid[k]`` -> ``[K]``; the
    curves of the context figures (``distances`` and ``mass`` ``[rows, n]``, ``grid`` ``[K]``)."""
    d = np.asarray(distances, dtype=np.float64)
    m = np.where(np.isnan(d), 0.0, np.abs(np.asarray(mass, dtype=np.float64)))
    totals = m.sum(axis=1)
    rows = totals > 0
    if not rows.any():
        return np.full(len(grid), np.nan)
    within = np.stack([(m * (np.nan_to_num(d, nan=np.inf) <= g)).sum(axis=1) for g in np.asarray(grid)], axis=1)
    return (within[rows] / totals[rows, None]).mean(axis=0)
