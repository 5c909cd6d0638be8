"""The whole denoiser: features, mask, gain floor, overlap-add resynthesis."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..dsp.stft import StftConfig, istft, log_power, stft
from ..dsp.wave import check_wave
from .base import MaskModel, predict_mask
from .cache import cached_model

MIN_GAIN_DB = -80.0
"""The gain is clipped below at -80 dB before resynthesis, as in the reference enhancer."""


@dataclass
class Enhancement:
    """Everything the denoiser computes for one waveform (``F`` bins, ``T`` frames)."""

    config: StftConfig
    wave: np.ndarray
    """Input waveform ``[N]``."""
    spectrum: np.ndarray
    """Complex STFT of the input ``[F, T]``."""
    features: np.ndarray
    """Log10-power features ``[F, T]`` (the model's input)."""
    mask: np.ndarray
    """Gain mask predicted by the model ``[F, T]`` (0..1, before the -80 dB floor)."""
    enhanced: np.ndarray
    """Enhanced waveform ``[N]``, same length as the input."""


def apply_mask(spectrum: np.ndarray, mask: np.ndarray, config: StftConfig, length: int) -> np.ndarray:
    """Resynthesise ``spectrum * clip(mask, -80 dB, 1)`` to a waveform ``[length]``."""
    gain = np.clip(mask, 10 ** (MIN_GAIN_DB / 20), 1.0)
    return istft(spectrum * gain, config, length)


def enhance_details(
    wave: np.ndarray, sample_rate: int = 16000, model: MaskModel | None = None, device: str = "cpu"
) -> Enhancement:
    """Run the whole denoiser on ``wave`` ``[N]`` and return every intermediate."""
    check_wave(wave, sample_rate=sample_rate, allow_silent=False)
    model = model if model is not None else cached_model(sample_rate, str(device))
    config = model.stft_config(sample_rate)
    spectrum = stft(wave, config)
    features = log_power(spectrum)
    mask = predict_mask(features, model)
    return Enhancement(config, np.asarray(wave), spectrum, features, mask, apply_mask(spectrum, mask, config, len(wave)))


def enhance(wave: np.ndarray, sample_rate: int = 16000, device: str = "cpu") -> np.ndarray:
    """Enhanced waveform ``[N]`` (same length) of the noisy ``wave`` ``[N]`` at 16000 or 48000 Hz."""
    return enhance_details(wave, sample_rate, device=device).enhanced
