"""Measure: DeepLIFT's summation-to-delta under both rules on the bundled samples, every output bin.

For each of the first ``--files`` bundled utterances (clean, and with white noise at 5 dB SNR, seeded),
the segment ``--start`` s + ``--duration`` s is explained with DeepLift (the zero-signal baseline, the
log-power floor -12) by the engine under ``rule="captum"`` and ``rule="complete"``; the script prints
the median and max |delta| (sum of attributions minus ``f(x) - f(b)``) over all output bins.

    python benchmarks/deeplift_deltas.py --files 4 --target mask
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from xai_helpers.io.audio import load_audio  # noqa: E402
from xai_helpers.attribution.baselines import make_baselines  # noqa: E402
from xai_helpers.attribution.engine import DEEPLIFT_RULES, all_bins_attributions, concatenate_chunks  # noqa: E402
from xai_helpers.models.nsnet2 import load_nsnet2  # noqa: E402
from xai_helpers.dsp.stft import log_power, stft
from xai_helpers.models.nsnet2 import stft_config  # noqa: E402


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=4, help="bundled samples used (default 4)")
    parser.add_argument("--start", type=float, default=0.5, help="segment start, s (default 0.5, notebook 02's)")
    parser.add_argument("--duration", type=float, default=0.2, help="segment length, s (default 0.2, notebook 02's)")
    parser.add_argument("--target", choices=("mask", "logit"), default="mask")
    args = parser.parse_args(argv)

    model = load_nsnet2(16000)
    config = stft_config(16000)
    first, count = int(round(args.start / config.hop_s)), int(round(args.duration / config.hop_s))
    deltas = {(rule, kind): [] for rule in DEEPLIFT_RULES for kind in ("clean", "noisy")}
    for path in sorted((REPO / "data" / "samples").glob("*.wav"))[: args.files]:
        clean = load_audio(path, 16000).astype(np.float64)
        noise = np.random.default_rng(0).normal(size=clean.shape)
        noise *= np.sqrt(np.mean(clean**2) / np.mean(noise**2) / 10 ** (5 / 10))
        for kind, wave in (("clean", clean), ("noisy", clean + noise)):
            features = log_power(stft(wave, config))[:, first : first + count].astype(np.float32)
            baseline = make_baselines("zero", features)
            for rule in DEEPLIFT_RULES:
                _, d = concatenate_chunks(
                    all_bins_attributions(model, features, baseline, "deeplift", args.target, rule=rule)
                )
                deltas[rule, kind].append(np.abs(d))
                print(
                    f"{path.name} {kind:5s} rule {rule:8s}: |delta| median {np.median(np.abs(d)):.2e}, "
                    f"max {np.abs(d).max():.2e}"
                )
    print(
        f"\nDeepLift, zero-signal baseline, target {args.target}, {args.files} files, segment {args.start:g} s + "
        f"{args.duration:g} s ({count} frames), all {features.shape[0] * count} output bins per file:"
    )
    for (rule, kind), values in deltas.items():
        values = np.concatenate([v.ravel() for v in values])
        print(
            f"  rule {rule:8s} {kind:5s}: |delta| median {np.median(values):.2e}, max {values.max():.2e} "
            f"({args.target} units, {values.size} output bins)"
        )


if __name__ == "__main__":
    main()
