"""Reverberation from simulated shoebox rooms (pyroomacoustics, image-source method).

A room of ``room_dim_m`` (metres) whose walls all absorb the same fraction of energy; one
omnidirectional source and one microphone ``source_mic_distance_m`` apart, placed from the seed.
Unlike :func:`xai_helpers.dsp.noise.reverb.room_impulse_response` (a noise tail under an exponential
envelope) the response has a direct path delayed by the distance, discrete early reflections and
a tail built from image sources.

How the requested RT60 is met: the absorption and the image-source order come from the RT60 by
inverse Sabine (``pyroomacoustics.inverse_sabine``). A shoebox simulated that way decays more
slowly than Sabine predicts (measured T20 about 15 % long at 1 s in the default room, 10-25 %
short below 0.3 s), so the absorption is then corrected: ``absorption *= measured / requested``
(Sabine: RT60 is inversely proportional to absorption), re-simulating until the measured RT60
(Schroeder T20, :func:`xai_helpers.dsp.noise.reverb.estimate_rt60`) is within :data:`RT60_TOLERANCE` of the
request, at most :data:`MAX_CALIBRATION_STEPS` times; one step usually suffices. Both absorptions
and the measured RT60 are recorded. The image-source method alone is deterministic (no ray
tracing, no random image jitter), so the same arguments give the same response.

Cost grows with the cube of the image-source order (about ``RT60 * c`` over the room size): on a
shared 2-core CPU at 16 kHz in the default room, about 0.1 s per simulation at RT60 0.3 s, 0.7 s at
0.6 s, 3 s at 1.0 s and 12-17 s at 1.5 s; hence :data:`RT60_RANGE_S`.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import numpy as np
import pyroomacoustics as pra

from ..wave import check_wave
from .parsing import check_positive_int, check_seed
from .reverb import convolve_same_rms, estimate_rt60

DEFAULT_ROOM_DIM_M = (6.0, 5.0, 3.0)
"""Length, width, height (m) of the default room: a small office or living room."""
DEFAULT_SOURCE_MIC_DISTANCE_M = 1.5
"""Source-microphone distance (m) unless told otherwise: a talker across a desk or table."""
DEFAULT_WALL_MARGIN_M = 0.5
"""Least distance (m) from source and microphone to every wall, floor and ceiling."""
RT60_RANGE_S = (0.1, 2.0)
"""Accepted RT60 values (s): a dry booth to a large hall; above, the simulation takes minutes."""
RT60_TOLERANCE = 0.05
"""Relative deviation of the measured RT60 from the request at which the absorption is left as it is."""
MAX_CALIBRATION_STEPS = 3
"""Most absorption corrections (each one re-simulates the room)."""
PLACEMENT_ATTEMPTS = 1000
"""Random source positions and directions tried before the room is declared too small."""


def check_room_rt60(rt60_s: float, *, name: str = "rt60_s") -> float:
    """``rt60_s`` in seconds inside :data:`RT60_RANGE_S`, else ``ValueError`` naming ``name`` and saying seconds are
    expected."""
    low, high = RT60_RANGE_S
    if not isinstance(rt60_s, numbers.Real) or isinstance(rt60_s, bool) or not math.isfinite(rt60_s):
        raise ValueError(f"{name}: expected a finite number of seconds, got {rt60_s!r}")
    if not low <= rt60_s <= high:
        hint = " (it looks like a percentage or milliseconds)" if rt60_s > high else ""
        raise ValueError(
            f"{name}: {rt60_s!r} is not a plausible reverberation time in seconds{hint}; "
            f"expected {low} to {high} s, e.g. 0.3 (furnished room), 0.6 (classroom), 1.0 (hall)"
        )
    return float(rt60_s)


def _check_length(value: float, *, name: str) -> float:
    """``value`` (metres) if a finite number > 0 (``>= 0`` for the wall margin), else ``ValueError`` naming ``name``."""
    zero_ok = name == "wall_margin_m"
    if (
        not isinstance(value, numbers.Real)
        or isinstance(value, bool)
        or not math.isfinite(value)
        or value < 0
        or (value == 0 and not zero_ok)
    ):
        bound = ">= 0" if zero_ok else "> 0"
        raise ValueError(f"{name}: expected a finite number of metres {bound}, got {value!r}")
    return float(value)


def _check_room_dim(room_dim_m: Sequence[float], wall_margin_m: float) -> np.ndarray:
    """``room_dim_m`` as float64 ``[3]`` (m), each side longer than twice the wall margin."""
    if isinstance(room_dim_m, (str, bytes)) or not isinstance(room_dim_m, Sequence) or len(room_dim_m) != 3:
        raise ValueError(f"room_dim_m: expected (length, width, height) in metres, got {room_dim_m!r}")
    dims = np.array([_check_length(side, name="room_dim_m") for side in room_dim_m])
    if np.any(dims <= 2 * wall_margin_m):
        raise ValueError(
            f"room_dim_m: every side of {tuple(dims.tolist())} m must exceed twice wall_margin_m ({wall_margin_m} m)"
        )
    return dims


def _place(
    rng: np.random.Generator, dims: np.ndarray, distance_m: float, wall_margin_m: float
) -> tuple[np.ndarray, np.ndarray]:
    """Source and microphone positions ``[3]`` (m), ``distance_m`` apart, both ``wall_margin_m`` from every wall.

    The source is uniform in the room shrunk by the margin, the direction to the microphone uniform
    on the sphere; draws are repeated until the microphone also lands inside.
    """
    low, high = np.full(3, wall_margin_m), dims - wall_margin_m
    usable = high - low
    too_small = ValueError(
        f"room_dim_m: a room of {tuple(dims.tolist())} m, keeping wall_margin_m={wall_margin_m} m from the walls, "
        f"has no room for source_mic_distance_m={distance_m} m (its usable diagonal is {np.linalg.norm(usable):.2f} m)"
    )
    if distance_m >= np.linalg.norm(usable):
        raise too_small
    for _ in range(PLACEMENT_ATTEMPTS):
        source = rng.uniform(low, high)
        direction = rng.standard_normal(3)
        microphone = source + distance_m * direction / np.linalg.norm(direction)
        if np.all(microphone >= low) and np.all(microphone <= high):
            return source, microphone
    raise too_small


def _simulate(
    dims: np.ndarray, source: np.ndarray, microphone: np.ndarray, absorption: float, max_order: int, sample_rate: int
) -> np.ndarray:
    """Impulse response ``[n_taps]`` (float64) from ``source`` to ``microphone`` by the image-source method."""
    room = pra.ShoeBox(
        dims.tolist(),
        fs=sample_rate,
        materials=pra.Material(absorption),
        max_order=max_order,
        air_absorption=False,
        ray_tracing=False,
        use_rand_ism=False,
    )
    room.add_source(source.tolist())
    room.add_microphone(microphone.tolist())
    room.compute_rir()
    return np.asarray(room.rir[0][0], dtype=np.float64)


def room_impulse_response(
    rt60_s: float,
    sample_rate: int,
    seed: int,
    *,
    room_dim_m: Sequence[float] = DEFAULT_ROOM_DIM_M,
    source_mic_distance_m: float = DEFAULT_SOURCE_MIC_DISTANCE_M,
    wall_margin_m: float = DEFAULT_WALL_MARGIN_M,
) -> tuple[np.ndarray, dict]:
    """Impulse response ``[n_taps]`` of a simulated shoebox room with the requested RT60, and its record.

    ``rt60_s`` (s, within :data:`RT60_RANGE_S`), ``sample_rate`` (Hz), ``seed`` (integer >= 0; places
    source and microphone through ``numpy.random.default_rng(seed)``), ``room_dim_m`` (length, width,
    height in m), ``source_mic_distance_m`` (m), ``wall_margin_m`` (m from every surface).

    The response keeps the propagation delay: its direct path arrives at sample
    ``info["direct_path_index"]`` (distance / speed of sound, plus half of pyroomacoustics'
    81-tap fractional-delay filter). ``n_taps`` is set by the farthest image source (about RT60).
    pyroomacoustics' default 10 Hz zero-phase high-pass (it removes the DC of the image-source sum)
    leaves a slow, sub-audible wave of about 1 % of the peak before the direct path.

    ``info`` (JSON-serialisable): ``rt60_requested_s``, ``rt60_measured_s`` (Schroeder T20),
    ``room_dim_m``, ``source_m``, ``microphone_m``, ``source_mic_distance_m``, ``wall_margin_m``,
    ``absorption`` (energy absorption used), ``sabine_absorption`` (inverse Sabine's),
    ``calibration_steps``, ``max_order``, ``speed_of_sound_m_s``, ``direct_path_index``,
    ``sample_rate``, ``seed``, ``method`` and ``pyroomacoustics_version``.

    Raises ``ValueError`` naming the argument for an RT60 outside the range (seconds are expected),
    a malformed room, a distance that does not fit between the walls, or an RT60 the room cannot
    have (shorter than with fully absorbing walls).
    """
    rt60_s = check_room_rt60(rt60_s)
    sample_rate = check_positive_int(sample_rate, name="sample_rate")
    seed = check_seed(seed)
    wall_margin_m = _check_length(wall_margin_m, name="wall_margin_m")
    distance_m = _check_length(source_mic_distance_m, name="source_mic_distance_m")
    dims = _check_room_dim(room_dim_m, wall_margin_m)
    source, microphone = _place(np.random.default_rng(seed), dims, distance_m, wall_margin_m)
    speed_of_sound = float(pra.constants.get("c"))
    try:
        sabine_absorption, max_order = pra.inverse_sabine(rt60_s, dims.tolist(), c=speed_of_sound)
    except ValueError as error:
        raise ValueError(
            f"rt60_s: {rt60_s} s is shorter than a room of {tuple(dims.tolist())} m can reverberate even with fully "
            f"absorbing walls (inverse Sabine: {error}); ask for a longer RT60 or a smaller room_dim_m"
        ) from error
    absorption, steps = float(sabine_absorption), 0
    while True:
        rir = _simulate(dims, source, microphone, absorption, int(max_order), sample_rate)
        measured = estimate_rt60(rir, sample_rate)
        if abs(measured / rt60_s - 1) <= RT60_TOLERANCE or steps == MAX_CALIBRATION_STEPS or absorption >= 1.0:
            break
        absorption, steps = min(absorption * measured / rt60_s, 1.0), steps + 1
    half_filter = pra.constants.get("frac_delay_length") // 2
    info = {
        "method": "pyroomacoustics shoebox, image-source method, absorption calibrated to the measured RT60",
        "pyroomacoustics_version": pra.__version__,
        "sample_rate": sample_rate,
        "seed": seed,
        "rt60_requested_s": rt60_s,
        "rt60_measured_s": measured,
        "room_dim_m": dims.tolist(),
        "source_m": source.tolist(),
        "microphone_m": microphone.tolist(),
        "source_mic_distance_m": distance_m,
        "wall_margin_m": wall_margin_m,
        "absorption": absorption,
        "sabine_absorption": float(sabine_absorption),
        "calibration_steps": steps,
        "max_order": int(max_order),
        "speed_of_sound_m_s": speed_of_sound,
        "direct_path_index": int(round(distance_m / speed_of_sound * sample_rate)) + half_filter,
    }
    return rir, info


def reverberate_in_room(
    clean: np.ndarray,
    sample_rate: int,
    rt60_s: float,
    seed: int,
    *,
    room_dim_m: Sequence[float] = DEFAULT_ROOM_DIM_M,
    source_mic_distance_m: float = DEFAULT_SOURCE_MIC_DISTANCE_M,
    wall_margin_m: float = DEFAULT_WALL_MARGIN_M,
) -> tuple[np.ndarray, np.ndarray, dict]:
    """``(reverberant [n_samples], rir [n_taps], info)``: ``clean`` ``[n_samples]`` heard in a simulated room.

    Same conventions as :func:`xai_helpers.dsp.noise.reverb.reverberate`: the output has the input's length and
    RMS (an all-zero input stays zero) and the direct sound is time-aligned with the input: the
    convolution with ``rir`` is read from ``info["direct_path_index"]`` on, so the propagation delay
    is removed and the reverberant tail past the end is dropped. ``rir`` and ``info`` are those of
    :func:`room_impulse_response` (same arguments).
    """
    clean = check_wave(clean, name="clean")
    rir, info = room_impulse_response(
        rt60_s,
        sample_rate,
        seed,
        room_dim_m=room_dim_m,
        source_mic_distance_m=source_mic_distance_m,
        wall_margin_m=wall_margin_m,
    )
    return convolve_same_rms(clean, rir, start=info["direct_path_index"]), rir, info
