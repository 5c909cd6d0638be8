"""Benchmark: whole files as influence maps (``store="maps"``), the engine's maps mode against Captum,
the cost of a test set, and the compression of ``store="full"`` files.

Sections (each prints its figures; pick with ``--only``):

* ``whole``: a whole bundled file (``harvard_01.wav``, 2.23 s) through
  :func:`~xai_helpers.attribution.explain.explain_file` in maps mode, end to end (notebook 02's
  defaults: deepliftshap, zero baseline, engine), with the engine's maps alone on the same features
  (:func:`~xai_helpers.attribution.engine.all_bins_maps`) to say what limits it; the ``.h5`` size; and the
  projected cost of an ``--n-files`` test set of ``--file-seconds`` each (time scaled by ``T^2``,
  the engine's cost; disk linear in ``T``).
* ``chunks``: :func:`~xai_helpers.attribution.engine.all_bins_maps` on a ``--chunk-seconds`` clip for each of
  ``--chunk-sizes`` frames per chunk (wall and CPU seconds), to choose ``frames_per_chunk``.
* ``captum``: :func:`~xai_helpers.attribution.engine.all_bins_maps` against Captum (one call per output
  frame, timed on ``--captum-frames`` frames and extrapolated) on ``--seconds`` clips.
* ``compression``: the 4-D tensor of a ``--full-seconds`` segment written with gzip and with
  ``hdf5plugin``'s Blosc2 (LZ4, Zstd) filters: write seconds, MB and read-back check.

    python benchmarks/maps.py --threads 2
    python benchmarks/maps.py --only chunks --chunk-sizes 4 8 16 --threads 1
    python benchmarks/maps.py --only captum --seconds 1 3 --device cuda
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from all_bins import captum_frames, clip_features, make_benchmark_baselines, sync  # noqa: E402

from xai_helpers.attribution.engine import all_bins_attributions, all_bins_maps, concatenate_chunks  # noqa: E402
from xai_helpers.attribution.explain import ExplainConfig, explain_file, load_segment  # noqa: E402
from xai_helpers.models.nsnet2 import NSNet2, load_nsnet2  # noqa: E402

SAMPLE = REPO / "data" / "samples" / "harvard_01.wav"


def _clock() -> tuple[float, float]:
    """(wall seconds, this process's CPU seconds): on a shared machine CPU seconds say what the work costs."""
    return time.perf_counter(), time.process_time()


def _since(start: tuple[float, float]) -> tuple[float, float]:
    now = _clock()
    return now[0] - start[0], now[1] - start[1]


def whole_file(args, device: torch.device) -> None:
    config = ExplainConfig(
        method="deepliftshap",
        baseline="zero",
        segment_start_s=0.0,
        segment_duration_s=None,
        store="maps",
        frames_per_chunk=args.frames_per_chunk,
    )
    segment = load_segment(SAMPLE, config, NSNet2)
    n_frames = segment.features.shape[1]
    with tempfile.TemporaryDirectory() as folder:
        start = _clock()
        result = explain_file(SAMPLE, folder, config, device=str(device), progress=False)
        seconds, cpu = _since(start)
        size = result.path.stat().st_size
    model = load_nsnet2(16000, device)
    x = torch.tensor(segment.features, device=device)
    b = torch.tensor(segment.baselines, device=device)
    sync(device)
    start = _clock()
    all_bins_maps(model, x, b, "deepliftshap", frames_per_chunk=args.frames_per_chunk, rule=config.deeplift_rule)
    sync(device)
    engine, engine_cpu = _since(start)
    print(
        f"[whole] {SAMPLE.name}: {n_frames * segment.stft.hop_s:.2f} s = {n_frames} frames; explain_file store='maps' "
        f"end to end {seconds:.1f} s wall ({cpu:.1f} s CPU) on {device}; "
        f"engine maps alone (all_bins_maps) {engine:.1f} s wall "
        f"({engine_cpu:.1f} s CPU); the rest (model load, features, mask, writing) {seconds - engine:.1f} s; "
        f".h5 {size / 1e6:.2f} MB"
    )
    scale = (args.file_seconds / (n_frames * segment.stft.hop_s)) ** 2
    hours = args.n_files * seconds * scale / 3600
    disk = args.n_files * size * args.file_seconds / (n_frames * segment.stft.hop_s)
    print(
        f"[whole] projected {args.n_files} files x {args.file_seconds:g} s: {hours:.1f} h on this device "
        f"(time scaled by T^2 from this file), {disk / 1e9:.2f} GB of maps (linear in T)"
    )


def chunk_sizes(args, device: torch.device) -> None:
    """``all_bins_maps`` on a ``--chunk-seconds`` clip for each of ``--chunk-sizes`` frames per chunk (CPU seconds
    are the figure to compare on a shared machine)."""
    model = load_nsnet2(16000, device)
    config = ExplainConfig(
        method="deepliftshap", baseline="zero", segment_start_s=0.0, segment_duration_s=args.chunk_seconds
    )
    segment = load_segment(SAMPLE, config, NSNet2)
    x = torch.tensor(segment.features, device=device)
    b = torch.tensor(segment.baselines, device=device)
    for n in args.chunk_sizes:
        sync(device)
        start = _clock()
        all_bins_maps(model, x, b, "deepliftshap", frames_per_chunk=n, rule=config.deeplift_rule)
        sync(device)
        wall, cpu = _since(start)
        print(f"[chunks] {x.shape[1]} frames, frames_per_chunk {n:3d}: {wall:6.1f} s wall, {cpu:6.1f} s CPU")


def versus_captum(args, device: torch.device) -> None:
    model = load_nsnet2(16000, device)
    for seconds in args.seconds:
        noisy, noise, _ = clip_features(seconds)
        n_bins, n_frames = noisy.shape
        b_np, _ = make_benchmark_baselines(noisy, noise, "deeplift", 1)
        x = torch.tensor(noisy, dtype=torch.float32, device=device)
        b = torch.tensor(b_np, device=device)
        all_bins_maps(model, x[:, :4], b[:, :, :4], "deeplift", rule="captum")  # warm-up
        sync(device)
        start = time.perf_counter()
        all_bins_maps(model, x, b, "deeplift", frames_per_chunk=args.frames_per_chunk, rule="captum")
        sync(device)
        engine = time.perf_counter() - start
        frames = sorted(set(np.linspace(0, n_frames - 1, args.captum_frames).round().astype(int).tolist()))
        _, per_call = captum_frames(model, x, b, "deeplift", "mask", frames, device)
        captum = float(np.mean(per_call)) * n_frames
        print(
            f"[captum] deeplift, {seconds:g} s ({n_frames} frames), {device}, load {os.getloadavg()[0]:.1f}: "
            f"engine maps {engine:.2f} s, "
            f"Captum {captum:.1f} s (extrapolated from {len(frames)} frames), ratio {captum / engine:.0f}x"
        )


def compression(args) -> None:
    import hdf5plugin

    model = load_nsnet2(16000)
    noisy, noise, _ = clip_features(args.full_seconds)
    b, _ = make_benchmark_baselines(noisy, noise, "deeplift", 1)
    a, _ = concatenate_chunks(all_bins_attributions(model, noisy, b, "deeplift", rule="captum"))
    f_out, t_out, f_in, t_in = a.shape
    filters = {
        "gzip 4 + shuffle": dict(compression="gzip", compression_opts=4, shuffle=True),
        "Blosc2 LZ4 5 + shuffle": hdf5plugin.Blosc2(cname="lz4", clevel=5, filters=hdf5plugin.Blosc2.SHUFFLE),
        "Blosc2 Zstd 3 + shuffle": hdf5plugin.Blosc2(cname="zstd", clevel=3, filters=hdf5plugin.Blosc2.SHUFFLE),
        "LZ4": hdf5plugin.LZ4(),
        "Zstd 3": hdf5plugin.Zstd(clevel=3),
    }
    print(
        f"[compression] 4-D tensor of {args.full_seconds:g} s: {a.shape}, {a.nbytes / 1e6:.0f} MB raw float32; "
        f"chunks of one output frame ({f_out} x 1 x {f_in} x {t_in})"
    )
    with tempfile.TemporaryDirectory() as folder:
        for name, options in filters.items():
            path = Path(folder) / "x.h5"
            start = time.perf_counter()
            with h5py.File(path, "w") as file:
                dataset = file.create_dataset(
                    "a", shape=a.shape, dtype=np.float32, chunks=(f_out, 1, f_in, t_in), **options
                )
                for t in range(t_out):
                    dataset[:, t : t + 1] = a[:, t : t + 1]
            write = time.perf_counter() - start
            start = time.perf_counter()
            with h5py.File(path, "r") as file:
                back = file["a"][()]
            read = time.perf_counter() - start
            assert np.array_equal(back, a)
            print(
                f"[compression] {name:24s} write {write:6.2f} s ({a.nbytes / 1e6 / write:6.0f} MB/s), "
                f"read {read:5.2f} s, "
                f"{path.stat().st_size / 1e6:7.1f} MB ({a.nbytes / path.stat().st_size:.2f}x)"
            )
            path.unlink()


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("whole", "chunks", "captum", "compression"), nargs="*", default=None)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--frames-per-chunk", type=int, default=8)
    parser.add_argument("--chunk-sizes", type=int, nargs="*", default=[4, 8, 12, 16])
    parser.add_argument("--chunk-seconds", type=float, default=1.0)
    parser.add_argument("--seconds", type=float, nargs="*", default=[1.0, 3.0])
    parser.add_argument("--captum-frames", type=int, default=3)
    parser.add_argument("--full-seconds", type=float, default=0.5)
    parser.add_argument("--n-files", type=int, default=824)
    parser.add_argument("--file-seconds", type=float, default=2.5)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    print(f"device {device}, torch threads {torch.get_num_threads()}, load average {os.getloadavg()[0]:.1f} (1 min)")
    sections = args.only or ["whole", "captum", "compression"]
    if "whole" in sections:
        whole_file(args, device)
    if "chunks" in sections:
        chunk_sizes(args, device)
    if "captum" in sections:
        versus_captum(args, device)
    if "compression" in sections:
        compression(args)


if __name__ == "__main__":
    main()
