"""Loading a mask model once per (sample rate, device) and sharing it; hashing its weights file once."""

from __future__ import annotations

import functools
from pathlib import Path

from ..io.hashing import file_sha256
from .nsnet2 import NSNet2, load_nsnet2


@functools.lru_cache(maxsize=4)
def cached_model(sample_rate: int = 16000, device: str = "cpu") -> NSNet2:
    """:func:`~xai_helpers.models.nsnet2.load_nsnet2`, loaded once per (sample rate, device) and shared."""
    return load_nsnet2(sample_rate, device)


@functools.lru_cache(maxsize=4)
def model_sha256(path: Path) -> str:
    """SHA-256 of the model weights file ``path``, hashed once per process (like :func:`cached_model`'s weights,
    read once): what the attribution store records as ``model_sha256`` and compares on reuse."""
    return file_sha256(path)
