"""Content hashes of files: what identifies an input or a model's weights in the attribution store."""

from __future__ import annotations

import hashlib
import json
import os


def file_sha256(path: str | os.PathLike) -> str:
    """Hex SHA-256 of the file ``path`` (read in 1 MiB blocks)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def digest(value: object) -> str:
    """SHA-256 (hex) of ``value`` as sorted JSON (non-JSON values by ``str``): what identifies a configuration."""
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()
