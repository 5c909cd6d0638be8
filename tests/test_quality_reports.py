"""Quality scores where they apply (NaN + logged reason otherwise), notebook 01's quality table and its CSV."""

from __future__ import annotations

import logging
import math
import re

import numpy as np
import pandas as pd
import pytest

from xai_helpers.dsp.metrics import pesq, si_sdr, stoi
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


def test_quality_scores_are_the_metrics(speech_and_noisy):
    speech, noisy = speech_and_noisy
    scores = quality_scores(speech, noisy, SR, source="x.wav")
    assert scores == {
        "PESQ": pytest.approx(pesq(speech, noisy, SR, "wb")),
        "STOI": pytest.approx(stoi(speech, noisy, SR)),
        "SI-SDR": pytest.approx(si_sdr(noisy, speech)),
    }
    assert scores["SI-SDR"] == pytest.approx(10.0, abs=0.5)


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
        {"file": "a_pink", "model": "nsnet2", "condition": "pink_snr5dB", "PESQ noisy": 1.5, "PESQ enhanced": 2.25, "STOI noisy": 0.8,
         "STOI enhanced": 0.85, "SI-SDR noisy (dB)": 5.0, "SI-SDR enhanced (dB)": 12.5},
        {"file": "b_pink", "model": "nsnet2", "condition": "pink_snr5dB", "PESQ noisy": float("nan"), "PESQ enhanced": float("nan"),
         "STOI noisy": 0.7, "STOI enhanced": 0.6, "SI-SDR noisy (dB)": 4.0, "SI-SDR enhanced (dB)": 3.0},
    ]
    table = quality_table(rows)
    assert list(table.columns) == [
        "model", "condition", "PESQ noisy", "PESQ enhanced", "PESQ improvement", "STOI noisy", "STOI enhanced", "STOI improvement",
        "SI-SDR noisy (dB)", "SI-SDR enhanced (dB)", "SI-SDR improvement (dB)",
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
