"""Atomic file writes: a crash leaves either the old file or none, never a half-written one.

Temporary files are named ``.NAME.<host>.<pid>.<random>.partial`` beside ``NAME``
(:func:`temporary_path`): unique per run, and :func:`partial_owner` reads back which host and process
wrote one, so a later run can tell a live run's file from the trace of a dead one
(:func:`xai_helpers.io.locks.remove_stale_partials`).
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Callable
from pathlib import Path

PARTIAL_SUFFIX = ".partial"
"""Suffix of the temporary files; a leftover ``.NAME.*.partial`` is the trace of an interrupted write."""


def host_tag() -> str:
    """This host's name as temporary file names hold it: dots turned into dashes (they separate the name's
    fields), ``"host"`` when the name is empty."""
    return socket.gethostname().replace(".", "-") or "host"


def temporary_path(path: str | os.PathLike) -> Path:
    """A new unique temporary name for ``path``: ``.NAME.<host>.<pid>.<random>.partial`` in its folder
    (``<host>``: :func:`host_tag`)."""
    path = Path(path)
    return path.with_name(f".{path.name}.{host_tag()}.{os.getpid()}.{secrets.token_hex(4)}{PARTIAL_SUFFIX}")


def partial_paths(path: str | os.PathLike) -> list[Path]:
    """Every temporary file of ``path`` (any run, including the older ``.NAME.partial`` form), sorted."""
    path = Path(path)
    found = set(path.parent.glob(f".{path.name}.*{PARTIAL_SUFFIX}")) if path.parent.is_dir() else set()
    legacy = path.with_name(f".{path.name}{PARTIAL_SUFFIX}")
    if legacy.exists():
        found.add(legacy)
    return sorted(found)


def partial_owner(partial: str | os.PathLike) -> tuple[str, int] | None:
    """``(host, pid)`` of the run that created the temporary file ``partial`` (named by
    :func:`temporary_path`), or ``None`` when its name does not say (older forms)."""
    parts = Path(partial).name.removesuffix(PARTIAL_SUFFIX).split(".")
    if len(parts) < 4 or not parts[-2].isdigit():
        return None
    return parts[-3], int(parts[-2])


def write_atomically(path: str | os.PathLike, write: Callable[[str], object]) -> Path:
    """Call ``write(temporary_path)`` on a temporary name beside ``path``, then rename it to ``path``.

    The temporary file is removed if ``write`` raises. Parent folders are created.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = str(temporary_path(path))
    os.close(os.open(temporary, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))  # umask applies
    try:
        write(temporary)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)
    return path


def write_text_atomically(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    return write_atomically(path, lambda temporary: Path(temporary).write_text(text, encoding="utf-8"))
