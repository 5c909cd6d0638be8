"""The ``room_reverberation`` noise type: registry wiring, the corpus files (impulse response + record), errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from xai_helpers.dsp.noise.examples import derive_seed
from xai_helpers.dsp.noise.registry import NOISE_SPECS, options_for
from xai_helpers.dsp.noise.reverb import estimate_rt60
from xai_helpers.dsp.noise.room import room_impulse_response
from xai_helpers.io.audio import load_audio, write_audio
from xai_helpers.io.datasets import list_audio_files
from xai_helpers.io.noisy_corpus import make_noisy_corpus, read_record

SR = 16000


@pytest.fixture(scope="module")
def clean_file(tmp_path_factory) -> object:
    """A 1 s speech-like clean file (amplitude-modulated harmonics), seed 0."""
    time = np.arange(SR) / SR
    wave = sum(np.sin(2 * np.pi * 150 * k * time) / k for k in range(1, 12)) * (
        0.5 + 0.5 * np.sin(2 * np.pi * 3 * time)
    )
    wave = 0.1 * wave / np.max(np.abs(wave)) + 1e-3 * np.random.default_rng(0).standard_normal(SR)
    return write_audio(tmp_path_factory.mktemp("clean") / "speech.wav", wave, SR)


def test_room_type_has_its_own_fixed_seed_id_and_options():
    spec = NOISE_SPECS["room_reverberation"]
    assert spec.seed_id == 7 and NOISE_SPECS["reverberation"].seed_id == 3
    every = {"reverberances": [0.3], "room_dim_m": [4, 4, 3], "source_mic_distance_m": 1.0, "snr_db": [5.0]}
    assert options_for("room_reverberation", **every) == {
        "reverberances": [0.3],
        "room_dim_m": [4, 4, 3],
        "source_mic_distance_m": 1.0,
    }
    assert options_for("reverberation", **every) == {"reverberances": [0.3]}


def test_room_corpus_writes_the_impulse_response_and_the_room_record(clean_file, tmp_path):
    out = tmp_path / "noisy"
    (item,) = make_noisy_corpus(
        [clean_file],
        out,
        "room_reverberation",
        seed=2,
        reverberances=[0.3],
        room_dim_m=[5.0, 4.0, 3.0],
        source_mic_distance_m=1.2,
    )
    assert item.noisy_path == out / "speech_room_rt0.3s.wav"
    record = read_record(item.noisy_path)
    rir_path = out / "speech_room_rt0.3s.rir.wav"
    assert record["rir_file"] == rir_path.name and record["rir_path"] == rir_path.resolve()
    # the record's room is the one asked for, placed from the derived seed of type id 7
    seed = derive_seed(2, 7, 0)
    assert record["derived_seed"] == seed and record["room"]["seed"] == seed
    assert record["room"]["room_dim_m"] == [5.0, 4.0, 3.0] and record["room"]["source_mic_distance_m"] == 1.2
    source, microphone = np.array(record["room"]["source_m"]), np.array(record["room"]["microphone_m"])
    assert np.linalg.norm(source - microphone) == pytest.approx(1.2)
    # measured RT60 within 15 % of the request, in the record and re-measured on the saved response
    assert record["rt60_s"] == 0.3 and abs(record["rt60_measured_s"] / 0.3 - 1) <= 0.15
    assert record["room"]["rt60_measured_s"] == record["rt60_measured_s"]
    saved = load_audio(rir_path, SR, check=False)
    expected, _ = room_impulse_response(0.3, SR, seed, room_dim_m=[5.0, 4.0, 3.0], source_mic_distance_m=1.2)
    np.testing.assert_allclose(saved, expected, atol=1e-6)
    assert abs(estimate_rt60(saved, SR) / 0.3 - 1) <= 0.15
    # the JSON is plain JSON; the companions are not inputs of the next notebooks
    json.loads(item.noisy_path.with_suffix(".json").read_text())
    assert list_audio_files(out) == [item.noisy_path]
