"""Benchmark: single output bins on demand over a whole file (what the explorer does on a maps-only file).

For the whole ``harvard_01.wav`` (2.23 s, 223 frames) and each method (deeplift with the complete
rule and the zero baseline, deepliftshap with the complete rule and K = 2 shuffled baselines,
saliency), bins at the start, middle and end of the file are timed three ways (median of
``--repeats`` runs, seconds):

* ``one-off``: the engine's weighted sweep over the frames up to the bin
  (:func:`~xai_helpers.attribution.engine.weighted_output_attributions` with a one-hot weight: what
  ``recompute_bin_map`` did before :class:`~xai_helpers.attribution.engine.single.BinSweeper`);
* ``first``: a new :class:`BinSweeper` for the file (forward pass and multipliers of the whole file)
  plus that bin;
* ``next``: another bin of the same frame with the sweeper kept (what each further click costs).

The largest difference between the new and the one-off maps (relative to the map's largest |value|)
is printed too.

    python benchmarks/on_demand.py --threads 2
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from xai_helpers.attribution.engine import weighted_output_attributions  # noqa: E402
from xai_helpers.attribution.engine.single import BinSweeper  # noqa: E402
from xai_helpers.attribution.explain import ExplainConfig, load_segment  # noqa: E402
from xai_helpers.models.cache import cached_model  # noqa: E402
from xai_helpers.models.nsnet2 import NSNet2  # noqa: E402

SAMPLE = REPO / "data" / "samples" / "harvard_01.wav"
CASES = [("deeplift", "zero", 1), ("deepliftshap", "shuffled", 2), ("saliency", "zero", 1)]


def median_seconds(function, repeats: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--f-out", type=int, default=40, help="output frequency bin of the timed bins")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = cached_model(16000, "cpu")
    print(f"{SAMPLE.name}, torch {torch.__version__}, {args.threads} threads, load average {os.getloadavg()[0]:.1f}")
    print(f"{'method':<22} {'bin (f, t)':>12} {'one-off s':>10} {'first s':>9} {'next s':>8} {'max rel diff':>13}")
    for method, baseline, k in CASES:
        config = ExplainConfig(
            method=method, baseline=baseline, n_baselines=k, segment_start_s=0.0, segment_duration_s=None
        )
        segment = load_segment(SAMPLE, config, NSNet2)
        x = segment.features
        b = segment.baselines if method != "saliency" else None
        n_bins, n_frames = x.shape
        for t_out in (0, n_frames // 2, n_frames - 1):
            weights = np.zeros((1, n_bins, t_out + 1), np.float32)
            weights[0, args.f_out, t_out] = 1.0

            def one_off():
                b_cut = None if b is None else b[:, :, : t_out + 1]
                return weighted_output_attributions(
                    model, x[:, : t_out + 1], b_cut, method, weights, "mask", "complete"
                )[0][0]

            def first():
                return BinSweeper(model, x, b, method, "mask", "complete").bin_map(args.f_out, t_out)

            old_s, reference = median_seconds(one_off, args.repeats)
            first_s, _ = median_seconds(first, args.repeats)
            sweeper = BinSweeper(model, x, b, method, "mask", "complete")
            sweeper.bin_map(args.f_out, t_out)
            next_s, new = median_seconds(lambda: sweeper.bin_map(args.f_out + 1, t_out), args.repeats)
            new = sweeper.bin_map(args.f_out, t_out)
            diff = np.abs(new[:, : t_out + 1] - reference).max() / max(np.abs(reference).max(), 1e-30)
            label = f"{method}{' K=%d' % k if method == 'deepliftshap' else ''}"
            print(
                f"{label:<22} {f'({args.f_out}, {t_out})':>12} {old_s:>10.3f} "
                f"{first_s:>9.3f} {next_s:>8.3f} {diff:>13.1e}"
            )
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
