"""Controlled noise injection: one spec per noise type, and :func:`inject_noise`.

Conventions used throughout :mod:`xai_helpers.dsp.noise`:

* waves are float 1-D numpy arrays ``[n_samples]`` in linear full-scale units (1.0 = full scale);
* ``sample_rate`` is in Hz, times in seconds, frequencies in Hz;
* amplitudes are RMS values in linear full-scale units (0.01 is -40 dBFS RMS);
* SNRs are in dB, ``10 * log10(P_clean / P_noise)`` with ``P`` the mean square over the whole file;
* every random draw comes from ``numpy.random.default_rng(seed)`` with an explicit integer seed.

Noise types (:data:`NOISE_SPECS`; the first four are the original command line's choices):

``not_added``
    The clean signal, unchanged (condition ``clean``).
``sinusoidal``
    Sums of tones spread across frequency ranges, each range at its RMS (:mod:`.tones`).
``white``
    Gaussian white-noise bursts inside time ranges, each at its RMS (:mod:`.bursts`).
``reverberation``
    Convolution with a synthetic room impulse response of a given RT60 (:mod:`.reverb`).
``room_reverberation``
    The speech heard in a simulated shoebox room of a given RT60, size and source-microphone
    distance (:mod:`.room`, pyroomacoustics); the impulse response travels with the example.
``white_snr`` / ``pink_snr`` / ``babble_snr``
    White, 1/f (:mod:`.broadband`) or multi-talker (:mod:`.babble`) noise over the whole file, mixed
    at an exact SNR (:mod:`.mixing`).

To add a noise type: its generator in a module of this package and one :class:`NoiseSpec` below,
with a new ``seed_id`` (ids are fixed: a type's seeds never depend on the order of the specs).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..wave import check_wave
from .babble import DEFAULT_TALKERS, babble_noise
from .broadband import pink_noise, white_noise
from .bursts import white_noise_bursts
from .examples import (
    Builder,
    NoisyExample,
    clean_examples,
    ranged_examples,
    reverb_examples,
    room_examples,
    snr_examples,
)
from .parsing import check_positive_int, check_seed
from .tones import sinusoidal_noise

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class NoiseSpec:
    """One noise type: its name, fixed seed id, the options it uses, and how it builds its examples."""

    name: str
    seed_id: int
    """Fixed id mixed into every derived seed of this type (see :func:`~.examples.derive_seed`)."""
    options: tuple[str, ...]
    """The :func:`inject_noise` keyword arguments this type reads."""
    build: Builder
    uses_other_files: bool = False
    """True when the type needs the other clean files of the corpus (``babble_sources``)."""


def _babble(n_samples: int, seed: int, sources: Sequence[np.ndarray]) -> tuple[np.ndarray, dict]:
    return babble_noise(n_samples, sources, seed), {"n_talkers": DEFAULT_TALKERS, "n_babble_sources": len(sources)}


NOISE_SPECS: dict[str, NoiseSpec] = {
    spec.name: spec
    for spec in (
        NoiseSpec("not_added", 0, (), clean_examples),
        NoiseSpec(
            "sinusoidal",
            1,
            ("freq_ranges", "rms_amplitudes", "combine"),
            ranged_examples(sinusoidal_noise, "freq_ranges", "Hz", "'1000-2000'", "0.01"),
        ),
        NoiseSpec(
            "white",
            2,
            ("time_ranges", "rms_amplitudes", "combine"),
            ranged_examples(white_noise_bursts, "time_ranges", "s", "'0.5-1.2'", "0.05"),
        ),
        NoiseSpec("reverberation", 3, ("reverberances",), reverb_examples),
        NoiseSpec("white_snr", 4, ("snr_db",), snr_examples(lambda n, seed, _: (white_noise(n, seed), {}))),
        NoiseSpec("pink_snr", 5, ("snr_db",), snr_examples(lambda n, seed, _: (pink_noise(n, seed), {}))),
        NoiseSpec(
            "babble_snr",
            6,
            ("snr_db", "babble_sources"),
            snr_examples(_babble, needs_sources=True),
            uses_other_files=True,
        ),
        NoiseSpec("room_reverberation", 7, ("reverberances", "room_dim_m", "source_mic_distance_m"), room_examples),
    )
}
NOISE_TYPES = tuple(NOISE_SPECS)
"""Valid ``noise_type`` values."""


def noise_spec(noise_type: str) -> NoiseSpec:
    """The spec of ``noise_type``; ``ValueError`` listing the valid types for an unknown one."""
    if noise_type not in NOISE_SPECS:
        raise ValueError(f"noise_type: unknown {noise_type!r}; valid types are {', '.join(NOISE_TYPES)}")
    return NOISE_SPECS[noise_type]


def options_for(noise_type: str, **options: object) -> dict[str, object]:
    """The subset of ``options`` (``freq_ranges``, ``rms_amplitudes``, ...) that ``noise_type`` uses.

    Lets a caller hold every option (a notebook's parameters) and pass on only the relevant ones.
    Raises ``ValueError`` for an unknown noise type, listing the valid ones.
    """
    used = noise_spec(noise_type).options
    return {name: value for name, value in options.items() if name in used}


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
    room_dim_m: Sequence[float] | None = None,
    source_mic_distance_m: float | None = None,
    combine: str | None = None,
    seed: int = 0,
    babble_sources: Sequence[np.ndarray] | None = None,
) -> list[NoisyExample]:
    """Noisy versions of ``clean`` ``[n_samples]`` (at ``sample_rate`` Hz) for one ``noise_type``.

    * ``not_added``: one example equal to ``clean`` (condition ``clean``);
    * ``sinusoidal``: one example, all ``freq_ranges`` (Hz) summed, at ``rms_amplitudes``; with
      ``combine="grid"`` one example per range and amplitude (2 ranges x 3 amplitudes: 6);
    * ``white``: one example, all bursts in ``time_ranges`` (s), at ``rms_amplitudes``; ``combine="grid"``
      as for ``sinusoidal``;
    * ``reverberation``: one example per RT60 in ``reverberances`` (s, default ``[0.5]``, at most 10 s);
    * ``room_reverberation``: one example per RT60 in ``reverberances`` (s, 0.1 to 2.0, default
      ``[0.5]``) in a shoebox room of ``room_dim_m`` (length, width, height in m, default
      ``(6, 5, 3)``) with source and microphone ``source_mic_distance_m`` apart (m, default 1.5);
      ``example.rir`` is the impulse response and ``params["room"]`` its record (measured RT60...);
    * ``white_snr`` / ``pink_snr`` / ``babble_snr``: one example per value of ``snr_db`` (dB);
      ``babble_snr`` also needs ``babble_sources`` (other utterances, same sample rate).

    Example ``i`` draws its noise from a seed derived deterministically from ``seed``, the noise
    type's fixed id and ``i`` (recorded as ``params['derived_seed']``). Arguments the type does not
    use are logged and ignored. Raises ``ValueError`` for an unknown type (listing the valid ones), a
    missing or malformed required argument, or any out-of-range value.
    """
    spec = noise_spec(noise_type)
    clean = check_wave(clean, name="clean")
    sample_rate = check_positive_int(sample_rate, name="sample_rate")
    given = {
        "freq_ranges": freq_ranges,
        "rms_amplitudes": rms_amplitudes,
        "time_ranges": time_ranges,
        "reverberances": reverberances,
        "snr_db": snr_db,
        "room_dim_m": room_dim_m,
        "source_mic_distance_m": source_mic_distance_m,
        "combine": combine,
        "babble_sources": babble_sources,
    }
    unused = sorted(name for name, value in given.items() if value is not None and name not in spec.options)
    if unused:
        logger.warning("noise_type %r ignores %s", noise_type, ", ".join(unused))
    base = {"noise_type": noise_type, "seed": check_seed(seed), "sample_rate": sample_rate}
    return spec.build(noise_type, spec.seed_id, clean, sample_rate, base, given)
