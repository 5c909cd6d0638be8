"""Progress over the files of a step: a tqdm bar (a widget in a notebook, text in a terminal) and, in a kernel
started by the book runner, one line per file on the runner's own terminal with the time left.

Under papermill a notebook's widgets and prints stay in the executed notebook; the terminal that runs
``make book`` would only see "running 02_attributions.ipynb" for minutes. The book runner therefore starts
its kernels with :data:`TERMINAL_PROGRESS_ENV` set, and :func:`track` then also writes to the kernel
process's own standard error (``sys.__stderr__``), which is the runner's terminal.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from typing import TextIO, TypeVar

TERMINAL_PROGRESS_ENV = "XAI_TERMINAL_PROGRESS"
"""Set to ``"1"`` in a kernel's environment to mirror progress lines (and warnings) on the runner's terminal."""

Item = TypeVar("Item")


def terminal_stream() -> TextIO | None:
    """The runner's terminal (this process's own standard error) when :data:`TERMINAL_PROGRESS_ENV` is ``"1"``,
    else ``None``."""
    return sys.__stderr__ if os.environ.get(TERMINAL_PROGRESS_ENV) == "1" else None


def clock(seconds: float) -> str:
    """``seconds`` as ``M:SS`` (or ``H:MM:SS`` from an hour on)."""
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def track(
    items: Sequence[Item],
    description: str,
    unit: str = "file",
    enabled: bool = True,
    name: Callable[[Item], str] = lambda item: os.path.basename(str(item)),
) -> Iterator[Item]:
    """Yield ``items`` in order under a tqdm bar (elapsed, time left, the item in hand) when ``enabled``.

    Where :func:`terminal_stream` is set, each item also gets two lines there: ``DESCRIPTION: i/n NAME ...``
    when it starts and ``DESCRIPTION: i/n NAME done in S; ELAPSED elapsed, about LEFT left`` when the caller
    asks for the next one (time left = mean time per item so far x items to go).
    """
    from tqdm.auto import tqdm

    terminal = terminal_stream() if enabled else None
    total = len(items)
    started = time.monotonic()
    with tqdm(items, desc=description, unit=unit, disable=not enabled) as bar:
        for index, item in enumerate(bar, start=1):
            bar.set_postfix_str(name(item), refresh=True)
            if terminal is not None:
                print(f"{description}: {index}/{total} {name(item)} ...", file=terminal, flush=True)
            item_started = time.monotonic()
            yield item
            if terminal is not None:
                elapsed = time.monotonic() - started
                left = elapsed / index * (total - index)
                print(
                    f"{description}: {index}/{total} {name(item)} done in {time.monotonic() - item_started:.1f} s; "
                    f"{clock(elapsed)} elapsed, about {clock(left)} left",
                    file=terminal,
                    flush=True,
                )
