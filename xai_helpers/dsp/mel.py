"""The mel scale (HTK / O'Shaughnessy formula ``2595 log10(1 + f / 700)``) and band edges equally spaced on it."""

from __future__ import annotations

import numpy as np


def hz_to_mel(hz) -> np.ndarray:
    """Mel of frequencies in Hz (any shape, float64)."""
    return 2595.0 * np.log10(1.0 + np.asarray(hz, dtype=np.float64) / 700.0)


def mel_to_hz(mel) -> np.ndarray:
    """Inverse of :func:`hz_to_mel`: Hz of mel values (any shape, float64)."""
    return 700.0 * (10.0 ** (np.asarray(mel, dtype=np.float64) / 2595.0) - 1.0)


def mel_edges_hz(n_bands: int, top_hz: float) -> np.ndarray:
    """``[n_bands + 1]`` band edges (Hz) from 0 to ``top_hz`` equally spaced on the mel scale (narrow at low
    frequencies); the last edge is ``top_hz`` up to rounding. ``n_bands`` must be at least 1 (callers check it
    and name their own parameter)."""
    return mel_to_hz(np.linspace(0.0, float(hz_to_mel(top_hz)), int(n_bands) + 1))
