"""Audio files in and out: WAV/FLAC to a checked mono waveform, float WAV out (atomic, byte-reproducible)."""

from __future__ import annotations

import logging
import os
from math import gcd
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.io import wavfile
from scipy.signal import resample_poly

from ..dsp.wave import check_wave
from .atomic import write_atomically

logger = logging.getLogger(__name__)

AUDIO_SUFFIXES = (".wav", ".flac")


def load_audio(path: str | os.PathLike, sample_rate: int = 16000, check: bool = True) -> np.ndarray:
    """Mono float32 waveform ``[N]`` of the WAV/FLAC at ``path``, resampled to ``sample_rate`` Hz.

    Multi-channel files are averaged to mono (logged). Resampling uses a polyphase band-limited
    filter (:func:`scipy.signal.resample_poly`, Kaiser window). Raises ``FileNotFoundError`` for a
    missing path and ``ValueError`` naming the file for a non-audio, empty, all-zero or
    shorter-than-one-frame (20 ms) file; ``check=False`` skips the content checks (for a noise track,
    which may be silent in places or throughout). :func:`load_audio_with_rate` gives the file's own rate too.
    """
    return load_audio_with_rate(path, sample_rate, check)[0]


def load_audio_with_rate(
    path: str | os.PathLike, sample_rate: int = 16000, check: bool = True
) -> tuple[np.ndarray, int]:
    """:func:`load_audio`'s waveform ``[N]`` (same checks and errors) and the sample rate (Hz) the file was
    recorded at, read from its header in the same pass."""
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
        check_wave(wave, str(path), sample_rate=sample_rate, allow_silent=False)
    return wave.astype(np.float32), int(file_rate)


def write_audio(path: str | os.PathLike, wave: np.ndarray, sample_rate: int) -> Path:
    """Write ``wave`` ``[N]`` as a 32-bit float WAV (no clipping) atomically; return the path.

    Written by :func:`scipy.io.wavfile.write` (``fmt`` IEEE float, ``fact``, ``data``), not by
    libsndfile, whose float WAVs carry a ``PEAK`` chunk stamped with the time of writing: here the
    same samples always give the same bytes. Every reader gets the float32 samples back unchanged
    (soundfile reports format WAV, subtype FLOAT, as for libsndfile's own files).
    """
    samples = np.ascontiguousarray(wave, dtype=np.float32)
    return write_atomically(path, lambda temporary: wavfile.write(temporary, int(sample_rate), samples))
