"""PESQ (wide band), STOI and SI-SDR of noisy and enhanced speech over the bundled samples, for each model.

Two conditions per file: pink noise mixed at ``--snr-db`` (``xai_helpers.dsp.noise.registry.inject_noise``) and a
simulated room of ``--rt60-s`` (``xai_helpers.dsp.noise.room.reverberate_in_room``, default room and
distance). Every score is against the clean file; prints, per model (``--models``, default all registered), one
row per file and condition, then the means over files, and the wall time of each stage.

    python benchmarks/quality_table.py
    python benchmarks/quality_table.py --models dtln gtcrn --snr-db 0 --rt60-s 1.0 --seed 3
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from xai_helpers.io.audio import load_audio  # noqa: E402
from xai_helpers.models.enhance import enhance  # noqa: E402
from xai_helpers.models.registry import MODELS  # noqa: E402
from xai_helpers.dsp.metrics import pesq, si_sdr, stoi  # noqa: E402
from xai_helpers.dsp.noise.registry import inject_noise  # noqa: E402
from xai_helpers.dsp.noise.room import reverberate_in_room  # noqa: E402

RATE = 16000
METRICS = {"PESQ": pesq, "STOI": stoi, "SI-SDR": lambda reference, degraded, rate, source: si_sdr(degraded, reference)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=Path, default=REPO / "data" / "samples")
    parser.add_argument("--snr-db", type=float, default=5.0)
    parser.add_argument("--rt60-s", type=float, default=0.6)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    args = parser.parse_args()
    for model in args.models:
        print(f"\n=== {model}")
        table(args, model)


def table(args: argparse.Namespace, model: str) -> None:
    """Score every bundled file in both conditions with ``model`` and print the rows, the means and the timings."""
    timings = {"room": 0.0, "enhance": 0.0, "metrics": 0.0}
    rows = []  # (file, condition, {metric: (noisy, enhanced)})
    for path in sorted(args.samples.glob("*.wav")):
        clean = load_audio(path, RATE).astype(np.float64)
        pink = inject_noise(clean, RATE, "pink_snr", snr_db=args.snr_db, seed=args.seed)[0].noisy
        start = time.perf_counter()
        room, _, info = reverberate_in_room(clean, RATE, args.rt60_s, args.seed)
        timings["room"] += time.perf_counter() - start
        conditions = {
            f"pink {args.snr_db:g} dB": pink,
            f"room {args.rt60_s:g} s (T20 {info['rt60_measured_s']:.2f})": room,
        }
        for condition, noisy in conditions.items():
            start = time.perf_counter()
            enhanced = enhance(noisy, RATE, model=model).astype(np.float64)
            timings["enhance"] += time.perf_counter() - start
            start = time.perf_counter()
            scores = {
                name: (metric(clean, noisy, RATE, source=path.name), metric(clean, enhanced, RATE, source=path.name))
                for name, metric in METRICS.items()
            }
            timings["metrics"] += time.perf_counter() - start
            rows.append((path.stem, condition, scores))

    header = f"{'file':<12} {'condition':<26}" + "".join(
        f" {name + ' noisy':>13} {'enhanced':>9} {'gain':>7}" for name in METRICS
    )
    print(header)
    for stem, condition, scores in rows:
        print(f"{stem:<12} {condition:<26}" + "".join(f" {n:13.3f} {e:9.3f} {e - n:+7.3f}" for n, e in scores.values()))
    print("\nmean over files")
    for condition_prefix in ("pink", "room"):
        selected = [scores for _, condition, scores in rows if condition.startswith(condition_prefix)]
        means = {name: np.mean([s[name] for s in selected], axis=0) for name in METRICS}
        print(
            f"{'mean':<12} {condition_prefix:<26}"
            + "".join(f" {n:13.3f} {e:9.3f} {e - n:+7.3f}" for n, e in means.values())
        )
    print("\nwall time (s): " + ", ".join(f"{stage} {seconds:.1f}" for stage, seconds in timings.items()))


if __name__ == "__main__":
    main()
