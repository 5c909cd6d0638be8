"""Notebook 05's set-up: its parameters (and the ``full_run`` preset) to benchmark settings, files and model."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..dsp.stft import StftConfig
from ..experiments.faithfulness import BenchmarkSettings
from ..io.audio import load_audio
from ..io.datasets import list_audio_files
from ..models.cache import cached_model
from ..models.nsnet2 import NSNet2

FULL_RUN = {"n_files": None, "placements": ((3000.0, 0.8), (2000.0, 1.0), (4500.0, 0.6)), "seeds": (0, 1), "n_samples": 50}
"""What ``full_run=True`` overrides: all files, three placements, two seeds, more samples."""


@dataclass
class Benchmark:
    """Everything notebook 05 runs on: settings, clean waves ``{name: [N]}``, the model and its STFT."""

    settings: BenchmarkSettings
    clean_waves: dict[str, np.ndarray]
    model: NSNet2
    stft: StftConfig

    def describe(self) -> str:
        s = self.settings
        return (f"{len(self.clean_waves)} file(s), {len(s.placements)} placement(s), levels {list(s.levels_db)} dB, "
                f"seeds {list(s.seeds)}")


def benchmark_setup(
    input_path: str | os.PathLike, n_files: int | None, methods: Sequence[str], levels_db: Sequence[float],
    placements: Sequence[Sequence[float]], explained_band_hz: Sequence[float], snr_db: float, baseline: str,
    n_samples: int, seeds: Sequence[int], full_run: bool, sample_rate: int,
) -> Benchmark:
    """Notebook 05's parameters to a :class:`Benchmark`; ``full_run`` replaces ``n_files``, ``placements``,
    ``seeds`` and ``n_samples`` by :data:`FULL_RUN`."""
    if full_run:
        n_files, placements, seeds, n_samples = (FULL_RUN[key] for key in ("n_files", "placements", "seeds", "n_samples"))
    settings = BenchmarkSettings(
        methods=tuple(methods), levels_db=tuple(levels_db), placements=tuple(tuple(p) for p in placements),
        explained_band_hz=tuple(explained_band_hz), snr_db=snr_db, baseline=baseline, seeds=tuple(seeds), n_samples=n_samples,
    )
    files = list_audio_files(input_path)[:n_files]
    model = cached_model(sample_rate)
    return Benchmark(settings, {path.stem: load_audio(path, sample_rate) for path in files}, model, model.stft_config(sample_rate))
