"""The mask a model predicts for the zero signal: the input every bin of which is the log-power
floor (the attribution methods' ``zero`` baseline), as the original project plotted it."""

from __future__ import annotations

import numpy as np

from ..dsp.stft import LOG_POWER_FLOOR
from .base import MaskModel
from .cache import cached_model


def zero_signal_mask(n_frames: int, sample_rate: int = 16000, model: MaskModel | None = None) -> np.ndarray:
    """Gain mask ``[F, T]`` (0..1, float64) of ``n_frames`` frames of the zero signal: features
    ``log10(LOG_POWER_FLOOR) = -12`` in every bin (phase 0, the angle of a zero spectrum). ``model`` defaults to
    NSNet2 at ``sample_rate`` Hz."""
    if int(n_frames) < 1:
        raise ValueError(f"n_frames must be >= 1, not {n_frames}")
    model = model if model is not None else cached_model(sample_rate)
    features = np.full((model.n_bins, int(n_frames)), np.log10(LOG_POWER_FLOOR))
    return model.predict(features, "mask", np.zeros_like(features))
