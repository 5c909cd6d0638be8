"""Per-file progress: the bar over files, and the lines the book runner's kernels write to its terminal."""

from __future__ import annotations

import io
import logging
import sys

import pytest

from xai_helpers.io.progress import TERMINAL_PROGRESS_ENV, clock, terminal_stream, track
from xai_helpers.run.execution import kernel_environment


@pytest.fixture
def terminal(monkeypatch):
    stream = io.StringIO()
    monkeypatch.setattr(sys, "__stderr__", stream)
    monkeypatch.setenv(TERMINAL_PROGRESS_ENV, "1")
    return stream


def test_track_yields_every_item_and_writes_two_lines_per_item(terminal):
    seen = list(track(["/data/a.wav", "/data/b.wav", "/data/c.wav"], "explain files"))
    assert seen == ["/data/a.wav", "/data/b.wav", "/data/c.wav"]
    lines = terminal.getvalue().splitlines()
    assert len(lines) == 6
    assert lines[0] == "explain files: 1/3 a.wav ..."
    assert lines[1].startswith("explain files: 1/3 a.wav done in ") and lines[1].endswith(" left")
    assert lines[4] == "explain files: 3/3 c.wav ..."
    assert lines[5].endswith("about 0:00 left")  # nothing left after the last file


def test_no_terminal_lines_without_the_runner_or_when_disabled(monkeypatch, terminal):
    assert list(track([1, 2], "x", enabled=False)) == [1, 2]
    monkeypatch.delenv(TERMINAL_PROGRESS_ENV)
    assert terminal_stream() is None
    assert list(track([1, 2], "x")) == [1, 2]
    assert terminal.getvalue() == ""


def test_time_left_is_the_mean_time_so_far_times_the_items_to_go(monkeypatch, terminal):
    now = iter([0.0, 0.0, 10.0, 10.0, 10.0, 30.0, 30.0])  # start; item 1 start, end (+elapsed); item 2 ...
    monkeypatch.setattr("xai_helpers.io.progress.time.monotonic", lambda: next(now))
    items = track(["a", "b", "c", "d"], "run")
    next(items)
    next(items)  # item 1 done: 10 s elapsed, 3 to go at 10 s each
    assert "10.0 s; 0:10 elapsed, about 0:30 left" in terminal.getvalue().splitlines()[1]


def test_clock():
    assert clock(0) == "0:00"
    assert clock(125.4) == "2:05"
    assert clock(3725) == "1:02:05"


def test_book_kernels_get_the_terminal_variable_and_batch_kernels_do_not():
    assert kernel_environment(2, terminal_progress=True)[TERMINAL_PROGRESS_ENV] == "1"
    assert TERMINAL_PROGRESS_ENV not in kernel_environment(2)
    assert kernel_environment(3)["OMP_NUM_THREADS"] == "3"


def test_setup_notebook_mirrors_warnings_to_the_terminal(terminal, notebook_setup_undone):
    from xai_helpers.run.notebook import setup_notebook

    setup_notebook()
    logging.getLogger("xai_helpers.test").warning("a 5.16 GB write is coming")
    assert "WARNING xai_helpers.test: a 5.16 GB write is coming" in terminal.getvalue()
