"""A lesioned model with a known blind spot: its mask does not depend on one frequency band.

Each model says how it is made blind (:meth:`~xai_helpers.models.base.MaskModel.lesioned`): NSNet2's input
enters only through ``fc_in`` (its weight columns of the band are zeroed), DTLN's stage 1 only through its first
LSTM (its input weights of the band), GTCRN's network through the ERB compression (its input is zeroed in the
band). The mask is then independent of those input bins in every frame: any attribution mass there is a false
positive. :func:`lesion_change` checks it by perturbation.
"""

from __future__ import annotations

import numpy as np

from ..dsp.stft import StftConfig
from .base import MaskModel

DEFAULT_BAND_HZ = (2500.0, 3500.0)


def band_bins(config: StftConfig, band_hz: tuple[float, float] = DEFAULT_BAND_HZ) -> np.ndarray:
    """Boolean ``[F]``: the bins of the STFT ``config`` whose centre frequency lies in ``[lo, hi)`` Hz."""
    lo, hi = band_hz
    if not 0 <= lo < hi:
        raise ValueError(f"band_hz must be (lo, hi) with 0 <= lo < hi Hz, got {band_hz}")
    freqs = config.frequencies_hz()
    bins = (freqs >= lo) & (freqs < hi)
    if not bins.any():
        raise ValueError(f"band_hz {band_hz} holds no bin at {config.sample_rate} Hz ({freqs[0]:g}-{freqs[-1]:g} Hz)")
    return bins


def lesioned_model(model: MaskModel, band_hz: tuple[float, float] = DEFAULT_BAND_HZ) -> MaskModel:
    """A copy of ``model`` blind to the bins of ``band_hz`` (Hz) in its own STFT; ``lesioned_band_hz`` records it."""
    lesioned = model.lesioned(band_bins(model.stft_config(model.sample_rate), band_hz))
    lesioned.lesioned_band_hz = tuple(band_hz)
    return lesioned


def lesion_change(
    model: MaskModel,
    features: np.ndarray,
    bins: np.ndarray,
    seed: int = 0,
    spread: float = 3.0,
    phase: np.ndarray | None = None,
) -> float:
    """Largest ``|mask change|`` when the log-power ``features`` ``[F, T]`` in the rows ``bins`` ``[F]`` (boolean)
    get Gaussian noise of standard deviation ``spread`` (log10 units, ``seed``), the input's ``phase`` ``[F, T]``
    held: 0 for a true lesion (up to float round-off, about 1e-9, of the batched matrix products)."""
    features = np.asarray(features, dtype=np.float32)
    bins = np.asarray(bins, dtype=bool)
    if bins.shape != (features.shape[0],):
        raise ValueError(f"bins must be boolean [F] = ({features.shape[0]},), got {bins.shape}")
    perturbed = features.copy()
    perturbed[bins] += np.random.default_rng(seed).normal(scale=spread, size=perturbed[bins].shape).astype(np.float32)
    return float(np.abs(model.predict(perturbed, "mask", phase) - model.predict(features, "mask", phase)).max())


def lesion_false_positive_share(attribution: np.ndarray, bins: np.ndarray) -> float:
    """Share of ``|attribution|`` ``[F, T]`` on the lesioned rows ``bins`` (boolean ``[F]``, or ``[F, T]``); ``nan``
    for an all-zero map."""
    magnitude = np.abs(np.asarray(attribution, dtype=np.float64))
    bins = np.asarray(bins, dtype=bool)
    if bins.shape == (magnitude.shape[0],):
        bins = np.broadcast_to(bins[:, None], magnitude.shape)
    if magnitude.ndim != 2 or bins.shape != magnitude.shape:
        raise ValueError(
            f"bins must be boolean [F] or [F, T] for an attribution map {magnitude.shape}, got {bins.shape}"
        )
    total = magnitude.sum()
    return float(magnitude[bins].sum() / total) if total > 0 else float("nan")
