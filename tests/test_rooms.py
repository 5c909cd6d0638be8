"""Simulated shoebox rooms: requested RT60 met, placement from the seed, alignment, clear errors."""

from __future__ import annotations

import numpy as np
import pyroomacoustics as pra
import pytest

from xai_helpers.dsp.noise.reverb import estimate_rt60
from xai_helpers.dsp.noise.room import reverberate_in_room, room_impulse_response

RATE = 16000


@pytest.fixture(scope="module")
def small_room() -> tuple[np.ndarray, dict]:
    """RT60 0.3 s, seed 7, defaults: the cheapest room (about 0.1 s to simulate)."""
    return room_impulse_response(0.3, RATE, seed=7)


@pytest.mark.parametrize("rt60_s", [0.3, 0.6, 1.0])
def test_measured_rt60_matches_the_request(rt60_s):
    rir, info = room_impulse_response(rt60_s, RATE, seed=1)
    measured = estimate_rt60(rir, RATE)
    assert abs(measured / rt60_s - 1) <= 0.15, (measured, info)
    # pyroomacoustics' own Schroeder T20 reads the same decay
    assert pra.experimental.measure_rt60(rir, RATE, decay_db=20) == pytest.approx(measured, rel=0.01)
    assert info["rt60_measured_s"] == pytest.approx(measured)
    assert info["rt60_requested_s"] == rt60_s
    assert 0 < info["absorption"] <= 1 and info["max_order"] > 0


def test_geometry_follows_the_arguments(small_room):
    rir, info = small_room
    source, microphone = np.array(info["source_m"]), np.array(info["microphone_m"])
    dims, margin = np.array(info["room_dim_m"]), info["wall_margin_m"]
    assert info["room_dim_m"] == [6.0, 5.0, 3.0]
    assert np.linalg.norm(source - microphone) == pytest.approx(1.5)
    for point in (source, microphone):
        assert np.all(point >= margin) and np.all(point <= dims - margin)
    # the strongest tap is the direct path, delayed by distance / speed of sound (+ half the delay filter)
    assert abs(int(np.argmax(np.abs(rir))) - info["direct_path_index"]) <= 1
    assert info["direct_path_index"] == round(1.5 / 343.0 * RATE) + 40
    # before the direct sound only the slow wave of pyroomacoustics' 10 Hz zero-phase high-pass remains
    before = rir[: info["direct_path_index"] - 40]
    assert np.sum(before**2) < 0.01 * np.sum(rir**2) and np.max(np.abs(before)) < 0.02 * np.max(np.abs(rir))


def test_room_size_and_distance_change_the_response():
    _, near = room_impulse_response(0.3, RATE, seed=7, source_mic_distance_m=0.5)
    _, larger = room_impulse_response(0.3, RATE, seed=7, room_dim_m=(8.0, 6.0, 3.5), source_mic_distance_m=3.0)
    assert np.linalg.norm(np.subtract(near["source_m"], near["microphone_m"])) == pytest.approx(0.5)
    assert np.linalg.norm(np.subtract(larger["source_m"], larger["microphone_m"])) == pytest.approx(3.0)
    assert larger["direct_path_index"] - near["direct_path_index"] == round(3.0 / 343 * RATE) - round(0.5 / 343 * RATE)


def test_same_seed_same_response_other_seed_other_positions(small_room):
    rir, info = small_room
    again, info_again = room_impulse_response(0.3, RATE, seed=7)
    assert np.array_equal(rir, again) and info == info_again
    _, other = room_impulse_response(0.3, RATE, seed=8)
    assert other["source_m"] != info["source_m"] and other["microphone_m"] != info["microphone_m"]


def test_reverberate_in_room_is_aligned_same_length_same_rms():
    click = np.zeros(8000)
    click[3000] = 0.5
    wet, rir, info = reverberate_in_room(click, RATE, 0.3, seed=7)
    assert wet.shape == click.shape
    assert np.sqrt(np.mean(wet**2)) == pytest.approx(np.sqrt(np.mean(click**2)))
    assert abs(int(np.argmax(np.abs(wet))) - 3000) <= 1  # direct sound where the click was
    assert np.sum(wet[3100:] ** 2) > 0.1 * np.sum(wet**2)  # and a reverberant tail after it
    # the output is the convolution with the returned response, read from the direct path on
    expected = np.convolve(click, rir)[info["direct_path_index"] :][: len(click)]
    assert np.allclose(wet / np.linalg.norm(wet), expected / np.linalg.norm(expected), atol=1e-9)
    assert not np.any(reverberate_in_room(np.zeros(8000), RATE, 0.3, seed=7)[0])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"rt60_s": 50}, r"rt60_s: 50 is not a plausible reverberation time in seconds \(it looks like a percentage"),
        ({"rt60_s": 0.05}, r"rt60_s: 0\.05 .*expected 0\.1 to 2\.0 s"),
        ({"rt60_s": float("nan")}, r"rt60_s: expected a finite number of seconds"),
        (
            {"rt60_s": 0.3, "room_dim_m": (20.0, 20.0, 10.0)},
            r"rt60_s: 0\.3 s is shorter than a room of \(20\.0, 20\.0, 10\.0\)",
        ),
        (
            {"room_dim_m": (2.0, 2.0, 2.0), "source_mic_distance_m": 2.0},
            r"room_dim_m: .*no room for source_mic_distance_m=2\.0",
        ),
        ({"room_dim_m": (6.0, 5.0)}, r"room_dim_m: expected \(length, width, height\)"),
        ({"room_dim_m": (6.0, 5.0, 0.8)}, r"room_dim_m: every side .* must exceed twice wall_margin_m"),
        ({"source_mic_distance_m": 0}, r"source_mic_distance_m: expected a finite number of metres > 0"),
        ({"seed": -1}, r"seed: expected an integer >= 0"),
        ({"sample_rate": 16000.0}, r"sample_rate: expected a positive integer"),
    ],
)
def test_errors_name_the_argument(kwargs, message):
    arguments = {"rt60_s": 0.3, "sample_rate": RATE, "seed": 0, **kwargs}
    with pytest.raises(ValueError, match=message):
        room_impulse_response(**arguments)
