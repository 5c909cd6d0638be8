"""Reverberation: synthetic room impulse responses of a given RT60, and RT60 estimation (``reverberation``)."""

from __future__ import annotations

import math

import numpy as np
from scipy.signal import fftconvolve

from ..wave import check_wave, rms
from .parsing import check_positive_int, check_seed, is_number

DEFAULT_RT60_S = (0.5,)
"""RT60 values used by ``inject_noise(..., "reverberation")`` when ``reverberances`` is None."""
DEFAULT_DRR_DB = 0.0
"""Direct-to-reverberant energy ratio of :func:`room_impulse_response` unless told otherwise."""
DECAY_60_DB = math.log(1000.0)
"""3 ln 10 ~= 6.908: an amplitude envelope ``exp(-DECAY_60_DB * t / rt60)`` loses 60 dB of energy in rt60."""
MAX_RT60_S = 10.0
"""Longest accepted RT60 (s): longer than any real room (large churches reach 8-10 s)."""


def check_rt60(rt60_s: float) -> float:
    """``rt60_s`` (seconds) if finite, > 0 and at most :data:`MAX_RT60_S`, else ``ValueError`` naming the value.

    The upper bound catches a percentage or milliseconds given where seconds are expected.
    """
    if not is_number(rt60_s) or not math.isfinite(rt60_s) or rt60_s <= 0:
        raise ValueError(f"reverberances: RT60 {rt60_s!r} s must be a finite number > 0")
    if rt60_s > MAX_RT60_S:
        raise ValueError(
            f"reverberances: RT60 {rt60_s!r} is not a plausible reverberation time in seconds (a percentage or "
            f"milliseconds?); expected seconds, at most {MAX_RT60_S:g}, e.g. 0.3 (furnished room), 0.6 (classroom)"
        )
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
    rt60_s = check_rt60(rt60_s)
    sample_rate = check_positive_int(sample_rate, name="sample_rate")
    length_s = rt60_s if length_s is None else length_s
    if not is_number(length_s) or not math.isfinite(length_s) or length_s <= 0:
        raise ValueError(f"length_s: {length_s!r} s must be a finite number > 0")
    if not is_number(drr_db) or not math.isfinite(drr_db):
        raise ValueError(f"drr_db: {drr_db!r} must be a finite number of dB")
    n_taps = max(2, round(length_s * sample_rate))
    time = np.arange(n_taps) / sample_rate
    tail = np.random.default_rng(check_seed(seed)).standard_normal(n_taps) * np.exp(-DECAY_60_DB * time / rt60_s)
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
    wave = check_wave(wave, name="wave")
    return convolve_same_rms(wave, room_impulse_response(rt60_s, sample_rate, seed, drr_db=drr_db))


def convolve_same_rms(wave: np.ndarray, rir: np.ndarray, start: int = 0) -> np.ndarray:
    """``wave`` ``[n_samples]`` convolved with ``rir`` ``[n_taps]``, read from sample ``start`` of the
    convolution for ``n_samples`` (the tail past the end is dropped) and rescaled to the RMS of ``wave``;
    an all-zero ``wave`` stays zero."""
    if not np.any(wave):
        return np.zeros_like(wave)
    wet = fftconvolve(wave, rir)[start : start + len(wave)]
    return wet * (rms(wave) / rms(wet))


def estimate_rt60(rir: np.ndarray, sample_rate: int) -> float:
    """RT60 in seconds of an impulse response ``[n_taps]`` by Schroeder backward integration.

    The energy decay curve ``EDC(t) = sum_{tau >= t} rir(tau)**2`` is expressed in dB relative to
    its start; a least-squares line is fitted between its first crossings of -5 dB and -25 dB and
    extrapolated to -60 dB (the "T20" method). Raises ``ValueError`` if the curve never decays
    by 25 dB.
    """
    rir = check_wave(rir, name="rir")
    sample_rate = check_positive_int(sample_rate, name="sample_rate")
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
