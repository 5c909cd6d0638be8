"""Benchmark: the generic DeepLIFT engine (:mod:`xai_helpers.attribution.deeplift`) on NSNet2, DTLN and GTCRN.

Sections (each prints its figures; pick with ``--only``):

* ``maps``: all-bins maps (:func:`~xai_helpers.attribution.deeplift.all_bins_maps`) of complete DeepLift (the
  log-power floor -12 as baseline) on a ``--seconds`` clip, for each of ``--models``; on NSNet2 also the hand
  engine (:func:`~xai_helpers.attribution.engine.all_bins_maps`, complete rule), the generic engine with
  ``rule="captum"``, and Captum's ``DeepLift`` on all bins, timed on ``--captum-frames`` output frames (one call
  per frame, every bin of it a target) and extrapolated to all frames.
* ``saliency``: the generic engine's Saliency maps against plain ``torch.func`` on the original model (``vjp`` of
  the whole clip, ``vmap`` over one-hot cotangents), timed on ``--func-frames`` output frames' bins and
  extrapolated to every bin.
* ``whole``: a whole bundled file (``harvard_01.wav``, 2.23 s) as maps (complete DeepLift, floor baseline) for
  ``--whole-models``: seconds and peak memory.

Input: ``harvard_01.wav`` plus white noise at 5 dB SNR (seed 0), each model's own STFT. Wall and CPU seconds
(on a shared machine the CPU seconds say what the work costs), peak RSS growth (CUDA peak on a GPU).

    python benchmarks/generic_engine.py --threads 1
    python benchmarks/generic_engine.py --only whole --whole-models gtcrn --device cuda
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from all_bins import PeakMemory, captum_frames, sync  # noqa: E402

from xai_helpers.attribution import deeplift, engine  # noqa: E402
from xai_helpers.dsp.stft import log_power, stft  # noqa: E402
from xai_helpers.io.audio import load_audio  # noqa: E402
from xai_helpers.models.base import MaskFromLogPower  # noqa: E402
from xai_helpers.models.registry import load_model  # noqa: E402

SAMPLE = REPO / "data" / "samples" / "harvard_01.wav"


def noisy_wave(seconds: float | None) -> np.ndarray:
    """``harvard_01.wav`` (its first ``seconds``; all of it for ``None``) plus white noise at 5 dB SNR (seed 0)."""
    clean = load_audio(SAMPLE, 16000).astype(np.float64)
    clean = clean if seconds is None else clean[: int(round(seconds * 16000))]
    noise = np.random.default_rng(0).normal(size=clean.shape)
    noise *= np.sqrt(np.mean(clean**2) / np.mean(noise**2) / 10 ** (5 / 10))
    return clean + noise


def features(model, wave: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(log power [F, T] float32, floor baseline [1, F, T], phase [F, T]) in the model's STFT."""
    spectrum = stft(wave, model.stft_config(16000))
    x = log_power(spectrum).astype(np.float32)
    return x, np.full_like(x, -12.0)[None], np.angle(spectrum)


def timed(function, device: torch.device):
    """(result, wall seconds, CPU seconds, PeakMemory) of ``function()``."""
    sync(device)
    with PeakMemory(device) as memory:
        wall, cpu = time.perf_counter(), time.process_time()
        result = function()
        sync(device)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return result, wall, cpu, memory


def generic_maps(model, x, b, phase, args, method="deeplift", rule="complete"):
    return deeplift.all_bins_maps(model, x, b, method, frames_per_chunk=args.frames_per_chunk, rule=rule, phase=phase)


def maps_section(args, device: torch.device) -> None:
    wave = noisy_wave(args.seconds)
    for name in args.models:
        model = load_model(name, device=device)
        x, b, phase = features(model, wave)
        (_, deltas), wall, cpu, memory = timed(lambda: generic_maps(model, x, b, phase, args), device)
        print(
            f"[maps] {name}: {x.shape[1]} frames x {x.shape[0]} bins; generic complete DeepLift maps {wall:.1f} s "
            f"wall ({cpu:.1f} s CPU), max |delta| {np.abs(deltas).max():.1e}, {memory.text()}",
            flush=True,
        )
        if name != "nsnet2":
            continue
        (_, deltas), wall, cpu, memory = timed(
            lambda: engine.all_bins_maps(model, x, b, "deeplift", frames_per_chunk=args.frames_per_chunk), device
        )
        print(
            f"[maps] nsnet2: hand engine complete DeepLift maps {wall:.1f} s wall ({cpu:.1f} s CPU), max |delta| "
            f"{np.abs(deltas).max():.1e}, {memory.text()}",
            flush=True,
        )
        _, wall, cpu, memory = timed(lambda: generic_maps(model, x, b, phase, args, rule="captum"), device)
        print(
            f"[maps] nsnet2: generic rule='captum' DeepLift maps {wall:.1f} s wall ({cpu:.1f} s CPU), {memory.text()}",
            flush=True,
        )
        frames = np.linspace(0, x.shape[1] - 1, args.captum_frames).round().astype(int).tolist()
        with torch.backends.cudnn.flags(enabled=False):  # cuDNN's fused GRU has no backward in eval mode
            _, seconds = captum_frames(
                model,
                torch.tensor(x, device=device),
                torch.tensor(b, device=device),
                "deeplift",
                "mask",
                frames,
                device,
            )
        print(
            f"[maps] nsnet2: Captum DeepLift {np.mean(seconds):.2f} s per output frame ({x.shape[0]} targets per "
            f"call, measured on {len(frames)} frames) -> {np.mean(seconds) * x.shape[1]:.0f} s extrapolated to all "
            f"{x.shape[1]} frames",
            flush=True,
        )


def saliency_section(args, device: torch.device) -> None:
    wave = noisy_wave(args.seconds)
    for name in args.models:
        model = load_model(name, device=device)
        x, _, phase = features(model, wave)
        n_bins, n_frames = x.shape
        _, wall, cpu, memory = timed(lambda: generic_maps(model, x, None, phase, args, method="saliency"), device)
        print(
            f"[saliency] {name}: generic engine all {n_bins * n_frames} bins {wall:.1f} s wall ({cpu:.1f} s CPU), "
            f"{memory.text()}",
            flush=True,
        )
        explained = MaskFromLogPower(model, "mask", phase)
        inputs = torch.tensor(x, device=device)[None]
        rows = args.func_frames * n_bins
        cotangents = torch.zeros((rows, 1, n_bins, n_frames), device=device)
        index = torch.arange(rows, device=device)
        cotangents[index, 0, index % n_bins, n_frames - 1 - index // n_bins] = 1.0

        def func() -> torch.Tensor:
            _, vjp = torch.func.vjp(explained, inputs)
            return torch.func.vmap(vjp)(cotangents)[0].abs()

        with torch.backends.cudnn.flags(enabled=False):  # fused RNN backward under vmap: no cuDNN
            _, wall, cpu, memory = timed(func, device)
        print(
            f"[saliency] {name}: torch.func vjp + vmap, whole clip, {rows} bins (last {args.func_frames} frames) "
            f"{wall:.1f} s wall ({cpu:.1f} s CPU) -> {wall / rows * n_bins * n_frames:.0f} s extrapolated to all "
            f"bins, {memory.text()}",
            flush=True,
        )


def whole_section(args, device: torch.device) -> None:
    wave = noisy_wave(None)
    for name in args.whole_models:
        model = load_model(name, device=device)
        x, b, phase = features(model, wave)
        (maps, deltas), wall, cpu, memory = timed(lambda: generic_maps(model, x, b, phase, args), device)
        print(
            f"[whole] {name}: {SAMPLE.name} {len(wave) / 16000:.2f} s = {x.shape[1]} frames x {x.shape[0]} bins; "
            f"complete DeepLift maps {wall:.0f} s wall ({cpu:.0f} s CPU), max |delta| {np.abs(deltas).max():.1e}, "
            f"{memory.text()}",
            flush=True,
        )


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("maps", "saliency", "whole"), nargs="*", default=None)
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--seconds", type=float, default=1.0, help="clip length of maps and saliency (default 1)")
    parser.add_argument("--models", nargs="*", default=["nsnet2", "dtln", "gtcrn"])
    parser.add_argument("--whole-models", nargs="*", default=["dtln", "gtcrn"])
    parser.add_argument("--frames-per-chunk", type=int, default=8)
    parser.add_argument("--captum-frames", type=int, default=3, help="output frames Captum is timed on (default 3)")
    parser.add_argument("--func-frames", type=int, default=2, help="output frames torch.func is timed on (default 2)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    print(f"device {device}, torch threads {torch.get_num_threads()}, load average {os.getloadavg()[0]:.1f} (1 min)")
    sections = args.only or ["maps", "saliency", "whole"]
    if "maps" in sections:
        maps_section(args, device)
    if "saliency" in sections:
        saliency_section(args, device)
    if "whole" in sections:
        whole_section(args, device)


if __name__ == "__main__":
    main()
