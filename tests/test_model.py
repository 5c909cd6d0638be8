"""The PyTorch port of NSNet2 against onnxruntime on the same ONNX file."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
import torch
from scipy.signal import resample_poly
from torch import nn

from xai_helpers.models.base import MaskFromLogPower
from xai_helpers.models.nsnet2 import load_nsnet2, onnx_model_path
from xai_helpers.dsp.stft import log_power, stft
from xai_helpers.models.nsnet2 import stft_config


def _features(wave: np.ndarray, sample_rate: int) -> np.ndarray:
    """Model input [1, T, F] float32 for a waveform."""
    return log_power(stft(wave, stft_config(sample_rate))).T[None].astype(np.float32)


@pytest.mark.parametrize("sample_rate", [16000, 48000])
def test_port_matches_onnxruntime(noisy_speech, sample_rate):
    wave = noisy_speech if sample_rate == 16000 else resample_poly(noisy_speech, 3, 1)
    features = _features(wave, sample_rate)
    session = ort.InferenceSession(str(onnx_model_path(sample_rate)), providers=["CPUExecutionProvider"])
    reference = session.run(None, {session.get_inputs()[0].name: features})[0]
    model = load_nsnet2(sample_rate)
    with torch.no_grad():
        ported = model(torch.from_numpy(features)).numpy()
    assert ported.shape == reference.shape == features.shape
    difference = np.abs(ported - reference).max()
    print(f"{sample_rate} Hz: max |port - onnxruntime| = {difference:.2e} over {features.shape}")
    assert difference < 1e-5
    # The mask is not trivial: it both suppresses and passes.
    assert reference.min() < 0.1 and reference.max() > 0.5


def test_activations_are_registered_modules_used_once():
    model = load_nsnet2(16000)
    activations = [m for m in model.modules() if isinstance(m, (nn.ReLU, nn.Sigmoid))]
    assert len(activations) == 4
    calls = {id(m): 0 for m in activations}
    hooks = [
        m.register_forward_hook(lambda mod, i, o: calls.__setitem__(id(mod), calls[id(mod)] + 1)) for m in activations
    ]
    model(torch.zeros(1, 3, 161))
    for hook in hooks:
        hook.remove()
    assert set(calls.values()) == {1}


def test_48k_mask_is_floored_like_onnx():
    model = load_nsnet2(48000)
    with torch.no_grad():
        mask = model(torch.full((1, 5, 513), -12.0))
    assert mask.min().item() >= 1e-4 - 1e-9


def test_wrapper_targets(noisy_speech):
    model = load_nsnet2(16000)
    features = torch.from_numpy(_features(noisy_speech, 16000)[0].T[None].copy())  # [1, F, T]
    with torch.no_grad():
        mask = MaskFromLogPower(model, "mask")(features)
        logit = MaskFromLogPower(model, "logit")(features)
    assert mask.shape == logit.shape == features.shape
    torch.testing.assert_close(torch.sigmoid(logit), mask, atol=1e-6, rtol=0)
    with pytest.raises(ValueError, match="target"):
        MaskFromLogPower(model, "gain")


def test_model_is_causal(noisy_speech):
    model = load_nsnet2(16000)
    features = torch.from_numpy(_features(noisy_speech, 16000))
    changed = features.clone()
    changed[:, 40:] += 3.0
    with torch.no_grad():
        before, after = model(features), model(changed)
    assert torch.equal(before[:, :40], after[:, :40])
    assert not torch.equal(before[:, 40:], after[:, 40:])


def test_unknown_sample_rate():
    with pytest.raises(ValueError, match="22050"):
        load_nsnet2(22050)
