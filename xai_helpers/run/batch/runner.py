"""Running one batch task on a worker: its out-of-date notebooks in order, markers written as they finish."""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from ...io.atomic import write_text_atomically
from ..execution import execute_notebook, thread_environment
from .limits import TaskWatch, disk_excess, folder_bytes
from .planning import DONE_FILE, STARTED_FILE, TaskPlan, read_json

STATUSES = ("ok", "failed", "skipped", "pending")
MAX_ERROR_CHARS = 2000


@dataclass
class TaskResult:
    """What became of one task."""

    task_id: str
    input: str
    status: str  # ok | failed | skipped | pending
    seconds: float = 0.0
    notebooks_run: list[str] = field(default_factory=list)
    error: str = ""
    log: str = ""  # the executed notebook holding the traceback, for a failed task
    outputs: list[str] = field(default_factory=list)
    disk_bytes: int = 0
    """Bytes on disk under the task's folder after the task (reports, attribution files, audio)."""
    peak_memory_bytes: int = 0
    """Largest resident memory of the task's notebook kernels (sampled; 0: not measured)."""

    def row(self, run_dir: Path) -> dict:
        def rel(path: str) -> str:
            return os.path.relpath(path, run_dir) if path else ""

        return {
            "task_id": self.task_id,
            "input_path": self.input,
            "status": self.status,
            "seconds": f"{self.seconds:.1f}",
            "notebooks_run": " ".join(self.notebooks_run),
            "error": self.error,
            "log": rel(self.log),
            "outputs": ";".join(rel(p) for p in self.outputs),
            "disk_mb": f"{self.disk_bytes / 1e6:.1f}",
            "peak_memory_mb": f"{self.peak_memory_bytes / 1e6:.0f}" if self.peak_memory_bytes else "",
        }


def step_outputs(plan: TaskPlan) -> list[str]:
    """The task's reports, executed notebooks and output folders that exist."""
    found = []
    for step in plan.steps:
        executed = Path(plan.task_dir) / "executed" / Path(step.notebook).name
        for path in (executed.with_suffix(".html"), executed, step.output_dir):
            if path and Path(path).exists():
                found.append(str(path))
    return found


def _pin_threads(threads: int) -> None:
    """Cap this worker's own threads too (its kernels get theirs through their environment)."""
    os.environ.update(thread_environment(threads))
    torch = sys.modules.get("torch")  # never imported here just for this
    if torch is not None:
        torch.set_num_threads(threads)


def _error_message(notebook: Path, error: BaseException) -> str:
    ename, evalue = getattr(error, "ename", None), getattr(error, "evalue", None)
    if ename is not None:
        cell = getattr(error, "exec_count", None)
        text = f"{notebook.name} (cell {cell}): {ename}: {evalue}"
    else:
        text = f"{notebook.name}: {type(error).__name__}: {error}"
    text = " ".join(text.split())
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 3] + "..."


def run_task(plan: TaskPlan) -> TaskResult:
    """Run a task's out-of-date steps in order (on a Dask worker); never raises.

    ``done.json`` entries of the steps about to run are removed first; each finished step adds its
    own entry (atomically, after its outputs are complete). A step whose last attempt had another
    hash starts from an empty output folder.
    """
    started_at = time.perf_counter()
    _pin_threads(plan.threads)
    task_dir = Path(plan.task_dir)
    result = TaskResult(plan.task_id, plan.input, "ok")
    done_path, started_path = task_dir / DONE_FILE, task_dir / STARTED_FILE
    try:
        to_run = [step for step in plan.steps if step.run]
        done = read_json(done_path)
        entries = {k: v for k, v in done.get("notebooks", {}).items() if k not in {s.number for s in to_run}}
        _write_json(done_path, {"task_id": plan.task_id, "input": plan.input, "notebooks": entries})
        started = read_json(started_path)
        for step in to_run:
            notebook = Path(step.notebook)
            executed = task_dir / "executed" / notebook.name
            if step.output_dir and started.get(step.number) != step.hash and Path(step.output_dir).exists():
                shutil.rmtree(step.output_dir)
            started[step.number] = step.hash
            _write_json(started_path, started)
            step_start = time.perf_counter()
            result.notebooks_run.append(step.number)
            watch = TaskWatch(task_dir, notebook.stem, plan.max_memory_gb, plan.max_disk_gb)
            try:
                with watch:
                    execute_notebook(notebook, executed, step.parameters, plan.threads)
                error_text = watch.exceeded or disk_excess(task_dir, plan.max_disk_gb, f"after {notebook.stem}")
            except Exception as error:  # noqa: BLE001 - one failing file never stops the batch
                error_text = watch.exceeded or _error_message(notebook, error)
            result.peak_memory_bytes = max(result.peak_memory_bytes, watch.peak_rss)
            if error_text:
                result.status, result.error = "failed", error_text
                result.log = str(executed) if executed.is_file() else ""
                break
            entries[step.number] = {
                "notebook": notebook.name,
                "hash": step.hash,
                "parameters": step.parameters,
                "seconds": round(time.perf_counter() - step_start, 2),
                "peak_memory_mb": round(watch.peak_rss / 1e6),
                "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "outputs": [str(executed.with_suffix(".html")), str(executed)]
                + ([step.output_dir] if step.output_dir else []),
            }
            _write_json(done_path, {"task_id": plan.task_id, "input": plan.input, "notebooks": entries})
    except Exception as error:  # noqa: BLE001 - file-system trouble in the task folder
        result.status, result.error = "failed", f"{type(error).__name__}: {error}"
    result.seconds = time.perf_counter() - started_at
    result.outputs = step_outputs(plan)
    result.disk_bytes = folder_bytes(task_dir)
    return result


def _write_json(path: Path, value: object) -> None:
    write_text_atomically(path, json.dumps(value, indent=1, sort_keys=True, default=str))
