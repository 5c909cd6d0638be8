"""Controlled noise injection: the original project's ``--noise_type`` choices, plus SNR mixing.

Conventions used throughout:

* waves are float 1-D numpy arrays ``[n_samples]`` in linear full-scale units (1.0 = full scale);
* ``sample_rate`` is in Hz, times in seconds, frequencies in Hz;
* amplitudes are RMS values in linear full-scale units (0.01 is -40 dBFS RMS);
* SNRs are in dB, ``10 * log10(P_clean / P_noise)`` with ``P`` the mean square over the whole file;
* every random draw comes from ``numpy.random.default_rng(seed)`` with an explicit integer seed.

Noise types (:data:`NOISE_TYPES`):

``not_added``
    The clean signal, unchanged (condition ``clean``).
``sinusoidal``
    Sums of tones spread across frequency ranges, each range at its RMS (:func:`sinusoidal_noise`).
``white``
    Gaussian white-noise bursts inside time ranges, each at its RMS (:func:`white_noise_bursts`).
``reverberation``
    Convolution with a synthetic room impulse response of a given RT60 (:func:`reverberate`).
``white_snr`` / ``pink_snr`` / ``babble_snr``
    White, 1/f or multi-talker noise over the whole file, mixed at an exact SNR (:func:`mix_at_snr`).

:func:`inject_noise` dispatches on the type and returns :class:`NoisyExample` objects whose
``params`` record everything needed to regenerate them; :func:`save_noisy_example` writes one as a
float WAV plus a JSON sidecar.
"""

from __future__ import annotations

import importlib.metadata
import json
import logging
import math
import numbers
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import fftconvolve

from ...io.atomic import write_atomically, write_text_atomically

logger = logging.getLogger(__name__)

NOISE_TYPES = ("not_added", "sinusoidal", "white", "reverberation", "white_snr", "pink_snr", "babble_snr")
"""Valid ``noise_type`` values; the first four are the original command line's choices."""

PACKAGE = "nsnet2-xai"
TONE_SPACING_HZ = 25.0
"""Target spacing of the tones that fill one frequency range in :func:`sinusoidal_noise`."""
DEFAULT_RT60_S = (0.5,)
"""RT60 values used by ``inject_noise(..., "reverberation")`` when ``reverberances`` is None."""
DEFAULT_DRR_DB = 0.0
"""Direct-to-reverberant energy ratio of :func:`room_impulse_response` unless told otherwise."""
DEFAULT_TALKERS = 4
"""Number of talkers summed by :func:`babble_noise` unless told otherwise."""
DECAY_60_DB = math.log(1000.0)
"""3 ln 10 ~= 6.908: an amplitude envelope ``exp(-DECAY_60_DB * t / rt60)`` loses 60 dB of energy in rt60."""

_NUMBER = r"(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
_RANGE_PATTERN = re.compile(rf"^\s*({_NUMBER})\s*-\s*({_NUMBER})\s*$")

_ARGUMENTS_USED = {
    "not_added": set(),
    "sinusoidal": {"freq_ranges", "rms_amplitudes"},
    "white": {"time_ranges", "rms_amplitudes"},
    "reverberation": {"reverberances"},
    "white_snr": {"snr_db"},
    "pink_snr": {"snr_db"},
    "babble_snr": {"snr_db", "babble_sources"},
}


def options_for(noise_type: str, **options: object) -> dict[str, object]:
    """The subset of ``options`` (``freq_ranges``, ``rms_amplitudes``, ...) that ``noise_type`` uses.

    Lets a caller hold every option (a notebook's parameters) and pass on only the relevant ones.
    Raises ``ValueError`` for an unknown noise type, listing the valid ones.
    """
    if noise_type not in NOISE_TYPES:
        raise ValueError(f"noise_type: unknown {noise_type!r}; valid types are {', '.join(NOISE_TYPES)}")
    return {name: value for name, value in options.items() if name in _ARGUMENTS_USED[noise_type]}


# --------------------------------------------------------------------------------------------
# Parameter parsing and validation
# --------------------------------------------------------------------------------------------


def _is_number(value: object) -> bool:
    """True for a real, non-boolean number (Python or numpy scalar)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def parse_range(value: str | Sequence[float], *, name: str) -> tuple[float, float]:
    """``(lo, hi)`` from ``"1000-2000"`` / ``" 0.5 - 1.2 "`` or a pair of numbers ``(lo, hi)``.

    Units are the caller's (Hz for frequencies, seconds for times). Raises ``ValueError`` naming
    ``name`` and the bad value when the value is malformed, negative, non-finite or reversed/empty
    (``lo >= hi``).
    """
    if isinstance(value, str):
        match = _RANGE_PATTERN.match(value)
        if match is None:
            raise ValueError(
                f"{name}: malformed range {value!r}; expected 'lo-hi' with non-negative numbers, e.g. '1000-2000'"
            )
        lo, hi = float(match.group(1)), float(match.group(2))
    elif isinstance(value, (Sequence, np.ndarray)) and len(value) == 2 and all(_is_number(v) for v in value):
        lo, hi = float(value[0]), float(value[1])
    else:
        raise ValueError(f"{name}: malformed range {value!r}; expected 'lo-hi' or a pair of numbers (lo, hi)")
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError(f"{name}: range {value!r} is not finite")
    if lo < 0 or hi < 0:
        raise ValueError(f"{name}: range {value!r} is negative")
    if lo >= hi:
        raise ValueError(f"{name}: range {value!r} is reversed or empty (need lo < hi)")
    return lo, hi


def parse_ranges(
    values: str | Sequence[float] | Sequence[str | Sequence[float]], *, name: str
) -> list[tuple[float, float]]:
    """List of ``(lo, hi)`` from one range (string or pair), a comma-separated string, or a list of ranges.

    ``"1000-2000"``, ``(1000, 2000)``, ``"1000-2000, 3000-4000"`` and ``["1000-2000", (3000, 4000)]``
    are all accepted. Raises ``ValueError`` naming ``name`` for an empty list or any bad range.
    """
    if isinstance(values, str):
        items: list = values.split(",")
    elif isinstance(values, (Sequence, np.ndarray)) and len(values) == 2 and all(_is_number(v) for v in values):
        items = [values]
    elif isinstance(values, (Sequence, np.ndarray)):
        items = list(values)
    else:
        raise ValueError(f"{name}: expected a range or a list of ranges, got {values!r}")
    if not items:
        raise ValueError(f"{name}: no range given ({values!r})")
    return [parse_range(item, name=name) for item in items]


def _parse_amplitudes(values: float | Sequence[float], n_ranges: int, *, name: str) -> list[float]:
    """One non-negative finite RMS per range: a single value is broadcast to all ``n_ranges``."""
    items = [values] if _is_number(values) or isinstance(values, str) else list(values)
    amplitudes = []
    for item in items:
        try:
            amplitude = float(item)
        except (TypeError, ValueError) as error:
            raise ValueError(f"{name}: {item!r} is not a number") from error
        if not math.isfinite(amplitude) or amplitude < 0:
            raise ValueError(f"{name}: amplitude {item!r} must be a finite RMS >= 0")
        amplitudes.append(amplitude)
    if len(amplitudes) == 1:
        return amplitudes * n_ranges
    if len(amplitudes) != n_ranges:
        raise ValueError(
            f"{name}: got {len(amplitudes)} values {amplitudes} for {n_ranges} ranges (give 1 or {n_ranges})"
        )
    return amplitudes


def _parse_values(values: float | Sequence[float], *, name: str) -> list[float]:
    """A number or a non-empty list of numbers, each finite, as a list; ``name`` labels errors."""
    items = [values] if _is_number(values) else list(values)
    if not items:
        raise ValueError(f"{name}: no value given ({values!r})")
    for item in items:
        if not _is_number(item) or not math.isfinite(item):
            raise ValueError(f"{name}: {item!r} is not a finite number")
    return [float(item) for item in items]


def _check_wave(wave: np.ndarray, *, name: str) -> np.ndarray:
    """``wave`` as float64 ``[n_samples]``; ``ValueError`` naming ``name`` if not 1-D, empty or non-finite."""
    wave = np.asarray(wave, dtype=np.float64)
    if wave.ndim != 1 or wave.size == 0:
        raise ValueError(f"{name}: expected a non-empty 1-D waveform [n_samples], got shape {wave.shape}")
    if not np.all(np.isfinite(wave)):
        raise ValueError(f"{name}: the waveform contains NaN or infinite samples")
    return wave


def _check_positive_int(value: int, *, name: str) -> int:
    """``value`` if it is an integer > 0, else ``ValueError`` naming ``name``."""
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"{name}: expected a positive integer, got {value!r}")
    return int(value)


def _check_seed(seed: int) -> int:
    """``seed`` if it is an integer >= 0 (what ``numpy.random.default_rng`` accepts)."""
    if not isinstance(seed, numbers.Integral) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed: expected an integer >= 0, got {seed!r}")
    return int(seed)


def _rms(wave: np.ndarray) -> float:
    """Root mean square of ``wave`` (linear full-scale units)."""
    return float(np.sqrt(np.mean(np.square(wave))))


# --------------------------------------------------------------------------------------------
# Noise generators
# --------------------------------------------------------------------------------------------


def _tone_band(
    n_samples: int, sample_rate: int, band: tuple[float, float], rms: float, rng: np.random.Generator
) -> np.ndarray:
    """Equal-amplitude tones every ~TONE_SPACING_HZ strictly inside ``band`` (Hz), scaled to ``rms`` ``[n_samples]``.

    Tone ``k`` of ``n`` sits at ``lo + (k + 0.5) (hi - lo) / n`` with a random phase drawn from ``rng``.
    """
    lo, hi = band
    n_tones = max(1, round((hi - lo) / TONE_SPACING_HZ))
    frequencies = lo + (np.arange(n_tones) + 0.5) * (hi - lo) / n_tones
    phases = rng.uniform(0.0, 2 * np.pi, size=n_tones)
    if rms == 0:
        return np.zeros(n_samples)
    time = np.arange(n_samples) / sample_rate
    band_wave = np.zeros(n_samples)
    for frequency, phase in zip(frequencies, phases):
        band_wave += np.cos(2 * np.pi * frequency * time + phase)
    return band_wave * (rms / _rms(band_wave))


def sinusoidal_noise(
    n_samples: int,
    sample_rate: int,
    freq_ranges: str | Sequence,
    rms_amplitudes: float | Sequence[float],
    seed: int,
) -> np.ndarray:
    """Sum over frequency ranges of tone complexes, each range at its own RMS, ``[n_samples]``.

    Each range ``(lo, hi)`` in Hz (see :func:`parse_ranges`) is filled with equal-amplitude tones
    about every 25 Hz (at least one), strictly inside the range, with random phases from ``seed``;
    the range's tone complex is then scaled so its RMS over the file is exactly its amplitude.
    ``rms_amplitudes`` is one RMS (broadcast) or one per range. Raises ``ValueError`` for a range
    above the Nyquist frequency (``hi > sample_rate / 2``), a negative amplitude, or a count mismatch.
    """
    n_samples = _check_positive_int(n_samples, name="n_samples")
    sample_rate = _check_positive_int(sample_rate, name="sample_rate")
    bands = parse_ranges(freq_ranges, name="freq_ranges")
    amplitudes = _parse_amplitudes(rms_amplitudes, len(bands), name="rms_amplitudes")
    nyquist = sample_rate / 2
    for lo, hi in bands:
        if hi > nyquist:
            raise ValueError(
                f"freq_ranges: range {lo:g}-{hi:g} Hz exceeds the Nyquist frequency {nyquist:g} Hz"
                f" (sample rate {sample_rate} Hz)"
            )
    rng = np.random.default_rng(_check_seed(seed))
    noise = np.zeros(n_samples)
    for band, rms in zip(bands, amplitudes):
        noise += _tone_band(n_samples, sample_rate, band, rms, rng)
    return noise


def white_noise_bursts(
    n_samples: int,
    sample_rate: int,
    time_ranges: str | Sequence,
    rms_amplitudes: float | Sequence[float],
    seed: int,
) -> np.ndarray:
    """Gaussian white noise inside each time range (seconds), zero elsewhere, ``[n_samples]``.

    A range ``(lo, hi)`` covers samples ``round(lo * sample_rate)`` to ``round(hi * sample_rate)``
    (exclusive); its noise is scaled so its RMS over those samples is exactly its amplitude.
    Overlapping ranges add up (the overlap is then louder than either amplitude).
    ``rms_amplitudes`` is one RMS (broadcast) or one per range. Raises ``ValueError`` for a range
    ending after the file (``hi > n_samples / sample_rate``), one shorter than a sample, a negative
    amplitude, or a count mismatch.
    """
    n_samples = _check_positive_int(n_samples, name="n_samples")
    sample_rate = _check_positive_int(sample_rate, name="sample_rate")
    spans = parse_ranges(time_ranges, name="time_ranges")
    amplitudes = _parse_amplitudes(rms_amplitudes, len(spans), name="rms_amplitudes")
    duration = n_samples / sample_rate
    rng = np.random.default_rng(_check_seed(seed))
    noise = np.zeros(n_samples)
    for (lo, hi), rms in zip(spans, amplitudes):
        if hi > duration:
            raise ValueError(f"time_ranges: range {lo:g}-{hi:g} s ends after the file (duration {duration:g} s)")
        start, stop = round(lo * sample_rate), round(hi * sample_rate)
        if stop <= start:
            raise ValueError(f"time_ranges: range {lo:g}-{hi:g} s covers no sample at {sample_rate} Hz")
        burst = rng.standard_normal(stop - start)
        noise[start:stop] += burst * (rms / _rms(burst))
    return noise


def white_noise(n_samples: int, seed: int) -> np.ndarray:
    """Gaussian white noise ``[n_samples]`` scaled to RMS exactly 1."""
    n_samples = _check_positive_int(n_samples, name="n_samples")
    noise = np.random.default_rng(_check_seed(seed)).standard_normal(n_samples)
    return noise / _rms(noise)


def pink_noise(n_samples: int, seed: int) -> np.ndarray:
    """Pink (1/f power, -10 dB/decade) noise ``[n_samples]`` scaled to RMS exactly 1.

    The real FFT of Gaussian white noise is multiplied by ``1 / sqrt(f)`` (so the expected power
    spectral density is exactly proportional to ``1 / f`` at every bin above DC), the DC bin is
    zeroed, and the result is transformed back. Needs ``n_samples >= 2``.
    """
    n_samples = _check_positive_int(n_samples, name="n_samples")
    if n_samples < 2:
        raise ValueError(f"n_samples: pink noise needs at least 2 samples, got {n_samples}")
    spectrum = np.fft.rfft(np.random.default_rng(_check_seed(seed)).standard_normal(n_samples))
    frequencies = np.fft.rfftfreq(n_samples)
    spectrum[0] = 0.0
    spectrum[1:] /= np.sqrt(frequencies[1:])
    noise = np.fft.irfft(spectrum, n_samples)
    return noise / _rms(noise)


def babble_noise(
    n_samples: int, sources: Sequence[np.ndarray], seed: int, n_talkers: int = DEFAULT_TALKERS
) -> np.ndarray:
    """Multi-talker babble ``[n_samples]``: the sum of ``n_talkers`` utterances from ``sources``.

    ``sources`` are 1-D utterances ``[n_i]`` at the caller's sample rate (use other utterances than
    the clean one). Talkers are drawn from ``sources`` without replacement when there are enough,
    with replacement otherwise. Each talker starts at a random offset into its utterance, is looped
    (wrapping around) or cropped to ``n_samples``, and is scaled to unit RMS over its whole
    utterance, so all talkers have equal level. The sum is not renormalised (see :func:`mix_at_snr`).
    """
    n_samples = _check_positive_int(n_samples, name="n_samples")
    n_talkers = _check_positive_int(n_talkers, name="n_talkers")
    if isinstance(sources, np.ndarray) or len(sources) == 0:
        raise ValueError(f"babble_sources: expected a non-empty list of 1-D utterances, got {type(sources).__name__}")
    utterances = [_check_wave(source, name=f"babble_sources[{i}]") for i, source in enumerate(sources)]
    for i, utterance in enumerate(utterances):
        if not np.any(utterance):
            raise ValueError(f"babble_sources[{i}]: the utterance is all zeros (silent)")
    rng = np.random.default_rng(_check_seed(seed))
    chosen = rng.choice(len(utterances), size=n_talkers, replace=len(utterances) < n_talkers)
    babble = np.zeros(n_samples)
    for index in chosen:
        utterance = utterances[index]
        offset = int(rng.integers(len(utterance)))
        babble += np.resize(np.roll(utterance, -offset), n_samples) / _rms(utterance)
    return babble


# --------------------------------------------------------------------------------------------
# Reverberation
# --------------------------------------------------------------------------------------------


def _check_rt60(rt60_s: float) -> float:
    """``rt60_s`` (seconds) if finite and > 0, else ``ValueError`` naming the value."""
    if not _is_number(rt60_s) or not math.isfinite(rt60_s) or rt60_s <= 0:
        raise ValueError(f"reverberances: RT60 {rt60_s!r} s must be a finite number > 0")
    return float(rt60_s)


def room_impulse_response(
    rt60_s: float,
    sample_rate: int,
    seed: int,
    *,
    length_s: float | None = None,
    drr_db: float = DEFAULT_DRR_DB,
) -> np.ndarray:
    """Synthetic room impulse response ``[round(length_s * sample_rate)]`` (at least 2 samples).

    Model: a unit direct-path impulse at ``t = 0`` followed by a diffuse tail of Gaussian noise
    (seeded) under the amplitude envelope ``exp(-6.908 t / rt60_s)``, i.e. energy decaying by
    exactly 60 dB in ``rt60_s`` seconds. The tail is scaled so that the direct-to-reverberant
    energy ratio ``10 log10(1 / sum(tail**2))`` equals ``drr_db`` (default 0 dB); the direct path
    stays exactly 1. ``length_s`` defaults to ``rt60_s`` (where the envelope is 60 dB down).
    Raises ``ValueError`` for ``rt60_s <= 0`` or ``length_s <= 0``.
    """
    rt60_s = _check_rt60(rt60_s)
    sample_rate = _check_positive_int(sample_rate, name="sample_rate")
    length_s = rt60_s if length_s is None else length_s
    if not _is_number(length_s) or not math.isfinite(length_s) or length_s <= 0:
        raise ValueError(f"length_s: {length_s!r} s must be a finite number > 0")
    if not _is_number(drr_db) or not math.isfinite(drr_db):
        raise ValueError(f"drr_db: {drr_db!r} must be a finite number of dB")
    n_taps = max(2, round(length_s * sample_rate))
    time = np.arange(n_taps) / sample_rate
    tail = np.random.default_rng(_check_seed(seed)).standard_normal(n_taps) * np.exp(-DECAY_60_DB * time / rt60_s)
    tail[0] = 0.0
    rir = tail * np.sqrt(10 ** (-drr_db / 10) / np.sum(np.square(tail)))
    rir[0] = 1.0
    return rir


def reverberate(
    wave: np.ndarray, sample_rate: int, rt60_s: float, seed: int, *, drr_db: float = DEFAULT_DRR_DB
) -> np.ndarray:
    """``wave`` ``[n_samples]`` convolved with :func:`room_impulse_response`, same length and same RMS.

    The convolution (``scipy.signal.fftconvolve``) is truncated to the input length (the tail past
    the end is dropped) and rescaled so its RMS equals the input's (an all-zero input stays zero).
    """
    wave = _check_wave(wave, name="wave")
    rir = room_impulse_response(rt60_s, sample_rate, seed, drr_db=drr_db)
    wet = fftconvolve(wave, rir)[: len(wave)]
    if not np.any(wave):
        return np.zeros_like(wave)
    return wet * (_rms(wave) / _rms(wet))


def estimate_rt60(rir: np.ndarray, sample_rate: int) -> float:
    """RT60 in seconds of an impulse response ``[n_taps]`` by Schroeder backward integration.

    The energy decay curve ``EDC(t) = sum_{tau >= t} rir(tau)**2`` is expressed in dB relative to
    its start; a least-squares line is fitted between its first crossings of -5 dB and -25 dB and
    extrapolated to -60 dB (the "T20" method). Raises ``ValueError`` if the curve never decays
    by 25 dB.
    """
    rir = _check_wave(rir, name="rir")
    sample_rate = _check_positive_int(sample_rate, name="sample_rate")
    edc = np.cumsum(np.square(rir)[::-1])[::-1]
    if edc[0] == 0:
        raise ValueError("rir: the impulse response is all zeros")
    edc_db = 10 * np.log10(np.maximum(edc / edc[0], np.finfo(float).tiny))
    if edc_db.min() > -25:
        raise ValueError(f"rir: the energy decay curve only falls {-edc_db.min():.1f} dB; need 25 dB for a T20 fit")
    start, stop = int(np.argmax(edc_db <= -5)), int(np.argmax(edc_db <= -25))
    if stop <= start:
        raise ValueError("rir: the energy decay curve drops from -5 dB to -25 dB within one sample; no slope to fit")
    time = np.arange(start, stop + 1) / sample_rate
    slope_db_per_s = np.polyfit(time, edc_db[start : stop + 1], 1)[0]
    return float(-60.0 / slope_db_per_s)


# --------------------------------------------------------------------------------------------
# SNR
# --------------------------------------------------------------------------------------------


def snr_db(clean: np.ndarray, noise: np.ndarray) -> float:
    """``10 * log10(P_clean / P_noise)`` in dB for two waves ``[n_samples]`` (mean-square powers).

    Returns ``inf`` when the noise is all zero and ``-inf`` when only the clean signal is; raises
    ``ValueError`` when both are zero or the shapes differ.
    """
    clean, noise = _check_wave(clean, name="clean"), _check_wave(noise, name="noise")
    if clean.shape != noise.shape:
        raise ValueError(f"clean {clean.shape} and noise {noise.shape} differ in length")
    clean_power, noise_power = float(np.mean(np.square(clean))), float(np.mean(np.square(noise)))
    if clean_power == 0 and noise_power == 0:
        raise ValueError("snr_db: clean signal and noise are both all zeros; the SNR is undefined")
    if noise_power == 0:
        return math.inf
    if clean_power == 0:
        return -math.inf
    return 10 * math.log10(clean_power / noise_power)


def mix_at_snr(clean: np.ndarray, noise: np.ndarray, snr_db: float) -> tuple[np.ndarray, np.ndarray]:
    """``(noisy, scaled_noise)``, both float64 ``[n_samples]``, with ``noisy = clean + scaled_noise``.

    ``scaled_noise = g * noise`` with ``g`` chosen so that ``10 log10(P_clean / P_scaled_noise)``
    equals ``snr_db`` (dB). Raises ``ValueError`` if the lengths differ, ``snr_db`` is not finite,
    or the clean signal or the noise is all zeros.
    """
    clean, noise = _check_wave(clean, name="clean"), _check_wave(noise, name="noise")
    if clean.shape != noise.shape:
        raise ValueError(f"clean {clean.shape} and noise {noise.shape} differ in length")
    if not _is_number(snr_db) or not math.isfinite(snr_db):
        raise ValueError(f"snr_db: {snr_db!r} must be a finite number of dB")
    clean_power, noise_power = float(np.mean(np.square(clean))), float(np.mean(np.square(noise)))
    if clean_power == 0:
        raise ValueError("clean: the signal is all zeros (silent), so no SNR can be set")
    if noise_power == 0:
        raise ValueError("noise: the noise is all zeros, so no SNR can be set")
    scaled = noise * math.sqrt(clean_power / (noise_power * 10 ** (snr_db / 10)))
    return clean + scaled, scaled


# --------------------------------------------------------------------------------------------
# Examples: dispatch, records, files
# --------------------------------------------------------------------------------------------


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


def _package_version() -> str | None:
    """Installed version of this project's distribution, or None when it is not installed."""
    try:
        return importlib.metadata.version(PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        return None


def _derive_seed(seed: int, noise_type: str, index: int) -> int:
    """Seed (uint32 as int) of example ``index`` of ``noise_type``, derived from the base ``seed``."""
    entropy = [seed, NOISE_TYPES.index(noise_type), index]
    return int(np.random.SeedSequence(entropy).generate_state(1)[0])


def _range_label(bounds: tuple[float, float], unit: str) -> str:
    """``(1000.0, 2000.0), "Hz"`` -> ``"1000-2000Hz"``."""
    return f"{bounds[0]:g}-{bounds[1]:g}{unit}"


def _make_example(clean: np.ndarray, noisy: np.ndarray, condition: str, params: dict) -> NoisyExample:
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


_RANGED = {
    # noise type: (range argument, unit, example range, example amplitude, generator)
    "sinusoidal": ("freq_ranges", "Hz", "'1000-2000'", "0.01", sinusoidal_noise),
    "white": ("time_ranges", "s", "'0.5-1.2'", "0.05", white_noise_bursts),
}


def _ranged_example(
    noise_type: str, clean: np.ndarray, sample_rate: int, base: dict, ranges: object, rms_amplitudes: object
) -> NoisyExample:
    """One example with noise in every range (frequency ranges for sinusoidal, time ranges for white)."""
    argument, unit, example_range, example_amplitude, generate = _RANGED[noise_type]
    spans = parse_ranges(_require(ranges, argument, noise_type, example_range), name=argument)
    amplitudes = _parse_amplitudes(
        _require(rms_amplitudes, "rms_amplitudes", noise_type, example_amplitude), len(spans), name="rms_amplitudes"
    )
    seed = _derive_seed(base["seed"], noise_type, 0)
    noise = generate(len(clean), sample_rate, spans, amplitudes, seed)
    condition = f"{noise_type}_" + "_".join(f"{_range_label(r, unit)}_{a:g}" for r, a in zip(spans, amplitudes))
    params = {**base, "derived_seed": seed, f"{argument}_{unit.lower()}": [list(r) for r in spans], "rms_amplitudes": amplitudes}
    return _make_example(clean, clean + noise, condition, params)


def _reverb_examples(clean: np.ndarray, sample_rate: int, base: dict, reverberances: object) -> list[NoisyExample]:
    """One example per RT60 value (seconds)."""
    rt60s = _parse_values(DEFAULT_RT60_S if reverberances is None else reverberances, name="reverberances")
    examples = []
    for index, rt60 in enumerate(rt60s):
        rt60 = _check_rt60(rt60)
        seed = _derive_seed(base["seed"], "reverberation", index)
        wet = reverberate(clean, sample_rate, rt60, seed)
        params = {**base, "derived_seed": seed, "rt60_s": rt60, "drr_db": DEFAULT_DRR_DB}
        examples.append(_make_example(clean, wet, f"reverb_rt{rt60:g}s", params))
    return examples


def _snr_examples(
    clean: np.ndarray,
    sample_rate: int,
    base: dict,
    noise_type: str,
    snr_values: object,
    babble_sources: object,
) -> list[NoisyExample]:
    """One example per SNR value (dB) for ``white_snr``, ``pink_snr`` or ``babble_snr``."""
    snrs = _parse_values(_require(snr_values, "snr_db", noise_type, "5 or [0, 5, 10]"), name="snr_db")
    if noise_type == "babble_snr":
        _require(babble_sources, "babble_sources", noise_type, "a list of other utterances")
    kind = noise_type.removesuffix("_snr")
    examples = []
    for index, target in enumerate(snrs):
        seed = _derive_seed(base["seed"], noise_type, index)
        extra: dict = {}
        if noise_type == "white_snr":
            raw = white_noise(len(clean), seed)
        elif noise_type == "pink_snr":
            raw = pink_noise(len(clean), seed)
        else:
            raw = babble_noise(len(clean), babble_sources, seed)
            extra = {"n_talkers": DEFAULT_TALKERS, "n_babble_sources": len(babble_sources)}
        noisy, _ = mix_at_snr(clean, raw, target)
        params = {**base, "derived_seed": seed, "snr_db": target, **extra}
        examples.append(_make_example(clean, noisy, f"{kind}_snr{target:g}dB", params))
    return examples


def inject_noise(
    clean: np.ndarray,
    sample_rate: int,
    noise_type: str,
    *,
    freq_ranges: str | Sequence | None = None,
    rms_amplitudes: float | Sequence[float] | None = None,
    time_ranges: str | Sequence | None = None,
    reverberances: float | Sequence[float] | None = None,
    snr_db: float | Sequence[float] | None = None,
    seed: int = 0,
    babble_sources: Sequence[np.ndarray] | None = None,
) -> list[NoisyExample]:
    """Noisy versions of ``clean`` ``[n_samples]`` (at ``sample_rate`` Hz) for one ``noise_type``.

    * ``not_added``: one example equal to ``clean`` (condition ``clean``);
    * ``sinusoidal``: one example, all ``freq_ranges`` (Hz) summed, at ``rms_amplitudes``;
    * ``white``: one example, all bursts in ``time_ranges`` (s), at ``rms_amplitudes``;
    * ``reverberation``: one example per RT60 in ``reverberances`` (s, default ``[0.5]``);
    * ``white_snr`` / ``pink_snr`` / ``babble_snr``: one example per value of ``snr_db`` (dB);
      ``babble_snr`` also needs ``babble_sources`` (other utterances, same sample rate).

    Example ``i`` draws its noise from a seed derived deterministically from ``seed``, the noise
    type and ``i`` (recorded as ``params['derived_seed']``). Arguments the type does not use are
    logged and ignored. Raises ``ValueError`` for an unknown type (listing the valid ones), a missing
    or malformed required argument, or any out-of-range value.
    """
    if noise_type not in NOISE_TYPES:
        raise ValueError(f"noise_type: unknown {noise_type!r}; valid types are {', '.join(NOISE_TYPES)}")
    clean = _check_wave(clean, name="clean")
    sample_rate = _check_positive_int(sample_rate, name="sample_rate")
    given = {
        "freq_ranges": freq_ranges,
        "rms_amplitudes": rms_amplitudes,
        "time_ranges": time_ranges,
        "reverberances": reverberances,
        "snr_db": snr_db,
        "babble_sources": babble_sources,
    }
    used = _ARGUMENTS_USED[noise_type]
    unused = sorted(name for name, value in given.items() if value is not None and name not in used)
    if unused:
        logger.warning("noise_type %r ignores %s", noise_type, ", ".join(unused))
    base = {"noise_type": noise_type, "seed": _check_seed(seed), "sample_rate": sample_rate}
    if noise_type == "not_added":
        return [_make_example(clean, clean.copy(), "clean", {**base, "derived_seed": None})]
    if noise_type == "sinusoidal":
        return [_ranged_example(noise_type, clean, sample_rate, base, freq_ranges, rms_amplitudes)]
    if noise_type == "white":
        return [_ranged_example(noise_type, clean, sample_rate, base, time_ranges, rms_amplitudes)]
    if noise_type == "reverberation":
        return _reverb_examples(clean, sample_rate, base, reverberances)
    return _snr_examples(clean, sample_rate, base, noise_type, snr_db, babble_sources)


def save_noisy_example(example: NoisyExample, out_dir: str | os.PathLike, basename: str, sample_rate: int) -> Path:
    """Write ``{basename}_{condition}.wav`` and its ``.json`` sidecar in ``out_dir``; return the WAV path.

    The WAV is 32-bit float (values above 1.0 are kept, not clipped); the JSON holds
    ``example.params`` plus the WAV's file name under ``"wav"``. Both are written atomically
    (temporary name in the same folder, then ``os.replace``), the JSON last, so a JSON's presence
    means its WAV is complete. Raises ``ValueError`` if ``sample_rate`` differs from the one
    recorded in the example or ``basename`` is empty or contains a path separator.
    """
    if not basename or "/" in basename or os.sep in basename:
        raise ValueError(f"basename: {basename!r} must be a non-empty file name without path separators")
    recorded = example.params.get("sample_rate")
    if recorded != sample_rate:
        raise ValueError(f"sample_rate: {sample_rate!r} Hz differs from the example's {recorded!r} Hz")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    wav_path = out_dir / f"{basename}_{example.condition}.wav"
    json_path = wav_path.with_suffix(".json")
    noisy = np.asarray(example.noisy, dtype=np.float32)
    write_atomically(wav_path, lambda tmp: sf.write(tmp, noisy, sample_rate, subtype="FLOAT", format="WAV"))
    text = json.dumps({**example.params, "wav": wav_path.name}, indent=2, allow_nan=False)
    write_text_atomically(json_path, text + "\n")
    return wav_path
