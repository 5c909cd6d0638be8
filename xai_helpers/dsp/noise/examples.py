"""Noisy examples and their records: what :func:`~xai_helpers.dsp.noise.registry.inject_noise` returns.

One builder per shape of noise type turns a clean wave into :class:`NoisyExample` objects whose
``params`` record everything needed to regenerate them: ranged noise (tones in frequency ranges,
bursts in time ranges), reverberation (one example per RT60, synthetic or in a simulated room) and
noise at an SNR (one per SNR).
Example ``i`` of a type draws from :func:`derive_seed` ``(seed, seed_id, i)``, where ``seed_id`` is
the type's fixed id in the registry (never its position in a list).
"""

from __future__ import annotations

import importlib.metadata
import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .mixing import mix_at_snr, snr_db
from .parsing import combine_ranges, parse_ranges, parse_values
from .reverb import DEFAULT_DRR_DB, DEFAULT_RT60_S, check_rt60, reverberate
from .room import DEFAULT_ROOM_DIM_M, DEFAULT_SOURCE_MIC_DISTANCE_M, check_room_rt60, reverberate_in_room

logger = logging.getLogger(__name__)

PACKAGE = "nsnet2-xai"

Builder = Callable[[str, int, np.ndarray, int, dict, dict], "list[NoisyExample]"]
"""``(noise_type, seed_id, clean [n_samples], sample_rate, base record, options) -> examples``."""


@dataclass
class NoisyExample:
    """One noisy version of a clean wave and how it was made."""

    condition: str
    """Short file-name-safe label, e.g. ``sinusoidal_1000-2000Hz_0.01``, ``reverb_rt0.5s``, ``clean``."""
    noisy: np.ndarray
    """Noisy wave ``[n_samples]`` (float64, not clipped; may exceed 1.0, see ``params['peak']``)."""
    noise: np.ndarray
    """``noisy - clean`` ``[n_samples]`` (for reverberation, the reverberant difference)."""
    params: dict
    """JSON-serialisable record of every parameter, the derived seed and the achieved SNR (dB)."""
    rir: np.ndarray | None = None
    """The room impulse response ``[n_taps]`` of a simulated room (``room_reverberation``), else None."""


def _package_version() -> str | None:
    """Installed version of this project's distribution, or None when it is not installed."""
    try:
        return importlib.metadata.version(PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        return None


def derive_seed(seed: int, seed_id: int, index: int) -> int:
    """Seed (uint32 as int) of example ``index`` of the noise type with fixed id ``seed_id``, from the base ``seed``."""
    return int(np.random.SeedSequence([seed, seed_id, index]).generate_state(1)[0])


def _range_label(bounds: tuple[float, float], unit: str) -> str:
    """``(1000.0, 2000.0), "Hz"`` -> ``"1000-2000Hz"``."""
    return f"{bounds[0]:g}-{bounds[1]:g}{unit}"


def make_example(clean: np.ndarray, noisy: np.ndarray, condition: str, params: dict) -> NoisyExample:
    """Wrap ``noisy`` ``[n_samples]`` with its noise, achieved SNR (dB, None if undefined) and peak."""
    noise = noisy - clean
    achieved = None
    if np.any(clean) and np.any(noise):
        achieved = snr_db(clean, noise)
    peak = float(np.max(np.abs(noisy)))
    if peak > 1.0:
        logger.warning("%s: peak %.3f exceeds full scale; kept unclipped (float WAV)", condition, peak)
    record = {"package": PACKAGE, "package_version": _package_version(), "condition": condition, **params}
    record.update(n_samples=len(clean), achieved_snr_db=achieved, peak=peak, exceeds_full_scale=peak > 1.0)
    return NoisyExample(condition=condition, noisy=noisy, noise=noise, params=record)


def _require(value: object, argument: str, noise_type: str, example: str) -> object:
    """``value``, or ``ValueError`` saying that ``noise_type`` needs ``argument``."""
    if value is None:
        raise ValueError(f"noise_type {noise_type!r} needs {argument} (e.g. {example}); got None")
    return value


def clean_examples(noise_type, seed_id, clean, sample_rate, base, options) -> list[NoisyExample]:
    """The clean signal unchanged (condition ``clean``)."""
    return [make_example(clean, clean.copy(), "clean", {**base, "derived_seed": None})]


def ranged_examples(
    generate: Callable, argument: str, unit: str, example_range: str, example_amplitude: str
) -> Builder:
    """Builder of ``generate(n_samples, sample_rate, ranges, amplitudes, seed)`` noise in the ranges of
    ``argument`` (``unit``: ``"Hz"`` for frequency ranges, ``"s"`` for time ranges): one example with
    every range at its amplitude (``combine="pairs"``, the default), or one example per range and
    amplitude (``combine="grid"``; example ``i`` draws from derived seed ``i``, ranges outermost).
    Each record holds its own ranges and amplitudes and ``combine``."""

    def build(noise_type, seed_id, clean, sample_rate, base, options) -> list[NoisyExample]:
        spans = parse_ranges(_require(options.get(argument), argument, noise_type, example_range), name=argument)
        combine = options.get("combine") or "pairs"
        files = combine_ranges(
            spans,
            _require(options.get("rms_amplitudes"), "rms_amplitudes", noise_type, example_amplitude),
            combine,
            name="rms_amplitudes",
        )
        examples = []
        for index, (ranges, amplitudes) in enumerate(files):
            seed = derive_seed(base["seed"], seed_id, index)
            noise = generate(len(clean), sample_rate, ranges, amplitudes, seed)
            condition = f"{noise_type}_" + "_".join(
                f"{_range_label(r, unit)}_{a:g}" for r, a in zip(ranges, amplitudes)
            )
            params = {
                **base,
                "derived_seed": seed,
                "combine": combine,
                f"{argument}_{unit.lower()}": [list(r) for r in ranges],
                "rms_amplitudes": amplitudes,
            }
            examples.append(make_example(clean, clean + noise, condition, params))
        return examples

    return build


def reverb_examples(noise_type, seed_id, clean, sample_rate, base, options) -> list[NoisyExample]:
    """One example per RT60 value (seconds) of ``reverberances`` (default :data:`DEFAULT_RT60_S`)."""
    reverberances = options.get("reverberances")
    rt60s = parse_values(DEFAULT_RT60_S if reverberances is None else reverberances, name="reverberances")
    examples = []
    for index, rt60 in enumerate(rt60s):
        rt60 = check_rt60(rt60)
        seed = derive_seed(base["seed"], seed_id, index)
        wet = reverberate(clean, sample_rate, rt60, seed)
        params = {**base, "derived_seed": seed, "rt60_s": rt60, "drr_db": DEFAULT_DRR_DB}
        examples.append(make_example(clean, wet, f"reverb_rt{rt60:g}s", params))
    return examples


def room_examples(noise_type, seed_id, clean, sample_rate, base, options) -> list[NoisyExample]:
    """One example per RT60 (s) of ``reverberances`` (default :data:`DEFAULT_RT60_S`) in a simulated shoebox room.

    ``room_dim_m`` (m, default :data:`~.room.DEFAULT_ROOM_DIM_M`) and ``source_mic_distance_m`` (m,
    default :data:`~.room.DEFAULT_SOURCE_MIC_DISTANCE_M`); the derived seed places source and
    microphone. The record holds the room's info under ``"room"`` (measured RT60, positions,
    absorption, ...; see :func:`~.room.room_impulse_response`); the example carries the impulse response.
    """
    reverberances = options.get("reverberances")
    rt60s = [
        check_room_rt60(rt60, name="reverberances")
        for rt60 in parse_values(DEFAULT_RT60_S if reverberances is None else reverberances, name="reverberances")
    ]
    room_dim_m = options.get("room_dim_m")
    room_dim_m = DEFAULT_ROOM_DIM_M if room_dim_m is None else room_dim_m
    distance_m = options.get("source_mic_distance_m")
    distance_m = DEFAULT_SOURCE_MIC_DISTANCE_M if distance_m is None else distance_m
    examples = []
    for index, rt60 in enumerate(rt60s):
        seed = derive_seed(base["seed"], seed_id, index)
        wet, rir, info = reverberate_in_room(
            clean, sample_rate, rt60, seed, room_dim_m=room_dim_m, source_mic_distance_m=distance_m
        )
        params = {
            **base,
            "derived_seed": seed,
            "rt60_s": info["rt60_requested_s"],
            "rt60_measured_s": info["rt60_measured_s"],
            "room": info,
        }
        example = make_example(clean, wet, f"room_rt{info['rt60_requested_s']:g}s", params)
        example.rir = rir
        examples.append(example)
    return examples


def snr_examples(generate: Callable, needs_sources: bool = False) -> Builder:
    """Builder of one example per SNR value (dB) of ``snr_db``, the noise ``raw, extra_params =
    generate(n_samples, seed, babble_sources)`` mixed in at that SNR (condition ``{kind}_snr{dB}dB``)."""

    def build(noise_type, seed_id, clean, sample_rate, base, options) -> list[NoisyExample]:
        snrs = parse_values(_require(options.get("snr_db"), "snr_db", noise_type, "5 or [0, 5, 10]"), name="snr_db")
        sources = options.get("babble_sources")
        if needs_sources:
            _require(sources, "babble_sources", noise_type, "a list of other utterances")
        kind = noise_type.removesuffix("_snr")
        examples = []
        for index, target in enumerate(snrs):
            seed = derive_seed(base["seed"], seed_id, index)
            raw, extra = generate(len(clean), seed, sources)
            noisy, _ = mix_at_snr(clean, raw, target)
            params = {**base, "derived_seed": seed, "snr_db": target, **extra}
            examples.append(make_example(clean, noisy, f"{kind}_snr{target:g}dB", params))
        return examples

    return build
