"""Per-task bounds of a batch: the peak memory of a task's notebook kernels and the disk under its folder.

:class:`TaskWatch` runs beside each notebook of a task (a thread on the worker). Every ``interval``
seconds it sums the resident memory (RSS) of the processes the worker started since the watch began
(the notebook's kernel and its children) and, less often, the bytes under the task folder. Past a
bound it kills those processes, so the notebook fails at once instead of filling the machine, and
:attr:`TaskWatch.exceeded` names the bound and the size reached. The peak RSS it saw goes to
``summary.csv`` (``peak_memory_mb``).

Which processes belong to the notebook is decided without comparing clocks: the watch notes the worker's
descendants present when it starts (each by pid and its own start time, so a reused pid is a new process),
and every descendant not in that set is the notebook's. ``psutil``'s ``create_time()`` is derived from the
boot time, which Linux reports in whole seconds, so it can sit up to a second before the wall clock:
comparing it with ``time.time()`` missed the kernel on some machines and left the bound unenforced.
Sampling can miss a spike shorter than ``interval`` and a fast writer can pass the disk bound by what it
writes in ``disk_interval``; :func:`disk_excess` checks the folder again after each notebook.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

GB = 1e9


def folder_bytes(folder: str | os.PathLike) -> int:
    """Total size in bytes of the files under ``folder`` (0 if it does not exist)."""
    total = 0
    for path in Path(folder).rglob("*"):
        try:
            if path.is_file():
                total += path.stat().st_size
        except OSError:  # removed while we looked (an atomic write's temporary file)
            pass
    return total


def check_bound(name: str, value_gb: float | None) -> float | None:
    """``value_gb`` as a float, or ``None`` (no bound); raises ``ValueError`` naming ``name`` if not positive."""
    if value_gb is None:
        return None
    if isinstance(value_gb, bool) or not float(value_gb) > 0:
        raise ValueError(f"{name} must be a positive number of GB (or None: no bound), not {value_gb!r}")
    return float(value_gb)


def disk_message(size_bytes: int, max_disk_gb: float, task_dir: str | os.PathLike, when: str) -> str:
    return (
        f"disk bound exceeded {when}: the task folder {task_dir} holds {size_bytes / 1e6:.1f} MB, "
        f"over --max-disk-gb {max_disk_gb:g} ({max_disk_gb * GB / 1e6:.1f} MB)"
    )


def disk_excess(task_dir: str | os.PathLike, max_disk_gb: float | None, when: str) -> str:
    """The message of :func:`disk_message` if the folder holds more than ``max_disk_gb``, else ``""``."""
    if max_disk_gb is None:
        return ""
    size = folder_bytes(task_dir)
    return disk_message(size, max_disk_gb, task_dir, when) if size > max_disk_gb * GB else ""


def _descendants(me) -> list[tuple[object, tuple[int, float]]]:
    """``(process, (pid, create_time))`` of every descendant of the ``psutil.Process`` ``me`` still alive.

    The pair identifies a process: a pid reused by a later process has another start time (both read from
    the same clock, so they compare exactly)."""
    import psutil

    try:
        children = me.children(recursive=True)
    except psutil.Error:
        return []
    found = []
    for process in children:
        try:
            found.append((process, (process.pid, process.create_time())))
        except psutil.Error:  # ended while we looked
            pass
    return found


class TaskWatch:
    """Watches one notebook run (a context manager); see the module docstring.

    ``max_memory_gb`` bounds the summed RSS of the processes started during the watch, ``max_disk_gb``
    the bytes under ``task_dir`` (``None``: no bound, the peak RSS is still recorded)."""

    def __init__(
        self,
        task_dir: str | os.PathLike,
        label: str,
        max_memory_gb: float | None = None,
        max_disk_gb: float | None = None,
        interval: float = 0.2,
        disk_interval: float = 1.0,
    ) -> None:
        self.task_dir, self.label = Path(task_dir), label
        self.max_memory_gb, self.max_disk_gb = max_memory_gb, max_disk_gb
        self.interval, self.disk_interval = interval, disk_interval
        self.peak_rss = 0
        """Largest summed RSS seen, bytes."""
        self.exceeded = ""
        """Why the watch killed the notebook's processes ("" if it did not)."""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _processes(self, me, before: set[tuple[int, float]]) -> list:
        """The worker's descendants that were not there when the watch started (``before``)."""
        return [process for process, key in _descendants(me) if key not in before]

    def _rss(self, processes: list) -> int:
        import psutil

        total = 0
        for process in processes:
            try:
                total += process.memory_info().rss
            except psutil.Error:
                pass
        return total

    def _kill(self, processes: list, reason: str) -> None:
        import psutil

        self.exceeded = reason
        for process in processes:
            try:
                process.kill()
            except psutil.Error:
                pass

    def _run(self, me, before: set[tuple[int, float]]) -> None:
        last_disk = 0.0
        while not self._stop.wait(self.interval):
            processes = self._processes(me, before)
            rss = self._rss(processes)
            self.peak_rss = max(self.peak_rss, rss)
            if self.max_memory_gb is not None and rss > self.max_memory_gb * GB:
                self._kill(
                    processes,
                    f"memory bound exceeded in {self.label}: its kernel used {rss / 1e6:.0f} MB (resident), "
                    f"over --max-memory-gb {self.max_memory_gb:g} ({self.max_memory_gb * GB / 1e6:.0f} MB); killed",
                )
                return
            now = time.monotonic()
            if self.max_disk_gb is not None and now - last_disk >= self.disk_interval:
                last_disk = now
                size = folder_bytes(self.task_dir)
                if size > self.max_disk_gb * GB:
                    self._kill(
                        processes,
                        disk_message(size, self.max_disk_gb, self.task_dir, f"during {self.label}") + "; killed",
                    )
                    return

    def __enter__(self) -> TaskWatch:
        import psutil

        me = psutil.Process()
        before = {key for _, key in _descendants(me)}  # taken before the notebook starts its kernel
        self._thread = threading.Thread(target=self._run, args=(me, before), daemon=True, name=f"watch {self.label}")
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
