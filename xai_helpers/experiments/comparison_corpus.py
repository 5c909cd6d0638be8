"""Notebook 07's corpus and results: noise conditions written with notebook 01's noise types, the jobs (every
model on every noisy file), their run, and the long results table ``comparison.csv``.

A **noise condition** is a dict of notebook 01's parameters: ``noise_type`` and the options that type reads
(:func:`~xai_helpers.dsp.noise.registry.options_for`), e.g. ``{"noise_type": "pink_snr", "snr_db": 5}`` or
``{"noise_type": "room_reverberation", "reverberances": [0.6]}``; each must give one noisy file per clean file.
:func:`make_conditions` writes them with :func:`~xai_helpers.io.noisy_corpus.make_noisy_corpus` (noisy file,
noise alone, JSON record). Babble draws its talkers from the other clean files, plus ``talkers`` (a folder's
files: a batch task holds one clean file, so it names where talkers come from).

Results are long (:data:`COLUMNS`), one value per model, condition, file and metric;
:func:`write_results` writes them atomically, :func:`load_results` reads one ``comparison.csv`` or every one
under a folder (a finished batch run: one per task). :func:`xai_helpers.run.batch.tasks.comparison_manifest` writes the
batch manifest of models x conditions x files (one task each) for ``python -m xai_helpers.run.batch --notebooks 07``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..dsp.noise.registry import noise_spec, options_for
from ..io.atomic import write_atomically
from ..io.datasets import list_audio_files
from ..io.noisy_corpus import make_noisy_corpus
from ..io.paths import check_output_dir
from ..io.progress import track
from .comparison import SAMPLE_RATE, ComparisonSettings, Job, JobResult, job_rows, run_job

COLUMNS = ["model", "condition", "file", "metric", "value"]
RESULTS_FILE = "comparison.csv"


@dataclass(frozen=True)
class NoisyInput:
    """One noisy file of the corpus: its condition's name, the clean file's stem and the noisy WAV."""

    condition: str
    file: str
    path: Path


def check_condition(condition: Mapping[str, object]) -> dict[str, object]:
    """``condition`` as a dict of notebook 01's parameters; ``ValueError`` naming an unknown noise type or an
    option the type does not read."""
    if not isinstance(condition, Mapping) or "noise_type" not in condition:
        raise ValueError(
            f"noise condition {condition!r}: a dict with 'noise_type' and that type's options, e.g. "
            "{'noise_type': 'pink_snr', 'snr_db': 5}"
        )
    options = {k: v for k, v in condition.items() if k != "noise_type"}
    noise_type = str(condition["noise_type"])
    unused = sorted(set(options) - set(options_for(noise_type, **options)))
    if unused:
        raise ValueError(
            f"noise condition {dict(condition)}: {noise_type} does not read {', '.join(unused)} "
            f"(it reads {', '.join(noise_spec(noise_type).options) or 'no option'})"
        )
    return {"noise_type": noise_type, **options}


def make_conditions(
    clean_files: Sequence[Path],
    conditions: Sequence[Mapping[str, object]],
    noisy_dir: str | os.PathLike,
    seed: int = 0,
    talkers: Sequence[Path] = (),
) -> list[NoisyInput]:
    """Every clean file under every condition, written to ``noisy_dir`` (file ``i`` seeded ``seed + i``); babble's
    talkers are the other clean files and ``talkers``. ``ValueError`` for a condition that gives more or less than
    one noisy file per clean file, or two conditions of one name."""
    inputs, names = [], set()
    clean_files = [Path(p) for p in clean_files]
    for condition in (check_condition(c) for c in conditions):
        extra = [p for p in talkers if Path(p).resolve() not in {c.resolve() for c in clean_files}]
        sources = clean_files + (extra if noise_spec(condition["noise_type"]).uses_other_files else [])
        options = {k: v for k, v in condition.items() if k != "noise_type"}
        corpus = make_noisy_corpus(
            sources, noisy_dir, condition["noise_type"], sample_rate=SAMPLE_RATE, seed=seed, **options
        )
        if len(corpus) != len(sources):
            raise ValueError(
                f"noise condition {condition} gives {len(corpus) // len(sources)} noisy files per clean "
                "file; give one value per option (one SNR, one RT60, combine='pairs')"
            )
        name = corpus[0].params["condition"]
        if name in names:
            raise ValueError(f"two noise conditions are both {name!r}")
        names.add(name)
        inputs += [NoisyInput(name, path.stem, noisy.noisy_path) for path, noisy in zip(clean_files, corpus)]
    return inputs


def talker_files(talkers_path: str | os.PathLike | None) -> list[Path]:
    """The audio files of ``talkers_path`` (none for ``None``)."""
    return [] if talkers_path is None else list_audio_files(talkers_path)


def make_jobs(inputs: Iterable[NoisyInput], models: Sequence[str]) -> list[Job]:
    """Every model on every noisy input, file-major (each file's models side by side)."""
    return [Job(model, noisy.condition, noisy.file, noisy.path) for noisy in inputs for model in models]


def run_jobs(
    jobs: Sequence[Job],
    settings: ComparisonSettings,
    work_dir: str | os.PathLike,
    progress: Callable[[Sequence[Job]], Iterable[Job]] | None = None,
) -> list[JobResult]:
    """:func:`~.comparison.run_job` of every job (finished ones reused from ``work_dir/jobs/``), in order;
    ``progress`` wraps the jobs (e.g. :func:`~xai_helpers.io.progress.track`)."""
    return [run_job(job, settings, work_dir) for job in (progress(jobs) if progress else jobs)]


def results_frame(results: Sequence[JobResult]) -> pd.DataFrame:
    """The long table (:data:`COLUMNS`) of ``results``."""
    return pd.DataFrame(job_rows(results), columns=COLUMNS)


def write_results(frame: pd.DataFrame, output_dir: str | os.PathLike) -> Path:
    """``output_dir/comparison.csv`` (columns :data:`COLUMNS`), written atomically."""
    return write_atomically(
        Path(output_dir) / RESULTS_FILE, lambda temporary: frame[COLUMNS].to_csv(temporary, index=False)
    )


def load_results(path: str | os.PathLike) -> pd.DataFrame:
    """The results at ``path``: a ``comparison.csv``, or a folder whose ``comparison.csv`` files (a batch run's
    tasks) are read and joined. ``FileNotFoundError`` when there is none; ``ValueError`` naming a file without
    :data:`COLUMNS` or two files holding the same (model, condition, file, metric)."""
    path = Path(path)
    files = [path] if path.is_file() else sorted(path.rglob(RESULTS_FILE)) if path.is_dir() else []
    if not files:
        raise FileNotFoundError(f"results_path: no {RESULTS_FILE} at {path}")
    frames = []
    for file in files:
        frame = pd.read_csv(file, dtype={"model": str, "condition": str, "file": str})  # a stem such as 001 stays text
        if list(frame.columns) != COLUMNS:
            raise ValueError(f"{file}: columns {list(frame.columns)}, expected {COLUMNS}")
        frames.append(frame.assign(source=str(file)))
    frame = pd.concat(frames, ignore_index=True)
    repeated = frame[frame.duplicated(COLUMNS[:4], keep=False)]
    if not repeated.empty:
        first = repeated.iloc[0]
        raise ValueError(
            f"results_path: {first['model']}, {first['condition']}, {first['file']}, {first['metric']} "
            f"is in {', '.join(sorted(set(repeated['source'])))[:500]}: read one run at a time"
        )
    return frame[COLUMNS]


@dataclass
class Comparison:
    """What notebook 07 compares: its settings, the long results and, when computed here, the jobs' results
    (with their attribution files, for the figures); empty when the results were read from a finished run."""

    settings: ComparisonSettings
    frame: pd.DataFrame
    results: list[JobResult]
    source: str
    """Where the numbers come from: computed into a folder, or read from ``results_path``."""
    csv_path: Path

    def describe(self) -> str:
        """One paragraph: models, conditions, files, method and segment, and where the numbers come from."""
        s, f = self.settings, self.frame
        rule = f" ({s.deeplift_rule} rule)" if s.method in ("deeplift", "deepliftshap") else ""
        return (
            f"{f['model'].nunique()} model(s) ({', '.join(dict.fromkeys(f['model']))}) x "
            f"{f['condition'].nunique()} condition(s) ({', '.join(dict.fromkeys(f['condition']))}) x "
            f"{f['file'].nunique()} file(s); {s.method}{rule}, baseline {s.baseline}, segment "
            f"{s.segment_start_s:g} s + {s.segment_duration_s:g} s of each file in each model's own STFT; "
            f"speech-dominant bins: SNR > {s.snr_threshold_db:g} dB. "
            f"{self.source}; {len(f)} rows written to {self.csv_path}."
        )


def run_comparison(
    input_path: str | os.PathLike,
    n_files: int | None,
    noise_conditions: Sequence[Mapping[str, object]],
    settings: ComparisonSettings,
    output_dir: str | os.PathLike,
    results_path: str | os.PathLike | None = None,
    talkers_path: str | os.PathLike | None = None,
    progress: bool = True,
) -> Comparison:
    """Notebook 07's run: the noisy corpus in ``output_dir/noisy/``, every available model on every noisy file
    (jobs reused from ``output_dir/jobs/``), the results in ``output_dir/comparison.csv``; with ``results_path``,
    the results read from there instead (:func:`load_results`) and written to ``output_dir`` joined.

    Before any work: ``ValueError`` for an ``output_dir`` that is a file or lies inside ``input_path``, a malformed
    noise condition, or when no model's mask target can be computed (the reasons are named)."""
    output_dir = check_output_dir(output_dir, input_path=input_path)
    if results_path is not None:
        frame = load_results(results_path)
        return Comparison(settings, frame, [], f"Read from {results_path}", write_results(frame, output_dir))
    conditions = [check_condition(c) for c in noise_conditions]
    models = settings.available_models()
    if not models:
        raise ValueError(
            "no model can be explained with these settings: "
            + "; ".join(f"{m} {t}: {why}" for (m, t), why in settings.unavailable().items())
        )
    all_files = list_audio_files(input_path)
    clean_files = all_files[:n_files]
    # Babble's talkers: talkers_path's files, else the files of input_path left out by n_files.
    talkers = talker_files(talkers_path) if talkers_path is not None else all_files[len(clean_files) :]
    inputs = make_conditions(clean_files, conditions, output_dir / "noisy", settings.seed, talkers)
    jobs = make_jobs(inputs, models)
    results = run_jobs(
        jobs,
        settings,
        output_dir,
        lambda items: track(items, "jobs", "job", progress, name=lambda job: f"{job.model} {job.condition} {job.file}"),
    )
    frame = results_frame(results)
    reused = sum(result.reused for result in results)
    source = f"Computed in {output_dir}"
    if reused:
        source += f" ({reused} of {len(results)} jobs reused from an earlier run)"
    return Comparison(settings, frame, results, source, write_results(frame, output_dir))
