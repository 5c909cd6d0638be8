"""A batch on Dask: every pending task submitted to a local cluster or a running scheduler, reports rewritten as tasks
finish."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ...io.locks import hold_lock, lock_path
from ...models.registry import SAMPLE_RATES, check_model_name
from ..book import NOTEBOOKS_DIR, notebook_parameters, numbered_notebooks
from .limits import check_bound, folder_bytes
from .planning import WIRED_PARAMETERS, TaskPlan, plan_task
from .runner import STATUSES, TaskResult, run_task, step_outputs
from .summary import write_reports
from .tasks import MANIFEST_INFORMATIVE, MANIFEST_RESERVED, read_tasks


@dataclass
class BatchSummary:
    """The outcome of :func:`run_batch`: one result per task, in input order, and the files written."""

    run_dir: Path
    results: list[TaskResult]
    summary_path: Path
    index_path: Path

    def ids(self, status: str) -> list[str]:
        return [r.task_id for r in self.results if r.status == status]

    @property
    def ok(self) -> list[str]:
        return self.ids("ok")

    @property
    def failed(self) -> list[str]:
        return self.ids("failed")

    @property
    def skipped(self) -> list[str]:
        return self.ids("skipped")

    def counts(self) -> dict[str, int]:
        return {status: len(self.ids(status)) for status in STATUSES if self.ids(status)}

    def rows(self) -> list[dict]:
        return [r.row(self.run_dir) for r in self.results]

    def __repr__(self) -> str:
        return f"BatchSummary({self.run_dir}, {self.counts()})"


def _open_client(workers: int, scheduler: str | None):
    """A Dask client on ``scheduler``, or on a new local cluster of ``workers`` one-thread processes;
    returns ``(client, cluster or None)``."""
    from distributed import Client, LocalCluster

    if scheduler:
        return Client(scheduler), None
    for name in list(logging.root.manager.loggerDict):  # the in-process scheduler's start/stop chatter
        if name.startswith("distributed"):
            logging.getLogger(name).setLevel(logging.WARNING)
    cluster = LocalCluster(
        n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=logging.WARNING
    )
    return Client(cluster), cluster


def run_batch(
    notebooks: Sequence[str] | None,
    input: str | os.PathLike,
    output: str | os.PathLike,
    workers: int | None = None,
    scheduler: str | None = None,
    parameters: Mapping[str, object] | None = None,
    sample_rate: int | None = None,
    model: str | None = None,
    threads_per_worker: int = 1,
    device: str = "cpu",
    force: bool = False,
    progress: bool = True,
    notebooks_dir: Path = NOTEBOOKS_DIR,
    max_memory_gb: float | None = None,
    max_disk_gb: float | None = None,
    lock_timeout_s: float | None = 0,
) -> BatchSummary:
    """Run ``notebooks`` (numbers such as ``["01", "02"]``; ``None`` = all) over every file of ``input``
    (a folder, an audio file or a manifest CSV) into the run folder ``output``.

    ``workers`` local Dask worker processes (default: cores / ``threads_per_worker``), or the Dask
    scheduler at ``scheduler`` (``"tcp://host:8786"``). ``parameters`` go to every notebook that
    declares them; ``sample_rate``, ``model`` (a registered name or an import path; a manifest column ``model``
    sets it per row, each value checked before any work) and ``device`` likewise. Complete tasks are skipped (``force``
    reruns them). ``max_memory_gb`` and ``max_disk_gb`` bound each task (:mod:`.limits`): a task whose
    notebook kernel's resident memory or whose folder passes its bound fails with a message naming the
    bound and the size, and the others go on. Returns a :class:`BatchSummary`; ``summary.csv`` (with
    ``disk_mb`` and ``peak_memory_mb`` per task) and ``index.html`` (with the total on disk) are in ``output``.

    Every argument and manifest column is checked before anything is written. Then the run folder's lock
    (``.RUN_DIR.lock`` beside it) is held while tasks are planned and run: a second batch on the same folder
    waits ``lock_timeout_s`` seconds (default 0: it stops at once; ``None``: as long as it takes), then
    :class:`~xai_helpers.io.locks.LockHeldError` names the batch holding it (pid, host, start).
    """
    if sample_rate is not None and int(sample_rate) not in SAMPLE_RATES:
        raise ValueError(f"sample_rate {sample_rate} is not one of {SAMPLE_RATES}")
    if threads_per_worker < 1:
        raise ValueError("threads_per_worker must be at least 1")
    max_memory_gb, max_disk_gb = check_bound("max_memory_gb", max_memory_gb), check_bound("max_disk_gb", max_disk_gb)
    if workers is not None and (isinstance(workers, bool) or int(workers) != workers or workers < 1):
        raise ValueError(f"workers must be a whole number of at least 1 (local Dask worker processes), not {workers!r}")
    run_dir = Path(output).resolve()
    chosen = numbered_notebooks(list(notebooks) if notebooks else None, notebooks_dir)
    if not chosen:
        raise ValueError(f"no notebooks to run in {notebooks_dir}")
    logging.getLogger("papermill.translators").setLevel(logging.ERROR)
    declared = {nb: notebook_parameters(nb) for nb in chosen}
    given = dict(parameters or {})
    wired = sorted(set(given) & set(WIRED_PARAMETERS))
    if wired:
        raise ValueError(f"{wired} are set per file by the batch (see xai_helpers.run.batch); leave them out")
    known = set().union(*declared.values())
    unknown = sorted(set(given) - known)
    if unknown:
        raise ValueError(f"no chosen notebook declares the parameter(s) {unknown}; they declare {sorted(known)}")
    if sample_rate is not None:
        given["sample_rate"] = int(sample_rate)
    if model is not None:
        given["model"] = check_model_name(model)
    given["device"] = device
    tasks = read_tasks(input)
    valid_columns = set(MANIFEST_RESERVED + MANIFEST_INFORMATIVE).union(
        *(notebook_parameters(nb) for nb in numbered_notebooks(None, notebooks_dir))
    )
    for task in tasks:
        if "model" in task.parameters:
            try:
                check_model_name(task.parameters["model"])
            except ValueError as error:
                raise ValueError(f"{input}: task {task.task_id!r}: {error}") from error
        columns = sorted(set(task.parameters) - valid_columns)
        if columns:
            raise ValueError(
                f"{input}: task {task.task_id!r} has the column(s) {columns}, which no notebook declares; "
                f"valid manifest columns: {sorted(valid_columns)}"
            )
    with hold_lock(lock_path(run_dir), lock_timeout_s, what=f"batch over {input}"):
        plans = [
            plan_task(t, chosen, declared, run_dir, given, threads_per_worker, force, max_memory_gb, max_disk_gb)
            for t in tasks
        ]
        return _run_plans(
            plans, run_dir, workers or max(1, (os.cpu_count() or 1) // threads_per_worker), scheduler, progress
        )


def _run_plans(
    plans: list[TaskPlan], run_dir: Path, workers: int, scheduler: str | None, progress: bool
) -> BatchSummary:
    """Run the pending ``plans`` on ``workers`` local Dask processes (or ``scheduler``), rewriting the reports of
    ``run_dir`` after each task; complete ones are reported as skipped."""
    from tqdm.auto import tqdm

    results: dict[str, TaskResult] = {}
    for plan in plans:
        if plan.to_run:
            results[plan.task_id] = TaskResult(plan.task_id, plan.input, "pending")
        else:
            results[plan.task_id] = TaskResult(
                plan.task_id,
                plan.input,
                "skipped",
                outputs=step_outputs(plan),
                disk_bytes=folder_bytes(plan.task_dir),
                peak_memory_bytes=plan.recorded_peak_memory_bytes,
            )
    skipped = [p.task_id for p in plans if not p.to_run]
    if skipped:
        print(f"skipped {len(skipped)} complete task(s): {' '.join(skipped)}", file=sys.stderr)
    pending = [p for p in plans if p.to_run]
    resumed = [f"{p.task_id} (from {p.to_run[0]})" for p in pending if len(p.to_run) < len(p.steps)]
    if resumed:
        print(
            f"resuming {len(resumed)} task(s) at their first out-of-date notebook: {' '.join(resumed)}", file=sys.stderr
        )

    def ordered() -> list[TaskResult]:
        return [results[p.task_id] for p in plans]

    summary_path, index_path = write_reports(run_dir, ordered())
    if pending:
        from distributed import as_completed

        client, cluster = _open_client(workers, scheduler)
        try:
            futures = {
                client.submit(
                    run_task, plan, pure=False, key=f"nsnet2-batch-{plan.task_id}-{os.urandom(4).hex()}"
                ): plan
                for plan in pending
            }
            # The bar's [elapsed<left] is the time left at the rate tasks finish (with every worker busy).
            bar = tqdm(
                as_completed(futures),
                total=len(futures),
                desc="batch",
                unit="task",
                disable=not progress,
                bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining} left] {postfix}",
            )
            seconds: list[float] = []
            for future in bar:
                plan = futures[future]
                try:
                    result = future.result()
                except Exception as error:  # noqa: BLE001 - e.g. the worker died (KilledWorker)
                    result = TaskResult(
                        plan.task_id,
                        plan.input,
                        "failed",
                        error=f"{type(error).__name__}: {error}",
                        outputs=step_outputs(plan),
                        disk_bytes=folder_bytes(plan.task_dir),
                    )
                results[plan.task_id] = result
                seconds.append(result.seconds)
                bar.set_postfix_str(
                    f"last {result.task_id} {result.seconds:.0f} s, mean {sum(seconds) / len(seconds):.0f} s/task, "
                    f"failed {sum(r.status == 'failed' for r in results.values())}",
                    refresh=False,
                )
                if result.status == "failed":
                    bar.write(f"{result.task_id} failed: {result.error}")
                summary_path, index_path = write_reports(run_dir, ordered())
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
    return BatchSummary(run_dir, ordered(), summary_path, index_path)
