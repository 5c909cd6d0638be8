"""Quality scores where they apply (NaN + logged reason otherwise), notebook 01's quality table and its CSV."""

from __future__ import annotations

import logging
import math
import re

import numpy as np
import pandas as pd
import pytest

from xai_helpers.experiments.quality import quality_scores
from xai_helpers.reports.noise import QUALITY_FILE, quality_table, style_quality_table, write_quality_table

SR = 16000


@pytest.fixture(scope="module")
def speech_and_noisy() -> tuple[np.ndarray, np.ndarray]:
    """1.5 s of a speech-like signal (modulated harmonics, pauses) and a copy with white noise at about 10 dB SNR."""
    time = np.arange(int(1.5 * SR)) / SR
    voiced = sum(np.sin(2 * np.pi * 140 * k * time) / k for k in range(1, 15))
    envelope = np.clip(np.sin(2 * np.pi * 2.5 * time), 0, None)
    speech = 0.1 * voiced * envelope / np.max(np.abs(voiced))
    noise = np.random.default_rng(1).standard_normal(speech.size)
    noisy = speech + noise * np.sqrt(np.mean(speech**2) / np.mean(noise**2) / 10)
    return speech, noisy


def orthogonal_noise(speech: np.ndarray, snr_db: float) -> np.ndarray:
    """Zero-mean white noise orthogonal to the zero-mean ``speech``, at ``snr_db`` below its power (seed 2)."""
    centred = speech - speech.mean()
    noise = np.random.default_rng(2).standard_normal(speech.size)
    noise -= noise.mean()
    noise -= (noise @ centred) / (centred @ centred) * centred
    return noise * np.sqrt((centred @ centred) / (noise @ noise) * 10 ** (-snr_db / 10))


def test_quality_scores_of_cases_with_known_answers(speech_and_noisy):
    speech, _ = speech_and_noisy
    # A scaled copy: wide-band PESQ's ceiling (P.862.2 maps a perfect score to 4.644), STOI 1, and SI-SDR
    # unbounded (scale-invariant; the residual is float round-off).
    copy = quality_scores(speech, 0.5 * speech, SR, source="copy")
    assert copy["PESQ"] == pytest.approx(4.644, abs=1e-3)
    assert copy["STOI"] == pytest.approx(1.0, abs=1e-9)
    assert copy["SI-SDR"] > 200
    # Noise orthogonal to the speech: the optimal scale of the reference is 1, so SI-SDR = 10 log10(P_speech / P_noise).
    scores = {
        snr: quality_scores(speech, speech + orthogonal_noise(speech, snr), SR, source=f"{snr} dB")
        for snr in (30.0, 10.0, 0.0)
    }
    for snr, noisy in scores.items():
        assert noisy["SI-SDR"] == pytest.approx(snr, abs=1e-9)
    # more noise, lower scores (PESQ sits at the floor of its wide-band scale, about 1.02, from 10 dB down)
    assert copy["STOI"] > scores[30.0]["STOI"] > scores[10.0]["STOI"] > scores[0.0]["STOI"] > 0
    assert copy["PESQ"] > scores[30.0]["PESQ"] > scores[10.0]["PESQ"] >= 1.0


def test_a_score_that_cannot_apply_is_nan_with_the_reason_logged(speech_and_noisy, caplog):
    speech, noisy = speech_and_noisy
    short = slice(0, int(0.1 * SR))
    with caplog.at_level(logging.WARNING, logger="xai_helpers.experiments.quality"):
        scores = quality_scores(speech[short], noisy[short], SR, source="short.wav")
    assert math.isnan(scores["PESQ"]) and math.isnan(scores["STOI"]) and math.isfinite(scores["SI-SDR"])
    assert any("PESQ n/a" in r.message and "short.wav" in r.message and "0.25 s" in r.message for r in caplog.records)
    assert any("STOI n/a" in r.message and "short.wav" in r.message for r in caplog.records)
    # 8 kHz: no wide-band PESQ, the others apply
    with caplog.at_level(logging.WARNING):
        at_8k = quality_scores(speech[::2], noisy[::2], 8000, source="nb.wav")
    assert math.isnan(at_8k["PESQ"]) and math.isfinite(at_8k["STOI"])


def test_quality_table_improvements_na_and_csv(tmp_path):
    rows = [
        {
            "file": "a_pink",
            "model": "nsnet2",
            "condition": "pink_snr5dB",
            "PESQ noisy": 1.5,
            "PESQ enhanced": 2.25,
            "STOI noisy": 0.8,
            "STOI enhanced": 0.85,
            "SI-SDR noisy (dB)": 5.0,
            "SI-SDR enhanced (dB)": 12.5,
        },
        {
            "file": "b_pink",
            "model": "nsnet2",
            "condition": "pink_snr5dB",
            "PESQ noisy": float("nan"),
            "PESQ enhanced": float("nan"),
            "STOI noisy": 0.7,
            "STOI enhanced": 0.6,
            "SI-SDR noisy (dB)": 4.0,
            "SI-SDR enhanced (dB)": 3.0,
        },
    ]
    table = quality_table(rows)
    assert list(table.columns) == [
        "model",
        "condition",
        "PESQ noisy",
        "PESQ enhanced",
        "PESQ improvement",
        "STOI noisy",
        "STOI enhanced",
        "STOI improvement",
        "SI-SDR noisy (dB)",
        "SI-SDR enhanced (dB)",
        "SI-SDR improvement (dB)",
    ]
    assert table.loc["a_pink", "PESQ improvement"] == pytest.approx(0.75)
    assert table.loc["b_pink", "STOI improvement"] == pytest.approx(-0.1)
    assert table.loc["a_pink", "SI-SDR improvement (dB)"] == pytest.approx(7.5)
    assert math.isnan(table.loc["b_pink", "PESQ improvement"])
    html = style_quality_table(table).to_html()
    assert "n/a" in html and "0.750" not in html and "0.75" in html and "-0.100" in html
    assert re.search(r"<caption>PESQ, STOI and SI-SDR of the noisy input and of nsnet2's output[^<]*</caption>", html)
    path = write_quality_table(table, tmp_path / "noisy")
    assert path == tmp_path / "noisy" / QUALITY_FILE
    back = pd.read_csv(path, index_col="file")
    pd.testing.assert_frame_equal(back, table, check_dtype=False)
