"""The all-bins attribution engine against Captum 0.9 on every output bin of a short clip (``rule="captum"``).

The complete DeepLIFT rule (the default) is tested in ``test_deeplift_rules.py``."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from captum.attr import DeepLift, DeepLiftShap, InputXGradient, Saliency

from xai_helpers.attribution.engine import (
    ENGINE_METHODS,
    AttributionChunk,
    all_bins_attributions,
    concatenate_chunks,
    lookback_mass_share,
)
from xai_helpers.models.base import MaskFromLogPower
from xai_helpers.models.nsnet2 import load_nsnet2
from xai_helpers.dsp.stft import log_power, stft
from xai_helpers.models.nsnet2 import stft_config

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "samples"
N_FRAMES = 10  # Captum (one call per output frame, whole clip each) dominates the run time
START_FRAME = 60  # inside the first utterance's speech
TOLERANCE = 1e-5  # max |engine - captum| / max |captum|
CAPTUM = {"deeplift": DeepLift, "deepliftshap": DeepLiftShap, "saliency": Saliency, "inputxgradient": InputXGradient}


def _noisy_wave(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(noisy speech, the noise) at 16 kHz: the first bundled sample, else a chirp, + white noise at 5 dB SNR."""
    paths = sorted(SAMPLES.glob("*.wav"))
    if paths:
        from xai_helpers.io.audio import load_audio

        clean = load_audio(paths[0], 16000).astype(np.float64)
    else:
        t = np.arange(16000) / 16000
        clean = 0.3 * np.sin(2 * np.pi * (200 * t + 1500 * t**2)) * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t))
    noise = rng.normal(size=clean.shape)
    noise *= np.sqrt(np.mean(clean**2) / np.mean(noise**2) / 10 ** (5 / 10))
    return clean + noise, noise


@pytest.fixture(scope="module")
def model():
    return load_nsnet2(16000)


@pytest.fixture(scope="module")
def clip():
    """(features [F, T], baselines [2, F, T]: the zero-signal floor -12 and the noise's own spectrum)."""
    noisy, noise = _noisy_wave(np.random.default_rng(0))
    config = stft_config(16000)
    frames = slice(START_FRAME, START_FRAME + N_FRAMES)
    features = torch.tensor(log_power(stft(noisy, config))[:, frames], dtype=torch.float32)
    noise_features = torch.tensor(log_power(stft(noise, config))[:, frames], dtype=torch.float32)
    baselines = torch.stack([torch.full_like(features, -12.0), noise_features])
    return features, baselines


def _baselines_for(method: str, baselines: torch.Tensor) -> torch.Tensor | None:
    return {"deeplift": baselines[:1], "deepliftshap": baselines}.get(method)


def _captum(model, features, baselines, method, target, frames=None, freqs=None):
    """Captum's attributions [F_out, T_out, F_in, T_in] and mean deltas [F_out, T_out] (one call per output frame)."""
    n_bins, n_frames = features.shape
    frames = range(n_frames) if frames is None else frames
    freqs = range(n_bins) if freqs is None else freqs
    algorithm = CAPTUM[method](MaskFromLogPower(model, target))
    inputs = features[None].repeat(len(freqs), 1, 1)
    attributions = np.zeros((len(freqs), len(frames), n_bins, n_frames), np.float32)
    deltas = np.zeros((len(freqs), len(frames)), np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for column, t_out in enumerate(frames):
            targets = [(f, t_out) for f in freqs]
            if method == "deeplift":
                base = baselines.repeat(len(freqs), 1, 1)
                result, delta = algorithm.attribute(
                    inputs, baselines=base, target=targets, return_convergence_delta=True
                )
                deltas[:, column] = delta.detach().numpy()
            elif method == "deepliftshap":
                result, delta = algorithm.attribute(
                    inputs, baselines=baselines, target=targets, return_convergence_delta=True
                )
                deltas[:, column] = delta.detach().view(len(freqs), -1).mean(1).numpy()  # per baseline -> mean
            else:
                result = algorithm.attribute(inputs, target=targets)
            attributions[:, column] = result.detach().numpy()
    return attributions, (deltas if method in ("deeplift", "deepliftshap") else None)


@pytest.fixture(scope="module")
def captum_reference(model, clip):
    cache = {}

    def get(method: str, target: str):
        if (method, target) not in cache:
            features, baselines = clip
            cache[method, target] = _captum(model, features, _baselines_for(method, baselines), method, target)
        return cache[method, target]

    return get


def _relative(engine: np.ndarray, reference: np.ndarray) -> float:
    return float(np.abs(engine - reference).max() / np.abs(reference).max())


@pytest.mark.parametrize(
    "method, target",
    [
        ("deeplift", "mask"),
        ("deeplift", "logit"),
        ("deepliftshap", "mask"),
        ("saliency", "mask"),
        ("inputxgradient", "mask"),
    ],
)
def test_engine_equals_captum_on_all_bins(model, clip, captum_reference, method, target):
    features, baselines = clip
    reference, reference_deltas = captum_reference(method, target)
    chunks = list(
        all_bins_attributions(
            model, features, _baselines_for(method, baselines), method, target, frames_per_chunk=4, rule="captum"
        )
    )
    assert [c.t_out for c in chunks] == [slice(0, 4), slice(4, 8), slice(8, 10)]
    attributions, deltas = concatenate_chunks(chunks)
    assert attributions.dtype == np.float32 and attributions.shape == reference.shape == (161, N_FRAMES, 161, N_FRAMES)
    assert np.abs(reference).max() > 0
    error = _relative(attributions, reference)
    print(f"{method}/{target}: max |engine - captum| / max |captum| = {error:.2e}")
    assert error < TOLERANCE
    # Causality, exactly: no output frame depends on a later input frame.
    for t_out in range(N_FRAMES):
        assert not np.any(attributions[:, t_out, :, t_out + 1 :])
    if method in ("deeplift", "deepliftshap"):
        assert deltas.dtype == np.float32 and deltas.shape == (161, N_FRAMES)
        delta_error = float(np.abs(deltas - reference_deltas).max() / np.abs(reference).max())
        print(f"{method}/{target}: max |delta - captum delta| / max |captum| = {delta_error:.2e}")
        assert delta_error < TOLERANCE
    else:
        assert deltas is None
    if method == "saliency":
        assert attributions.min() >= 0


def test_completeness_up_to_reported_delta(model, clip):
    """Captum's DeepLIFT: sum of attributions = out(x) - out(b) + delta (the delta is what the GRUs break)."""
    features, baselines = clip
    for target in ("mask", "logit"):
        attributions, deltas = concatenate_chunks(
            all_bins_attributions(model, features, baselines[:1], "deeplift", target, rule="captum")
        )
        wrapper = MaskFromLogPower(model, target)
        with torch.no_grad():
            difference = (wrapper(features[None]) - wrapper(baselines[:1]))[0].numpy()
        sums = attributions.sum(axis=(2, 3), dtype=np.float64)
        assert np.abs(sums - deltas - difference).max() < 1e-5 * max(1.0, np.abs(sums).max())
        assert np.abs(deltas).max() > 0  # Captum's rescale rule does not make the GRUs complete


@pytest.mark.parametrize("rule", ["captum", "complete"])
def test_chunking_does_not_change_the_result(model, clip, rule):
    features, baselines = clip
    for method in ("deeplift", "deepliftshap"):
        base = _baselines_for(method, baselines)
        whole = list(all_bins_attributions(model, features, base, method, frames_per_chunk=N_FRAMES, rule=rule))
        assert len(whole) == 1 and whole[0].t_out == slice(0, N_FRAMES)
        for size in (1, 3, 4, 7):
            attributions, deltas = concatenate_chunks(
                all_bins_attributions(model, features, base, method, frames_per_chunk=size, rule=rule)
            )
            assert _relative(attributions, whole[0].attributions) < 1e-5
            assert np.abs(deltas - whole[0].deltas).max() < 1e-5 * np.abs(whole[0].attributions).max()


@pytest.mark.parametrize("method, rule", [("deeplift", "captum"), ("deepliftshap", "complete")])
def test_max_lookback_frames(model, clip, method, rule):
    features, baselines = clip
    base = _baselines_for(method, baselines)
    full = list(all_bins_attributions(model, features, base, method, frames_per_chunk=3, rule=rule))
    limited = list(
        all_bins_attributions(model, features, base, method, frames_per_chunk=3, max_lookback_frames=4, rule=rule)
    )
    for whole, cut in zip(full, limited):
        lag = np.arange(cut.t_out.start, cut.t_out.stop)[:, None] - np.arange(N_FRAMES)[None]
        kept = (lag <= 4)[None, :, None, :]
        np.testing.assert_allclose(
            cut.attributions,
            np.where(kept, whole.attributions, 0),
            rtol=0,
            atol=1e-6 * np.abs(whole.attributions).max(),
        )
        assert not np.any(cut.attributions[np.broadcast_to(~kept, cut.attributions.shape)])
        share = lookback_mass_share(whole, 4)
        assert share.shape == (161, cut.t_out.stop - cut.t_out.start) and np.all((share >= 0) & (share <= 1))
    # The last output frame reaches back to frame 0: some mass lies beyond 4 frames.
    assert lookback_mass_share(full[-1], 4)[:, -1].max() > 0


def test_arguments_and_types(model, clip):
    features, baselines = clip
    chunk = next(all_bins_attributions(model, features.numpy(), baselines[0].numpy(), "deeplift", frames_per_chunk=2))
    assert isinstance(chunk, AttributionChunk) and chunk.attributions.flags.c_contiguous
    assert chunk.deltas.shape == (161, 2)
    # Saliency and InputXGradient ignore baselines.
    a = next(all_bins_attributions(model, features, baselines, "saliency", frames_per_chunk=2)).attributions
    b = next(all_bins_attributions(model, features, None, "saliency", frames_per_chunk=2)).attributions
    np.testing.assert_array_equal(a, b)
    assert set(ENGINE_METHODS) == set(CAPTUM)
    with pytest.raises(ValueError, match="method"):
        all_bins_attributions(model, features, baselines, "integrated_gradients")
    with pytest.raises(ValueError, match="K=2"):
        all_bins_attributions(model, features, baselines, "deeplift")
    with pytest.raises(ValueError, match="features"):
        all_bins_attributions(model, features[:100], baselines[:1], "deeplift")
    with pytest.raises(ValueError, match="baselines"):
        all_bins_attributions(model, features, baselines[:, :, :3], "deepliftshap")
    with pytest.raises(ValueError, match="target"):
        all_bins_attributions(model, features, baselines[:1], "deeplift", target="gain")


def test_48k_with_mask_floor():
    """48 kHz: F=513, H=600 and the clamp floor (Captum: plain gradient, zero where the mask is floored)."""
    model = load_nsnet2(48000)
    rng = np.random.default_rng(1)
    n_frames = 5
    features = torch.tensor(rng.normal(0.0, 0.1, size=(513, n_frames)), dtype=torch.float32)  # loud: floored bins
    baselines = torch.full((1, 513, n_frames), -5.0)
    with torch.no_grad():
        floored = (model.sigmoid(model.logit(features.t()[None]))[0] < 1e-4).t().numpy()  # [F, T]
    assert 0 < floored[:, -1].sum() < 513
    attributions, deltas = concatenate_chunks(
        all_bins_attributions(model, features, baselines, "deeplift", frames_per_chunk=2, rule="captum")
    )
    assert not np.any(attributions[floored])
    frames, freqs = [n_frames - 1], list(range(0, 513, 4))
    reference, reference_deltas = _captum(model, features, baselines, "deeplift", "mask", frames=frames, freqs=freqs)
    error = _relative(attributions[freqs][:, frames], reference)
    print(f"48 kHz deeplift/mask: max relative difference {error:.2e}")
    assert error < TOLERANCE
    assert np.abs(deltas[freqs][:, frames] - reference_deltas).max() < TOLERANCE * np.abs(reference).max()
