"""Benchmark: per-bin attributions of a whole clip, Captum (one call per output frame) vs
``xai_helpers.attribution.engine``.

Both run in this process on the same input, baseline(s) and targets. Captum is timed on a sample of
``--captum-frames`` output frames spread over the clip and extrapolated to all frames (each Captum
call runs the whole clip, so its cost does not depend on the output frame); the engine computes
every output bin. The sampled frames are compared bin by bin (with ``--rule captum``; the complete
rule differs from Captum by design, so then only the engine's deltas are reported).

``--rule`` picks DeepLIFT's rule for deeplift / deepliftshap; ``--compare-rules`` times the engine
under both rules, alternating ``--repeats`` times back to back (for a ratio on a shared machine);
``--n-baselines`` sets K for deepliftshap (the floor -12, the noise's spectrum, then the noise's
frames shuffled).

    python benchmarks/all_bins.py --seconds 1 --method deeplift --rule captum
    python benchmarks/all_bins.py --seconds 3 --method deeplift --compare-rules --repeats 3
    python benchmarks/all_bins.py --seconds 1 --method deepliftshap --n-baselines 4 --skip-captum
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from xai_helpers.attribution.baselines import make_baselines  # noqa: E402
from xai_helpers.attribution.engine import DEEPLIFT_RULES, ENGINE_METHODS, all_bins_attributions  # noqa: E402
from xai_helpers.dsp.stft import log_power, stft  # noqa: E402
from xai_helpers.models.base import MaskFromLogPower  # noqa: E402
from xai_helpers.models.nsnet2 import load_nsnet2, stft_config  # noqa: E402


def clip_features(seconds: float) -> tuple[np.ndarray, np.ndarray, str]:
    """(noisy log-power [F, T], noise-only log-power [F, T], description) for the first ``seconds``."""
    rng = np.random.default_rng(0)
    paths = sorted((REPO / "data" / "samples").glob("*.wav"))
    if paths:
        from xai_helpers.io.audio import load_audio

        clean = load_audio(paths[0], 16000).astype(np.float64)
        source = f"{paths[0].name} + white noise at 5 dB SNR (seed 0)"
    else:
        t = np.arange(int(16000 * max(seconds, 1.0))) / 16000
        clean = 0.3 * np.sin(2 * np.pi * (200 * t + 1500 * t**2)) * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t))
        source = "synthetic chirp (no bundled samples) + white noise at 5 dB SNR (seed 0)"
    noise = rng.normal(size=clean.shape)
    noise *= np.sqrt(np.mean(clean**2) / np.mean(noise**2) / 10 ** (5 / 10))
    n = int(round(seconds * 16000))
    if n > len(clean):
        reps = -(-n // len(clean))
        clean, noise = np.tile(clean, reps), np.tile(noise, reps)
        source += f", looped x{reps}"
    config = stft_config(16000)
    return log_power(stft((clean + noise)[:n], config)), log_power(stft(noise[:n], config)), source


def make_benchmark_baselines(
    noisy: np.ndarray, noise: np.ndarray, method: str, k: int
) -> tuple[np.ndarray | None, str]:
    """(baselines [K, F, T] float32 or None, description): deeplift the floor -12; deepliftshap the floor,
    the noise's spectrum, then the noise's frames shuffled (seeded), K in all."""
    if method not in ("deeplift", "deepliftshap"):
        return None, "none"
    floor = make_baselines("zero", noisy)
    if method == "deeplift":
        return floor, "log-power floor -12"
    if k < 1:
        raise SystemExit(f"--n-baselines must be >= 1, not {k}")
    parts = [floor, noise[None].astype(np.float32)]
    if k > 2:
        parts.append(make_baselines("noise_frames", noisy, n_baselines=k - 2, seed=0, noise_features=noise))
    return np.concatenate(parts)[:k], f"K={k}: floor -12, the noise's spectrum, then shuffled noise frames"


class PeakMemory:
    """Peak host RSS growth (Linux VmHWM reset via /proc/self/clear_refs, else ru_maxrss delta) and CUDA peak."""

    def __init__(self, device: torch.device) -> None:
        self.device = device

    @staticmethod
    def _status(key: str) -> int | None:
        try:
            for line in Path("/proc/self/status").read_text().splitlines():
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024
        except OSError:
            pass
        return None

    def __enter__(self) -> "PeakMemory":
        self.exact = False
        try:
            Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS
            self.exact = True
        except OSError:
            pass
        self.start_rss = self._status("VmRSS") or 0
        self.start_max = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self.cuda_start = torch.cuda.memory_allocated(self.device)
        return self

    def __exit__(self, *exc) -> None:
        if self.exact and self._status("VmHWM") is not None:
            self.host = self._status("VmHWM") - self.start_rss
        else:
            self.host = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - self.start_max
        self.cuda = None
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            self.cuda = torch.cuda.max_memory_allocated(self.device) - self.cuda_start

    def text(self) -> str:
        how = "peak RSS growth" if self.exact else "ru_maxrss growth (0 if below an earlier peak)"
        out = f"{how} {self.host / 2**20:.0f} MiB"
        if self.cuda is not None:
            out += f", CUDA peak allocated {self.cuda / 2**20:.0f} MiB"
        return out


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def captum_frames(model, x, baselines, method, target, frames, device):
    """Captum's attributions [F_out, len(frames), F_in, T] and seconds per call."""
    from captum.attr import DeepLift, DeepLiftShap, InputXGradient, Saliency

    algorithm = {
        "deeplift": DeepLift,
        "deepliftshap": DeepLiftShap,
        "saliency": Saliency,
        "inputxgradient": InputXGradient,
    }[method](MaskFromLogPower(model, target))
    n_bins = x.shape[0]
    inputs = x[None].repeat(n_bins, 1, 1)
    out, seconds = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for t_out in frames:
            targets = [(f, t_out) for f in range(n_bins)]
            sync(device)
            start = time.perf_counter()
            if method == "deeplift":
                result = algorithm.attribute(inputs, baselines=baselines.repeat(n_bins, 1, 1), target=targets)
            elif method == "deepliftshap":
                result = algorithm.attribute(inputs, baselines=baselines, target=targets)
            else:
                result = algorithm.attribute(inputs, target=targets)
            sync(device)
            seconds.append(time.perf_counter() - start)
            out.append(result.detach().cpu().numpy())
    return np.stack(out, axis=1), seconds


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="clip length in seconds (default 1.0)")
    parser.add_argument("--method", choices=ENGINE_METHODS, default="deeplift")
    parser.add_argument("--target", choices=("mask", "logit"), default="mask")
    parser.add_argument(
        "--captum-frames", type=int, default=5, help="output frames Captum is timed on, extrapolated (default 5)"
    )
    parser.add_argument("--skip-captum", action="store_true", help="time the engine only")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--frames-per-chunk", type=int, default=8)
    parser.add_argument("--max-lookback-frames", type=int, default=None)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--rule", choices=DEEPLIFT_RULES, default="complete", help="DeepLIFT's rule (default complete)")
    parser.add_argument("--compare-rules", action="store_true", help="time the engine under both rules, alternating")
    parser.add_argument("--repeats", type=int, default=3, help="runs per rule with --compare-rules (default 3)")
    parser.add_argument("--n-baselines", type=int, default=2, help="K for deepliftshap (default 2)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    device = torch.device(args.device)
    model = load_nsnet2(16000, device)
    noisy, noise, source = clip_features(args.seconds)
    n_bins, n_frames = noisy.shape
    x = torch.tensor(noisy, dtype=torch.float32, device=device)
    baselines, baseline_text = make_benchmark_baselines(noisy, noise, args.method, args.n_baselines)
    baselines = None if baselines is None else torch.tensor(baselines, device=device)
    print(
        f"input: {source}; {args.seconds:g} s = {n_frames} frames x {n_bins} bins; device {device}, "
        f"torch threads {torch.get_num_threads()}"
    )
    print(
        f"method {args.method}, target {args.target}, baseline: {baseline_text}, "
        f"frames_per_chunk {args.frames_per_chunk}, max_lookback_frames {args.max_lookback_frames}"
    )

    sample = sorted(
        set(np.linspace(0, n_frames - 1, max(1, min(args.captum_frames, n_frames))).round().astype(int).tolist())
    )
    # Warm-up (allocator, BLAS threads) on a short prefix.
    for _ in all_bins_attributions(
        model, x[:, :4], None if baselines is None else baselines[:, :, :4], args.method, args.target
    ):
        pass

    def run_engine(rule: str) -> tuple[float, dict, float | None, PeakMemory]:
        """Seconds, the sampled output frames' maps, max |delta| and memory of one engine run."""
        kept, max_delta = {}, None
        with PeakMemory(device) as memory:
            sync(device)
            start = time.perf_counter()
            for chunk in all_bins_attributions(
                model,
                x,
                baselines,
                args.method,
                args.target,
                args.frames_per_chunk,
                args.max_lookback_frames,
                rule=rule,
            ):
                for t_out in sample:
                    if chunk.t_out.start <= t_out < chunk.t_out.stop:
                        kept[t_out] = chunk.attributions[:, t_out - chunk.t_out.start].copy()
                if chunk.deltas is not None:
                    max_delta = max(max_delta or 0.0, float(np.abs(chunk.deltas).max()))
            sync(device)
            seconds = time.perf_counter() - start
        return seconds, kept, max_delta, memory

    out_bins = n_bins * n_frames
    if args.compare_rules:
        times = {rule: [] for rule in ("captum", "complete")}
        for repeat in range(args.repeats):
            for rule in times:
                seconds, _, max_delta, memory = run_engine(rule)
                times[rule].append(seconds)
                print(f"run {repeat + 1}, rule {rule}: {seconds:.2f} s, max |delta| {max_delta:.2e}; {memory.text()}")
        ratios = [b / a for a, b in zip(times["captum"], times["complete"])]
        print(
            f"complete / captum time, per back-to-back pair: {', '.join(f'{r:.2f}' for r in ratios)}; "
            f"median {np.median(ratios):.2f}; min-time ratio {min(times['complete']) / min(times['captum']):.2f}"
        )
        return
    engine_seconds, kept, max_delta, engine_memory = run_engine(args.rule)
    print(
        f"engine (rule {args.rule}): {engine_seconds:.2f} s for all {n_frames} output frames ({out_bins} output bins, "
        f"{out_bins / engine_seconds:.0f} bins/s, {engine_seconds / n_frames * 1e3:.1f} ms per output frame); "
        f"{engine_memory.text()}" + ("" if max_delta is None else f"; max |delta| {max_delta:.2e}")
    )
    if args.skip_captum:
        return

    # Warm-up call (first-call allocations, oneDNN primitives) on a short prefix, not timed.
    captum_frames(
        model, x[:, :4], None if baselines is None else baselines[:, :, :4], args.method, args.target, [3], device
    )
    with PeakMemory(device) as captum_memory:
        reference, seconds = captum_frames(model, x, baselines, args.method, args.target, sample, device)
    per_frame = float(np.mean(seconds))
    captum_seconds = per_frame * n_frames
    print(
        f"captum: {per_frame:.2f} s per output frame (mean of {len(sample)} sampled frames {sample}: "
        f"{', '.join(f'{s:.2f}' for s in seconds)} s), EXTRAPOLATED to {n_frames} frames: {captum_seconds:.0f} s "
        f"({out_bins / captum_seconds:.1f} bins/s); {captum_memory.text()}"
    )
    engine_sampled = np.stack([kept[t] for t in sample], axis=1)
    error = np.abs(engine_sampled - reference).max() / np.abs(reference).max()
    print(f"speed-up: {captum_seconds / engine_seconds:.1f}x (Captum extrapolated / engine measured)")
    differs = (
        " (the complete rule differs from Captum's by design)"
        if args.rule == "complete" and baselines is not None
        else ""
    )
    print(
        f"max |engine - captum| / max |captum| on the {len(sample)} sampled output frames (all {n_bins} bins each): "
        f"{error:.2e}{differs}"
    )


if __name__ == "__main__":
    main()
