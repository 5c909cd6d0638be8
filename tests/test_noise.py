"""Noise injection: levels, spectra, time support, SNR, RT60, reproducibility, errors and files."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
from scipy.signal import welch

from xai_helpers.dsp.noise.babble import babble_noise
from xai_helpers.dsp.noise.broadband import pink_noise, white_noise
from xai_helpers.dsp.noise.bursts import white_noise_bursts
from xai_helpers.dsp.noise.examples import NoisyExample
from xai_helpers.dsp.noise.mixing import mix_at_snr, snr_db
from xai_helpers.dsp.noise.parsing import parse_range, parse_ranges
from xai_helpers.dsp.noise.registry import NOISE_TYPES, inject_noise
from xai_helpers.dsp.noise.reverb import estimate_rt60, reverberate, room_impulse_response
from xai_helpers.dsp.noise.tones import sinusoidal_noise
from xai_helpers.dsp.wave import rms as _rms  # "rms" is a test parameter below
from xai_helpers.io.noisy_corpus import save_noisy_example

SR = 16000


def _band_energy_fraction(wave: np.ndarray, lo: float, hi: float) -> float:
    """Fraction of the Hann-windowed spectrum's energy between lo and hi Hz."""
    power = np.abs(np.fft.rfft(wave * np.hanning(len(wave)))) ** 2
    freqs = np.fft.rfftfreq(len(wave), 1 / SR)
    return float(power[(freqs >= lo) & (freqs <= hi)].sum() / power.sum())


@pytest.fixture
def speech_like() -> np.ndarray:
    """1 s of a deterministic non-silent test signal (two tones + noise), [16000]."""
    t = np.arange(SR) / SR
    rng = np.random.default_rng(123)
    return 0.1 * np.sin(2 * np.pi * 220 * t) + 0.05 * np.sin(2 * np.pi * 3100 * t) + 0.01 * rng.standard_normal(SR)


# ---------------------------------------------------------------- parsing


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1000-2000", (1000.0, 2000.0)),
        ((1000, 2000), (1000.0, 2000.0)),
        (" 0.5 - 1.2 ", (0.5, 1.2)),
        ([0, 3], (0.0, 3.0)),
    ],
)
def test_parse_range_accepts_strings_and_pairs(value, expected):
    assert parse_range(value, name="freq_ranges") == expected


@pytest.mark.parametrize(
    "bad", ["2000-1000", "1000-1000", "abc", "1000", "-5-10", (3, 1), (-1, 2), (1, 2, 3), "1e3-nan"]
)
def test_parse_range_rejects_bad_values_naming_them(bad):
    with pytest.raises(ValueError) as error:
        parse_range(bad, name="freq_ranges")
    assert "freq_ranges" in str(error.value)
    assert repr(bad) in str(error.value)


def test_parse_ranges_single_list_and_comma_forms():
    assert parse_ranges("1000-2000", name="r") == [(1000.0, 2000.0)]
    assert parse_ranges((1000, 2000), name="r") == [(1000.0, 2000.0)]
    assert parse_ranges(["1000-2000", (3000, 4000)], name="r") == [(1000.0, 2000.0), (3000.0, 4000.0)]
    assert parse_ranges("1000-2000, 3000-4000", name="r") == [(1000.0, 2000.0), (3000.0, 4000.0)]
    with pytest.raises(ValueError, match="no range"):
        parse_ranges([], name="r")


# ---------------------------------------------------------------- sinusoidal


@pytest.mark.parametrize(("band", "rms"), [((1000, 2000), 0.01), ((300, 310), 0.2), ((7000, 8000), 0.05)])
def test_sinusoidal_rms_and_band_limits(band, rms):
    noise = sinusoidal_noise(SR, SR, [band], rms, seed=1)
    assert noise.shape == (SR,)
    assert _rms(noise) == pytest.approx(rms, rel=1e-9)
    assert _band_energy_fraction(noise, *band) > 0.99


def test_sinusoidal_ranges_sum_each_at_its_own_rms():
    noise = sinusoidal_noise(SR, SR, "500-1000, 4000-6000", [0.02, 0.05], seed=3)
    power = np.abs(np.fft.rfft(noise)) ** 2
    freqs = np.fft.rfftfreq(SR, 1 / SR)
    # Parseval: mean square = (2 * sum of one-sided |X|^2) / N^2 away from DC/Nyquist.
    low = 2 * power[(freqs >= 500) & (freqs <= 1000)].sum() / SR**2
    high = 2 * power[(freqs >= 4000) & (freqs <= 6000)].sum() / SR**2
    assert np.sqrt(low) == pytest.approx(0.02, rel=0.02)
    assert np.sqrt(high) == pytest.approx(0.05, rel=0.02)


def test_sinusoidal_amplitude_count_mismatch():
    with pytest.raises(ValueError, match="3 values"):
        sinusoidal_noise(SR, SR, ["100-200", "300-400"], [0.1, 0.2, 0.3], seed=0)


def test_sinusoidal_above_nyquist_names_range_and_nyquist():
    with pytest.raises(ValueError) as error:
        sinusoidal_noise(SR, SR, "7000-9000", 0.01, seed=0)
    assert "7000-9000" in str(error.value) and "8000" in str(error.value)


# ---------------------------------------------------------------- white bursts


def test_white_bursts_zero_outside_and_exact_rms_inside():
    noise = white_noise_bursts(2 * SR, SR, ["0.5-1.2", (1.5, 1.75)], [0.05, 0.2], seed=4)
    inside_1, inside_2 = slice(8000, 19200), slice(24000, 28000)
    assert _rms(noise[inside_1]) == pytest.approx(0.05, rel=1e-9)
    assert _rms(noise[inside_2]) == pytest.approx(0.2, rel=1e-9)
    outside = np.ones(len(noise), dtype=bool)
    outside[inside_1] = outside[inside_2] = False
    assert not np.any(noise[outside])
    assert np.all(noise[inside_1] != 0)


def test_white_burst_outside_file_names_range_and_duration():
    with pytest.raises(ValueError) as error:
        white_noise_bursts(SR, SR, "0.5-1.5", 0.05, seed=0)
    assert "0.5-1.5" in str(error.value) and "duration 1 s" in str(error.value)


def test_negative_amplitude_is_rejected():
    with pytest.raises(ValueError, match="-0.1"):
        white_noise_bursts(SR, SR, "0.1-0.2", -0.1, seed=0)
    with pytest.raises(ValueError, match="-0.01"):
        inject_noise(np.ones(SR), SR, "sinusoidal", freq_ranges="100-200", rms_amplitudes=[-0.01])


# ---------------------------------------------------------------- SNR mixing, white/pink/babble


@pytest.mark.parametrize("target", [-5.0, 0.0, 5.0, 20.0, 3.7])
def test_mix_at_snr_is_exact(speech_like, target):
    noisy, scaled = mix_at_snr(speech_like, pink_noise(SR, seed=2), target)
    assert np.array_equal(noisy, speech_like + scaled)
    assert abs(snr_db(speech_like, scaled) - target) < 1e-6
    assert abs(10 * np.log10(np.mean(speech_like**2) / np.mean(scaled**2)) - target) < 1e-6


def test_mix_at_snr_rejects_silent_clean():
    with pytest.raises(ValueError, match="all zeros"):
        mix_at_snr(np.zeros(100), np.ones(100), 5.0)


def test_snr_db_edge_cases():
    assert snr_db(np.ones(10), np.zeros(10)) == np.inf
    assert snr_db(np.ones(10), 0.1 * np.ones(10)) == pytest.approx(20.0)


def test_white_and_pink_have_unit_rms():
    assert _rms(white_noise(1000, seed=0)) == pytest.approx(1.0, rel=1e-12)
    assert _rms(pink_noise(1001, seed=0)) == pytest.approx(1.0, rel=1e-12)


def test_pink_noise_slope_is_minus_10_db_per_decade():
    freqs, psd = welch(pink_noise(2**18, seed=5), fs=SR, nperseg=4096)
    keep = (freqs >= 50) & (freqs <= 5000)
    slope = np.polyfit(np.log10(freqs[keep]), 10 * np.log10(psd[keep]), 1)[0]
    assert slope == pytest.approx(-10.0, abs=1.5)
    # White noise, by contrast, is flat.
    freqs, psd = welch(white_noise(2**18, seed=5), fs=SR, nperseg=4096)
    assert abs(np.polyfit(np.log10(freqs[keep]), 10 * np.log10(psd[keep]), 1)[0]) < 1.5


def test_babble_sums_equal_level_talkers():
    rng = np.random.default_rng(0)
    sources = [rng.standard_normal(3000) * scale for scale in (0.01, 1.0, 5.0)]
    one = babble_noise(5000, sources[1:2], seed=0, n_talkers=1)
    # One talker: its utterance from some offset, looped (period 3000), scaled to unit RMS.
    assert np.array_equal(one[3000:], one[:2000])
    assert np.mean(one[:3000] ** 2) == pytest.approx(1.0)
    offset = int(np.argmin(np.abs(sources[1] / _rms(sources[1]) - one[0])))
    assert np.allclose(one[:3000], np.roll(sources[1], -offset) / _rms(sources[1]))
    babble = babble_noise(5000, sources, seed=0, n_talkers=3)
    assert babble.shape == (5000,)
    assert _rms(babble) == pytest.approx(np.sqrt(3), rel=0.1)  # three independent unit-RMS talkers
    with pytest.raises(ValueError, match="all zeros"):
        babble_noise(100, [np.zeros(50)], seed=0)


# ---------------------------------------------------------------- reverberation


@pytest.mark.parametrize("rt60", [0.3, 0.8])
def test_rir_achieves_its_rt60(rt60):
    rir = room_impulse_response(rt60, SR, seed=7)
    assert rir[0] == 1.0
    assert len(rir) == round(rt60 * SR)
    assert estimate_rt60(rir, SR) == pytest.approx(rt60, rel=0.10)
    # Default direct-to-reverberant ratio is 0 dB.
    assert np.sum(rir[1:] ** 2) == pytest.approx(1.0)


def test_reverberate_keeps_length_and_rms(speech_like):
    wet = reverberate(speech_like, SR, 0.5, seed=0)
    assert wet.shape == speech_like.shape
    assert _rms(wet) == pytest.approx(_rms(speech_like), rel=1e-12)
    assert not np.allclose(wet, speech_like)


@pytest.mark.parametrize("bad", [0.0, -0.5])
def test_non_positive_rt60_is_rejected(bad):
    with pytest.raises(ValueError, match=repr(bad)):
        room_impulse_response(bad, SR, seed=0)
    with pytest.raises(ValueError, match=repr(bad)):
        inject_noise(np.ones(SR), SR, "reverberation", reverberances=[0.3, bad])


# ---------------------------------------------------------------- reproducibility


@pytest.mark.parametrize(
    "make",
    [
        lambda seed: sinusoidal_noise(4000, SR, "1000-2000", 0.01, seed),
        lambda seed: white_noise_bursts(4000, SR, "0.05-0.2", 0.05, seed),
        lambda seed: white_noise(4000, seed),
        lambda seed: pink_noise(4000, seed),
        lambda seed: room_impulse_response(0.3, SR, seed),
        lambda seed: babble_noise(4000, [np.arange(1.0, 100.0), np.arange(1.0, 300.0)], seed, n_talkers=2),
    ],
)
def test_same_seed_same_noise_different_seed_different(make):
    assert np.array_equal(make(11), make(11))
    assert not np.array_equal(make(11), make(12))


def test_inject_noise_is_reproducible_and_records_derived_seed(speech_like):
    first = inject_noise(speech_like, SR, "white_snr", snr_db=[0, 10], seed=3)
    again = inject_noise(speech_like, SR, "white_snr", snr_db=[0, 10], seed=3)
    other = inject_noise(speech_like, SR, "white_snr", snr_db=[0, 10], seed=4)
    assert all(np.array_equal(a.noisy, b.noisy) for a, b in zip(first, again))
    assert not np.array_equal(first[0].noisy, other[0].noisy)
    seeds = [example.params["derived_seed"] for example in first]
    assert len(set(seeds)) == 2 and all(isinstance(s, int) for s in seeds)
    assert np.allclose(first[1].noise / _rms(first[1].noise), white_noise(SR, seeds[1]), atol=1e-9)


# ---------------------------------------------------------------- dispatch


def test_inject_noise_conditions_and_params(speech_like):
    (clean,) = inject_noise(speech_like, SR, "not_added")
    assert clean.condition == "clean" and np.array_equal(clean.noisy, speech_like)
    assert clean.params["achieved_snr_db"] is None

    (sine,) = inject_noise(speech_like, SR, "sinusoidal", freq_ranges="1000-2000", rms_amplitudes=0.01)
    assert sine.condition == "sinusoidal_1000-2000Hz_0.01"
    assert sine.params["freq_ranges_hz"] == [[1000.0, 2000.0]] and sine.params["rms_amplitudes"] == [0.01]
    assert sine.params["achieved_snr_db"] == pytest.approx(snr_db(speech_like, sine.noise))
    assert _rms(sine.noise) == pytest.approx(0.01, rel=1e-9)

    (burst,) = inject_noise(speech_like, SR, "white", time_ranges=["0.5-0.8"], rms_amplitudes=[0.05])
    assert burst.condition == "white_0.5-0.8s_0.05"
    assert not np.any(burst.noise[:8000])

    reverbs = inject_noise(speech_like, SR, "reverberation")
    assert [r.condition for r in reverbs] == ["reverb_rt0.5s"] and reverbs[0].params["rt60_s"] == 0.5
    assert np.allclose(reverbs[0].noise, reverbs[0].noisy - speech_like)

    pinks = inject_noise(speech_like, SR, "pink_snr", snr_db=5)
    assert [p.condition for p in pinks] == ["pink_snr5dB"]
    assert pinks[0].params["achieved_snr_db"] == pytest.approx(5.0, abs=1e-6)

    others = [speech_like[::-1], speech_like[:5000]]
    babble = inject_noise(speech_like, SR, "babble_snr", snr_db=[-5, 0], babble_sources=others)
    assert [b.condition for b in babble] == ["babble_snr-5dB", "babble_snr0dB"]
    assert babble[0].params["achieved_snr_db"] == pytest.approx(-5.0, abs=1e-6)

    for example in [clean, sine, burst, *reverbs, *pinks, *babble]:
        assert isinstance(example, NoisyExample)
        json.dumps(example.params, allow_nan=False)
        assert example.params["noise_type"] in NOISE_TYPES and example.params["sample_rate"] == SR


def test_loud_noise_is_recorded_not_clipped(speech_like):
    (loud,) = inject_noise(speech_like, SR, "white_snr", snr_db=-30)
    assert loud.params["peak"] > 1.0 and loud.params["exceeds_full_scale"] is True
    assert np.max(np.abs(loud.noisy)) == pytest.approx(loud.params["peak"])


def test_unknown_noise_type_lists_valid_ones():
    with pytest.raises(ValueError) as error:
        inject_noise(np.ones(SR), SR, "brown")
    assert "'brown'" in str(error.value) and all(name in str(error.value) for name in NOISE_TYPES)


@pytest.mark.parametrize(
    ("noise_type", "kwargs", "missing"),
    [
        ("sinusoidal", {"freq_ranges": "100-200"}, "rms_amplitudes"),
        ("sinusoidal", {"rms_amplitudes": 0.1}, "freq_ranges"),
        ("white", {"time_ranges": "0.1-0.2"}, "rms_amplitudes"),
        ("white_snr", {}, "snr_db"),
        ("babble_snr", {"snr_db": 5}, "babble_sources"),
    ],
)
def test_missing_required_argument_is_named(noise_type, kwargs, missing):
    with pytest.raises(ValueError, match=missing):
        inject_noise(np.ones(SR), SR, noise_type, **kwargs)


def test_silent_clean_cannot_be_mixed_at_an_snr():
    with pytest.raises(ValueError, match="all zeros"):
        inject_noise(np.zeros(SR), SR, "white_snr", snr_db=5)


# ---------------------------------------------------------------- files


def test_save_noisy_example_round_trips_without_temp_files(tmp_path, speech_like):
    (loud,) = inject_noise(speech_like, SR, "white_snr", snr_db=-30, seed=9)
    wav_path = save_noisy_example(loud, tmp_path / "out", "harvard_01", SR)
    assert wav_path.name == "harvard_01_white_snr-30dB.wav"
    data, rate = sf.read(wav_path, dtype="float32")
    assert rate == SR and sf.info(str(wav_path)).subtype == "FLOAT"
    assert np.array_equal(data, loud.noisy.astype(np.float32))  # float WAV: peaks above 1.0 survive
    sidecar = json.loads(wav_path.with_suffix(".json").read_text())
    assert sidecar["wav"] == wav_path.name
    assert sidecar == {**loud.params, "wav": wav_path.name}
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["harvard_01_white_snr-30dB.json", wav_path.name]


def test_save_noisy_example_checks_sample_rate(tmp_path, speech_like):
    (example,) = inject_noise(speech_like, SR, "not_added")
    with pytest.raises(ValueError, match="48000"):
        save_noisy_example(example, tmp_path, "x", 48000)


def test_options_for_keeps_what_the_type_uses():
    from xai_helpers.dsp.noise.registry import options_for

    every = {
        "freq_ranges": ["1000-2000"],
        "rms_amplitudes": [0.01],
        "time_ranges": ["0.5-1.2"],
        "reverberances": [0.5],
        "snr_db": [5.0],
    }
    assert options_for("sinusoidal", **every) == {"freq_ranges": ["1000-2000"], "rms_amplitudes": [0.01]}
    assert options_for("pink_snr", **every) == {"snr_db": [5.0]}
    assert options_for("not_added", **every) == {}
    with pytest.raises(ValueError, match="unknown 'hum'"):
        options_for("hum", **every)


def test_noise_seed_ids_are_fixed_per_type_not_by_position(speech_like):
    """Each type's seed id is its own (the tuple order of the original NOISE_TYPES), so adding a type changes no
    seed."""
    from xai_helpers.dsp.noise.examples import derive_seed
    from xai_helpers.dsp.noise.registry import NOISE_SPECS

    ids = {name: spec.seed_id for name, spec in NOISE_SPECS.items()}
    assert ids == {
        "not_added": 0,
        "sinusoidal": 1,
        "white": 2,
        "reverberation": 3,
        "white_snr": 4,
        "pink_snr": 5,
        "babble_snr": 6,
        "room_reverberation": 7,
    }
    assert len(set(ids.values())) == len(ids)
    (example,) = inject_noise(speech_like, SR, "pink_snr", snr_db=5.0, seed=3)
    assert (
        example.params["derived_seed"]
        == derive_seed(3, 5, 0)
        == int(np.random.SeedSequence([3, 5, 0]).generate_state(1)[0])
    )


def test_faithfulness_burst_is_the_shared_band_limited_burst():
    """add_burst (notebook 05's ground truth) adds the shared generator's burst, bit for bit as its own FFT-mask code
    did."""
    from xai_helpers.dsp.noise.bursts import gaussian_burst
    from xai_helpers.experiments.faithfulness import Burst, add_burst

    wave = np.random.default_rng(0).normal(size=2 * SR) * 0.1
    burst = Burst(center_hz=3000.0, width_hz=300.0, start_s=0.5, duration_s=0.4, level_db=-6.0)
    start, stop = int(0.5 * SR), int(0.9 * SR)
    noise = np.random.default_rng(7).normal(size=stop - start)  # the former implementation, written out
    spectrum = np.fft.rfft(noise)
    freqs = np.fft.rfftfreq(len(noise), 1 / SR)
    spectrum[(freqs < 2850.0) | (freqs >= 3150.0)] = 0
    raw = np.fft.irfft(spectrum, n=len(noise))
    band = raw * (np.sqrt(np.mean(wave**2) / np.mean(raw**2)) * 10 ** (-6.0 / 20))
    expected = wave.copy()
    expected[start:stop] += band
    np.testing.assert_array_equal(add_burst(wave, SR, burst, wave, 7), expected)
    assert np.array_equal(gaussian_burst(stop - start, np.random.default_rng(7), (2850.0, 3150.0), SR), raw)
