"""Measure: exact Shapley values of a tile grid on notebook 05's burst problem, and how well the methods agree.

For each of ``--files`` bundled samples (the prototype, on notebook 05's old placement: pink noise at 10 dB SNR,
a 0.6 s 3 kHz burst at ``--level`` dB, explained output = the mask summed over 500-1500 Hz during the burst,
zero-signal baseline, the segment from 0.2 s before the burst:
``xai_helpers.experiments.faithfulness.burst_problem`` with its defaults):

* exact Shapley values of a 4 x 3 grid of tiles (bands 0-500-1500-4000-8000 Hz, spans: the context
  and the two halves of the burst), and of the same grid with the burst cut out as a 13th tile;
* the burst's causal effect on the explained output, ``y(with burst) - y(without)``;
* per method and control, the Shapley agreement metrics of ``xai_helpers.experiments.agreement``;
* on the lesioned model (2.5-3.5 kHz blind), each map's false-positive share on the band.

    python benchmarks/shapley_agreement.py --files 2
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from xai_helpers.experiments.agreement import CONTROLS, control_map, shapley_agreement  # noqa: E402
from xai_helpers.io.audio import load_audio  # noqa: E402
from xai_helpers.experiments.faithfulness import (  # noqa: E402
    BenchmarkSettings,
    burst_conditions,
    burst_problem,
    method_map,
    region_problem,
    speech_in_noise,
)
from xai_helpers.models.lesion import band_bins, lesion_change, lesion_false_positive_share, lesioned_model  # noqa: E402
from xai_helpers.models.base import MaskFromLogPower
from xai_helpers.models.nsnet2 import load_nsnet2  # noqa: E402
from xai_helpers.attribution.regions import region_bins  # noqa: E402
from xai_helpers.experiments.shapley import burst_effect, exact_shapley, grid_tiles, with_event  # noqa: E402
from xai_helpers.models.nsnet2 import stft_config  # noqa: E402

METHODS = ("deeplift", "integratedgradients", "gradientshap", "saliency", "inputxgradient")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=2)
    parser.add_argument("--level", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    config = stft_config(16000)
    settings = BenchmarkSettings(levels_db=(args.level,), burst_duration_s=0.6, explained_offset_hz=(-2500.0, -1500.0))
    burst, region = burst_conditions(settings)[0]
    net = load_nsnet2(16000)
    model = MaskFromLogPower(net)
    lesioned = lesioned_model(net)
    lesion = band_bins(net.stft_config(16000))
    rows = []
    for path in sorted((REPO / "data" / "samples").glob("*.wav"))[: args.files]:
        clean = load_audio(path, 16000)
        problem = burst_problem(clean, burst, region, config, settings, args.seed)
        background_seed = int(np.random.SeedSequence(args.seed).generate_state(2)[0])
        quiet = region_problem(
            speech_in_noise(clean, settings.snr_db, background_seed),
            config,
            region,
            settings.context_s,
            settings.baseline,
            seed=args.seed,
        )
        weights = problem.target_bins.astype(np.float64)
        times = problem.times_s
        grid = grid_tiles(
            problem.freqs_hz,
            times,
            [0, 500, 1500, 4000, 8001],
            [times[0] - 0.005, burst.start_s, burst.start_s + burst.duration_s / 2, times[-1] + 0.005],
        )
        began = time.perf_counter()
        exact = exact_shapley(model, problem.features, problem.baselines, grid, weights)
        seconds_12 = time.perf_counter() - began
        began = time.perf_counter()
        event = region_bins(burst.region, problem.freqs_hz, times)
        with_burst_tile = exact_shapley(
            model, problem.features, problem.baselines, with_event(grid, event, "burst"), weights
        )
        seconds_13 = time.perf_counter() - began
        change = exact.output_input - exact.output_baseline
        effect = burst_effect(model, problem.features, quiet.features, weights)
        print(
            f"\n{path.name}: segment {problem.features.shape}, y(x) - y(b) = {change:.2f} (mask units summed), "
            f"efficiency error {exact.efficiency_error:.1e}; k=12 in {seconds_12:.1f} s, k=13 in {seconds_13:.1f} s"
        )
        print(
            f"  burst effect y(x) - y(x without burst) = {effect:.2f} ({100 * effect / change:.1f} % of the change); "
            f"exact Shapley value of the burst tile {with_burst_tile.values[-1]:.2f}"
        )
        print("  phi (12 tiles): " + ", ".join(f"{n} {v:.1f}" for n, v in zip(exact.tiles.names, exact.values)))
        print(
            f"  lesion check: max |mask change| lesioned {lesion_change(lesioned, problem.features, lesion):.1e}, "
            f"intact {lesion_change(net, problem.features, lesion):.1e}"
        )
        maps = {method: method_map(net, problem, method, settings.options(args.seed))[0] for method in METHODS}
        scores = {method: shapley_agreement(maps[method], exact.values, exact.tiles) for method in METHODS}
        best = max(METHODS, key=lambda m: scores[m]["shapley_spearman"])
        for control in CONTROLS:
            maps[control] = control_map(control, problem.features, args.seed, reference=maps[best])
            scores[control] = shapley_agreement(maps[control], exact.values, exact.tiles)
        lesion_maps = {
            method: method_map(lesioned, problem, method, settings.options(args.seed))[0] for method in METHODS
        }
        lesion_maps.update(
            {c: control_map(c, problem.features, args.seed, reference=lesion_maps[best]) for c in CONTROLS}
        )
        for method, values in scores.items():
            rows.append(
                {
                    "sample": path.name,
                    "method": method,
                    **values,
                    "lesion_false_positive_share": lesion_false_positive_share(lesion_maps[method], lesion),
                    "burst_effect": effect,
                    "burst_shapley": with_burst_tile.values[-1],
                    "flipped_of": best,
                }
            )
    frame = pd.DataFrame(rows)
    pd.set_option("display.width", 200)
    print("\nper file:\n" + frame.drop(columns=["burst_effect", "burst_shapley"]).round(3).to_string(index=False))
    metrics = [
        "shapley_spearman",
        "shapley_pearson",
        "shapley_sign_agreement",
        "shapley_l1",
        "shapley_top3",
        "lesion_false_positive_share",
    ]
    print("\nmean over files:\n" + frame.groupby("method", sort=False)[metrics].mean().round(3).to_string())


if __name__ == "__main__":
    main()
