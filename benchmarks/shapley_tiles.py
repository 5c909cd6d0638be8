"""Benchmark: exact Shapley values of k time-frequency tiles on NSNet2 (``xai_helpers.experiments.shapley``).

A segment of bundled speech in pink noise (10 dB SNR, seed 0), the zero-signal baseline, the
explained output = the mask summed over 500-1500 Hz in the segment's last 60 % of frames (as
notebook 05's region). Tiles: a grid of ``bands`` x ``spans`` (k = bands * spans). Prints the time
of the prefix-sharing path and, with ``--plain``, of running every coalition in full.

    python benchmarks/shapley_tiles.py --seconds 0.5 --bands 3 --spans 4
    python benchmarks/shapley_tiles.py --seconds 0.5 --bands 4 --spans 4
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from xai_helpers.io.audio import load_audio  # noqa: E402
from xai_helpers.experiments.faithfulness import speech_in_noise  # noqa: E402
from xai_helpers.models.base import MaskFromLogPower
from xai_helpers.models.nsnet2 import load_nsnet2  # noqa: E402
from xai_helpers.attribution.regions import region_bins  # noqa: E402
from xai_helpers.experiments.shapley import coalition_values, complete_tiles, exact_shapley, grid_tiles  # noqa: E402
from xai_helpers.dsp.stft import log_power, stft
from xai_helpers.models.nsnet2 import stft_config  # noqa: E402


class Plain(torch.nn.Module):
    """The same model hidden from the prefix-sharing path (every coalition runs in full)."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.model(features)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=0.5)
    parser.add_argument("--bands", type=int, default=3)
    parser.add_argument("--spans", type=int, default=4)
    parser.add_argument("--plain", action="store_true", help="also time every coalition run in full")
    args = parser.parse_args()
    config = stft_config(16000)
    clean = load_audio(sorted((REPO / "data" / "samples").glob("*.wav"))[0], 16000)
    features = log_power(stft(speech_in_noise(clean, 10.0, 0), config)).astype(np.float32)
    start = int(np.searchsorted(config.frame_times_s(features.shape[1]), 0.8))
    n_frames = int(round(args.seconds / config.hop_s))
    features = features[:, start : start + n_frames]
    freqs, times = config.frequencies_hz(), config.frame_times_s(n_frames)
    weights = region_bins((500.0, 1500.0, times[int(0.4 * n_frames)], times[-1] + 1), freqs, times).astype(float)
    baselines = np.full((1, *features.shape), -12.0, dtype=np.float32)
    f_edges = np.linspace(0, 8001, args.bands + 1)
    t_edges = np.linspace(0, times[-1] + 1e-3, args.spans + 1)
    tiles = grid_tiles(freqs, times, f_edges, t_edges)
    model = MaskFromLogPower(load_nsnet2(16000))
    print(f"torch threads {torch.get_num_threads()}, segment {n_frames} frames, k = {tiles.count} tiles")
    began = time.perf_counter()
    result = exact_shapley(model, features, baselines, tiles, weights)
    elapsed = time.perf_counter() - began
    print(
        f"prefix-shared: {elapsed:.2f} s for 2^{tiles.count} coalitions; "
        f"efficiency error {result.efficiency_error:.2e} "
        f"(explained change {result.output_input - result.output_baseline:.3f})"
    )
    if args.plain:
        began = time.perf_counter()
        plain = coalition_values(Plain(model), features, baselines, complete_tiles(tiles, features.shape), weights)
        full_s = time.perf_counter() - began
        engine_values = coalition_values(model, features, baselines, complete_tiles(tiles, features.shape), weights)
        print(
            f"every coalition in full: {full_s:.2f} s; max |difference| of v {np.abs(plain - engine_values).max():.2e}"
        )


if __name__ == "__main__":
    main()
