"""Parsing and checking noise parameters: ranges (``"1000-2000"`` or ``(lo, hi)``), amplitudes, seeds.

Units are the caller's (Hz for frequencies, seconds for times, RMS in linear full-scale units).
Every error is a ``ValueError`` naming the parameter and the bad value.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Sequence

import numpy as np

_NUMBER = r"(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
_RANGE_PATTERN = re.compile(rf"^\s*({_NUMBER})\s*-\s*({_NUMBER})\s*$")


def is_number(value: object) -> bool:
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
    elif isinstance(value, (Sequence, np.ndarray)) and len(value) == 2 and all(is_number(v) for v in value):
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
    elif isinstance(values, (Sequence, np.ndarray)) and len(values) == 2 and all(is_number(v) for v in values):
        items = [values]
    elif isinstance(values, (Sequence, np.ndarray)):
        items = list(values)
    else:
        raise ValueError(f"{name}: expected a range or a list of ranges, got {values!r}")
    if not items:
        raise ValueError(f"{name}: no range given ({values!r})")
    return [parse_range(item, name=name) for item in items]


def parse_rms_values(values: float | Sequence[float], *, name: str) -> list[float]:
    """A non-empty list of non-negative finite RMS values (linear full scale) from one value or a list."""
    items = [values] if is_number(values) or isinstance(values, str) else list(values)
    if not items:
        raise ValueError(f"{name}: no value given ({values!r})")
    amplitudes = []
    for item in items:
        try:
            amplitude = float(item)
        except (TypeError, ValueError) as error:
            raise ValueError(f"{name}: {item!r} is not a number") from error
        if not math.isfinite(amplitude) or amplitude < 0:
            raise ValueError(f"{name}: amplitude {item!r} must be a finite RMS >= 0")
        amplitudes.append(amplitude)
    return amplitudes


def parse_amplitudes(values: float | Sequence[float], n_ranges: int, *, name: str) -> list[float]:
    """One non-negative finite RMS per range: a single value is broadcast to all ``n_ranges``."""
    amplitudes = parse_rms_values(values, name=name)
    if len(amplitudes) == 1:
        return amplitudes * n_ranges
    if len(amplitudes) != n_ranges:
        raise ValueError(
            f"{name}: got {len(amplitudes)} values {amplitudes} for {n_ranges} ranges (give 1 or {n_ranges}, "
            "or combine='grid' for one file per range and amplitude)"
        )
    return amplitudes


COMBINE_MODES = ("pairs", "grid")
"""How ranges and amplitudes make files: ``pairs`` (one file, range ``i`` at amplitude ``i``, all ranges
summed) or ``grid`` (one file per range and amplitude, as the original project)."""


def combine_ranges(
    ranges: list[tuple[float, float]], values: float | Sequence[float], combine: str, *, name: str
) -> list[tuple[list[tuple[float, float]], list[float]]]:
    """The ``(ranges, amplitudes)`` of each file: ``pairs`` gives one file with every range at its
    amplitude (:func:`parse_amplitudes`); ``grid`` gives one file per range and amplitude, ranges
    outermost (2 ranges x 3 amplitudes: 6 files). ``name`` labels the amplitudes' errors."""
    if combine not in COMBINE_MODES:
        raise ValueError(f"combine: unknown {combine!r}; expected one of {', '.join(COMBINE_MODES)}")
    if combine == "pairs":
        return [(ranges, parse_amplitudes(values, len(ranges), name=name))]
    return [([span], [amplitude]) for span in ranges for amplitude in parse_rms_values(values, name=name)]


def parse_values(values: float | Sequence[float], *, name: str) -> list[float]:
    """A number or a non-empty list of numbers, each finite, as a list; ``name`` labels errors."""
    items = [values] if is_number(values) else list(values)
    if not items:
        raise ValueError(f"{name}: no value given ({values!r})")
    for item in items:
        if not is_number(item) or not math.isfinite(item):
            raise ValueError(f"{name}: {item!r} is not a finite number")
    return [float(item) for item in items]


def check_positive_int(value: int, *, name: str) -> int:
    """``value`` if it is an integer > 0, else ``ValueError`` naming ``name``."""
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"{name}: expected a positive integer, got {value!r}")
    return int(value)


def check_seed(seed: int) -> int:
    """``seed`` if it is an integer >= 0 (what ``numpy.random.default_rng`` accepts)."""
    if not isinstance(seed, numbers.Integral) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed: expected an integer >= 0, got {seed!r}")
    return int(seed)
