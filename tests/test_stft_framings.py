"""The three STFT framings against independent references: torch.stft / torch.istft (centred, GTCRN) and
DTLN's streaming buffer written out by hand (causal, rectangular)."""

import numpy as np
import pytest
import torch

from xai_helpers.dsp.stft import StftConfig, istft, stft

RNG = np.random.default_rng(3)
WAVE = RNG.standard_normal(16000 + 37)
CENTRED = StftConfig(16000, 512, 256, 512, window_type="sqrt-hann", padding="center")
CAUSAL = StftConfig(16000, 512, 128, 512, window_type="rect", padding="causal")


def test_centred_framing_equals_torch_stft_and_istft():
    window = torch.hann_window(512, dtype=torch.float64).sqrt()
    reference = torch.stft(torch.from_numpy(WAVE), 512, 256, 512, window, center=True, return_complex=True)
    spectrum = stft(WAVE, CENTRED)
    assert spectrum.shape == tuple(reference.shape) == (257, CENTRED.n_frames(WAVE.size))
    np.testing.assert_allclose(spectrum, reference.numpy(), atol=1e-10)
    back = torch.istft(reference * 0.5, 512, 256, 512, window, center=True, length=WAVE.size).numpy()
    np.testing.assert_allclose(istft(spectrum * 0.5, CENTRED, WAVE.size), back, atol=1e-10)
    np.testing.assert_allclose(CENTRED.frame_times_s(3), np.array([0, 256, 512]) / 16000)


def test_causal_framing_is_dtlns_streaming_buffer():
    spectrum = stft(WAVE, CAUSAL)
    assert spectrum.shape == (257, WAVE.size // 128)
    buffer = np.zeros(512)
    for k in range(spectrum.shape[1]):  # upstream's in_buffer: shift by 128, append the next 128 samples
        buffer = np.r_[buffer[128:], WAVE[k * 128 : (k + 1) * 128]]
        np.testing.assert_allclose(spectrum[:, k], np.fft.rfft(buffer), atol=1e-9)
    covered = WAVE.size // 128 * 128
    np.testing.assert_allclose(istft(spectrum, CAUSAL, WAVE.size)[:covered], WAVE[:covered], atol=1e-10)


@pytest.mark.parametrize("field, value", [("window_type", "hamming"), ("padding", "both")])
def test_unknown_window_or_padding_is_refused_by_name(field, value):
    with pytest.raises(ValueError, match=field):
        StftConfig(16000, 512, 128, 512, **{field: value})
