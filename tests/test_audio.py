"""Audio loading, STFT round trip and the whole denoiser against the reference pipeline's math."""

from __future__ import annotations

import logging

import numpy as np
import onnxruntime as ort
import pytest
import soundfile as sf
from scipy.signal import windows

from xai_helpers.models.enhance import enhance
from xai_helpers.io.audio import load_audio
from xai_helpers.models.nsnet2 import onnx_model_path
from xai_helpers.dsp.stft import istft, log_power, stft
from xai_helpers.models.nsnet2 import stft_config


def _reference_enhance(wave: np.ndarray) -> np.ndarray:
    """The DNS baseline's 16 kHz math, written out frame by frame (featurelib.stft/istft + onnxruntime)."""
    win_len, hop, n_fft = 320, 160, 320
    win = np.sqrt(windows.hann(win_len, sym=False))
    n_frames = int(np.ceil((len(wave) + win_len - hop) / hop))
    padded = np.concatenate([wave, np.zeros(n_frames * hop - len(wave))])
    spec, frame = [], np.zeros(win_len)
    for n in range(n_frames):
        frame = np.concatenate([frame[hop:], padded[n * hop : n * hop + hop]])
        spec.append(np.fft.rfft(win * frame, n_fft))
    spec = np.array(spec).T[:, 1:]  # nodelay: drop the first frame
    feat = np.log10(np.maximum(np.abs(spec) ** 2, 1e-12)).T[None].astype(np.float32)
    session = ort.InferenceSession(str(onnx_model_path(16000)), providers=["CPUExecutionProvider"])
    gain = np.clip(session.run(None, {"input": feat})[0][0].T, 10 ** (-80 / 20), 1.0)
    out_spec = spec * gain
    out = np.zeros(hop * (out_spec.shape[1] - 1) + win_len)
    for n in range(out_spec.shape[1]):
        out[n * hop : n * hop + win_len] += win * np.fft.irfft(out_spec[:, n], n_fft)[:win_len]
    return out[: len(wave)]


def test_enhance_matches_reference_pipeline(noisy_speech):
    enhanced = enhance(noisy_speech, 16000)
    reference = _reference_enhance(noisy_speech.astype(np.float64))
    assert enhanced.shape == noisy_speech.shape
    difference = np.abs(enhanced - reference).max()
    print(f"max |enhance - reference| = {difference:.2e} (peak {np.abs(reference).max():.3f})")
    assert difference < 1e-5
    # It denoises: the output has less energy than the input.
    assert np.mean(enhanced**2) < np.mean(noisy_speech**2)


@pytest.mark.parametrize("sample_rate", [16000, 48000])
def test_stft_shapes_and_round_trip(sample_rate):
    config = stft_config(sample_rate)
    wave = np.random.default_rng(1).normal(size=sample_rate // 2 + 37)
    spectrum = stft(wave, config)
    assert spectrum.shape == (config.n_bins, int(np.ceil(len(wave) / config.hop_length)))
    assert config.n_bins == {16000: 161, 48000: 513}[sample_rate]
    rebuilt = istft(spectrum, config, len(wave))
    assert rebuilt.shape == wave.shape
    # Everything after the first hop (covered by a single window) is reconstructed exactly.
    np.testing.assert_allclose(rebuilt[config.hop_length :], wave[config.hop_length :], atol=1e-10)


def test_log_power_floor():
    features = log_power(np.array([[0.0, 1e-3, 10.0]]))
    np.testing.assert_allclose(features, [[-12.0, -6.0, 2.0]])


def test_load_audio_downmixes_and_resamples(tmp_path, caplog):
    rate = 44100
    t = np.arange(rate) / rate
    stereo = np.stack([np.sin(2 * np.pi * 440 * t), np.sin(2 * np.pi * 440 * t) * 0.5], axis=1) * 0.5
    path = tmp_path / "stereo.flac"
    sf.write(path, stereo, rate)
    with caplog.at_level(logging.WARNING):
        wave = load_audio(path, 16000)
    assert "downmixed" in caplog.text and "stereo.flac" in caplog.text
    assert wave.shape == (16000,)
    # Amplitude of the averaged channels (0.375) is kept by the band-limited resampler.
    assert abs(np.abs(wave[2000:-2000]).max() - 0.375) < 0.01
    spectrum = np.abs(np.fft.rfft(wave))
    assert abs(np.argmax(spectrum) - 440) <= 1


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: None, "no such audio file"),
        (lambda p: p.write_text("not audio"), "not a readable audio file"),
        (lambda p: sf.write(p, np.zeros((0,)), 16000), "empty"),
        (lambda p: sf.write(p, np.zeros(16000), 16000), "all zeros"),
        (lambda p: sf.write(p, np.ones(100) * 0.1, 16000), "shorter than one 20 ms frame"),
    ],
)
def test_load_audio_bad_input_names_file(tmp_path, make, message):
    path = tmp_path / "bad_input.wav"
    make(path)
    with pytest.raises((ValueError, FileNotFoundError), match=message) as error:
        load_audio(path)
    assert "bad_input.wav" in str(error.value)
