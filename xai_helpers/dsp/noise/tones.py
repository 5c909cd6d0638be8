"""Tone complexes across frequency ranges (``noise_type="sinusoidal"``)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..wave import rms as wave_rms
from .parsing import check_positive_int, check_seed, parse_amplitudes, parse_ranges

TONE_SPACING_HZ = 25.0
"""Target spacing of the tones that fill one frequency range in :func:`sinusoidal_noise`."""


def _tone_band(
    n_samples: int, sample_rate: int, band: tuple[float, float], rms: float, rng: np.random.Generator
) -> np.ndarray:
    """Equal-amplitude tones every ~TONE_SPACING_HZ strictly inside ``band`` (Hz), scaled to ``rms`` ``[n_samples]``.

    Tone ``k`` of ``n`` sits at ``lo + (k + 0.5) (hi - lo) / n`` with a random phase drawn from ``rng``.
    """
    lo, hi = band
    n_tones = max(1, round((hi - lo) / TONE_SPACING_HZ))
    frequencies = lo + (np.arange(n_tones) + 0.5) * (hi - lo) / n_tones
    phases = rng.uniform(0.0, 2 * np.pi, size=n_tones)
    if rms == 0:
        return np.zeros(n_samples)
    time = np.arange(n_samples) / sample_rate
    band_wave = np.zeros(n_samples)
    for frequency, phase in zip(frequencies, phases):
        band_wave += np.cos(2 * np.pi * frequency * time + phase)
    return band_wave * (rms / wave_rms(band_wave))


def sinusoidal_noise(
    n_samples: int,
    sample_rate: int,
    freq_ranges: str | Sequence,
    rms_amplitudes: float | Sequence[float],
    seed: int,
) -> np.ndarray:
    """Sum over frequency ranges of tone complexes, each range at its own RMS, ``[n_samples]``.

    Each range ``(lo, hi)`` in Hz (see :func:`parse_ranges`) is filled with equal-amplitude tones
    about every 25 Hz (at least one), strictly inside the range, with random phases from ``seed``;
    the range's tone complex is then scaled so its RMS over the file is exactly its amplitude.
    ``rms_amplitudes`` is one RMS (broadcast) or one per range. Raises ``ValueError`` for a range
    above the Nyquist frequency (``hi > sample_rate / 2``), a negative amplitude, or a count mismatch.
    """
    n_samples = check_positive_int(n_samples, name="n_samples")
    sample_rate = check_positive_int(sample_rate, name="sample_rate")
    bands = parse_ranges(freq_ranges, name="freq_ranges")
    amplitudes = parse_amplitudes(rms_amplitudes, len(bands), name="rms_amplitudes")
    nyquist = sample_rate / 2
    for lo, hi in bands:
        if hi > nyquist:
            raise ValueError(
                f"freq_ranges: range {lo:g}-{hi:g} Hz exceeds the Nyquist frequency {nyquist:g} Hz"
                f" (sample rate {sample_rate} Hz)"
            )
    rng = np.random.default_rng(check_seed(seed))
    noise = np.zeros(n_samples)
    for band, rms in zip(bands, amplitudes):
        noise += _tone_band(n_samples, sample_rate, band, rms, rng)
    return noise
