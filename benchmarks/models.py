"""What each model costs on this machine: real-time factor of the enhancer and of one forward pass for attribution,
and Saliency / IntegratedGradients (Captum) on every output bin of a clip.

For each model (``--models``, default all): ``enhance()`` on ``--seconds`` of a bundled sample (best of
``--repeats``), one forward pass of the explained ``mask`` over the clip's frames (what every attribution step runs),
and, on a ``--clip-s`` clip, Captum's Saliency and IntegratedGradients (``--ig-steps``) of every output bin, one output
frame's bins per batched call (the book's Captum path for all bins). Real-time factor = compute time / audio
duration. Threads: ``--threads`` (torch.set_num_threads). Prints one line per figure, with the device.

    python benchmarks/models.py
    python benchmarks/models.py --models gtcrn --clip-s 0.5 --device cuda
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

from xai_helpers.attribution.captum_backend import attribute_targets  # noqa: E402
from xai_helpers.attribution.methods import MethodOptions  # noqa: E402
from xai_helpers.attribution.targets import ExplainedOutputs  # noqa: E402
from xai_helpers.dsp.stft import log_power, stft  # noqa: E402
from xai_helpers.io.audio import load_audio  # noqa: E402
from xai_helpers.models.registry import MODELS, load_model  # noqa: E402

RATE = 16000


def best_of(repeats: int, run) -> float:
    """Fastest of ``repeats`` wall times of ``run()``, s."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def all_bins_seconds(model, features: np.ndarray, phase: np.ndarray, method: str, steps: int, device) -> float:
    """Seconds for ``method`` on every output bin of ``features`` ``[F, T]``: one output frame's bins per call, on the
    input frames up to it (the models are causal, as notebook 02's Captum path uses)."""
    module = ExplainedOutputs(model, "mask", phase=phase).to(device)
    x = torch.as_tensor(features, device=device)
    baselines = torch.full((1, *features.shape), -12.0, device=device)
    n_bins, n_frames = features.shape
    start = time.perf_counter()
    for t in range(n_frames):
        targets = [f * (t + 1) + t for f in range(n_bins)]
        attribute_targets(
            module, x[:, : t + 1], baselines[:, :, : t + 1], method, targets, options=MethodOptions(n_samples=steps)
        )
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--seconds", type=float, default=2.0, help="audio enhanced for the real-time factor, s")
    parser.add_argument("--clip-s", type=float, default=1.0, help="clip explained on all bins, s")
    parser.add_argument("--ig-steps", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    wave = load_audio(sorted((REPO / "data" / "samples").glob("*.wav"))[0], RATE).astype(np.float64)
    wave = np.tile(wave, int(np.ceil(args.seconds * RATE / len(wave))))[: int(args.seconds * RATE)]
    device = torch.device(args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {args.threads} thread(s)"
    print(f"device: {name}; torch {torch.__version__}")
    for model_name in args.models:
        model = load_model(model_name, RATE, device)
        config = model.stft_config(RATE)
        spectrum = stft(wave, config)
        features, phase = log_power(spectrum).astype(np.float32), np.angle(spectrum).astype(np.float32)
        parameters = sum(p.numel() for p in model.parameters())
        enhance_s = best_of(args.repeats, lambda: model.enhance_wave(wave))
        frames = torch.as_tensor(features.T[None], device=device)
        angle = torch.as_tensor(phase.T[None], device=device)

        def forward() -> None:
            with torch.no_grad():
                model.explained(frames, "mask", angle)
                if device.type == "cuda":
                    torch.cuda.synchronize()

        forward_s = best_of(args.repeats, forward)
        clip = features[:, : config.n_frames(int(args.clip_s * RATE))]
        clip_phase = phase[:, : clip.shape[1]]
        print(f"{model_name}: {parameters:,} parameters; STFT {config.n_bins} bins x {config.hop_s * 1000:g} ms")
        print(
            f"  enhance(): {enhance_s:.3f} s for {args.seconds:g} s of audio, "
            f"real-time factor {enhance_s / args.seconds:.4f}"
        )
        print(
            f"  one forward pass (mask, {features.shape[1]} frames): {forward_s:.3f} s, "
            f"real-time factor {forward_s / args.seconds:.4f}"
        )
        for method in ("saliency", "integratedgradients"):
            seconds = all_bins_seconds(model, clip, clip_phase, method, args.ig_steps, device)
            extra = f", {args.ig_steps} steps" if method == "integratedgradients" else ""
            print(
                f"  {method} on all {clip.size:,} bins of {args.clip_s:g} s "
                f"({clip.shape[0]} x {clip.shape[1]}{extra}): "
                f"{seconds:.1f} s"
            )


if __name__ == "__main__":
    main()
