"""Broadband noise over the whole file: white and pink (``white_snr``, ``pink_snr``)."""

from __future__ import annotations

import numpy as np

from ..wave import rms
from .parsing import check_positive_int, check_seed


def white_noise(n_samples: int, seed: int) -> np.ndarray:
    """Gaussian white noise ``[n_samples]`` scaled to RMS exactly 1."""
    n_samples = check_positive_int(n_samples, name="n_samples")
    noise = np.random.default_rng(check_seed(seed)).standard_normal(n_samples)
    return noise / rms(noise)


def pink_noise(n_samples: int, seed: int) -> np.ndarray:
    """Pink (1/f power, -10 dB/decade) noise ``[n_samples]`` scaled to RMS exactly 1.

    The real FFT of Gaussian white noise is multiplied by ``1 / sqrt(f)`` (so the expected power
    spectral density is exactly proportional to ``1 / f`` at every bin above DC), the DC bin is
    zeroed, and the result is transformed back. Needs ``n_samples >= 2``.
    """
    n_samples = check_positive_int(n_samples, name="n_samples")
    if n_samples < 2:
        raise ValueError(f"n_samples: pink noise needs at least 2 samples, got {n_samples}")
    spectrum = np.fft.rfft(np.random.default_rng(check_seed(seed)).standard_normal(n_samples))
    frequencies = np.fft.rfftfreq(n_samples)
    spectrum[0] = 0.0
    spectrum[1:] /= np.sqrt(frequencies[1:])
    noise = np.fft.irfft(spectrum, n_samples)
    return noise / rms(noise)
