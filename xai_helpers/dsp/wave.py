"""The one check of a waveform argument, and its RMS (linear full-scale units)."""

from __future__ import annotations

import numpy as np

FRAME_S = 0.02
"""Length of one analysis frame (NSNet2's 20 ms window): the shortest wave that gives a frame."""


def check_wave(
    wave: np.ndarray, name: str = "waveform", *, sample_rate: int | None = None, allow_silent: bool = True
) -> np.ndarray:
    """``wave`` as float64 ``[n_samples]``; ``ValueError`` naming ``name`` otherwise.

    Refused: not 1-D, empty, NaN or infinite samples; with ``sample_rate`` (Hz) also shorter than
    one 20 ms frame; with ``allow_silent=False`` also all zeros.
    """
    wave = np.asarray(wave, dtype=np.float64)
    if wave.ndim != 1 or wave.size == 0:
        raise ValueError(f"{name}: expected a non-empty mono waveform [n_samples], got shape {wave.shape}")
    if sample_rate is not None:
        min_samples = int(FRAME_S * sample_rate)
        if len(wave) < min_samples:
            raise ValueError(
                f"{name}: {len(wave)} samples is shorter than one 20 ms frame "
                f"({min_samples} samples at {sample_rate} Hz)"
            )
    if not np.all(np.isfinite(wave)):
        raise ValueError(f"{name}: the waveform contains NaN or infinite samples")
    if not allow_silent and not np.any(wave):
        raise ValueError(f"{name}: the audio is all zeros (silent)")
    return wave


def rms(wave: np.ndarray) -> float:
    """Root mean square of ``wave`` (linear full-scale units)."""
    return float(np.sqrt(np.mean(np.square(wave))))
