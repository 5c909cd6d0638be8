"""Signal-level quality measures."""

from __future__ import annotations

import math
import numbers
import os
import warnings

import numpy as np
import pesq as _pesq_library
from pystoi import stoi as _stoi_library
from scipy.signal import resample_poly


def si_sdr(estimate: np.ndarray, reference: np.ndarray) -> float:
    """Scale-invariant signal-to-distortion ratio in dB (Le Roux et al., 2019) of ``estimate`` ``[N]``.

    Both signals are made zero-mean; the reference is scaled optimally before the error is taken.
    """
    estimate = np.asarray(estimate, dtype=np.float64) - np.mean(estimate)
    reference = np.asarray(reference, dtype=np.float64) - np.mean(reference)
    if estimate.shape != reference.shape:
        raise ValueError(f"si_sdr needs equal shapes, got {estimate.shape} and {reference.shape}")
    energy = np.dot(reference, reference)
    if energy == 0:
        raise ValueError("si_sdr: the reference is silent")
    target = np.dot(estimate, reference) / energy * reference
    residual = estimate - target
    return float(10 * np.log10(np.dot(target, target) / max(np.dot(residual, residual), 1e-30)))


# --------------------------------------------------------------------------------------------
# PESQ and STOI (the speech-enhancement field's perceptual and intelligibility scores)
# --------------------------------------------------------------------------------------------

PESQ_RATES_HZ = (8000, 16000)
"""Sample rates the ITU-T P.862 implementation accepts; other rates are resampled (see :func:`pesq`)."""
PESQ_MIN_DURATION_S = 0.25
"""Shortest signal the P.862 implementation accepts (at its own sample rate)."""
PESQ_MODES = ("auto", "wb", "nb")


def _about(source: str | os.PathLike | None) -> str:
    """`` for 'file.wav'`` when a source is named, for error messages; else nothing."""
    return "" if source is None else f" for {os.fspath(source)!r}"


def _check_pair(
    reference: np.ndarray, degraded: np.ndarray, sample_rate: int, metric: str, source: str | os.PathLike | None
) -> tuple[np.ndarray, np.ndarray]:
    """Both signals as float64 ``[N]`` after the checks every metric needs; ``ValueError`` naming the argument.

    Checks: 1-D, non-empty, finite, equal length, a positive integer ``sample_rate`` and a
    reference that is not all zeros.
    """
    about = _about(source)
    if not isinstance(sample_rate, numbers.Integral) or isinstance(sample_rate, bool) or sample_rate <= 0:
        raise ValueError(f"{metric}{about}: sample_rate must be a positive integer in Hz, got {sample_rate!r}")
    waves = {}
    for name, wave in (("reference", reference), ("degraded", degraded)):
        wave = np.asarray(wave, dtype=np.float64)
        if wave.ndim != 1 or wave.size == 0:
            raise ValueError(f"{metric}{about}: {name} must be a non-empty 1-D waveform [N], got shape {wave.shape}")
        if not np.all(np.isfinite(wave)):
            raise ValueError(f"{metric}{about}: {name} contains NaN or infinite samples")
        waves[name] = wave
    if waves["reference"].shape != waves["degraded"].shape:
        raise ValueError(
            f"{metric}{about}: reference and degraded differ in length "
            f"({waves['reference'].size} and {waves['degraded'].size} samples); "
            "they must be time-aligned and equally long"
        )
    if not np.any(waves["reference"]):
        raise ValueError(f"{metric}{about}: reference is silent (all zeros); the score compares speech to speech")
    return waves["reference"], waves["degraded"]


def pesq(
    reference: np.ndarray,
    degraded: np.ndarray,
    sample_rate: int,
    mode: str = "auto",
    *,
    source: str | os.PathLike | None = None,
) -> float:
    """PESQ (ITU-T P.862; wide band P.862.2) MOS-LQO of ``degraded`` ``[N]`` against ``reference`` ``[N]``.

    ``mode``: ``"wb"`` (wide band, P.862.2, range about 1.04 to 4.64) needs 16 kHz; ``"nb"``
    (narrow band, P.862.1 mapping, up to about 4.55) works at 8 or 16 kHz; ``"auto"`` is wide band
    when the signal has a 16 kHz version and narrow band otherwise.

    Sample rates (Hz): 8000 and 16000 are scored as they are. Any other rate is resampled with
    ``scipy.signal.resample_poly`` (polyphase, Kaiser window) *down* to 16000 if it is above 16000
    (e.g. 48 kHz) and to 8000 if it lies between 8000 and 16000; PESQ of the resampled pair is the
    standard reading, since P.862 only hears up to 8 kHz (wide band) or 4 kHz (narrow band).
    Rates below 8000, and wide band below 16000, raise ``ValueError`` (no upsampling: it would
    invent no band and mislabel the score).

    ``source`` (a file name or label) is named in every error. Raises ``ValueError`` for shape,
    length or rate problems, a silent reference or degraded signal, a signal shorter than
    0.25 s, or no speech found by P.862's voice-activity detection; the C library's own errors
    (``pesq.PesqError`` and subclasses) are re-raised as ``ValueError`` with that context.
    """
    about = _about(source)
    if mode not in PESQ_MODES:
        raise ValueError(f"pesq{about}: mode must be one of {', '.join(PESQ_MODES)}, got {mode!r}")
    reference, degraded = _check_pair(reference, degraded, sample_rate, "pesq", source)
    if not np.any(degraded):
        raise ValueError(f"pesq{about}: degraded is silent (all zeros); P.862 has no level to align to")
    if sample_rate < PESQ_RATES_HZ[0]:
        raise ValueError(f"pesq{about}: sample_rate {sample_rate} Hz is below 8000 Hz, the lowest rate PESQ accepts")
    rate = PESQ_RATES_HZ[1] if sample_rate >= PESQ_RATES_HZ[1] else PESQ_RATES_HZ[0]
    if mode == "wb" and rate != PESQ_RATES_HZ[1]:
        raise ValueError(
            f"pesq{about}: wide band (mode='wb') needs sample_rate >= 16000 Hz, got {sample_rate} Hz; use mode='nb'"
        )
    band = mode if mode != "auto" else ("wb" if rate == PESQ_RATES_HZ[1] else "nb")
    if rate != sample_rate:
        divisor = math.gcd(rate, sample_rate)
        reference = resample_poly(reference, rate // divisor, sample_rate // divisor)
        degraded = resample_poly(degraded, rate // divisor, sample_rate // divisor)
    if reference.size < PESQ_MIN_DURATION_S * rate:
        raise ValueError(
            f"pesq{about}: the signals last {reference.size / rate:.3f} s; PESQ needs at least {PESQ_MIN_DURATION_S} s"
        )
    try:
        return float(_pesq_library.pesq(rate, reference, degraded, band))
    except _pesq_library.NoUtterancesError as error:
        raise ValueError(f"pesq{about}: P.862 found no speech (utterances) in the reference ({error})") from error
    except _pesq_library.PesqError as error:
        raise ValueError(f"pesq{about}: the P.862 library failed: {error}") from error


def stoi(
    reference: np.ndarray,
    degraded: np.ndarray,
    sample_rate: int,
    extended: bool = False,
    *,
    source: str | os.PathLike | None = None,
) -> float:
    """STOI (Taal et al., 2011; ``extended=True``: ESTOI, Jensen & Taal, 2016) of ``degraded`` ``[N]``.

    Computed by ``pystoi`` against ``reference`` ``[N]`` at any ``sample_rate`` (Hz; resampled
    internally to 10 kHz). STOI lies in about 0 to 1 (1 for identical signals); ESTOI may go below 0.
    Frames more than 40 dB below the reference's loudest are dropped first; at least 30 frames
    (about 0.4 s of speech) must remain, otherwise ``ValueError`` (pystoi itself would only warn and
    return 1e-5). Also ``ValueError`` for shape, length or rate problems and a silent reference;
    ``source`` (a file name or label) is named in every error.
    """
    reference, degraded = _check_pair(reference, degraded, sample_rate, "stoi", source)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RuntimeWarning)
        score = _stoi_library(reference, degraded, sample_rate, extended=bool(extended))
    too_short = [warning for warning in caught if "Not enough STFT frames" in str(warning.message)]
    for warning in caught:
        if warning not in too_short:
            warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
    if too_short:
        raise ValueError(
            f"stoi{_about(source)}: too little speech: fewer than 30 frames (about 0.4 s) of the reference are "
            "within 40 dB of its loudest frame"
        )
    return float(score)
