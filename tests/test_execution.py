"""Executing a notebook: a kernel that fails to start (a TCP port taken by a kernel started at the same moment)
is started again; other failures are not retried."""

from __future__ import annotations

import pytest


class ZMQError(Exception):
    """Stands for zmq.error.ZMQError (matched by name)."""


@pytest.mark.parametrize(
    "failure, retried",
    [
        (RuntimeError("Kernel didn't respond in 60 seconds"), True),
        (ZMQError("Address already in use (addr='tcp://127.0.0.1:52387')"), True),
        (RuntimeError("something else went wrong"), False),
    ],
)
def test_a_kernel_that_fails_to_start_is_started_again(monkeypatch, tmp_path, failure, retried):
    import papermill

    from xai_helpers.run import execution

    calls = []

    def fake_execute(*args, **kwargs):
        calls.append(args)
        if len(calls) == 1:
            raise failure

    monkeypatch.setattr(papermill, "execute_notebook", fake_execute)
    monkeypatch.setattr("xai_helpers.reports.html.export_html", lambda executed, html: html)
    notebook = tmp_path / "01_x.ipynb"
    if retried:
        assert (
            execution.execute_notebook(notebook, tmp_path / "out" / "01_x.ipynb", {}) == tmp_path / "out" / "01_x.html"
        )
        assert len(calls) == 2
    else:
        with pytest.raises(RuntimeError, match="something else"):
            execution.execute_notebook(notebook, tmp_path / "out" / "01_x.ipynb", {})
        assert len(calls) == 1


def test_a_kernel_that_never_starts_fails_after_the_last_attempt(monkeypatch, tmp_path):
    import papermill

    from xai_helpers.run import execution

    calls = []

    def never(*args, **kwargs):
        calls.append(args)
        raise RuntimeError("Kernel didn't respond in 60 seconds")

    monkeypatch.setattr(papermill, "execute_notebook", never)
    with pytest.raises(RuntimeError, match="didn't respond"):
        execution.execute_notebook(tmp_path / "01_x.ipynb", tmp_path / "out" / "01_x.ipynb", {})
    assert len(calls) == execution.KERNEL_START_ATTEMPTS
