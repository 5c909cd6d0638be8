"""DeepLIFT's complete rule (``rule="complete"``) on NSNet2: summation to delta on real speech, and
agreement with an independent implementation of the same rules (custom autograd functions)."""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import pytest
import torch
import torch.nn.functional as nnf

from xai_helpers.io.audio import load_audio
from xai_helpers.attribution.baselines import make_baselines
from xai_helpers.attribution.engine import (
    DEEPLIFT_RULES,
    all_bins_attributions,
    concatenate_chunks,
    weighted_output_attributions,
)
from xai_helpers.models.base import MaskFromLogPower
from xai_helpers.models.nsnet2 import MaskFloor, load_nsnet2
from xai_helpers.dsp.stft import log_power, stft
from xai_helpers.models.nsnet2 import stft_config

FRAMES = slice(60, 66)  # 6 frames inside the first utterance's speech
COMPLETENESS = {torch.float32: 1e-4, torch.float64: 1e-9}  # max |sum - (f(x) - f(b))|, output units


@pytest.fixture(scope="module")
def models():
    return {rate: load_nsnet2(rate) for rate in (16000, 48000)}


@pytest.fixture(scope="module")
def speech(sample_paths):
    """Per sample rate: (features [F, 6], baselines [2, F, 6]: the zero signal and seeded white noise's spectrum)."""
    out = {}
    for rate in (16000, 48000):
        config = stft_config(rate)
        wave = load_audio(sample_paths[0], rate)
        noise = np.random.default_rng(0).normal(0.0, 0.01, size=wave.shape)
        features = log_power(stft(wave, config))[:, FRAMES].astype(np.float32)
        noise_features = log_power(stft(noise, config))[:, FRAMES].astype(np.float32)
        out[rate] = features, np.concatenate([make_baselines("zero", features), noise_features[None]])
    return out


def _change(model, features, baselines, target, dtype) -> np.ndarray:
    """f(x) - mean_k f(b_k), [F, T], in ``dtype``."""
    wrapper = MaskFromLogPower(model, target)
    with torch.no_grad():
        out = wrapper(torch.as_tensor(np.concatenate([features[None], baselines]), dtype=dtype))
    return (out[0] - out[1:].mean(0)).numpy()


@contextmanager
def _in_dtype(model, dtype):
    """``model`` converted to ``dtype`` for the block (float32 weights survive the round trip exactly)."""
    model.to(dtype)
    try:
        yield model
    finally:
        model.float()


@pytest.mark.parametrize("rate", [16000, 48000])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_attributions_add_up_on_every_output_bin(models, speech, rate, dtype):
    """Every output bin, mask and logit, K = 1 and 2: sum of attributions = f(x) - mean_k f(b_k);
    likewise for weighted sums of outputs (one bin, a region)."""
    features, all_baselines = speech[rate]
    n_bins, n_frames = features.shape
    weights = np.zeros((2, n_bins, n_frames))
    weights[0, n_bins // 5, n_frames - 2] = 1.0  # one bin
    weights[1, n_bins // 16 : n_bins // 4, 2:] = 1.0  # a region: a band over the last frames
    tolerance = COMPLETENESS[dtype]
    with _in_dtype(models[rate], dtype) as model:
        for k in (1, 2):
            baselines = all_baselines[:k]
            method = "deeplift" if k == 1 else "deepliftshap"
            for target in ("mask", "logit"):
                change = _change(model, features, baselines, target, dtype)
                attributions, deltas = concatenate_chunks(
                    all_bins_attributions(model, features, baselines, method, target, 4)
                )
                assert attributions.dtype == deltas.dtype == np.dtype(str(dtype).removeprefix("torch."))
                error = np.abs(attributions.sum(axis=(2, 3), dtype=np.float64) - change).max()
                print(
                    f"{rate} Hz {dtype} {method} {target}: max |sum - change| = {error:.1e} "
                    f"(max |change| {np.abs(change).max():.2f})"
                )
                assert error <= tolerance
                assert np.abs(deltas).max() <= tolerance
                summed, summed_deltas = weighted_output_attributions(
                    model, features, baselines, method, weights, target
                )
                expected = (weights * change).sum(axis=(1, 2))
                assert summed.shape == (2, n_bins, n_frames)
                assert np.abs(summed.sum(axis=(1, 2), dtype=np.float64) - expected).max() <= tolerance * weights.sum()
                assert np.abs(summed_deltas).max() <= tolerance * weights.sum()
        if rate == 48000:  # the mask floor is active in the noise baseline's run
            with torch.no_grad():
                mask_b = model(torch.as_tensor(all_baselines[1].T[None], dtype=dtype))
            assert (mask_b == model.mask_floor.floor).any()


def test_captum_rule_does_not_add_up(models, speech):
    """The same check fails for Captum's rule: it can tell the rules apart."""
    features, baselines = speech[16000]
    _, deltas = concatenate_chunks(
        all_bins_attributions(models[16000], features, baselines[:1], "deeplift", rule="captum")
    )
    assert np.abs(deltas).max() > 1e-2


# --------------------------------------------------------------------------------------------
# An independent implementation: NSNet2 unrolled in plain PyTorch, run on (input, baseline) pairs
# ``[2, ...]``; every nonlinearity and product is an autograd function whose backward returns its
# DeepLIFT multiplier (to the input run's row; the baseline run is a constant), autograd does the rest.


class _Rescale(torch.autograd.Function):
    @staticmethod
    def forward(ctx, pair, fn, derivative, threshold):
        out = fn(pair)
        step = pair[0] - pair[1]
        tiny = step.abs() <= threshold
        quotient = (out[0] - out[1]) / torch.where(tiny, torch.ones_like(step), step)
        ctx.save_for_backward(torch.where(tiny, derivative(pair.mean(0)), quotient))
        return out

    @staticmethod
    def backward(ctx, grad):
        (multiplier,) = ctx.saved_tensors
        return torch.stack([grad[0] * multiplier, torch.zeros_like(multiplier)]), None, None, None


class _Product(torch.autograd.Function):
    """``a * b`` with the Shapley split: ``da`` gets ``(b + b0) / 2``, ``db`` gets ``(a + a0) / 2``."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        zero = torch.zeros_like(grad[0])
        return torch.stack([grad[0] * b.mean(0), zero]), torch.stack([grad[0] * a.mean(0), zero])


def _smooth(pair, fn, derivative):
    return _Rescale.apply(pair, fn, derivative, torch.finfo(pair.dtype).eps ** (1 / 3))


def _sigmoid(pair):
    return _smooth(pair, torch.sigmoid, lambda v: torch.sigmoid(v) * torch.sigmoid(-v))


def _relu(pair):
    return _Rescale.apply(pair, torch.relu, lambda v: (v > 0).to(v.dtype), 0.0)


def _gru(gru, inputs):
    """Unrolled one-layer GRU on pairs ``[2, B, T, I]`` -> ``[2, B, T, H]`` (h0 = 0)."""
    w_r, w_z, w_n = gru.weight_ih_l0.chunk(3)
    u_r, u_z, u_n = gru.weight_hh_l0.chunk(3)
    b_r, b_z, b_n = gru.bias_ih_l0.chunk(3)
    c_r, c_z, c_n = gru.bias_hh_l0.chunk(3)
    h = inputs.new_zeros(*inputs.shape[:2], gru.hidden_size)
    states = []
    for t in range(inputs.shape[2]):
        a = inputs[:, :, t]
        r = _sigmoid(nnf.linear(a, w_r, b_r) + nnf.linear(h, u_r, c_r))
        z = _sigmoid(nnf.linear(a, w_z, b_z) + nnf.linear(h, u_z, c_z))
        n = _smooth(
            nnf.linear(a, w_n, b_n) + _Product.apply(r, nnf.linear(h, u_n, c_n)),
            torch.tanh,
            lambda v: 1 / torch.cosh(v) ** 2,
        )
        h = _Product.apply(1 - z, n) + _Product.apply(z, h)
        states.append(h)
    return torch.stack(states, dim=2)


def _unrolled(model, pair, target):
    """NSNet2 on pairs ``[2, B, T, F]`` with DeepLIFT's multipliers in its backward."""
    hidden = _relu(nnf.linear(pair, model.fc_in.weight, model.fc_in.bias))
    hidden = _gru(model.gru2, _gru(model.gru1, hidden))
    hidden = _relu(nnf.linear(hidden, model.fc_out1.weight, model.fc_out1.bias))
    hidden = _relu(nnf.linear(hidden, model.fc_out2.weight, model.fc_out2.bias))
    out = nnf.linear(hidden, model.fc_out3.weight, model.fc_out3.bias)
    if target == "logit":
        return out
    out = _sigmoid(out)
    if isinstance(model.mask_floor, MaskFloor):
        floor = model.mask_floor.floor
        out = _Rescale.apply(out, lambda v: v.clamp(min=floor), lambda v: (v > floor).to(v.dtype), 0.0)
    return out


def _reference(model, features, baselines, target, f_out):
    """Independent DeepLIFT / DeepLiftShap attributions ``[len(f_out), T, F, T]`` of bins ``(f_out, every t)``."""
    dtype = next(model.parameters()).dtype
    x = torch.as_tensor(features.T, dtype=dtype)
    n_out, (n_frames, n_bins) = len(f_out), x.shape
    total = torch.zeros(n_out, n_frames, n_bins, n_frames, dtype=torch.float64)
    for baseline in baselines:
        b = torch.as_tensor(baseline.T, dtype=dtype)
        pair = torch.stack([x, b])[:, None].repeat(1, n_out, 1, 1).requires_grad_(True)
        out = _unrolled(model, pair, target)
        for t in range(n_frames):
            seed = torch.zeros_like(out)
            seed[0, torch.arange(n_out), t, torch.as_tensor(f_out)] = 1.0
            (grad,) = torch.autograd.grad(out, pair, seed, retain_graph=t < n_frames - 1)
            total[:, t] += (grad[0] * (x - b)).transpose(1, 2).double() / len(baselines)
    return total.numpy()


@pytest.mark.parametrize(
    "rate, target, k, dtype",
    [
        (16000, "mask", 1, torch.float32),
        (16000, "mask", 1, torch.float64),
        (16000, "logit", 2, torch.float64),
        (16000, "mask", 2, torch.float32),
        (48000, "mask", 2, torch.float32),
    ],
)
def test_engine_equals_an_independent_implementation(models, speech, rate, target, k, dtype):
    """Several output bins of every frame. In float32 the two differ by rounding: a rescale quotient
    just above the fallback threshold carries a relative error of about eps ** (2/3) (2e-5)."""
    features, baselines = speech[rate]
    n_bins = features.shape[0]
    f_out = list(range(0, n_bins, 8)) if rate == 16000 else list(range(3, n_bins, 40))
    method = "deeplift" if k == 1 else "deepliftshap"
    with _in_dtype(models[rate], dtype) as model:
        attributions, _ = concatenate_chunks(all_bins_attributions(model, features, baselines[:k], method, target, 4))
        reference = _reference(model, features, baselines[:k], target, f_out)
        captum, _ = concatenate_chunks(
            all_bins_attributions(model, features, baselines[:k], method, target, 4, rule="captum")
        )
    error = np.abs(attributions[f_out] - reference).max() / np.abs(reference).max()
    print(f"{rate} Hz {dtype} {method} {target}: max |engine - independent| / max |independent| = {error:.1e}")
    assert error < {torch.float32: 1e-5, torch.float64: 1e-9}[dtype]
    # Causality holds in the reference too; and the two rules differ (the check can fail).
    assert not np.any(reference[:, 0, :, 1:])
    assert np.abs(captum[f_out] - reference).max() / np.abs(reference).max() > 1e-2


def test_weighted_outputs_equal_sums_of_all_bins(models, speech):
    """One bin = that bin's all-bins map; a region = the sum of its bins' maps (linear methods, both rules)."""
    model = models[16000]
    features, baselines = speech[16000]
    n_bins, n_frames = features.shape
    weights = np.zeros((2, n_bins, n_frames), np.float32)
    weights[0, 40, 3] = 1.0
    weights[1, 10:40, 1:4] = 1.0
    for method, rule in [
        ("deeplift", "complete"),
        ("deepliftshap", "complete"),
        ("deepliftshap", "captum"),
        ("inputxgradient", "complete"),
    ]:
        base = baselines[:1] if method == "deeplift" else baselines
        bins, bin_deltas = concatenate_chunks(all_bins_attributions(model, features, base, method, rule=rule))
        summed, deltas = weighted_output_attributions(model, features, base, method, weights, rule=rule)
        expected = np.einsum("mft,ftgs->mgs", weights, bins)
        assert summed.dtype == np.float32 and np.abs(summed).max() > 0
        np.testing.assert_allclose(summed, expected, rtol=0, atol=1e-5 * np.abs(expected).max())
        assert not np.any(summed[:, :, 4:])  # nothing after the last weighted frame contributes
        if bin_deltas is None:
            assert deltas is None
        else:
            np.testing.assert_allclose(deltas, np.einsum("mft,ft->m", weights, bin_deltas), rtol=0, atol=1e-4)
    saliency, _ = weighted_output_attributions(model, features, None, "saliency", weights[:1])
    bins, _ = concatenate_chunks(all_bins_attributions(model, features, None, "saliency"))
    np.testing.assert_allclose(saliency[0], bins[40, 3], rtol=0, atol=1e-6 * np.abs(bins[40, 3]).max())


def test_bad_rule_and_weights(models, speech):
    model = models[16000]
    features, baselines = speech[16000]
    for call in (
        lambda: all_bins_attributions(model, features, baselines[:1], "deeplift", rule="shapley"),
        lambda: weighted_output_attributions(
            model, features, baselines[:1], "deeplift", np.ones((1, *features.shape)), rule="Captum"
        ),
    ):
        with pytest.raises(ValueError, match=r"rule must be one of \('complete', 'captum'\)"):
            call()
    assert DEEPLIFT_RULES == ("complete", "captum")
    with pytest.raises(ValueError, match=r"weights must be \[M, 161, 6\]"):
        weighted_output_attributions(model, features, baselines[:1], "deeplift", np.ones(features.shape))
