"""Batch tasks: the input files of a folder or the rows of a manifest, with their ids and parameters; manifests
written."""

from __future__ import annotations

import csv
import io
import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ...io.atomic import write_text_atomically
from ...io.datasets import list_audio_files, pair_vctk_demand
from ...io.hashing import digest

MANIFEST_RESERVED = ("path", "id")
MANIFEST_INFORMATIVE = ("clean_path", "notes")
"""Manifest columns for the reader (the clean partner of a noisy file, free notes): allowed, passed to no notebook."""


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
                    raise ValueError(
                        f"{manifest}, line {number}, column {name}: not YAML: {value!r} ({error})"
                    ) from error
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
            task_id += "-" + digest({"path": str(path), "parameters": parameters})[:8]
        if task_id in seen:
            raise ValueError(f"two tasks would share the id {task_id!r} (same file and parameters, or a repeated id)")
        seen.add(task_id)
        tasks.append(Task(task_id, path, parameters))
    return tasks


def _safe_id(text: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._")
    return cleaned or "task"


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
        ({"id": pair.name, "path": pair.noisy, "clean_path": pair.clean, "noise_type": "not_added"} for pair in pairs),
        out,
    )


def comparison_manifest(
    clean_files: Sequence[Path],
    models: Sequence[str],
    conditions: Sequence[Mapping[str, object]],
    out: str | os.PathLike,
    talkers_path: str | os.PathLike | None = None,
) -> Path:
    """A batch manifest (``out``, CSV) with one task per model, condition and clean file: columns ``path``, ``id``
    (``MODEL__cN__STEM``), ``models`` and ``noise_conditions`` (one each, as JSON, which YAML reads) and
    ``talkers_path`` (where babble finds its talkers; default the clean file's folder)."""
    rows = []
    from ...experiments.comparison_corpus import check_condition

    for index, condition in enumerate(check_condition(c) for c in conditions):
        for path in clean_files:
            for model in models:
                rows.append(
                    {
                        "path": Path(path),
                        "id": f"{model}__c{index}__{Path(path).stem}",
                        "models": json.dumps([model]),
                        "noise_conditions": json.dumps([condition]),
                        "talkers_path": str(Path(talkers_path or Path(path).parent).resolve()),
                    }
                )
    return write_manifest(rows, out)
