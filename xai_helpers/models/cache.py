"""Loading a mask model once per (sample rate, device) and sharing it."""

from __future__ import annotations

import functools

from .nsnet2 import NSNet2, load_nsnet2


@functools.lru_cache(maxsize=4)
def cached_model(sample_rate: int = 16000, device: str = "cpu") -> NSNet2:
    """:func:`~xai_helpers.models.nsnet2.load_nsnet2`, loaded once per (sample rate, device) and shared."""
    return load_nsnet2(sample_rate, device)
