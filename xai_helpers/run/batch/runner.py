"""Run the numbered notebooks over a whole corpus with papermill, in parallel through Dask.

Usage::

    python -m xai_helpers.batch --notebooks 01 02 --input data/samples --workers 2 --output runs/demo \\
        -p segment_duration_s 0.2
    python -m xai_helpers.batch --notebooks 02 03 04 --input manifest.csv --output runs/vctk \\
        --scheduler tcp://host:8786 --sample-rate 48000
    python -m xai_helpers.batch manifest --vctk-demand ROOT --out manifest.csv

and from a notebook :func:`run_batch` (same arguments). A *task* is one input file (a file of the
folder ``--input``, or one row of a manifest) run through the chosen notebooks in order, with its
own folder ``RUN_DIR/files/<task id>/``::

    noisy/           notebook 01's output_dir (noisy WAVs, the noise alone, JSON records)
    attributions/    notebook 02's output_dir; 02 reads noisy/ (or the input file itself when 01
                     has never run for this task)
    figures/         notebook 03's output_dir; 03 and 04 read noisy/ (or the input) and attributions/
    perturbation/    notebook 04's output_dir
    faithfulness/    notebook 05's output_dir (05 reads the input file: clean speech); a later
                     notebook NN_name writes to name/ and reads noisy/ and attributions/
    executed/NN_name.ipynb, executed/NN_name.html   each executed notebook (the log) and its report
    started.json     parameters hash of each notebook's last attempt
    done.json        completion marker: one entry per notebook that finished, written atomically last

The task id is the input's file stem (with a short hash appended when two inputs share a stem, or
a manifest's ``id`` column). ``RUN_DIR/summary.csv`` has one row per task (``status`` ok / failed /
skipped, seconds, error message, the executed notebook holding the traceback as ``log``, output
paths) and ``RUN_DIR/index.html`` links it and every report. Both are rewritten atomically after
each finished task, so they can be watched during a long run (tasks not finished yet: ``pending``).

Parameters: ``-p NAME VALUE`` (value parsed as YAML) goes to every chosen notebook that declares
``NAME``; a manifest's columns (any notebook parameter: noise_type, snr_db, method, baseline,
segment_start_s, ...; YAML values, so ``[5, 10]`` is a list; empty cells keep the command-line
value) override it for their row; ``--sample-rate`` sets ``sample_rate`` and ``--device`` sets
``device`` where declared (a name goes to every chosen notebook declaring it: ``method`` reaches
02, 03 and 04 alike, so 03/04 read the files 02 wrote). ``input_path``, ``output_dir`` and ``attributions_dir`` are set by the
wiring above and cannot be overridden. Names no chosen notebook declares are an error on the
command line and ignored in a manifest (so it can carry ``clean_path`` and notes).

Resuming: each notebook's hash covers its parameters (the ones passed, not the notebook's defaults
or code), the input file's path, size and modification time, and the hashes of the notebooks whose
outputs it reads. A task whose chosen notebooks all have a matching ``done.json`` entry is skipped
(and listed as skipped); otherwise it reruns from its first out-of-date notebook on. A notebook
rerun with changed parameters first empties its output folder (so stale files of the old
configuration are not read downstream); a retry with unchanged parameters keeps it, so the
notebooks' own resumption (notebook 02 skips complete ``.h5`` files) still applies. A failing
notebook stops its task (the later notebooks read its outputs) but never the others; its executed
notebook is kept as the log. ``--force`` reruns everything.

Parallelism: ``--workers N`` starts a local Dask cluster of N single-threaded worker processes
(``distributed.LocalCluster``); ``--scheduler tcp://host:port`` connects to a running Dask
scheduler instead (``dask scheduler`` + ``dask worker tcp://host:port --nthreads 1`` on each node).
Both go through the same ``client.submit`` / ``as_completed`` code. Every task runs its notebooks
in a fresh kernel whose ``OMP_NUM_THREADS``, ``MKL_NUM_THREADS``, ... are set to
``--threads-per-worker`` (so PyTorch and NumPy use that many threads: N workers x T threads should
not exceed the cores) and gets ``device`` as a parameter. On a cluster every worker must see the
run folder, the inputs and this repository at the same paths (a shared file system) and have this
package installed; start one worker per GPU with ``CUDA_VISIBLE_DEVICES`` set and
``--device cuda`` to use several GPUs.

The VCTK + DEMAND test set (Valentini-Botinhao 2017, 824 utterances at 48 kHz) already holds noisy
speech, and the notebooks' noise records (the ``.json`` beside each noisy file written by notebook
01) do not exist for it. ``python -m xai_helpers.batch manifest --vctk-demand ROOT --out
manifest.csv`` writes one row per noisy file (``path``), with its clean partner (``clean_path``, for
reference; no notebook reads it) and ``noise_type`` = ``not_added``. Run it without notebook 01
(``--notebooks 02 03 04``), so 02 reads the noisy file itself; if 01 is included, ``not_added``
makes it pass the noisy file through unchanged (its SI-SDR table then compares the noisy file
with itself). Add ``--sample-rate 48000`` to use the 48 kHz model where the notebooks offer it.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import html
import io
import json
import logging
import os
import re
import shutil
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ...io.atomic import write_text_atomically
from ...run.book import NOTEBOOKS_DIR, numbered_notebooks, notebook_parameters
from ...io.datasets import list_audio_files, pair_vctk_demand
from ...run.execution import execute_notebook, thread_environment

logger = logging.getLogger(__name__)

OUTPUT_FOLDERS = {"01": "noisy", "02": "attributions", "03": "figures", "04": "perturbation"}
"""Each notebook's ``output_dir`` inside a task folder (later notebooks: their name without the number)."""
READS_INPUT_FILE = ("01", "05")
"""Notebooks whose ``input_path`` is the task's input file (clean speech) even when notebook 01 runs;
the others read 01's noisy files when 01 has run for the task."""
WIRED_PARAMETERS = ("input_path", "output_dir", "attributions_dir")
"""Parameters set by the batch's per-file wiring; never taken from ``-p`` or a manifest."""
MANIFEST_RESERVED = ("path", "id")
SAMPLE_RATES = (16000, 48000)
STATUSES = ("ok", "failed", "skipped", "pending")
SUMMARY_COLUMNS = ("task_id", "input_path", "status", "seconds", "notebooks_run", "error", "log", "outputs")
DONE_FILE = "done.json"
STARTED_FILE = "started.json"
MAX_ERROR_CHARS = 2000


# --------------------------------------------------------------------------------------------- tasks

@dataclass(frozen=True)
class Task:
    """One input file and its own parameters (a manifest row's cells; empty for a folder's files)."""

    task_id: str
    input: Path
    parameters: dict = field(default_factory=dict)


def read_tasks(input: str | os.PathLike) -> list[Task]:
    """The tasks named by ``input``: a manifest (``.csv``), an audio file, or a folder of audio files."""
    path = Path(input)
    if path.suffix.lower() == ".csv":
        return read_manifest(path)
    return _with_ids([(None, file.resolve(), {}) for file in list_audio_files(path)])


def read_manifest(manifest: str | os.PathLike) -> list[Task]:
    """The rows of a manifest CSV: a ``path`` column (relative to the CSV's folder, or absolute), an
    optional ``id`` column, and per-file parameter columns whose non-empty cells are parsed as YAML."""
    import yaml

    manifest = Path(manifest)
    with open(manifest, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if not reader.fieldnames or "path" not in reader.fieldnames:
            raise ValueError(f"{manifest}: a manifest needs a 'path' column (found {reader.fieldnames})")
        rows = []
        for number, row in enumerate(reader, start=2):
            if not (row.get("path") or "").strip():
                raise ValueError(f"{manifest}, line {number}: empty path")
            path = Path(row["path"].strip())
            path = (path if path.is_absolute() else manifest.parent / path).resolve()
            parameters = {}
            for name, value in row.items():
                if name is None or name in MANIFEST_RESERVED or value is None or not value.strip():
                    continue
                try:
                    parameters[name] = yaml.safe_load(value)
                except yaml.YAMLError as error:
                    raise ValueError(f"{manifest}, line {number}, column {name}: not YAML: {value!r} ({error})") from error
            rows.append(((row.get("id") or "").strip() or None, path, parameters))
    if not rows:
        raise ValueError(f"{manifest}: the manifest has no rows")
    return _with_ids(rows)


def _with_ids(rows: list[tuple[str | None, Path, dict]]) -> list[Task]:
    """Tasks named by their ``id``, else the file stem; a stem shared by several rows gets a hash of
    the row (path and parameters) appended, which stays the same when rows are reordered."""
    stems: dict[str, int] = {}
    for given, path, _ in rows:
        if given is None:
            stems[_safe_id(path.stem)] = stems.get(_safe_id(path.stem), 0) + 1
    tasks, seen = [], set()
    for given, path, parameters in rows:
        task_id = _safe_id(given if given is not None else path.stem)
        if given is None and stems[task_id] > 1:
            task_id += "-" + _digest({"path": str(path), "parameters": parameters})[:8]
        if task_id in seen:
            raise ValueError(f"two tasks would share the id {task_id!r} (same file and parameters, or a repeated id)")
        seen.add(task_id)
        tasks.append(Task(task_id, path, parameters))
    return tasks


def _safe_id(text: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._")
    return cleaned or "task"


def _digest(value: object) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()


# ------------------------------------------------------------------------------------------ planning

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

    @property
    def to_run(self) -> list[str]:
        return [step.number for step in self.steps if step.run]


def _task_dir(run_dir: Path, task_id: str) -> Path:
    return run_dir / "files" / task_id


def _read_json(path: Path) -> dict:
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


def plan_task(task: Task, notebooks: Sequence[Path], declared: Mapping[Path, set[str]], run_dir: Path,
              parameters: Mapping[str, object], threads: int = 1, force: bool = False) -> TaskPlan:
    """Wire ``task`` through ``notebooks`` and mark the steps that must run (see the module docstring)."""
    task_dir = _task_dir(run_dir, task.task_id)
    done = {} if force else _read_json(task_dir / DONE_FILE).get("notebooks", {})
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
        # The device changes where the work runs, not its result: switching it must not redo finished work.
        step_hash = _digest({
            "notebook": notebook.name, "parameters": {k: v for k, v in own.items() if k != "device"}, "upstream": upstream,
            "input": None if reads_noisy else _input_identity(task.input),
        })
        hashes[number] = step_hash
        rerun_from_here = rerun_from_here or done.get(number, {}).get("hash") != step_hash
        passed = {**own, **{k: v for k, v in wiring.items() if k in names}}
        steps.append(Step(number, str(notebook), passed, step_hash,
                          output_dir if "output_dir" in names else None, run=rerun_from_here))
    return TaskPlan(task.task_id, str(task.input), str(task_dir), steps, threads)


# ------------------------------------------------------------------------------------- running a task

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

    def row(self, run_dir: Path) -> dict:
        def rel(path: str) -> str:
            return os.path.relpath(path, run_dir) if path else ""

        return {
            "task_id": self.task_id, "input_path": self.input, "status": self.status,
            "seconds": f"{self.seconds:.1f}", "notebooks_run": " ".join(self.notebooks_run),
            "error": self.error, "log": rel(self.log), "outputs": ";".join(rel(p) for p in self.outputs),
        }


def _step_outputs(plan: TaskPlan) -> list[str]:
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
        done = _read_json(done_path)
        entries = {k: v for k, v in done.get("notebooks", {}).items() if k not in {s.number for s in to_run}}
        _write_json(done_path, {"task_id": plan.task_id, "input": plan.input, "notebooks": entries})
        started = _read_json(started_path)
        for step in to_run:
            notebook = Path(step.notebook)
            executed = task_dir / "executed" / notebook.name
            if step.output_dir and started.get(step.number) != step.hash and Path(step.output_dir).exists():
                shutil.rmtree(step.output_dir)
            started[step.number] = step.hash
            _write_json(started_path, started)
            step_start = time.perf_counter()
            result.notebooks_run.append(step.number)
            try:
                execute_notebook(notebook, executed, step.parameters, plan.threads)
            except Exception as error:  # noqa: BLE001 - one failing file never stops the batch
                result.status, result.error = "failed", _error_message(notebook, error)
                result.log = str(executed) if executed.is_file() else ""
                break
            entries[step.number] = {
                "notebook": notebook.name, "hash": step.hash, "parameters": step.parameters,
                "seconds": round(time.perf_counter() - step_start, 2),
                "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "outputs": [str(executed.with_suffix(".html")), str(executed)] + ([step.output_dir] if step.output_dir else []),
            }
            _write_json(done_path, {"task_id": plan.task_id, "input": plan.input, "notebooks": entries})
    except Exception as error:  # noqa: BLE001 - file-system trouble in the task folder
        result.status, result.error = "failed", f"{type(error).__name__}: {error}"
    result.seconds = time.perf_counter() - started_at
    result.outputs = _step_outputs(plan)
    return result


def _write_json(path: Path, value: object) -> None:
    write_text_atomically(path, json.dumps(value, indent=1, sort_keys=True, default=str))


# ------------------------------------------------------------------------------------- the batch

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
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                           silence_logs=logging.WARNING)
    return Client(cluster), cluster


def run_batch(
    notebooks: Sequence[str] | None,
    input: str | os.PathLike,
    output: str | os.PathLike,
    workers: int | None = None,
    scheduler: str | None = None,
    parameters: Mapping[str, object] | None = None,
    sample_rate: int | None = None,
    threads_per_worker: int = 1,
    device: str = "cpu",
    force: bool = False,
    progress: bool = True,
    notebooks_dir: Path = NOTEBOOKS_DIR,
) -> BatchSummary:
    """Run ``notebooks`` (numbers such as ``["01", "02"]``; ``None`` = all) over every file of ``input``
    (a folder, an audio file or a manifest CSV) into the run folder ``output``.

    ``workers`` local Dask worker processes (default: cores / ``threads_per_worker``), or the Dask
    scheduler at ``scheduler`` (``"tcp://host:8786"``). ``parameters`` go to every notebook that
    declares them; ``sample_rate`` and ``device`` likewise. Complete tasks are skipped (``force``
    reruns them). Returns a :class:`BatchSummary`; ``summary.csv`` and ``index.html`` are in ``output``.
    """
    from tqdm.auto import tqdm

    if sample_rate is not None and int(sample_rate) not in SAMPLE_RATES:
        raise ValueError(f"sample_rate {sample_rate} is not one of {SAMPLE_RATES}")
    if threads_per_worker < 1:
        raise ValueError("threads_per_worker must be at least 1")
    run_dir = Path(output).resolve()
    chosen = numbered_notebooks(list(notebooks) if notebooks else None, notebooks_dir)
    if not chosen:
        raise ValueError(f"no notebooks to run in {notebooks_dir}")
    logging.getLogger("papermill.translators").setLevel(logging.ERROR)
    declared = {nb: notebook_parameters(nb) for nb in chosen}
    given = dict(parameters or {})
    wired = sorted(set(given) & set(WIRED_PARAMETERS))
    if wired:
        raise ValueError(f"{wired} are set per file by the batch (see xai_helpers.batch); leave them out")
    known = set().union(*declared.values())
    unknown = sorted(set(given) - known)
    if unknown:
        raise ValueError(f"no chosen notebook declares the parameter(s) {unknown}; they declare {sorted(known)}")
    if sample_rate is not None:
        given["sample_rate"] = int(sample_rate)
    given["device"] = device
    tasks = read_tasks(input)
    plans = [plan_task(t, chosen, declared, run_dir, given, threads_per_worker, force) for t in tasks]

    results: dict[str, TaskResult] = {}
    for plan in plans:
        if plan.to_run:
            results[plan.task_id] = TaskResult(plan.task_id, plan.input, "pending")
        else:
            results[plan.task_id] = TaskResult(plan.task_id, plan.input, "skipped", outputs=_step_outputs(plan))
    skipped = [p.task_id for p in plans if not p.to_run]
    if skipped:
        print(f"skipped {len(skipped)} complete task(s): {' '.join(skipped)}", file=sys.stderr)
    pending = [p for p in plans if p.to_run]
    resumed = [f"{p.task_id} (from {p.to_run[0]})" for p in pending if len(p.to_run) < len(p.steps)]
    if resumed:
        print(f"resuming {len(resumed)} task(s) at their first out-of-date notebook: {' '.join(resumed)}",
              file=sys.stderr)

    def ordered() -> list[TaskResult]:
        return [results[p.task_id] for p in plans]

    summary_path, index_path = _write_reports(run_dir, ordered())
    if pending:
        from distributed import as_completed

        workers = workers or max(1, (os.cpu_count() or 1) // threads_per_worker)
        client, cluster = _open_client(workers, scheduler)
        try:
            futures = {client.submit(run_task, plan, pure=False, key=f"nsnet2-batch-{plan.task_id}-{os.urandom(4).hex()}"): plan
                       for plan in pending}
            bar = tqdm(as_completed(futures), total=len(futures), desc="batch", unit="task", disable=not progress)
            for future in bar:
                plan = futures[future]
                try:
                    result = future.result()
                except Exception as error:  # noqa: BLE001 - e.g. the worker died (KilledWorker)
                    result = TaskResult(plan.task_id, plan.input, "failed",
                                        error=f"{type(error).__name__}: {error}", outputs=_step_outputs(plan))
                results[plan.task_id] = result
                bar.set_postfix(failed=sum(r.status == "failed" for r in results.values()), refresh=False)
                if result.status == "failed":
                    bar.write(f"{result.task_id} failed: {result.error}")
                summary_path, index_path = _write_reports(run_dir, ordered())
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
    return BatchSummary(run_dir, ordered(), summary_path, index_path)


# ------------------------------------------------------------------------------------- reports

def _write_reports(run_dir: Path, results: list[TaskResult]) -> tuple[Path, Path]:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=SUMMARY_COLUMNS, lineterminator="\n")
    writer.writeheader()
    rows = [r.row(run_dir) for r in results]
    writer.writerows(rows)
    summary_path = write_text_atomically(run_dir / "summary.csv", buffer.getvalue())
    return summary_path, write_batch_index(run_dir, rows)


def write_batch_index(run_dir: Path, rows: list[dict], title: str = "nsnet2-xai batch") -> Path:
    """``run_dir/index.html``: counts, a link to ``summary.csv`` and one table row per task with its reports."""
    def link(path: str, text: str | None = None) -> str:
        return f'<a href="{html.escape(Path(path).as_posix())}">{html.escape(text or Path(path).name)}</a>'

    counts = {s: sum(r["status"] == s for r in rows) for s in STATUSES}
    lines = []
    for r in rows:
        reports = [p for p in r["outputs"].split(";") if p.endswith(".html")]
        cells = [
            html.escape(r["task_id"]), f'<span class="{r["status"]}">{r["status"]}</span>', r["seconds"],
            " ".join(link(p, Path(p).stem) for p in reports),
            html.escape(r["error"]) + (" " + link(r["log"], "log") if r["log"] else ""),
        ]
        lines.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    page = (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title><style>"
        "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;"
        "padding:.2em .5em;vertical-align:top}.ok{color:#070}.failed{color:#b00;font-weight:bold}"
        ".skipped{color:#666}.pending{color:#a60}</style></head>"
        f"<body><h1>{html.escape(title)}</h1><p>{len(rows)} task(s): "
        + ", ".join(f"{n} {s}" for s, n in counts.items() if n)
        + f" &middot; {link('summary.csv')}</p><table><tr><th>task</th><th>status</th><th>seconds</th>"
        "<th>reports</th><th>error</th></tr>" + "".join(lines) + "</table></body></html>"
    )
    return write_text_atomically(run_dir / "index.html", page)


# ------------------------------------------------------------------------------------- manifests

def write_manifest(rows: Iterable[Mapping[str, object]], out: str | os.PathLike) -> Path:
    """Write manifest rows (dicts with at least ``path``) to the CSV ``out`` atomically; paths inside
    ``out``'s folder tree are written relative to it."""
    out = Path(out).resolve()
    rows = [dict(r) for r in rows]
    columns = ["path"] + sorted({k for r in rows for k in r} - {"path"})
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        for key in ("path", "clean_path"):
            if key in row:
                row[key] = _relative_or_absolute(Path(row[key]), out.parent)
        writer.writerow({k: "" if v is None else v for k, v in row.items()})
    return write_text_atomically(out, buffer.getvalue())


def _relative_or_absolute(path: Path, folder: Path) -> str:
    path = path.resolve()
    return path.relative_to(folder).as_posix() if path.is_relative_to(folder) else str(path)


def vctk_demand_manifest(root: str | os.PathLike, out: str | os.PathLike, split: str = "test") -> Path:
    """A manifest of the VCTK + DEMAND ``split`` set under ``root``: ``path`` = each noisy file,
    ``clean_path`` = its clean partner, ``noise_type`` = ``not_added`` (the noise is already in)."""
    pairs = pair_vctk_demand(root, split)
    return write_manifest(
        ({"id": pair.name, "path": pair.noisy, "clean_path": pair.clean, "noise_type": "not_added"} for pair in pairs), out
    )


# ------------------------------------------------------------------------------------- command line

def _manifest_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m xai_helpers.batch manifest",
                                     description="Write a batch manifest for the VCTK + DEMAND clean/noisy layout.")
    parser.add_argument("--vctk-demand", type=Path, required=True, metavar="ROOT",
                        help="folder holding clean_{split}set_wav/ and noisy_{split}set_wav/")
    parser.add_argument("--split", default="test", help="test (default) or train")
    parser.add_argument("--out", type=Path, required=True, help="manifest CSV to write")
    args = parser.parse_args(argv)
    out = vctk_demand_manifest(args.vctk_demand, args.out, args.split)
    with open(out, encoding="utf-8") as handle:
        count = sum(1 for _ in handle) - 1
    print(f"{out}: {count} row(s)")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Command line entry point; see the module docstring."""
    import yaml

    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["manifest"]:
        return _manifest_main(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m xai_helpers.batch",
                                     description=__doc__.split("\n\n")[0],
                                     epilog="Also: python -m xai_helpers.batch manifest --vctk-demand ROOT --out manifest.csv")
    parser.add_argument("--notebooks", nargs="+", help="numbers of the notebooks to run, in order (default: all)")
    parser.add_argument("--input", required=True, type=Path, help="a folder of audio files, an audio file, or a manifest .csv")
    parser.add_argument("--output", required=True, type=Path, help="run folder")
    parser.add_argument("--workers", type=int, help="local Dask worker processes (default: cores / threads per worker)")
    parser.add_argument("--scheduler", metavar="ADDRESS", help="use a running Dask scheduler (tcp://host:port) instead")
    parser.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                        help="notebook parameter for every file, value parsed as YAML (repeatable)")
    parser.add_argument("--sample-rate", type=int, choices=SAMPLE_RATES, help="model rate, for notebooks that declare sample_rate")
    parser.add_argument("--threads-per-worker", type=int, default=1, help="compute threads of each task's kernel (default 1)")
    parser.add_argument("--device", default="cpu", help="device parameter: cpu (default), cuda, cuda:1, ...")
    parser.add_argument("--force", action="store_true", help="rerun complete tasks too")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    started = time.perf_counter()
    try:
        summary = run_batch(
            args.notebooks, args.input, args.output, workers=args.workers, scheduler=args.scheduler,
            parameters={name: yaml.safe_load(value) for name, value in args.parameter},
            sample_rate=args.sample_rate, threads_per_worker=args.threads_per_worker, device=args.device,
            force=args.force,
        )
    except (ValueError, FileNotFoundError) as error:  # bad arguments, inputs or manifest: nothing ran
        parser.error(str(error))
    counts = ", ".join(f"{n} {s}" for s, n in summary.counts().items())
    print(f"{len(summary.results)} task(s): {counts} in {time.perf_counter() - started:.1f} s")
    for result in summary.results:
        if result.status == "failed":
            print(f"  failed {result.task_id}: {result.error}")
    print(f"summary: {summary.summary_path}\nindex: {summary.index_path}")
    return 1 if summary.failed else 0


if __name__ == "__main__":
    sys.exit(main())
