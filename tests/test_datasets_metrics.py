"""Audio file discovery, the VCTK + DEMAND pairing on a tiny fixture, and SI-SDR."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import soundfile as sf

from xai_helpers.io.datasets import list_audio_files, pair_vctk_demand
from xai_helpers.dsp.metrics import si_sdr


def _write(path, seconds=0.1, rate=48000):
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, np.random.default_rng(0).normal(size=int(rate * seconds)) * 0.1, rate)


def test_pair_vctk_demand(tmp_path, caplog):
    for name in ("p232_001.wav", "p232_002.wav", "p257_010.wav"):
        _write(tmp_path / "clean_testset_wav" / name)
        _write(tmp_path / "noisy_testset_wav" / name)
    _write(tmp_path / "noisy_testset_wav" / "p999_001.wav")  # no clean partner
    with caplog.at_level(logging.WARNING):
        pairs = pair_vctk_demand(tmp_path)
    assert [p.name for p in pairs] == ["p232_001", "p232_002", "p257_010"]
    assert all(p.clean.parent.name == "clean_testset_wav" and p.noisy.name == p.clean.name for p in pairs)
    assert "p999_001.wav" in caplog.text


def test_pair_vctk_demand_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="clean_testset_wav"):
        pair_vctk_demand(tmp_path)


def test_list_audio_files(tmp_path):
    _write(tmp_path / "b.wav")
    _write(tmp_path / "a.flac")
    (tmp_path / "notes.txt").write_text("x")
    assert [p.name for p in list_audio_files(tmp_path)] == ["a.flac", "b.wav"]
    assert list_audio_files(tmp_path / "b.wav") == [tmp_path / "b.wav"]
    with pytest.raises(FileNotFoundError, match="nothing_here"):
        list_audio_files(tmp_path / "nothing_here")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="empty"):
        list_audio_files(tmp_path / "empty")


def test_si_sdr_analytic():
    rng = np.random.default_rng(3)
    reference = rng.normal(size=16000)
    noise = rng.normal(size=16000)
    noise -= noise.mean()
    noise -= (
        np.dot(noise, reference - reference.mean())
        / np.dot(reference - reference.mean(), reference - reference.mean())
        * (reference - reference.mean())
    )
    noise *= np.sqrt(np.sum((reference - reference.mean()) ** 2) / np.sum(noise**2) / 10)  # orthogonal, 10 dB below
    assert si_sdr(reference + noise, reference) == pytest.approx(10.0, abs=1e-9)
    assert si_sdr(3.0 * reference + noise * 3.0, reference) == pytest.approx(10.0, abs=1e-9)  # scale-invariant
    with pytest.raises(ValueError, match="silent"):
        si_sdr(reference, np.zeros_like(reference))
