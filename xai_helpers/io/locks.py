"""One writer per output: a lock file beside it, and the clean-up of temporary files that only dead runs left.

:func:`hold_lock` takes an exclusive ``fcntl.flock`` on a lock file (kept in place after use; its
content records the holder: pid, host, start time, what it does). A second run on the same lock
waits for the first (``timeout_s=None``, the default: as long as it takes), gives up after
``timeout_s`` seconds, or at once with ``timeout_s=0``, raising :class:`LockHeldError` naming the run
that holds it. The operating system drops the lock when its holder dies, so a killed run never
blocks the next one.

:func:`remove_stale_partials` (call it while holding the output's lock) deletes the temporary files
(:func:`xai_helpers.io.atomic.temporary_path`) of runs that are gone: written on another host (the
lock is not held, so that run ended), by a process of this host that no longer exists (or by this very
process, which holds the lock), or of the older unnamed form. A temporary file whose process is alive on
this host is left alone.
"""

from __future__ import annotations

import datetime
import errno
import fcntl
import json
import logging
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from .atomic import host_tag, partial_owner, partial_paths

logger = logging.getLogger(__name__)

POLL_S = 0.2
"""Seconds between two attempts to take a busy lock."""


@dataclass(frozen=True)
class LockOwner:
    """Who holds a lock: process id, host name, start time (UTC, ISO 8601), and what it does."""

    pid: int
    host: str
    started_utc: str
    what: str = ""

    def describe(self) -> str:
        """``"pid 123 on host, started 2026-01-01T10:00:00+00:00 (what)"``."""
        return f"pid {self.pid} on {self.host}, started {self.started_utc}" + (f" ({self.what})" if self.what else "")


class LockHeldError(RuntimeError):
    """Another run holds the lock (the message names the lock file and that run)."""


def lock_path(path: str | os.PathLike) -> Path:
    """The lock file of the output ``path``: ``.NAME.lock`` in its folder."""
    path = Path(path)
    return path.with_name(f".{path.name}.lock")


def read_owner(lock: str | os.PathLike) -> LockOwner | None:
    """The holder recorded in the lock file ``lock`` (its last holder if nobody holds it now), or ``None``."""
    try:
        record = json.loads(Path(lock).read_text(encoding="utf-8") or "null")
        return LockOwner(**record) if isinstance(record, dict) else None
    except (OSError, ValueError, TypeError):
        return None


@contextmanager
def hold_lock(lock: str | os.PathLike, timeout_s: float | None = None, what: str = "") -> Iterator[LockOwner]:
    """Hold the exclusive lock file ``lock`` for the ``with`` block; yields this run's :class:`LockOwner`.

    Busy lock: wait (logging once who holds it) up to ``timeout_s`` seconds (``None``: no limit; ``0``:
    do not wait), then raise :class:`LockHeldError` naming the lock file and its holder. The lock file's
    folder is created; the file stays after release (removing it would let two runs lock two files).
    """
    if timeout_s is not None and timeout_s < 0:
        raise ValueError(f"timeout_s must be None (wait as long as it takes) or >= 0 seconds, not {timeout_s}")
    lock = Path(lock)
    lock.parent.mkdir(parents=True, exist_ok=True)
    handle = open(lock, "a+", encoding="utf-8")
    try:
        _acquire(handle, lock, timeout_s)
        owner = LockOwner(
            os.getpid(),
            socket.gethostname(),
            datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            what,
        )
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps(asdict(owner)))
        handle.flush()
        try:
            yield owner
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
    finally:
        handle.close()


def _acquire(handle, lock: Path, timeout_s: float | None) -> None:
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    announced = False
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except OSError as error:
            if error.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise
        owner = read_owner(lock)
        holder = owner.describe() if owner else "another run"
        if deadline is not None and time.monotonic() >= deadline:
            waited = f" after waiting {timeout_s:g} s" if timeout_s else ""
            raise LockHeldError(f"{lock}: held by {holder}{waited}; wait for it to finish, or stop it")
        if not announced:
            logger.warning("%s: held by %s; waiting for it", lock, holder)
            announced = True
        time.sleep(POLL_S)


def pid_alive(pid: int) -> bool:
    """True if a process ``pid`` exists on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        return True
    return True


def remove_stale_partials(path: str | os.PathLike) -> list[Path]:
    """Delete the temporary files of ``path`` left by runs that are gone (see the module docstring); call it
    while holding ``path``'s lock. Returns the files removed; live runs' files are kept (and logged)."""
    host = host_tag()
    removed = []
    for partial in partial_paths(path):
        owner = partial_owner(partial)
        if owner is not None and owner[0] == host and owner[1] != os.getpid() and pid_alive(owner[1]):
            logger.warning(
                "%s: temporary file of live process %d kept (it does not hold the lock of %s)",
                partial,
                owner[1],
                Path(path).name,
            )
            continue
        try:
            partial.unlink()
            removed.append(partial)
        except FileNotFoundError:
            pass
    return removed
