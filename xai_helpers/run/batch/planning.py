"""Planning a batch task: each notebook's wiring (input, output and attribution folders), its hash,
and whether it must run (see :mod:`xai_helpers.run.batch`, "Resuming")."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ...io.hashing import digest
from .tasks import Task

OUTPUT_FOLDERS = {"01": "noisy", "02": "attributions", "03": "figures", "04": "perturbation", "07": "comparison"}
"""Each notebook's ``output_dir`` inside a task folder (later notebooks: their name without the number)."""
READS_INPUT_FILE = ("01", "05", "06", "07")
"""Notebooks whose ``input_path`` is the task's input file (clean speech) even when notebook 01 runs;
the others read 01's noisy files when 01 has run for the task."""
WIRED_PARAMETERS = ("input_path", "output_dir", "attributions_dir")
"""Parameters set by the batch's per-file wiring; never taken from ``-p`` or a manifest."""
DONE_FILE = "done.json"
STARTED_FILE = "started.json"


@dataclass
class Step:
    """One notebook of a task: what it is passed, its hash, and whether it must run."""

    number: str
    notebook: str  # path of the source notebook
    parameters: dict  # everything passed to papermill (only names the notebook declares)
    hash: str
    output_dir: str | None  # the folder the batch wired as its output_dir (emptied on a changed hash)
    run: bool = True


@dataclass
class TaskPlan:
    """A task with its steps, as sent to a worker (plain data: it travels through Dask)."""

    task_id: str
    input: str
    task_dir: str
    steps: list[Step]
    threads: int = 1
    max_memory_gb: float | None = None
    """Bound of the resident memory of each notebook's kernel (:mod:`.limits`); None: none."""
    max_disk_gb: float | None = None
    """Bound of the bytes under ``task_dir`` (:mod:`.limits`); None: none."""
    recorded_peak_memory_bytes: int = 0
    """The largest ``peak_memory_mb`` that ``done.json`` records for the task's notebooks when it was planned,
    in bytes (0: none recorded, or ``force``): what a task skipped as complete reports."""

    @property
    def to_run(self) -> list[str]:
        return [step.number for step in self.steps if step.run]


def task_dir_of(run_dir: Path, task_id: str) -> Path:
    return run_dir / "files" / task_id


def read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError, UnicodeDecodeError):
        return {}


def _input_identity(path: Path) -> dict:
    try:
        stat = path.stat()
        return {"path": str(path), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    except OSError:
        return {"path": str(path), "missing": True}


def plan_task(
    task: Task,
    notebooks: Sequence[Path],
    declared: Mapping[Path, Mapping[str, object]],
    run_dir: Path,
    parameters: Mapping[str, object],
    threads: int = 1,
    force: bool = False,
    max_memory_gb: float | None = None,
    max_disk_gb: float | None = None,
) -> TaskPlan:
    """Wire ``task`` through ``notebooks`` and mark the steps that must run (see the module docstring).

    ``declared``: each notebook's parameters and their default values
    (:func:`~xai_helpers.run.book.notebook_parameters`); ``max_memory_gb`` and ``max_disk_gb``: the task's
    bounds (:mod:`.limits`, already checked), carried by the plan to the worker."""
    task_dir = task_dir_of(run_dir, task.task_id)
    done = {} if force else read_json(task_dir / DONE_FILE).get("notebooks", {})
    numbers = [nb.name[:2] for nb in notebooks]
    merged = {**parameters, **task.parameters}
    hashes = {number: entry.get("hash") for number, entry in done.items()}
    steps, rerun_from_here = [], force
    for notebook in notebooks:
        number, names = notebook.name[:2], declared[notebook]
        upstream_noisy = "01" in numbers or hashes.get("01") is not None
        reads_noisy = number not in READS_INPUT_FILE and upstream_noisy
        wiring = {"input_path": str(task_dir / OUTPUT_FOLDERS["01"]) if reads_noisy else str(task.input)}
        upstream = {"01": hashes.get("01")} if reads_noisy else {}
        if number not in ("01", "02") and "attributions_dir" in names:
            wiring["attributions_dir"] = str(task_dir / OUTPUT_FOLDERS["02"])
            upstream["02"] = hashes.get("02")
        output_dir = str(task_dir / OUTPUT_FOLDERS.get(number, notebook.stem[3:]))
        wiring["output_dir"] = output_dir
        own = {k: v for k, v in merged.items() if k in names and k not in WIRED_PARAMETERS}
        # The values the notebook runs with: a changed default (e.g. deeplift_rule) changes the result too.
        # The device changes where the work runs, not its result: switching it must not redo finished work.
        effective = {k: v for k, v in {**names, **own}.items() if k not in WIRED_PARAMETERS and k != "device"}
        step_hash = digest(
            {
                "notebook": notebook.name,
                "parameters": effective,
                "upstream": upstream,
                "input": None if reads_noisy else _input_identity(task.input),
            }
        )
        hashes[number] = step_hash
        rerun_from_here = rerun_from_here or done.get(number, {}).get("hash") != step_hash
        passed = {**own, **{k: v for k, v in wiring.items() if k in names}}
        steps.append(
            Step(
                number,
                str(notebook),
                passed,
                step_hash,
                output_dir if "output_dir" in names else None,
                run=rerun_from_here,
            )
        )
    peak_mb = max((int(entry.get("peak_memory_mb") or 0) for entry in done.values()), default=0)
    return TaskPlan(
        task.task_id,
        str(task.input),
        str(task_dir),
        steps,
        threads,
        max_memory_gb=max_memory_gb,
        max_disk_gb=max_disk_gb,
        recorded_peak_memory_bytes=peak_mb * 10**6,
    )
