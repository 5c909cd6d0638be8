"""Influence maps streamed from the engine against the same maps of the dense 4-D tensor, and the cuDNN-off path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from xai_helpers.analysis.influence import frame_correlation
from xai_helpers.attribution.engine import all_bins_attributions, all_bins_maps, concatenate_chunks
from xai_helpers.attribution.maps import MAP_DIMS, MapAccumulator
from xai_helpers.dsp.stft import log_power, stft
from xai_helpers.io.audio import load_audio
from xai_helpers.models.nsnet2 import load_nsnet2, stft_config

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "samples" / "harvard_01.wav"
FRAMES = slice(60, 76)
RTOL = 1e-5


@pytest.fixture(scope="module")
def model():
    return load_nsnet2(16000)


@pytest.fixture(scope="module")
def clip():
    """(features [F, T], baselines [2, F, T]) of 16 frames of a bundled sample."""
    features = log_power(stft(load_audio(SAMPLE, 16000), stft_config(16000)))[:, FRAMES].astype(np.float32)
    rng = np.random.default_rng(3)
    baselines = np.stack(
        [np.full_like(features, -12.0), features + rng.normal(0, 1.0, features.shape).astype(np.float32)]
    )
    return features, baselines


def reference_maps(a: np.ndarray) -> dict[str, np.ndarray]:
    """Every map of :data:`MAP_DIMS` written directly with numpy from a 4-D tensor ``[f_out, t_out, f_in, t_in]``."""
    a = a.astype(np.float64)
    out = {"output_totals": np.abs(a).sum(axis=(2, 3))}
    for kind, values in (("abs", np.abs(a)), ("signed", a)):
        vectors = values.sum(axis=2).reshape(-1, a.shape[3])  # [f_out * t_out, t_in]
        out |= {
            f"global_{kind}": values.sum(axis=(0, 1)),
            f"time_{kind}": values.sum(axis=(0, 2)),
            f"freq_{kind}": values.sum(axis=(1, 3)),
            f"frame_gram_{kind}": vectors.T @ vectors,
            f"frame_sum_{kind}": vectors.sum(axis=0),
            f"frame_peak_{kind}": np.abs(vectors).max(axis=0),
        }
    out["global_positive"] = np.clip(a, 0, None).sum(axis=(0, 1))
    out["global_negative"] = np.clip(a, None, 0).sum(axis=(0, 1))
    return out


def assert_close(actual, expected, name):
    scale = max(np.abs(expected).max(), 1e-30)
    assert np.abs(actual - expected).max() <= RTOL * scale, (
        f"{name}: max diff {np.abs(actual - expected).max():.3g}, scale {scale:.3g}"
    )


@pytest.mark.parametrize(
    "method,rule,k",
    [
        ("deepliftshap", "complete", 2),
        ("deepliftshap", "captum", 2),
        ("deeplift", "complete", 1),
        ("saliency", "complete", 0),
    ],
)
def test_streamed_maps_equal_the_dense_tensor(model, clip, method, rule, k):
    features, baselines = clip
    b = baselines[:k] if k else None
    dense, dense_deltas = concatenate_chunks(
        all_bins_attributions(model, features, b, method, rule=rule, frames_per_chunk=5)
    )
    maps, deltas = all_bins_maps(model, features, b, method, rule=rule, frames_per_chunk=5)
    assert set(maps.arrays) == set(MAP_DIMS)
    for name, expected in reference_maps(dense).items():
        assert maps[name].shape == expected.shape
        assert_close(maps[name], expected, name)
    if dense_deltas is None:
        assert deltas is None
    else:
        np.testing.assert_allclose(deltas, dense_deltas, rtol=0, atol=1e-6)
    for kind, aggregation in (("signed", "signed_sum"), ("abs", "abs_sum")):
        vectors = (np.abs(dense) if kind == "abs" else dense).sum(axis=2)
        np.testing.assert_allclose(maps.correlation(kind), frame_correlation(vectors), rtol=0, atol=1e-6)


def test_accumulator_checks_chunk_shape():
    accumulator = MapAccumulator((3, 4, 3, 4))
    with pytest.raises(ValueError, match=r"must be \[3, 2, 3, 4\]"):
        accumulator.update(slice(0, 2), np.zeros((3, 2, 3, 5), dtype=np.float32))


def test_accumulator_is_chunking_invariant():
    a = np.random.default_rng(0).normal(size=(4, 6, 3, 6)).astype(np.float32)
    whole, parts = MapAccumulator(a.shape), MapAccumulator(a.shape)
    whole.update(slice(0, 6), a)
    for start in range(0, 6, 4):
        parts.update(slice(start, min(start + 4, 6)), torch.from_numpy(a[:, start : start + 4]))
    for name in MAP_DIMS:
        assert_close(parts.result()[name], whole.result()[name], name)


def test_streamed_maps_with_a_lookback_equal_the_dense_tensor(model, clip):
    features, baselines = clip
    dense, dense_deltas = concatenate_chunks(
        all_bins_attributions(model, features, baselines[:2], "deepliftshap", frames_per_chunk=4, max_lookback_frames=5)
    )
    lag = np.arange(dense.shape[1])[:, None] - np.arange(dense.shape[3])[None]
    assert not (dense * (lag > 5)[None, :, None, :]).any() and (dense * (lag == 5)[None, :, None, :]).any()
    maps, deltas = all_bins_maps(
        model, features, baselines[:2], "deepliftshap", frames_per_chunk=4, max_lookback_frames=5
    )
    for name, expected in reference_maps(dense).items():
        assert_close(maps[name], expected, name)
    np.testing.assert_allclose(deltas, dense_deltas, rtol=0, atol=1e-6)


def test_tiles_of_input_frames_equal_whole_chunks():
    a = np.random.default_rng(1).normal(size=(4, 6, 3, 7)).astype(np.float32)
    a[:, :3, :, 5:] = 0  # input frames 5, 6 are left out of the first chunk's tiles
    whole, tiled = MapAccumulator(a.shape), MapAccumulator(a.shape)
    whole.update(slice(0, 6), a)
    for t_out, cuts in ((slice(0, 3), [(2, 5), (0, 2)]), (slice(3, 6), [(4, 7), (0, 4)])):
        tiled.begin(t_out)
        for start, stop in cuts:
            tiled.add(slice(start, stop), torch.from_numpy(a[:, t_out, :, start:stop].copy()), consume=True)
        totals = tiled.end()
        np.testing.assert_allclose(
            totals.numpy(),
            a[:, t_out].astype(np.float64).sum(axis=(2, 3)),
            rtol=0,
            atol=1e-6 * np.abs(a).sum(axis=(2, 3)).max(),
        )
    for name in MAP_DIMS:
        assert_close(tiled.result()[name], whole.result()[name], name)


def test_tiles_are_checked():
    accumulator = MapAccumulator((3, 4, 3, 5))
    with pytest.raises(ValueError, match=r"begin\(t_out\) first"):
        accumulator.add(slice(0, 2), np.zeros((3, 2, 3, 2), dtype=np.float32))
    with pytest.raises(ValueError, match="t_out must be a slice within 0:4"):
        accumulator.begin(slice(2, 6))
    accumulator.begin(slice(0, 2))
    with pytest.raises(ValueError, match=r"input frames 1:3 must be \[3, 2, 3, 2\], got \(3, 2, 3, 3\)"):
        accumulator.add(slice(1, 3), np.zeros((3, 2, 3, 3), dtype=np.float32))
    with pytest.raises(ValueError, match="still open"):
        accumulator.begin(slice(2, 4))
