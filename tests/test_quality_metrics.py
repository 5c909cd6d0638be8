"""PESQ and STOI: maxima on identical signals, monotone fall with noise, resampling rule, clear errors."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.signal import resample_poly

from xai_helpers.dsp.metrics import pesq, si_sdr, stoi
from xai_helpers.dsp.noise.broadband import white_noise
from xai_helpers.dsp.noise.mixing import mix_at_snr

PESQ_WB_MAX = 4.644  # P.862.2 mapping of the best raw score
PESQ_NB_MAX = 4.549  # P.862.1 mapping of the best raw score


def _noisy(clean: np.ndarray, snr_db: float) -> np.ndarray:
    return mix_at_snr(clean, white_noise(len(clean), seed=3), snr_db)[0]


def test_identical_signals_score_the_maximum(clean_speech):
    assert pesq(clean_speech, clean_speech, 16000) == pytest.approx(PESQ_WB_MAX, abs=1e-3)
    assert pesq(clean_speech, clean_speech, 16000, mode="nb") == pytest.approx(PESQ_NB_MAX, abs=1e-3)
    assert stoi(clean_speech, clean_speech, 16000) == pytest.approx(1.0, abs=1e-6)
    assert stoi(clean_speech, clean_speech, 16000, extended=True) == pytest.approx(1.0, abs=1e-6)


def test_scores_fall_monotonically_with_noise(clean_speech):
    noisy = [_noisy(clean_speech, snr) for snr in (20.0, 10.0, 0.0)]
    for metric in (pesq, stoi, lambda ref, deg, rate: stoi(ref, deg, rate, extended=True)):
        scores = [metric(clean_speech, wave, 16000) for wave in noisy]
        assert scores[0] > scores[1] > scores[2], scores
    assert pesq(clean_speech, noisy[0], 16000) < PESQ_WB_MAX - 0.5  # noise at 20 dB is audible
    # SI-SDR of white noise at a set SNR is that SNR: the ladder really is 20, 10, 0 dB.
    assert [si_sdr(wave, clean_speech) for wave in noisy] == pytest.approx([20.0, 10.0, 0.0], abs=0.1)


def test_other_rates_are_resampled_down(clean_speech):
    """A 16 kHz pair played at 48 kHz scores what it scores at 16 kHz (48 kHz is resampled to 16 kHz)."""
    noisy = _noisy(clean_speech, 10.0)
    at_16k = pesq(clean_speech, noisy, 16000)
    clean_48k, noisy_48k = resample_poly(clean_speech, 3, 1), resample_poly(noisy, 3, 1)
    assert pesq(clean_48k, noisy_48k, 48000) == pytest.approx(at_16k, abs=0.02)
    assert pesq(clean_48k, clean_48k, 48000) == pytest.approx(PESQ_WB_MAX, abs=1e-3)
    # between 8 and 16 kHz: narrow band at 8 kHz
    clean_12k = resample_poly(clean_48k, 1, 4)
    assert pesq(clean_12k, clean_12k, 12000) == pytest.approx(PESQ_NB_MAX, abs=1e-3)


def test_pesq_rate_and_mode_errors(clean_speech):
    at_8k = resample_poly(clean_speech, 1, 2)
    with pytest.raises(ValueError, match=r"'a\.wav'.*wide band \(mode='wb'\) needs sample_rate >= 16000 Hz"):
        pesq(at_8k, at_8k, 8000, mode="wb", source="a.wav")
    with pytest.raises(ValueError, match="sample_rate 4000 Hz"):
        pesq(at_8k, at_8k, 4000)
    with pytest.raises(ValueError, match="mode must be one of auto, wb, nb"):
        pesq(clean_speech, clean_speech, 16000, mode="wide")
    with pytest.raises(ValueError, match="sample_rate must be a positive integer"):
        pesq(clean_speech, clean_speech, 16000.0)


@pytest.mark.parametrize("metric", [pesq, stoi])
def test_errors_name_the_argument_and_the_file(metric, clean_speech):
    with pytest.raises(ValueError, match=r"'x\.wav'.*reference and degraded differ in length \(35680 and 35679"):
        metric(clean_speech, clean_speech[:-1], 16000, source="x.wav")
    with pytest.raises(ValueError, match=r"'x\.wav'.*reference is silent"):
        metric(np.zeros_like(clean_speech), clean_speech, 16000, source="x.wav")
    broken = clean_speech.copy()
    broken[5] = np.nan
    with pytest.raises(ValueError, match=r"'x\.wav'.*degraded contains NaN"):
        metric(clean_speech, broken, 16000, source="x.wav")
    with pytest.raises(ValueError, match=r"reference must be a non-empty 1-D waveform"):
        metric(np.stack([clean_speech, clean_speech]), clean_speech, 16000)


def test_pesq_short_silent_and_speechless(clean_speech):
    short = clean_speech[:3200]  # 0.2 s
    with pytest.raises(ValueError, match=r"'s\.wav'.*last 0\.200 s; PESQ needs at least 0\.25 s"):
        pesq(short, short, 16000, source="s.wav")
    with pytest.raises(ValueError, match=r"'s\.wav'.*degraded is silent"):
        pesq(clean_speech, np.zeros_like(clean_speech), 16000, source="s.wav")
    # 0.25 s of speech is long enough for the buffer but too short for P.862's utterance detector:
    # the library's NoUtterancesError comes back as a ValueError naming the file.
    quarter = clean_speech[:4000]
    with pytest.raises(ValueError, match=r"'s\.wav'.*found no speech"):
        pesq(quarter, quarter, 16000, source="s.wav")


def test_stoi_too_little_speech(clean_speech):
    short = clean_speech[:4800]  # 0.3 s: fewer than 30 STOI frames
    with pytest.raises(ValueError, match=r"'s\.wav'.*too little speech"):
        stoi(short, short, 16000, source="s.wav")
