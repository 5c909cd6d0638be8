"""The GTCRN port (whole utterance, PyTorch) against the official streaming ONNX graph run frame by frame with
onnxruntime (:mod:`xai_helpers.models.gtcrn_reference`), on 2 s of noisy speech."""

from __future__ import annotations


import numpy as np
import pytest
import torch
import torch.nn.functional as F

from xai_helpers.dsp.stft import log_power
from xai_helpers.experiments.faithfulness import randomised_model
from xai_helpers.models.gtcrn import DILATIONS, GTCRN, load_gtcrn
from xai_helpers.models.gtcrn_onnx import load_onnx_weights
from xai_helpers.models.gtcrn_reference import reference_frames, reference_gtcrn
from xai_helpers.models.weights import weights_path

CACHE_FRAMES = (5, 40)
"""Frames after which the streaming caches are compared (at 5 the dilated convs' caches still hold zeros)."""
FD_STEP = 3e-3
"""Finite-difference step in log10 power: at 1e-2 one of the tested bins crosses a PReLU kink."""


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """GTCRN runs ~1500 tiny GRU steps per forward pass; on a loaded CPU PyTorch's worker threads make that
    10-100x slower, so this module runs on one thread (restored afterwards)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def wave(noisy_speech) -> np.ndarray:
    """2 s of the first utterance with white noise at 5 dB SNR (seed 0), 16 kHz."""
    return noisy_speech[:32000]


@pytest.fixture(scope="module")
def model() -> GTCRN:
    return load_gtcrn()


@pytest.fixture(scope="module")
def reference(wave) -> dict:
    return reference_gtcrn(wave, CACHE_FRAMES)


@pytest.fixture(scope="module")
def inputs(reference) -> tuple[np.ndarray, np.ndarray]:
    """The reference's noisy log10 power and phase, ``[F, T]`` each."""
    spectrum = reference["spectrum"].T
    return log_power(spectrum), np.angle(spectrum)


def assert_close(actual: np.ndarray, expected: np.ndarray, tolerance: float = 1e-5) -> None:
    """Max abs difference <= ``tolerance``, relative to the reference's largest value where that exceeds 1."""
    scale = max(1.0, float(np.abs(expected).max()))
    assert np.abs(actual - expected).max() <= tolerance * scale, (np.abs(actual - expected).max(), scale)


def port_run(model: GTCRN, spectrum: np.ndarray) -> tuple[np.ndarray, dict[str, torch.Tensor]]:
    """The port's complex mask ``[T, 257]`` for a noisy spectrum ``[T, 257]``, and the outputs of its
    depthwise convs' input activations, TRA GRUs and inter-frame GRUs (by module name)."""
    names = [
        name for name, _ in model.named_modules() if name.endswith(("point_act", "att_gru")) or ".inter_rnn.rnn" in name
    ]
    captured = {}
    handles = [
        model.get_submodule(name).register_forward_hook(
            lambda module, args, out, name=name: captured.__setitem__(name, out[0] if isinstance(out, tuple) else out)
        )
        for name in names
    ]
    try:
        frames = torch.as_tensor(spectrum[None], dtype=torch.complex64)
        with torch.no_grad():
            real, imag = model.complex_mask(frames.real, frames.imag)
    finally:
        for handle in handles:
            handle.remove()
    return (real[0] + 1j * imag[0]).numpy().astype(np.complex128), captured


def port_caches(captured: dict[str, torch.Tensor], t: int) -> dict[str, np.ndarray]:
    """The streaming graph's caches after frame ``t``, rebuilt from the port's activations (layout:
    :data:`xai_helpers.models.gtcrn_reference.CACHE_SHAPES`)."""
    conv, tra, inter = np.zeros((2, 1, 16, 16, 33)), np.zeros((2, 3, 1, 1, 16)), np.zeros((2, 1, 33, 16))
    sides = (
        (("encoder.2", "encoder.3", "encoder.4"), DILATIONS),
        (("decoder.0", "decoder.1", "decoder.2"), tuple(reversed(DILATIONS))),
    )
    for side, (blocks, dilations) in enumerate(sides):
        for index, (block, dilation) in enumerate(zip(blocks, dilations)):
            start = sum(2 * d for d in DILATIONS if d < dilation)
            padded = F.pad(captured[f"{block}.point_act"], (0, 0, 2 * dilation, 0))  # zeros before the start
            conv[side, 0, :, start : start + 2 * dilation] = padded[0, :, t + 1 : t + 1 + 2 * dilation].numpy()
            tra[side, index, 0, 0] = captured[f"{block}.tra.att_gru"][0, t].numpy()
    for index in range(2):
        inter[index, 0] = torch.cat(
            [captured[f"dpgrnn{index + 1}.inter_rnn.rnn{group}"][:, t] for group in (1, 2)], dim=-1
        ).numpy()
    return {"conv_cache": conv, "tra_cache": tra, "inter_cache": inter}


def test_masks_and_caches_equal_onnxruntime(model, reference):
    mask, captured = port_run(model, reference["spectrum"])
    assert_close(mask, reference["mask"])
    assert_close(mask * reference["spectrum"], reference["enhanced"])
    for t in CACHE_FRAMES:
        expected = reference["caches"][t]
        for name, cache in port_caches(captured, t).items():
            assert np.abs(expected[name]).max() > 0
            assert_close(cache, expected[name])


def test_enhanced_wave_equals_reference(model, wave, reference):
    enhanced = model.enhance_wave(wave)
    assert enhanced.shape == wave.shape and enhanced.dtype == np.float64
    assert np.abs(enhanced - reference["wave"]).max() <= 1e-4 * np.abs(reference["wave"]).max()


def test_explained_targets_equal_reference(model, reference, inputs):
    features, phase = inputs
    assert_close(model.predict(features, "mask", phase), np.abs(reference["mask"]).T)
    expected = np.log10(np.maximum(np.abs(reference["enhanced"]) ** 2, 1e-12)).T
    # 1e-4 in log10 power: 2e-5 relative in |Y|, float32 rounding of a product that cancels in quiet bins.
    assert np.abs(model.predict(features, "output", phase) - expected).max() <= 1e-4


def test_saliency_equals_finite_difference_of_reference(model, reference, inputs):
    features, phase = inputs
    gain = np.abs(reference["mask"]).T
    candidates = np.where((gain > 0.3) & (gain < 0.7), features, -np.inf)  # energetic, mask not saturated
    candidates[:10], candidates[160:], candidates[:, :30] = -np.inf, -np.inf, -np.inf
    f_out, t_out = np.unravel_index(np.argmax(candidates), candidates.shape)
    features, phase = features[:, : t_out + 1], phase[:, : t_out + 1]
    gradients = {}
    for target in ("output", "mask"):
        frames = torch.tensor(features.T[None], dtype=torch.float32, requires_grad=True)
        model.explained(frames, target, torch.tensor(phase.T[None], dtype=torch.float32))[0, t_out, f_out].backward()
        gradients[target] = frames.grad[0].numpy().T
    for f_in, t_in in ((f_out, t_out), (f_out + 2, t_out - 1), (f_out - 4, t_out - 3), (f_out + 10, t_out - 10)):
        values = {"output": [], "mask": []}
        for step in (FD_STEP, -FD_STEP):
            perturbed = features.copy()
            perturbed[f_in, t_in] += step
            run = reference_frames(10 ** (perturbed / 2) * np.exp(1j * phase))
            values["output"].append(np.log10(max(abs(run["enhanced"][t_out, f_out]) ** 2, 1e-12)))
            values["mask"].append(abs(run["mask"][t_out, f_out]))
        for target, (plus, minus) in values.items():
            difference = (plus - minus) / (2 * FD_STEP)
            assert gradients[target][f_in, t_in] == pytest.approx(difference, rel=2e-2, abs=1e-4), (target, f_in, t_in)


def test_causal(model, inputs):
    features, phase = (torch.tensor(a.T[None], dtype=torch.float32) for a in inputs)
    t = 50
    perturbed = features.clone()
    perturbed[:, t + 1 :] += torch.randn(perturbed[:, t + 1 :].shape, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        for target in GTCRN.targets:
            before, after = model.explained(features, target, phase), model.explained(perturbed, target, phase)
            assert torch.allclose(before[:, : t + 1], after[:, : t + 1], rtol=0, atol=1e-6)
            assert (before[:, t + 1] - after[:, t + 1]).abs().max() > 1e-3


def test_latent_layers_and_randomisation(model, inputs):
    features, phase = (torch.tensor(a[:, :20].T[None], dtype=torch.float32) for a in inputs)
    outputs = {}
    handles = [
        model.latent_module(layer).register_forward_hook(
            lambda module, args, out, layer=layer: outputs.__setitem__(layer, out)
        )
        for layer in model.latent_layers
    ]
    with torch.no_grad():
        mask = model.explained(features, "mask", phase)
    for handle in handles:
        handle.remove()
    for layer, output in outputs.items():
        assert output.shape == (1, 20, model.latent_units(layer)) and model.latent_units(layer) == 16 * 33
    randomised = randomised_model(model, GTCRN.randomisation_order, 0)
    with torch.no_grad():
        assert (randomised.explained(features, "mask", phase) - mask).abs().max() > 1e-2


def test_errors(model, inputs):
    with pytest.raises(ValueError, match="GTCRN.*16000 Hz.*48000 Hz"):
        GTCRN.stft_config(48000)
    with pytest.raises(ValueError, match="8000 Hz"):
        load_gtcrn(sample_rate=8000)
    features = torch.tensor(inputs[0][:, :5].T[None], dtype=torch.float32)
    with pytest.raises(ValueError, match="GTCRN reads the input's phase"):
        model.explained(features, "mask")
    with pytest.raises(ValueError, match="'logit' does not exist for gtcrn"):
        model.explained(features, "logit", torch.zeros_like(features))
    path = weights_path("dtln_model_1")
    with pytest.raises(ValueError, match=f"{path}: not GTCRN's streaming ONNX graph"):
        load_onnx_weights(GTCRN(), path)
