"""A lesioned NSNet2 with a known blind spot: its output does not depend on one frequency band.

The input enters NSNet2 only through ``fc_in`` (``Linear(F, H)`` applied to each frame's log-power
``[F]``). Setting the weight columns of the band's bins to zero makes ``fc_in``'s output, and so the
whole model's output, independent of those input bins in every frame: any attribution mass there is
a false positive. :func:`lesion_change` checks it by perturbation.
"""

from __future__ import annotations

import copy

import numpy as np
import torch

from .nsnet2 import NSNet2, stft_config

DEFAULT_BAND_HZ = (2500.0, 3500.0)


def band_bins(sample_rate: int, band_hz: tuple[float, float] = DEFAULT_BAND_HZ) -> np.ndarray:
    """Boolean ``[F]``: the STFT bins at ``sample_rate`` whose centre frequency lies in ``[lo, hi)`` Hz."""
    lo, hi = band_hz
    if not 0 <= lo < hi:
        raise ValueError(f"band_hz must be (lo, hi) with 0 <= lo < hi Hz, got {band_hz}")
    freqs = stft_config(sample_rate).frequencies_hz()
    bins = (freqs >= lo) & (freqs < hi)
    if not bins.any():
        raise ValueError(f"band_hz {band_hz} holds no bin at {sample_rate} Hz ({freqs[0]:g}-{freqs[-1]:g} Hz)")
    return bins


def lesioned_model(model: NSNet2, band_hz: tuple[float, float] = DEFAULT_BAND_HZ) -> NSNet2:
    """A copy of ``model`` whose ``fc_in`` weight columns for the bins of ``band_hz`` (Hz) are zero."""
    sample_rate = getattr(model, "sample_rate", 16000)
    bins = torch.as_tensor(band_bins(sample_rate, band_hz))
    if bins.numel() != model.fc_in.in_features:
        raise ValueError(f"model takes {model.fc_in.in_features} bins, the STFT at {sample_rate} Hz has {bins.numel()}")
    lesioned = copy.deepcopy(model)
    with torch.no_grad():
        lesioned.fc_in.weight[:, bins.to(lesioned.fc_in.weight.device)] = 0.0
    lesioned.lesioned_band_hz = tuple(band_hz)
    return lesioned


def lesion_change(model: NSNet2, features: np.ndarray, bins: np.ndarray, seed: int = 0, spread: float = 3.0) -> float:
    """Largest ``|mask change|`` when the log-power ``features`` ``[F, T]`` in the rows ``bins`` ``[F]`` (boolean)
    get Gaussian noise of standard deviation ``spread`` (log10 units, ``seed``): 0 for a true lesion
    (up to float round-off, about 1e-9, of the batched matrix products)."""
    features = np.asarray(features, dtype=np.float32)
    bins = np.asarray(bins, dtype=bool)
    if bins.shape != (features.shape[0],):
        raise ValueError(f"bins must be boolean [F] = ({features.shape[0]},), got {bins.shape}")
    perturbed = features.copy()
    perturbed[bins] += np.random.default_rng(seed).normal(scale=spread, size=perturbed[bins].shape).astype(np.float32)
    device = next(model.parameters()).device
    with torch.no_grad():
        masks = model(torch.as_tensor(np.stack([features.T, perturbed.T]), device=device))
    return float((masks[1] - masks[0]).abs().max())


def lesion_false_positive_share(attribution: np.ndarray, bins: np.ndarray) -> float:
    """Share of ``|attribution|`` ``[F, T]`` on the lesioned rows ``bins`` (boolean ``[F]``, or ``[F, T]``); ``nan`` for an all-zero map."""
    magnitude = np.abs(np.asarray(attribution, dtype=np.float64))
    bins = np.asarray(bins, dtype=bool)
    if bins.shape == (magnitude.shape[0],):
        bins = np.broadcast_to(bins[:, None], magnitude.shape)
    if magnitude.ndim != 2 or bins.shape != magnitude.shape:
        raise ValueError(f"bins must be boolean [F] or [F, T] for an attribution map {magnitude.shape}, got {bins.shape}")
    total = magnitude.sum()
    return float(magnitude[bins].sum() / total) if total > 0 else float("nan")
