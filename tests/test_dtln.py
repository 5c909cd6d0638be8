"""The PyTorch port of DTLN against upstream's onnxruntime loop (real_time_processing_onnx.py) on the official
ONNX files: stage-1 masks and states, output blocks, the enhanced waveform, the explained targets and their
gradients."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

from xai_helpers.dsp.noise.broadband import pink_noise
from xai_helpers.dsp.stft import LOG_POWER_FLOOR, log_power, stft
from xai_helpers.models import weights
from xai_helpers.models.dtln import DTLN, load_dtln, read_stage1_weights, read_stage2_weights
from xai_helpers.models.dtln_reference import reference_dtln, reference_dtln_blocks

SECONDS = 2.0


@pytest.fixture(scope="module")
def noisy(clean_speech) -> np.ndarray:
    """The first 2 s of the first bundled utterance plus pink noise at 5 dB SNR (seed 0), float32 [32000]."""
    speech = clean_speech[: int(SECONDS * 16000)].astype(np.float64)
    noise = pink_noise(len(speech), seed=0) * np.sqrt(np.mean(speech**2)) / 10 ** (5 / 20)
    return (speech + noise).astype(np.float32)


@pytest.fixture(scope="module")
def model() -> DTLN:
    return load_dtln()


@pytest.fixture(scope="module")
def spectrum(noisy, model) -> np.ndarray:
    """DTLN's STFT of the noisy input, complex [T, 257] (frame k = upstream's in_buffer at block k)."""
    return stft(noisy, model.stft_config(16000)).T


@pytest.fixture(scope="module")
def reference(noisy) -> dict[str, np.ndarray]:
    return reference_dtln(noisy)


def _tensor(array: np.ndarray) -> torch.Tensor:
    """[T, F] float array as a float32 batch of one [1, T, F]."""
    return torch.as_tensor(np.ascontiguousarray(array)[None], dtype=torch.float32)


def _output_log_power(blocks: np.ndarray) -> np.ndarray:
    """The "output" target of output blocks [..., 512]: log10(max(|rfft|^2, 1e-12)) [..., 257]."""
    return np.log10(np.maximum(np.abs(np.fft.rfft(blocks.astype(np.float64), axis=-1)) ** 2, LOG_POWER_FLOOR))


def test_stages_match_onnxruntime_frame_by_frame(model, spectrum, reference):
    n_blocks = len(reference["mask"])
    assert n_blocks == len(spectrum) - 3  # upstream runs (N - 384) // 128 blocks, the STFT N // 128 frames
    magnitude, phase = _tensor(np.abs(spectrum)), _tensor(np.angle(spectrum))
    with torch.no_grad():
        mask = model.sigmoid1(model.stage1(magnitude)[0])[0, :n_blocks].numpy()
        blocks = model.output_blocks(magnitude, phase)[0, :n_blocks].numpy()
        np.testing.assert_allclose(mask, reference["mask"], rtol=0, atol=1e-5)
        np.testing.assert_allclose(blocks, reference["blocks"], rtol=0, atol=1e-5)
        for block in (0, 7, n_blocks // 2, n_blocks - 1):
            logit, states_1 = model.stage1(magnitude[:, : block + 1])
            stage2_in = model.masked_blocks(magnitude[:, : block + 1], model.sigmoid1(logit), phase[:, : block + 1])
            states_2 = model.stage2(stage2_in)[1]
            for ours, key in ((states_1, "states_1"), (states_2, "states_2")):
                # h is in (-1, 1); the cell states reach ~200, so theirs get a float32-relative margin.
                np.testing.assert_allclose(ours[0, ..., 0].numpy(), reference[key][block, ..., 0], rtol=0, atol=1e-5)
                np.testing.assert_allclose(ours[0, ..., 1].numpy(), reference[key][block, ..., 1], rtol=1e-6, atol=1e-5)


def test_enhanced_wave_matches_upstream_loop(model, noisy, reference):
    enhanced = model.enhance_wave(noisy)
    assert enhanced.shape == noisy.shape and enhanced.dtype == np.float64
    latency = model.latency_samples
    assert latency == 384
    # Upstream's own loop, advanced by its latency: equal where it writes (it leaves its last 384 samples at 0).
    written = len(reference["mask"]) * 128 - latency
    scale = np.abs(reference["wave"]).max()
    assert np.abs(enhanced[:written] - reference["wave"][latency : latency + written]).max() <= 1e-4 * scale
    # Upstream's loop over the input and 384 zeros that flush its buffer, all blocks: equal everywhere.
    padded = np.r_[noisy, np.zeros(latency)]
    flushed = reference_dtln(padded, num_blocks=len(padded) // 128)["wave"]
    assert np.abs(enhanced - flushed[latency : latency + len(noisy)]).max() <= 1e-4 * scale
    assert np.abs(enhanced[written:]).max() > 0


def test_explained_targets_match_reference(model, spectrum, reference):
    n_blocks = len(reference["mask"])
    features, phase = _tensor(log_power(spectrum)), _tensor(np.angle(spectrum))
    with torch.no_grad():
        mask = model.explained(features, "mask")[0, :n_blocks].numpy()
        logit = model.explained(features, "logit")[0, :n_blocks].numpy()
        output = model.explained(features, "output", phase)[0, :n_blocks].numpy()
        batched = model.explained(torch.cat([features, features - 1.0]), "output", phase)[:, :n_blocks].numpy()
    np.testing.assert_allclose(mask, reference["mask"], rtol=0, atol=1e-5)
    np.testing.assert_allclose(1 / (1 + np.exp(-logit)), mask, rtol=0, atol=1e-6)
    expected = _output_log_power(reference["blocks"])
    # float32 rounding of the block swamps bins far below the frame's loudest; compare those loosely.
    loud = expected > expected.max(axis=1, keepdims=True) - 6
    for ours in (output, batched[0]):  # alone, and in a batch of two with the phase broadcast
        np.testing.assert_allclose(ours[loud], expected[loud], rtol=0, atol=1e-3)
        np.testing.assert_allclose(ours, expected, rtol=0, atol=2e-2)
    with pytest.raises(ValueError, match="phase"):
        model.explained(features, "output")


def _reference_target(features: np.ndarray, phase: np.ndarray, target: str, t_out: int, f_out: int) -> float:
    """Target ``target`` at (t_out, f_out) of the onnxruntime loop run on blocks rebuilt from log-power features
    and phase [T, 257] (float64), over frames 0..t_out."""
    result = reference_dtln_blocks(10 ** (features[: t_out + 1] / 2), phase[: t_out + 1])
    if target == "mask":
        return float(result["mask"][t_out, f_out])
    return float(_output_log_power(result["blocks"][t_out])[f_out])


@pytest.mark.parametrize("target", ["mask", "output"])
def test_saliency_equals_finite_difference_of_reference(model, spectrum, target):
    features, phase = log_power(spectrum), np.angle(spectrum)
    t_out = 60
    strong = np.argsort(features[t_out, 4:120])[::-1][:2] + 4  # two loud bins of the output frame
    f_out = int(strong[0])
    inputs = torch.as_tensor(features[None], dtype=torch.float32).requires_grad_(True)
    value = model.explained(inputs, target, _tensor(phase))[0, t_out, f_out]
    saliency = torch.autograd.grad(value, inputs)[0][0].numpy()
    assert not saliency[t_out + 1 :].any()  # causal
    step = 1e-2
    for t_in, f_in in ((t_out, strong[0]), (t_out, strong[1]), (t_out - 1, strong[0]), (t_out - 4, strong[1])):
        plus, minus = features.copy(), features.copy()
        plus[t_in, f_in] += step
        minus[t_in, f_in] -= step
        difference = (
            _reference_target(plus, phase, target, t_out, f_out) - _reference_target(minus, phase, target, t_out, f_out)
        ) / (2 * step)
        assert saliency[t_in, f_in] == pytest.approx(difference, rel=2e-2, abs=2e-4), (t_in, f_in)


def test_wrong_sample_rate_names_the_rates():
    with pytest.raises(ValueError, match="16000 Hz.*48000 Hz"):
        load_dtln(48000)
    with pytest.raises(ValueError, match="DTLN.*16000 Hz.*8000 Hz"):
        DTLN.stft_config(8000)


def test_interface(model):
    assert (model.n_bins, model.sample_rate, model.lookahead_frames) == (257, 16000, 0)
    assert [path.name for path in model.source_paths] == ["dtln_model_1.onnx", "dtln_model_2.onnx"]
    for layer in model.latent_layers:
        assert isinstance(model.latent_module(layer), torch.nn.Identity) and model.latent_units(layer) == 128
    for name in model.randomisation_order:
        assert callable(getattr(model.get_submodule(name), "reset_parameters"))
    assert not model.training


def test_wrong_graph_is_named(model):
    stage1, stage2 = model.source_paths
    with pytest.raises(ValueError, match=f"{stage2}.*model_1.*LSTM"):
        read_stage1_weights(stage2)
    with pytest.raises(ValueError, match=f"{stage1}.*model_2.*Conv"):
        read_stage2_weights(stage1)


def test_tampered_weights_are_refused(tmp_path, monkeypatch):
    folder = tmp_path / "xai_helpers" / "models" / "onnx_files"
    shutil.copytree(weights.WEIGHTS_DIR, folder)
    tampered = folder / "dtln_model_2.onnx"
    data = bytearray(tampered.read_bytes())
    data[len(data) // 2] ^= 0xFF
    tampered.write_bytes(bytes(data))
    monkeypatch.setattr(weights, "WEIGHTS_DIR", folder)
    with pytest.raises(ValueError, match="dtln_model_2.onnx: SHA-256"):
        load_dtln()
