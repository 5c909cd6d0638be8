"""Every random generator an attribution method may draw from, seeded from one recorded seed.

Captum draws from torch's generator (GradientShap's baseline choice and noise, Lime/KernelShap's
perturbations) *and* from numpy's global generator (GradientShap's interpolation points,
``numpy.random.uniform``); scikit-learn's surrogate fits use numpy's global generator too, and some
Captum helpers use Python's ``random``. Seeding only torch leaves the result to chance. Inside
:func:`seeded` all three start from ``seed``; numpy's and Python's global states are restored on exit,
so a caller's own draws are not disturbed.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch


@contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Run the body with torch, numpy's global and Python's ``random`` generators seeded from ``seed`` (an int >= 0)."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed: expected an integer >= 0, got {seed!r}")
    numpy_state, python_state = np.random.get_state(), random.getstate()
    torch.manual_seed(int(seed))
    np.random.seed(int(seed) % 2**32)
    random.seed(int(seed))
    try:
        yield
    finally:
        np.random.set_state(numpy_state)
        random.setstate(python_state)
