"""Audio in and out, and the whole NSNet2 denoiser (features, mask, gain floor, resynthesis)."""

from __future__ import annotations

import functools
import logging
import os
from dataclasses import dataclass
from math import gcd
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
from scipy.signal import resample_poly

from .atomic import write_atomically
from ..models.nsnet2 import NSNet2, load_nsnet2
from ..dsp.stft import StftConfig, istft, log_power, stft, stft_config

logger = logging.getLogger(__name__)

AUDIO_SUFFIXES = (".wav", ".flac")
MIN_GAIN_DB = -80.0
"""The gain is clipped below at -80 dB before resynthesis, as in the reference enhancer."""


def load_audio(path: str | os.PathLike, sample_rate: int = 16000, check: bool = True) -> np.ndarray:
    """Mono float32 waveform ``[N]`` of the WAV/FLAC at ``path``, resampled to ``sample_rate`` Hz.

    Multi-channel files are averaged to mono (logged). Resampling uses a polyphase band-limited
    filter (:func:`scipy.signal.resample_poly`, Kaiser window). Raises ``FileNotFoundError`` for a
    missing path and ``ValueError`` naming the file for a non-audio, empty, all-zero or
    shorter-than-one-frame (20 ms) file; ``check=False`` skips the content checks (for a noise track,
    which may be silent in places or throughout).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such audio file")
    if path.is_dir():
        raise ValueError(f"{path}: is a folder, not an audio file")
    try:
        data, file_rate = sf.read(str(path), dtype="float64", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError) as error:
        raise ValueError(f"{path}: not a readable audio file ({error})") from error
    if data.shape[0] == 0:
        raise ValueError(f"{path}: the audio file is empty (0 samples)")
    if data.shape[1] > 1:
        logger.warning("%s: %d channels, downmixed to mono by averaging", path, data.shape[1])
    wave = data.mean(axis=1)
    if file_rate != sample_rate:
        factor = gcd(int(file_rate), int(sample_rate))
        wave = resample_poly(wave, sample_rate // factor, int(file_rate) // factor)
        logger.info("%s: resampled from %d Hz to %d Hz", path, file_rate, sample_rate)
    if check:
        check_wave(wave, sample_rate, source=str(path))
    return wave.astype(np.float32)


def check_wave(wave: np.ndarray, sample_rate: int, source: str = "waveform") -> None:
    """Raise ``ValueError`` naming ``source`` if ``wave`` is not 1-D, finite, non-silent and >= one frame."""
    if wave.ndim != 1:
        raise ValueError(f"{source}: expected a mono waveform [n_samples], got shape {wave.shape}")
    min_samples = stft_config(sample_rate).win_length
    if len(wave) < min_samples:
        raise ValueError(
            f"{source}: {len(wave)} samples is shorter than one 20 ms frame ({min_samples} samples at {sample_rate} Hz)"
        )
    if not np.all(np.isfinite(wave)):
        raise ValueError(f"{source}: the waveform contains NaN or infinite samples")
    if not np.any(wave):
        raise ValueError(f"{source}: the audio is all zeros (silent)")


def write_audio(path: str | os.PathLike, wave: np.ndarray, sample_rate: int) -> Path:
    """Write ``wave`` ``[N]`` as a 32-bit float WAV (no clipping) atomically."""
    samples = np.asarray(wave, dtype=np.float32)
    return write_atomically(path, lambda temporary: sf.write(temporary, samples, sample_rate, subtype="FLOAT", format="WAV"))


@functools.lru_cache(maxsize=4)
def cached_model(sample_rate: int = 16000, device: str = "cpu") -> NSNet2:
    """:func:`load_nsnet2`, loaded once per (sample rate, device) and shared."""
    return load_nsnet2(sample_rate, device)


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


def predict_mask(features: np.ndarray, model: NSNet2, target: str = "mask") -> np.ndarray:
    """Gain mask ``[F, T]`` (or, with ``target="logit"``, its pre-sigmoid logit) for log-power
    ``features`` ``[F, T]``, computed on the model's device."""
    device = next(model.parameters()).device
    with torch.no_grad():
        frames = torch.as_tensor(features.T[None], dtype=torch.float32, device=device)
        out = model(frames) if target == "mask" else model.logit(frames)
        return out[0].T.cpu().numpy().astype(np.float64)


def apply_mask(spectrum: np.ndarray, mask: np.ndarray, config: StftConfig, length: int) -> np.ndarray:
    """Resynthesise ``spectrum * clip(mask, -80 dB, 1)`` to a waveform ``[length]``."""
    gain = np.clip(mask, 10 ** (MIN_GAIN_DB / 20), 1.0)
    return istft(spectrum * gain, config, length)


def enhance_details(
    wave: np.ndarray, sample_rate: int = 16000, model: NSNet2 | None = None, device: str = "cpu"
) -> Enhancement:
    """Run the whole NSNet2 denoiser on ``wave`` ``[N]`` and return every intermediate."""
    check_wave(np.asarray(wave), sample_rate)
    model = model if model is not None else cached_model(sample_rate, str(device))
    config = stft_config(sample_rate)
    spectrum = stft(wave, config)
    features = log_power(spectrum)
    mask = predict_mask(features, model)
    return Enhancement(config, np.asarray(wave), spectrum, features, mask, apply_mask(spectrum, mask, config, len(wave)))


def enhance(wave: np.ndarray, sample_rate: int = 16000, device: str = "cpu") -> np.ndarray:
    """Enhanced waveform ``[N]`` (same length) of the noisy ``wave`` ``[N]`` at 16000 or 48000 Hz."""
    return enhance_details(wave, sample_rate, device=device).enhanced
