"""SNR of a clean / noise pair, and mixing noise into speech at an exact SNR (dB, mean-square powers)."""

from __future__ import annotations

import math

import numpy as np

from ..wave import check_wave
from .parsing import is_number


def snr_db(clean: np.ndarray, noise: np.ndarray) -> float:
    """``10 * log10(P_clean / P_noise)`` in dB for two waves ``[n_samples]`` (mean-square powers).

    Returns ``inf`` when the noise is all zero and ``-inf`` when only the clean signal is; raises
    ``ValueError`` when both are zero or the shapes differ.
    """
    clean, noise = check_wave(clean, name="clean"), check_wave(noise, name="noise")
    if clean.shape != noise.shape:
        raise ValueError(f"clean {clean.shape} and noise {noise.shape} differ in length")
    clean_power, noise_power = float(np.mean(np.square(clean))), float(np.mean(np.square(noise)))
    if clean_power == 0 and noise_power == 0:
        raise ValueError("snr_db: clean signal and noise are both all zeros; the SNR is undefined")
    if noise_power == 0:
        return math.inf
    if clean_power == 0:
        return -math.inf
    return 10 * math.log10(clean_power / noise_power)


def mix_at_snr(clean: np.ndarray, noise: np.ndarray, snr_db: float) -> tuple[np.ndarray, np.ndarray]:
    """``(noisy, scaled_noise)``, both float64 ``[n_samples]``, with ``noisy = clean + scaled_noise``.

    ``scaled_noise = g * noise`` with ``g`` chosen so that ``10 log10(P_clean / P_scaled_noise)``
    equals ``snr_db`` (dB). Raises ``ValueError`` if the lengths differ, ``snr_db`` is not finite,
    or the clean signal or the noise is all zeros.
    """
    clean, noise = check_wave(clean, name="clean"), check_wave(noise, name="noise")
    if clean.shape != noise.shape:
        raise ValueError(f"clean {clean.shape} and noise {noise.shape} differ in length")
    if not is_number(snr_db) or not math.isfinite(snr_db):
        raise ValueError(f"snr_db: {snr_db!r} must be a finite number of dB")
    clean_power, noise_power = float(np.mean(np.square(clean))), float(np.mean(np.square(noise)))
    if clean_power == 0:
        raise ValueError("clean: the signal is all zeros (silent), so no SNR can be set")
    if noise_power == 0:
        raise ValueError("noise: the noise is all zeros, so no SNR can be set")
    scaled = noise * math.sqrt(clean_power / (noise_power * 10 ** (snr_db / 10)))
    return clean + scaled, scaled
