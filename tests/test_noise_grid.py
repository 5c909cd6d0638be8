"""Noise grid mode (issue #14): ``combine="grid"`` writes one file per range and amplitude, as the original
project; ``combine="pairs"`` (the default) is unchanged. And the noisy corpus is byte-reproducible (#15)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from xai_helpers.dsp.noise.examples import derive_seed
from xai_helpers.dsp.noise.registry import NOISE_SPECS, inject_noise, options_for
from xai_helpers.dsp.noise.tones import TONE_SPACING_HZ
from xai_helpers.dsp.wave import rms
from xai_helpers.io.audio import load_audio, write_audio
from xai_helpers.io.noisy_corpus import make_noisy_corpus, read_record

SR = 16000
CLEAN = 0.1 * np.sin(2 * np.pi * 220 * np.arange(SR) / SR)  # 1 s, a 220 Hz tone
FREQ_RANGES = ["1000-2000", "3000-3500"]
TIME_RANGES = ["0.1-0.3", "0.5-0.9"]
AMPLITUDES = [0.01, 0.02, 0.05]


def test_grid_of_2_frequency_ranges_by_3_amplitudes_gives_6_tone_files():
    two_seconds = np.tile(CLEAN, 2)  # 0.5 Hz FFT bins: every tone (12.5 Hz + k 25 Hz) falls on a bin, no leakage
    examples = inject_noise(
        two_seconds, SR, "sinusoidal", freq_ranges=FREQ_RANGES, rms_amplitudes=AMPLITUDES, seed=3, combine="grid"
    )
    assert len(examples) == 6
    expected = [(band, a) for band in ((1000.0, 2000.0), (3000.0, 3500.0)) for a in AMPLITUDES]
    freqs = np.fft.rfftfreq(len(two_seconds), 1 / SR)
    for index, (example, ((lo, hi), amplitude)) in enumerate(zip(examples, expected)):
        assert example.condition == f"sinusoidal_{lo:g}-{hi:g}Hz_{amplitude:g}"
        assert example.params["freq_ranges_hz"] == [[lo, hi]] and example.params["rms_amplitudes"] == [amplitude]
        assert example.params["combine"] == "grid" and example.params["derived_seed"] == derive_seed(3, 1, index)
        assert rms(example.noise) == pytest.approx(amplitude, rel=1e-9)
        power = np.abs(np.fft.rfft(example.noise)) ** 2
        tones = freqs[power > 1e-6 * power.max()]
        n_tones = round((hi - lo) / TONE_SPACING_HZ)
        # the tones sit where the generator puts them: every 25 Hz strictly inside the range, nothing else
        np.testing.assert_allclose(tones, lo + (np.arange(n_tones) + 0.5) * (hi - lo) / n_tones)
    # files of one range draw their own phases: same tones, different waves
    assert not np.allclose(examples[0].noise / 0.01, examples[1].noise / 0.02)


def test_grid_of_2_time_ranges_by_3_amplitudes_gives_6_burst_files():
    examples = inject_noise(
        CLEAN, SR, "white", time_ranges=TIME_RANGES, rms_amplitudes=AMPLITUDES, seed=3, combine="grid"
    )
    assert [e.condition for e in examples] == [f"white_{span}s_{a:g}" for span in TIME_RANGES for a in AMPLITUDES]
    for example in examples:
        ((lo, hi),) = example.params["time_ranges_s"]
        (amplitude,) = example.params["rms_amplitudes"]
        inside = np.zeros(SR, dtype=bool)
        inside[round(lo * SR) : round(hi * SR)] = True
        assert not np.any(example.noise[~inside]) and np.all(example.noise[inside] != 0)
        assert rms(example.noise[inside]) == pytest.approx(amplitude, rel=1e-9)


# values of the pairs mode before the grid mode existed (seed 3, same clean wave): unchanged
PAIRS_SINUSOIDAL = {
    0: -0.03554395833237247,
    1: -0.012590015951478972,
    2: 0.018623696495903275,
    5000: -0.003179934380126745,
    12345: 0.05680234244466144,
}
PAIRS_WHITE = {
    1600: 0.03605905655136968,
    2000: 0.03669786333463018,
    9000: -0.016773302375344537,
    12345: 0.04820408253311243,
}


def test_pairs_mode_is_the_default_and_unchanged():
    (sine,) = inject_noise(CLEAN, SR, "sinusoidal", freq_ranges=FREQ_RANGES, rms_amplitudes=[0.01, 0.02], seed=3)
    (same,) = inject_noise(
        CLEAN, SR, "sinusoidal", freq_ranges=FREQ_RANGES, rms_amplitudes=[0.01, 0.02], seed=3, combine="pairs"
    )
    assert np.array_equal(sine.noisy, same.noisy) and sine.condition == "sinusoidal_1000-2000Hz_0.01_3000-3500Hz_0.02"
    assert sine.params["derived_seed"] == 457190280 and sine.params["combine"] == "pairs"
    np.testing.assert_allclose([sine.noise[i] for i in PAIRS_SINUSOIDAL], list(PAIRS_SINUSOIDAL.values()), rtol=1e-12)
    (white,) = inject_noise(CLEAN, SR, "white", time_ranges=TIME_RANGES, rms_amplitudes=0.05, seed=3)
    assert white.params["derived_seed"] == 960329833
    np.testing.assert_allclose([white.noise[i] for i in PAIRS_WHITE], list(PAIRS_WHITE.values()), rtol=1e-12)
    # one range and one amplitude: the grid's only file is the pairs file
    (pair,) = inject_noise(CLEAN, SR, "white", time_ranges="0.1-0.3", rms_amplitudes=0.05, seed=3)
    (cell,) = inject_noise(CLEAN, SR, "white", time_ranges="0.1-0.3", rms_amplitudes=0.05, seed=3, combine="grid")
    assert np.array_equal(pair.noisy, cell.noisy) and pair.condition == cell.condition


def test_pairs_mode_refuses_a_count_mismatch_and_points_to_grid():
    with pytest.raises(ValueError, match=r"rms_amplitudes: got 3 values .* for 2 ranges .*combine='grid'"):
        inject_noise(CLEAN, SR, "sinusoidal", freq_ranges=FREQ_RANGES, rms_amplitudes=AMPLITUDES)
    with pytest.raises(ValueError, match=r"combine: unknown 'cross'; expected one of pairs, grid"):
        inject_noise(CLEAN, SR, "white", time_ranges=TIME_RANGES, rms_amplitudes=AMPLITUDES, combine="cross")
    with pytest.raises(ValueError, match=r"rms_amplitudes: amplitude -0.1 must be a finite RMS >= 0"):
        inject_noise(CLEAN, SR, "white", time_ranges=TIME_RANGES, rms_amplitudes=[0.1, -0.1], combine="grid")


def test_combine_reaches_only_the_ranged_noise_types():
    assert "combine" in NOISE_SPECS["sinusoidal"].options and "combine" in NOISE_SPECS["white"].options
    assert options_for("pink_snr", snr_db=[5.0], combine="grid") == {"snr_db": [5.0]}


def test_grid_corpus_writes_and_records_each_file(tmp_path):
    clean = write_audio(tmp_path / "clean" / "tone.wav", CLEAN, SR)
    corpus = make_noisy_corpus(
        [clean],
        tmp_path / "noisy",
        "sinusoidal",
        seed=3,
        freq_ranges=FREQ_RANGES,
        rms_amplitudes=AMPLITUDES,
        combine="grid",
    )
    assert sorted(p.name for p in (tmp_path / "noisy").glob("*.json")) == sorted(
        f"tone_sinusoidal_{band}Hz_{a:g}.json" for band in FREQ_RANGES for a in AMPLITUDES
    )
    for item in corpus:
        record = read_record(item.noisy_path)
        ((lo, hi),) = record["freq_ranges_hz"]
        assert (
            record["combine"] == "grid"
            and item.noisy_path.name == f"tone_sinusoidal_{lo:g}-{hi:g}Hz_{record['rms_amplitudes'][0]:g}.wav"
        )
        noise = load_audio(record["noise_path"], SR, check=False)
        assert rms(noise) == pytest.approx(record["rms_amplitudes"][0], rel=1e-5)  # float32 on disk
        assert json.loads(item.noisy_path.with_suffix(".json").read_text())["wav"] == item.noisy_path.name


# --------------------------------------------------------------------------- same seed, same bytes


def riff_chunks(data: bytes) -> list[str]:
    """The chunk ids of a RIFF/WAVE file, in order."""
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE"
    chunks, at = [], 12
    while at + 8 <= len(data):
        size = int.from_bytes(data[at + 4 : at + 8], "little")
        chunks.append(data[at : at + 4].decode("ascii"))
        at += 8 + size + (size & 1)
    return chunks


def test_noisy_corpus_with_the_same_seed_is_byte_identical(tmp_path):
    clean = write_audio(tmp_path / "clean" / "tone.wav", CLEAN, SR)

    def run(folder: str, seed: int) -> dict[str, bytes]:
        make_noisy_corpus(
            [clean],
            tmp_path / folder,
            "white",
            seed=seed,
            time_ranges=TIME_RANGES,
            rms_amplitudes=AMPLITUDES,
            combine="grid",
        )
        return {p.name: p.read_bytes() for p in sorted((tmp_path / folder).iterdir())}

    first, second, other = run("first", 3), run("second", 3), run("other", 4)
    assert len(first) == 6 * 3  # noisy WAV, noise WAV and JSON per file
    assert first == second
    wavs = [name for name in first if name.endswith(".wav")]
    assert all(first[name] != other[name] for name in wavs)
    # no libsndfile PEAK chunk (it holds the time of writing): fmt, fact, data only, float32 read back exactly
    assert all(riff_chunks(first[name]) == ["fmt ", "fact", "data"] for name in wavs)
    noisy = tmp_path / "first" / "tone_white_0.1-0.3s_0.01.wav"
    (expected,) = inject_noise(load_audio(clean, SR), SR, "white", time_ranges="0.1-0.3", rms_amplitudes=0.01, seed=3)
    assert np.array_equal(load_audio(noisy, SR), expected.noisy.astype(np.float32))
