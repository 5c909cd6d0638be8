"""Notebook 01's SNR map, speech-dominant binary mask, zero-signal mask and explained-segment marker."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from xai_helpers.dsp.snr import snr_map_db, speech_dominant_mask  # noqa: E402
from xai_helpers.dsp.stft import LOG_POWER_FLOOR, log_power, stft  # noqa: E402
from xai_helpers.models.enhance import enhance_details  # noqa: E402
from xai_helpers.models.nsnet2 import stft_config  # noqa: E402
from xai_helpers.models.zero_signal import zero_signal_mask  # noqa: E402
from xai_helpers.plots.explorer import panels  # noqa: E402
from xai_helpers.plots.overview import SEGMENT_GID, mark_segment, plot_enhancement_overview, plot_snr_overview  # noqa: E402
from xai_helpers.reports.snr import explained_segment  # noqa: E402

RATE = 16000
CONFIG = stft_config(RATE)


def tone_and_noise(seconds: float = 1.0, tone_hz: float = 1000.0):
    """A 1 kHz tone (amplitude 0.5) and white noise (RMS 0.01), seed 0."""
    t = np.arange(int(seconds * RATE)) / RATE
    return 0.5 * np.sin(2 * np.pi * tone_hz * t), np.random.default_rng(0).normal(0.0, 0.01, t.size)


def test_snr_map_of_a_tone_in_white_noise():
    tone, noise = tone_and_noise()
    snr = snr_map_db(tone, noise, CONFIG)
    freqs = CONFIG.frequencies_hz()
    assert snr.shape == (CONFIG.n_bins, CONFIG.n_frames(tone.size))
    middle = slice(5, snr.shape[1] - 5)  # frames away from the zero padding at the ends
    tone_bin = int(np.argmin(np.abs(freqs - 1000.0)))
    # Tone power per bin ~ (0.5/2 * window sum)^2 against noise ~ 0.01^2 * sum(w^2): about 50 dB.
    assert np.median(snr[tone_bin, middle]) > 40
    far = np.abs(freqs - 1000.0) > 300  # the sqrt-Hann window's leakage is far below the noise there
    assert np.median(snr[far][:, middle]) < -20
    # 10 log10 of the power ratio, bin by bin.
    expected = 10 * np.log10(np.abs(stft(tone, CONFIG)) ** 2 / np.abs(stft(noise, CONFIG)) ** 2)
    np.testing.assert_allclose(snr[tone_bin, middle], expected[tone_bin, middle], rtol=1e-9)
    assert np.all(snr_map_db(np.zeros(800), np.zeros(800), CONFIG) == 0.0)  # floor against floor
    with pytest.raises(ValueError, match="same length"):
        snr_map_db(tone, noise[:-1], CONFIG)


def test_speech_dominant_mask_threshold():
    snr = np.array([[-3.0, 0.0, 0.5], [10.0, 2.0, -np.inf]])
    np.testing.assert_array_equal(speech_dominant_mask(snr), [[False, False, True], [True, True, False]])
    np.testing.assert_array_equal(
        speech_dominant_mask(snr, threshold_db=2.0), [[False, False, False], [True, False, False]]
    )
    np.testing.assert_array_equal(
        speech_dominant_mask(snr, threshold_db=-5.0), [[True, True, True], [True, True, False]]
    )
    with pytest.raises(ValueError, match="threshold_db"):
        speech_dominant_mask(snr, np.nan)


def test_zero_signal_mask_matches_onnxruntime_on_an_all_floor_input():
    """Independent reference: Microsoft's ONNX file of NSNet2 run by onnxruntime on every bin at log10(1e-12) = -12."""
    import onnxruntime as ort

    from xai_helpers.models.nsnet2 import onnx_model_path

    mask = zero_signal_mask(30, RATE)
    session = ort.InferenceSession(str(onnx_model_path(RATE)), providers=["CPUExecutionProvider"])
    floor = np.full((1, 30, CONFIG.n_bins), -12.0, dtype=np.float32)
    reference = session.run(None, {session.get_inputs()[0].name: floor})[0][0].T
    assert mask.shape == reference.shape == (CONFIG.n_bins, 30)
    np.testing.assert_allclose(mask, reference, rtol=0, atol=1e-5)
    assert np.all((mask >= 0) & (mask <= 1))
    # The zero signal's features are the floor of log_power: the same as enhancing true silence's STFT.
    assert LOG_POWER_FLOOR == 1e-12
    np.testing.assert_array_equal(log_power(stft(np.zeros(30 * 160 - 160), CONFIG)), -12.0)
    with pytest.raises(ValueError, match="n_frames"):
        zero_signal_mask(0)


def segment_spans(fig):
    return [p for ax in fig.axes for p in ax.patches if p.get_gid() == SEGMENT_GID]


def test_segment_marker_is_placed_at_its_seconds_in_the_file():
    tone, noise = tone_and_noise(1.2)
    snr = snr_map_db(tone, noise, CONFIG)
    times = CONFIG.frame_times_s(snr.shape[1])
    fig = plot_snr_overview(snr, np.full(snr.shape, 0.5), CONFIG.frequencies_hz(), times, 0.0, (0.5, 0.2), title="x")
    spans = segment_spans(fig)
    assert len(spans) == 3
    for span in spans:
        assert span.get_x() == pytest.approx(0.5) and span.get_x() + span.get_width() == pytest.approx(0.7)
    assert fig.axes[0].get_xlim()[1] == pytest.approx(times[-1] + 0.005)  # seconds of the file, to its end
    assert fig.axes[1].get_title().startswith("speech-dominant bins: SNR > 0 dB")

    overview = plot_enhancement_overview(
        enhance_details((tone + noise).astype(np.float32), RATE), clean=tone, segment_s=(0.5, 0.2)
    )
    assert len(segment_spans(overview)) == 5  # waveforms, three spectrograms, mask
    for figure in (fig, overview):  # the bottom panel (colour bars left out) labels the shared time axis
        bottom = panels(figure)[-1]
        assert bottom.get_xlabel() == "Time in the file (s)"
    assert segment_spans(plot_enhancement_overview(enhance_details((tone + noise).astype(np.float32), RATE))) == []
    ax = Figure().subplots()
    with pytest.raises(ValueError, match="duration_s > 0"):
        mark_segment(ax, 0.5, 0.0)


def test_explained_segment_parameters():
    assert explained_segment(0.5, 0.2) == (0.5, 0.2)
    assert explained_segment(0.0, None) is None
    with pytest.raises(ValueError, match="segment_duration_s"):
        explained_segment(0.5, -0.1)
