"""The explained segment of one audio file: its log-power features in the model's own STFT (what the model
sees, its recurrent state starting at the segment's first frame), the input's phase (held fixed for models
that read it) and its baselines (:func:`load_segment`)."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..dsp.stft import StftConfig, log_power, stft
from ..io.audio import load_audio, load_audio_with_rate
from ..io.noisy_corpus import read_record
from ..models.base import MaskModel
from .baselines import make_baselines
from .explain_config import ExplainConfig

logger = logging.getLogger(__name__)


@dataclass
class Segment:
    """The explained segment of one file: ``F`` bins by ``T`` frames of log10 power, and its baselines."""

    source: Path
    stft: StftConfig
    first_frame: int
    features: np.ndarray
    """[F, T] log10 power: exactly what the model sees."""
    baselines: np.ndarray
    """[K, F, T] log10 power."""
    phase: np.ndarray | None = None
    """[F, T] phase of the input's spectrum, radians (the baselines share it)."""
    record: dict | None = None
    """The noise record of the file (notebook 01), if any."""
    source_sample_rate: int = 0
    """Sample rate of the audio file, Hz (the model's when it was not resampled)."""

    @property
    def times_s(self) -> np.ndarray:
        """Frame centre times ``[T]`` in seconds from the segment start."""
        return self.stft.frame_times_s(self.features.shape[1])

    @property
    def start_s(self) -> float:
        """Start of the segment in the file, seconds."""
        return self.first_frame * self.stft.hop_s


def load_segment(path: str | os.PathLike, config: ExplainConfig, model: MaskModel | type[MaskModel]) -> Segment:
    """Features, phase and baselines of ``config``'s segment of the audio file ``path``, in the STFT of ``model``
    (a model or its class).

    Raises ``ValueError`` naming the file if the segment lies outside it or a baseline needs a
    clean or noise reference that the file has no record of. A file at another sample rate than the
    model's is resampled with a logged warning (its rate is kept as ``source_sample_rate``).
    """
    path = Path(path)
    stft_settings = model.stft_config(config.sample_rate)
    wave, source_rate = load_audio_with_rate(path, config.sample_rate)
    if source_rate != config.sample_rate:
        logger.warning(
            "%s: recorded at %d Hz, resampled to the model's %d Hz (stored as source_sample_rate)",
            path,
            source_rate,
            config.sample_rate,
        )
    spectrum = stft(wave, stft_settings)
    all_features = log_power(spectrum).astype(np.float32)
    first = int(round(config.segment_start_s / stft_settings.hop_s))
    count = (
        all_features.shape[1] - first
        if config.segment_duration_s is None
        else int(round(config.segment_duration_s / stft_settings.hop_s))
    )
    if first < 0 or count < 1 or first + count > all_features.shape[1]:
        raise ValueError(
            f"{path}: segment {config.segment_start_s:g} s + {config.segment_duration_s} s lies outside the file "
            f"({all_features.shape[1] * stft_settings.hop_s:.2f} s, {all_features.shape[1]} frames)"
        )
    frames = slice(first, first + count)
    record = read_record(path)
    references = {}
    for key, name in (("clean_path", "clean_features"), ("noise_path", "noise_features")):
        if record and record.get(key):
            reference = load_audio(record[key], config.sample_rate, check=key == "clean_path")
            references[name] = log_power(stft(reference, stft_settings))[:, frames]
    try:
        baselines = make_baselines(
            config.baseline, all_features[:, frames], n_baselines=config.n_baselines, seed=config.seed, **references
        )
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from error
    return Segment(
        path,
        stft_settings,
        first,
        all_features[:, frames],
        baselines,
        np.angle(spectrum[:, frames]).astype(np.float32),
        record,
        source_rate,
    )
