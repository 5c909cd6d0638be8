"""The whole enhancer of any model: features, mask, and the model's own resynthesis (:meth:`MaskModel.enhance_wave`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..dsp.stft import StftConfig, log_power, stft
from ..dsp.wave import check_wave
from .base import MaskModel
from .cache import cached_model
from .registry import DEFAULT_MODEL


@dataclass
class Enhancement:
    """Everything the enhancer computes for one waveform (``F`` bins, ``T`` frames of the model's STFT)."""

    config: StftConfig
    wave: np.ndarray
    """Input waveform ``[N]``."""
    spectrum: np.ndarray
    """Complex STFT of the input ``[F, T]``."""
    features: np.ndarray
    """Log10-power features ``[F, T]`` (the model's input)."""
    mask: np.ndarray
    """Gain on the magnitude predicted by the model ``[F, T]`` (the ``"mask"`` target; for NSNet2 0..1, before the
    -80 dB floor)."""
    enhanced: np.ndarray
    """Enhanced waveform ``[N]``, same length as the input."""
    model: str = DEFAULT_MODEL
    """Name of the model that enhanced it."""


def resolve_model(model: MaskModel | str | None, sample_rate: int, device: str = "cpu") -> MaskModel:
    """``model`` itself, or the shared loaded model of that name (``None``: NSNet2) at ``sample_rate`` Hz."""
    if isinstance(model, MaskModel):
        return model
    return cached_model(sample_rate, str(device), DEFAULT_MODEL if model is None else model)


def enhance_details(
    wave: np.ndarray, sample_rate: int = 16000, model: MaskModel | str | None = None, device: str = "cpu"
) -> Enhancement:
    """Run the whole enhancer ``model`` (a model or its name; default NSNet2) on ``wave`` ``[N]`` at
    ``sample_rate`` Hz and return every intermediate."""
    check_wave(wave, sample_rate=sample_rate, allow_silent=False)
    model = resolve_model(model, sample_rate, device)
    config = model.stft_config(sample_rate)
    spectrum = stft(wave, config)
    features = log_power(spectrum)
    mask = model.predict(features, "mask", np.angle(spectrum))
    return Enhancement(config, np.asarray(wave), spectrum, features, mask, model.enhance_wave(wave), model.name)


def enhance(
    wave: np.ndarray, sample_rate: int = 16000, device: str = "cpu", model: MaskModel | str | None = None
) -> np.ndarray:
    """Enhanced waveform ``[N]`` (same length) of the noisy ``wave`` ``[N]`` by ``model`` (a model or its name:
    ``"nsnet2"`` at 16000 or 48000 Hz, ``"dtln"`` and ``"gtcrn"`` at 16000 Hz)."""
    check_wave(wave, sample_rate=sample_rate, allow_silent=False)
    return resolve_model(model, sample_rate, device).enhance_wave(wave)
