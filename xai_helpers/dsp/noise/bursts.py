"""Gaussian noise bursts: the one burst generator (white bursts in time ranges, ``noise_type="white"``;
band-limited bursts of the faithfulness benchmark)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..wave import rms as wave_rms
from .parsing import check_positive_int, check_seed, parse_amplitudes, parse_ranges


def gaussian_burst(
    n_samples: int, rng: np.random.Generator, band_hz: tuple[float, float] | None = None, sample_rate: int | None = None
) -> np.ndarray:
    """Unscaled Gaussian noise ``[n_samples]`` drawn from ``rng``; with ``band_hz`` ``(lo, hi)`` (needs
    ``sample_rate``, Hz) band-limited by an FFT mask that keeps the bins in ``[lo, hi)``."""
    noise = rng.standard_normal(n_samples)
    if band_hz is None:
        return noise
    spectrum = np.fft.rfft(noise)
    freqs = np.fft.rfftfreq(n_samples, 1 / sample_rate)
    spectrum[(freqs < band_hz[0]) | (freqs >= band_hz[1])] = 0
    return np.fft.irfft(spectrum, n=n_samples)


def white_noise_bursts(
    n_samples: int,
    sample_rate: int,
    time_ranges: str | Sequence,
    rms_amplitudes: float | Sequence[float],
    seed: int,
) -> np.ndarray:
    """Gaussian white noise inside each time range (seconds), zero elsewhere, ``[n_samples]``.

    A range ``(lo, hi)`` covers samples ``round(lo * sample_rate)`` to ``round(hi * sample_rate)``
    (exclusive); its noise is scaled so its RMS over those samples is exactly its amplitude.
    Overlapping ranges add up (the overlap is then louder than either amplitude).
    ``rms_amplitudes`` is one RMS (broadcast) or one per range. Raises ``ValueError`` for a range
    ending after the file (``hi > n_samples / sample_rate``), one shorter than a sample, a negative
    amplitude, or a count mismatch.
    """
    n_samples = check_positive_int(n_samples, name="n_samples")
    sample_rate = check_positive_int(sample_rate, name="sample_rate")
    spans = parse_ranges(time_ranges, name="time_ranges")
    amplitudes = parse_amplitudes(rms_amplitudes, len(spans), name="rms_amplitudes")
    duration = n_samples / sample_rate
    rng = np.random.default_rng(check_seed(seed))
    noise = np.zeros(n_samples)
    for (lo, hi), rms in zip(spans, amplitudes):
        if hi > duration:
            raise ValueError(f"time_ranges: range {lo:g}-{hi:g} s ends after the file (duration {duration:g} s)")
        start, stop = round(lo * sample_rate), round(hi * sample_rate)
        if stop <= start:
            raise ValueError(f"time_ranges: range {lo:g}-{hi:g} s covers no sample at {sample_rate} Hz")
        burst = gaussian_burst(stop - start, rng)
        noise[start:stop] += burst * (rms / wave_rms(burst))
    return noise
