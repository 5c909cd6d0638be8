"""Loading a mask model once per (name, sample rate, device) and sharing it; hashing its weights files once."""

from __future__ import annotations

import functools
from pathlib import Path

from ..io.hashing import file_sha256
from .base import MaskModel
from .registry import DEFAULT_MODEL, load_model


@functools.lru_cache(maxsize=8)
def cached_model(sample_rate: int = 16000, device: str = "cpu", name: str = DEFAULT_MODEL) -> MaskModel:
    """:func:`~xai_helpers.models.registry.load_model`, loaded once per (sample rate, device, name) and shared."""
    return load_model(name, sample_rate, device)


@functools.lru_cache(maxsize=4)
def model_sha256(path: Path) -> str:
    """SHA-256 of the model weights file ``path``, hashed once per process (like :func:`cached_model`'s weights,
    read once): what the attribution store records as ``model_sha256`` and compares on reuse."""
    return file_sha256(path)


def weights_sha256(model: MaskModel) -> str:
    """SHA-256 of the model's weights file(s) (:func:`model_sha256` each), joined by ``;`` in the order of
    ``model.source_paths`` (a single hash for NSNet2): what the store records as ``model_sha256``."""
    return ";".join(model_sha256(path) for path in model.source_paths)
