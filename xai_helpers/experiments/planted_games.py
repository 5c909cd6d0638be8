"""Notebook 05's planted games: the planted mechanisms (:mod:`.planted`) explained on real speech, each method's share
of ``|attribution|`` on the one input bin that matters (:func:`planted_rows`; read by
:func:`.planted.planted_reading`)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..dsp.stft import log_power, stft
from ..models.nsnet2 import stft_config
from .agreement import control_map
from .faithfulness import BenchmarkSettings, RegionProblem, _maps, speech_in_noise
from .planted import MECHANISMS, planted_model, planted_share

PLANTED_BAND_HZ = 7000.0
"""Where the planted mechanisms read: a band that speech barely fills, so energy says nothing about the answer."""
PLANTED_LAG = 5
"""Their lag, frames (50 ms on NSNet2's grid)."""
PLANTED_FRAMES = 20
"""Frames of the explained segment; the explained output is every bin of its last frame."""


def planted_rows(
    clean_waves: dict[str, np.ndarray], settings: BenchmarkSettings, methods: Sequence[str], seed: int = 0
) -> list[dict]:
    """Notebook 05's planted games: for each mechanism, the share of each method's (and each control's) ``|map|`` on
    the planted bin (``metric="planted_share"``, ``condition="planted MECHANISM"``), explaining the sum of the mask
    over the last frame of a speech-in-noise segment of the first file (``settings``: notebook 05's
    :class:`~.faithfulness.BenchmarkSettings`). A complete method gives 1 (up to rounding); the ``energy`` control
    gives the planted bin's share of the segment's energy."""
    config = stft_config(16000)
    name, clean = next(iter(clean_waves.items()))
    noisy = speech_in_noise(clean, settings.snr_db, seed)
    spectrum = stft(noisy, config)
    first = int(settings.placements[0][1] / config.hop_s)
    features = log_power(spectrum[:, first : first + PLANTED_FRAMES]).astype(np.float32)
    t_out = features.shape[1] - 1
    target = np.zeros(features.shape, dtype=bool)
    target[:, t_out] = True
    freqs, times = config.frequencies_hz(), np.arange(features.shape[1]) * config.hop_s
    problem = RegionProblem(features, np.full((1, *features.shape), -12.0, dtype=np.float32), target, freqs, times)
    band = int(np.argmin(np.abs(freqs - PLANTED_BAND_HZ)))
    rows = []
    for mechanism in MECHANISMS:
        model = planted_model(mechanism, band, PLANTED_LAG)
        maps, _ = _maps(model, problem, settings, seed, methods)
        maps.update({control: control_map(control, features, seed) for control in ("random", "energy")})
        for method, weights in maps.items():
            rows.append(
                {
                    "method": method,
                    "metric": "planted_share",
                    "value": planted_share(weights, model, t_out),
                    "condition": f"planted {mechanism}",
                    "sample": name,
                    "seed": seed,
                }
            )
    return rows
