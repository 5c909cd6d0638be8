"""Executing one notebook: papermill in a kernel with capped threads, then its HTML report beside it.

Shared by the book runner (:mod:`xai_helpers.run.book`) and the batch runner (:mod:`xai_helpers.run.batch`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path

logger = logging.getLogger(__name__)

THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
)
KERNEL_NAME = "python3"
"""The kernel of the environment running papermill (ipykernel's own spec)."""


def _kernel_manager_class(extra_env: Mapping[str, str]):
    """An ``AsyncKernelManager`` whose kernels start with ``extra_env`` added to this process's environment."""
    from jupyter_client import AsyncKernelManager

    class PinnedKernelManager(AsyncKernelManager):
        async def _async_pre_start_kernel(self, **kw):
            kw["env"] = {**kw.get("env", os.environ), **extra_env}
            return await super()._async_pre_start_kernel(**kw)

        pre_start_kernel = _async_pre_start_kernel

    return PinnedKernelManager


def thread_environment(threads: int) -> dict[str, str]:
    """The variables that cap the threads of OpenMP / MKL / OpenBLAS (PyTorch reads OMP_NUM_THREADS)."""
    return {name: str(int(threads)) for name in THREAD_VARIABLES}


def kernel_environment(threads: int, terminal_progress: bool = False) -> dict[str, str]:
    """What a kernel's environment gets on top of this process's: :func:`thread_environment`, and with
    ``terminal_progress`` :data:`~xai_helpers.io.progress.TERMINAL_PROGRESS_ENV` (per-file progress lines and
    warnings on this process's terminal)."""
    from ..io.progress import TERMINAL_PROGRESS_ENV

    return {**thread_environment(threads), **({TERMINAL_PROGRESS_ENV: "1"} if terminal_progress else {})}


KERNEL_START_ATTEMPTS = 3
"""How often a notebook's kernel is started before giving up. jupyter_client finds free TCP ports by binding
and releasing them, so two kernels started at the same moment by parallel batch workers can pick the same
port; the one that loses dies at start ("ZMQError: Address already in use", then "Kernel didn't respond in 60
seconds"). No cell has run then, so starting again is safe."""


def kernel_failed_to_start(error: BaseException) -> bool:
    """True for the errors of a kernel that never came up (no cell ran), which :func:`execute_notebook` retries."""
    return (
        type(error).__name__ == "ZMQError"
        or isinstance(error, RuntimeError)
        and ("Kernel didn't respond" in str(error) or "Kernel died before replying" in str(error))
    )


def execute_notebook(
    notebook: Path, executed: Path, parameters: Mapping[str, object], threads: int = 1, terminal_progress: bool = False
) -> Path:
    """Run ``notebook`` with papermill into ``executed`` (a kernel with ``threads`` threads) and export
    its HTML beside it, also when a cell fails (then the papermill error is raised after the export).
    ``terminal_progress``: the kernel also writes per-file progress and warnings to this terminal
    (:func:`kernel_environment`). A kernel that fails to start is started again, up to
    :data:`KERNEL_START_ATTEMPTS` times."""
    import papermill

    from ..reports.html import export_html

    logging.getLogger("papermill.translators").setLevel(logging.ERROR)  # "Unable to parse line" of comments
    executed.parent.mkdir(parents=True, exist_ok=True)
    html_path = executed.with_suffix(".html")
    try:
        for attempt in range(1, KERNEL_START_ATTEMPTS + 1):
            try:
                papermill.execute_notebook(
                    str(notebook),
                    str(executed),
                    parameters=dict(parameters),
                    cwd=str(notebook.parent),
                    kernel_name=KERNEL_NAME,
                    progress_bar=False,
                    kernel_manager_class=_kernel_manager_class(kernel_environment(threads, terminal_progress)),
                    extra_arguments=["--IPKernelApp.log_level=ERROR"],  # not the plain-TCP warning for every kernel
                )
                break
            except Exception as error:
                if (
                    isinstance(error, papermill.PapermillExecutionError)
                    or not kernel_failed_to_start(error)
                    or attempt == KERNEL_START_ATTEMPTS
                ):
                    raise
                logger.warning(
                    "%s: the kernel did not start (%s: %s); starting it again (attempt %d of %d)",
                    notebook.name,
                    type(error).__name__,
                    error,
                    attempt + 1,
                    KERNEL_START_ATTEMPTS,
                )
    except papermill.PapermillExecutionError:
        if executed.is_file():
            try:
                export_html(executed, html_path)
            except Exception:  # the executed notebook stays the log  # noqa: BLE001
                logger.exception("%s: HTML export failed", executed)
        raise
    return export_html(executed, html_path)
