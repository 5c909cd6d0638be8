"""Per-bin signal-to-noise ratio of a mixture whose speech and noise are known, and the
speech-dominant binary mask of the original project (notebook 01's files carry both parts)."""

from __future__ import annotations

import numpy as np

from .stft import StftConfig, log_power, stft


def snr_map_db(clean: np.ndarray, noise: np.ndarray, config: StftConfig) -> np.ndarray:
    """SNR of every time-frequency bin, dB ``[F, T]``: ``10 log10(|S|^2 / |N|^2)`` of the STFTs
    (``config``) of the speech ``clean`` and the ``noise`` (waves ``[N]``, same length, at
    ``config.sample_rate``), each power floored at ``LOG_POWER_FLOOR`` as in the features
    (:func:`~xai_helpers.dsp.stft.log_power`; so silence against silence is 0 dB and no bin is infinite).
    ``ValueError`` if the lengths differ or a wave is not 1-D."""
    clean, noise = np.asarray(clean, dtype=np.float64), np.asarray(noise, dtype=np.float64)
    if clean.ndim != 1 or noise.ndim != 1:
        raise ValueError(f"clean and noise must be waves [n_samples], got shapes {clean.shape} and {noise.shape}")
    if clean.shape != noise.shape:
        raise ValueError(f"clean ({clean.size} samples) and noise ({noise.size} samples) must have the same length")
    return 10.0 * (log_power(stft(clean, config)) - log_power(stft(noise, config)))


def speech_dominant_mask(snr_db: np.ndarray, threshold_db: float = 0.0) -> np.ndarray:
    """Binary mask ``[F, T]`` (bool): True where the bin's SNR (dB, ``[F, T]``) exceeds ``threshold_db``
    (0 dB: speech stronger than noise; the original project's ideal binary mask)."""
    if not np.isfinite(threshold_db):
        raise ValueError(f"threshold_db must be a finite number of dB, not {threshold_db}")
    return np.asarray(snr_db) > threshold_db
